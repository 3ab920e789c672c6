"""Binance USDⓈ-M futures, as the simulator serves it.

REST under ``/fapi/v1`` with Binance's request weights, ``X-MBX-USED-WEIGHT-1M`` on every answer, 429 past
2400 weight per minute and a 418 ban (2 minutes, doubling) for a client that keeps calling after a 429; the
separate 500 requests / 5 min budget of ``fundingRate``/``fundingInfo``. ``exchangeInfo`` and the bulk
``premiumIndex`` also list the current-quarter delivery contracts of BTC and ETH (``BTCUSDT_231229``), whose
``lastFundingRate``/``interestRate`` are ``""`` and ``nextFundingTime`` 0, as on Binance. Websockets on
``/ws``, ``/market/ws/<n>`` and ``/public/ws/<n>`` (raw streams, as ccxt subscribes) and ``/stream``
(combined, ``{"stream", "data"}``): ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` with
``{"result", "id"}`` acks, ``!forceOrder@arr`` (the largest print per symbol per second), ``<s>@forceOrder``,
``!markPrice@arr[@1s]``, ``<s>@markPrice[@1s]``, ``<s>@kline_<interval>``, server pings every 3 minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from signalbots.events import Side, timeframe_ms
from signalbots.sim.market import Bar, LiquidationPrint, Listing
from signalbots.sim.venue import Connection, Fault, FaultKind, Query, Reject, Venue, fmt

WEIGHT_PER_MINUTE = 2400
FUNDING_REQUESTS_PER_5MIN = 500
FIRST_BAN_SECONDS = 120.0
MAX_BAN_SECONDS = 3 * 86400.0
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
_NO_SYMBOL_WEIGHT = {"/fapi/v1/premiumIndex": 10, "/fapi/v1/ticker/24hr": 40, "/fapi/v1/ticker/price": 2}
_FUNDING_PATHS = ("/fapi/v1/fundingRate", "/fapi/v1/fundingInfo")
_INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}
DELIVERY_BASES = ("BTC", "ETH")


def _id(listing: Listing) -> str:
    return f"{listing.base}USDT"


def quarter_expiry_ms(now_ms: int) -> int:
    """Binance's current-quarter delivery: the last Friday of March/June/September/December, 08:00 UTC."""
    day = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC).date()
    for months_ahead in range(0, 15):
        year, month = day.year + (day.month - 1 + months_ahead) // 12, (day.month - 1 + months_ahead) % 12 + 1
        if month % 3:
            continue
        last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        friday = last - dt.timedelta(days=(last.weekday() - 4) % 7)
        expiry = dt.datetime.combine(friday, dt.time(8), tzinfo=dt.UTC)
        if expiry.timestamp() * 1000 > now_ms:
            return int(expiry.timestamp() * 1000)
    raise AssertionError("a quarter ends within 15 months")


def delivery_id(listing: Listing, expiry_ms: int) -> str:
    """``BTCUSDT_250926``."""
    return f"{_id(listing)}_{dt.datetime.fromtimestamp(expiry_ms / 1000, tz=dt.UTC):%y%m%d}"


def kline_weight(limit: int) -> int:
    """Binance: [1,100) → 1, [100,500) → 2, [500,1000] → 5, > 1000 → 10."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class BinanceVenue(Venue):
    exchange_id = "binanceusdm"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight_limit = WEIGHT_PER_MINUTE
        self.weight_by_minute: dict[int, float] = {}  # minute start (s) → weight used
        self.banned_until: float | None = None  # sim wall clock
        self.limited_until: float | None = None  # after a 429: calling again before this earns a ban
        self.ban_seconds = FIRST_BAN_SECONDS
        self._funding_calls: list[float] = []
        self.routes = {
            "/fapi/v1/ping": lambda q: {},
            "/fapi/v1/time": lambda q: {"serverTime": self.market.now_ms()},
            "/fapi/v1/exchangeInfo": self._exchange_info,
            "/fapi/v1/premiumIndex": self._premium_index,
            "/fapi/v1/fundingInfo": self._funding_info,
            "/fapi/v1/fundingRate": self._funding_rate,
            "/fapi/v1/klines": self._klines,
            "/fapi/v1/ticker/24hr": self._ticker_24hr,
            "/fapi/v1/ticker/price": self._ticker_price,
        }

    # -- rate limits -----------------------------------------------------------------------------------------

    @property
    def used_weight(self) -> float:
        return self.weight_by_minute.get(self._minute(), 0.0)

    def _minute(self) -> int:
        return int(self.clock.time() // 60 * 60)

    def headers(self) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(int(self.used_weight))}

    def weight(self, path: str, query: Query) -> float:
        if path == "/fapi/v1/klines":
            return kline_weight(int(query.get("limit", "500")))
        if "symbol" not in query and path in _NO_SYMBOL_WEIGHT:
            return _NO_SYMBOL_WEIGHT[path]
        return 1.0

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        now = self.clock.time()
        if self.banned_until is not None and now < self.banned_until:
            return 0.0, self._banned(now)
        if self.limited_until is not None and now < self.limited_until:
            self._ban(now)  # kept calling after a 429: that is what gets an IP banned
            return 0.0, self._banned(now)
        weight = self.weight(path, query)
        minute = self._minute()
        if self.used_weight + weight > self.weight_limit:
            self.limited_until = minute + 60.0
            return 0.0, self._too_many(math.ceil(self.limited_until - now))
        if path in _FUNDING_PATHS:
            self._funding_calls = [t for t in self._funding_calls if t > now - 300.0]
            if len(self._funding_calls) >= FUNDING_REQUESTS_PER_5MIN:
                self.limited_until = self._funding_calls[0] + 300.0
                return 0.0, self._too_many(math.ceil(self.limited_until - now))
            self._funding_calls.append(now)
        self.weight_by_minute[minute] = self.used_weight + weight
        return weight, None

    def _ban(self, now: float, seconds: float | None = None) -> None:
        duration = seconds if seconds is not None else self.ban_seconds
        self.banned_until = now + duration
        self.limited_until = None
        if seconds is None:
            self.ban_seconds = min(self.ban_seconds * 2, MAX_BAN_SECONDS)

    def _banned(self, now: float) -> Reject:
        until = self.banned_until or now
        body = {
            "code": -1003,
            "msg": f"Way too many requests; IP(127.0.0.1) banned until {int(until * 1000)}. "
            "Please use the websocket for live updates to avoid bans.",
        }
        return Reject(418, body, {"Retry-After": str(max(1, math.ceil(until - now)))})

    def _too_many(self, retry_after: int) -> Reject:
        body = {
            "code": -1003,
            "msg": f"Too many requests; current limit of IP(127.0.0.1) is {self.weight_limit} "
            "requests per minute. Please use the websocket for live updates to avoid polling the API.",
        }
        return Reject(429, body, {"Retry-After": str(max(1, retry_after))})

    def fault_answer(self, fault: Fault) -> Reject:
        now = self.clock.time()
        if fault.kind is FaultKind.BAN:
            self._ban(now, fault.retry_after if fault.retry_after is not None else None)
            return self._banned(now)
        if fault.kind is FaultKind.RATE_LIMIT:
            wait = fault.retry_after if fault.retry_after is not None else 60 - now % 60
            self.limited_until = now + wait
            return self._too_many(math.ceil(wait))
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(400, _INVALID_SYMBOL)
        if fault.status >= 500:
            return Reject(
                fault.status,
                {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
            )
        return Reject(
            fault.status, {"code": -1000, "msg": "An unknown error occurred while processing the request."}
        )

    # -- REST ------------------------------------------------------------------------------------------------

    def _one(self, query: Query) -> Listing | None:
        sym = query.get("symbol")
        if sym is None:
            return None
        listing = self.market.find(self.exchange_id, sym.removesuffix("USDT"))
        if listing is None or not sym.endswith("USDT"):
            raise Reject(400, _INVALID_SYMBOL)
        return listing

    def _exchange_info(self, query: Query) -> Any:
        now = self.market.now_ms()
        return {
            "timezone": "UTC",
            "serverTime": now,
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weight_limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [self._symbol_info(x) for x in self.market.listings[self.exchange_id].values()]
            + [self._delivery_info(x, expiry) for x, expiry in self._deliveries()],
        }

    def _deliveries(self) -> list[tuple[Listing, int]]:
        """The current-quarter delivery contracts Binance lists next to BTC's and ETH's perpetuals."""
        expiry = quarter_expiry_ms(self.market.now_ms())
        return [(x, expiry) for x in self.market.trading(self.exchange_id) if x.base in DELIVERY_BASES]

    def _delivery_info(self, x: Listing, expiry_ms: int) -> dict[str, Any]:
        info = self._symbol_info(x)
        info.update(
            symbol=delivery_id(x, expiry_ms),
            contractType="CURRENT_QUARTER",
            deliveryDate=expiry_ms,
            onboardDate=expiry_ms - 182 * 86_400_000,
            status="TRADING",
        )
        return info

    def _symbol_info(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        tick = 10 ** math.floor(math.log10(price) - 4)
        price_digits = max(0, -int(math.log10(tick)))
        return {
            "symbol": _id(x),
            "pair": _id(x),
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": x.onboard_ms,
            "status": "TRADING" if x.status == "trading" else "SETTLING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": x.base,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": price_digits,
            "quantityPrecision": 3,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(tick),
                    "maxPrice": fmt(price * 100),
                    "tickSize": fmt(tick),
                },
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000000", "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "100000", "stepSize": "0.001"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": "5"},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
                {"filterType": "POSITION_RISK_CONTROL", "positionControlSide": "NONE"},
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            "permissionSets": ["GRID", "COPY"],
        }

    def _premium(self, x: Listing) -> dict[str, Any]:
        mark = self.market.last_price(x)
        return {
            "symbol": _id(x),
            "markPrice": fmt(mark),
            "indexPrice": fmt(mark * 0.9998),
            "estimatedSettlePrice": fmt(mark * 0.9999),
            "lastFundingRate": fmt(x.funding_rate),
            "interestRate": "0.00010000",
            "nextFundingTime": self.market.next_funding_ms(x),
            "time": self.market.now_ms(),
        }

    def _delivery_premium(self, x: Listing, expiry_ms: int) -> dict[str, Any]:
        # Binance: lastFundingRate and interestRate are "" and nextFundingTime is 0 for delivery symbols
        mark = self.market.last_price(x) * 1.004
        return {
            "symbol": delivery_id(x, expiry_ms),
            "markPrice": fmt(mark),
            "indexPrice": fmt(mark / 1.004 * 0.9998),
            "estimatedSettlePrice": fmt(mark / 1.004 * 0.9999),
            "lastFundingRate": "",
            "interestRate": "",
            "nextFundingTime": 0,
            "time": self.market.now_ms(),
        }

    def _premium_index(self, query: Query) -> Any:
        one = self._one(query)
        if one is not None:
            return self._premium(one)
        return [self._premium(x) for x in self.market.trading(self.exchange_id)] + [
            self._delivery_premium(x, expiry) for x, expiry in self._deliveries()
        ]

    def _funding_info(self, query: Query) -> Any:
        # Binance lists only symbols whose cap/floor or interval were adjusted: the rest are 8h.
        return [
            {
                "symbol": _id(x),
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": x.funding_interval_hours,
                "disclaimer": False,
                "updateTime": x.onboard_ms,
            }
            for x in self.market.trading(self.exchange_id)
            if x.funding_interval_hours != 8
        ]

    def _funding_rate(self, query: Query) -> Any:
        listings = [self._one(query)] if "symbol" in query else self.market.trading(self.exchange_id)
        limit = min(int(query.get("limit", "100")), 1000)
        now = self.market.now_ms()
        end = int(query.get("endTime", now))
        out = []
        for x in listings:
            assert x is not None
            start = int(query.get("startTime", end - limit * x.funding_interval_hours * 3_600_000))
            for t, rate in self.market.funding_history(x, start, min(end, now)):
                out.append(
                    {
                        "symbol": _id(x),
                        "fundingRate": fmt(rate),
                        "fundingTime": t,
                        "markPrice": fmt(self.market.price_at(x, t)),
                    }
                )
        return out[:limit] if "startTime" in query else out[-limit:]

    def _klines(self, query: Query) -> Any:
        listing = self._one(query)
        if listing is None:
            raise Reject(
                400,
                {
                    "code": -1102,
                    "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                },
            )
        interval = query.get("interval", "")
        if interval not in INTERVALS:
            raise Reject(400, {"code": -1120, "msg": "Invalid interval."})
        limit = max(1, min(int(query.get("limit", "500")), 1500))
        start = int(query["startTime"]) if "startTime" in query else None
        end = int(query["endTime"]) if "endTime" in query else None
        span = timeframe_ms(interval)
        return [
            kline_row(b, span)
            for b in self.market.bars(listing, interval, start_ms=start, end_ms=end, limit=limit)
        ]

    def _ticker(self, x: Listing) -> dict[str, Any]:
        now = self.market.now_ms()
        last, open_ = self.market.last_price(x), self.market.price_at(x, now - 86_400_000)
        volume = x.quote_volume_24h / ((last + open_) / 2)
        return {
            "symbol": _id(x),
            "priceChange": fmt(last - open_),
            "priceChangePercent": fmt((last / open_ - 1) * 100, 3),
            "weightedAvgPrice": fmt((last + open_) / 2),
            "lastPrice": fmt(last),
            "lastQty": "1.000",
            "openPrice": fmt(open_),
            "highPrice": fmt(max(last, open_) * 1.01),
            "lowPrice": fmt(min(last, open_) * 0.99),
            "volume": fmt(volume, 3),
            "quoteVolume": fmt(x.quote_volume_24h, 2),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": 1,
            "lastId": 1 + int(x.quote_volume_24h / 5000),
            "count": int(x.quote_volume_24h / 5000),
        }

    def _ticker_24hr(self, query: Query) -> Any:
        one = self._one(query)
        return (
            self._ticker(one)
            if one is not None
            else [self._ticker(x) for x in self.market.trading(self.exchange_id)]
        )

    def _ticker_price(self, query: Query) -> Any:
        rows = [self._one(query)] if "symbol" in query else self.market.trading(self.exchange_id)
        out = [
            {"symbol": _id(x), "price": fmt(self.market.last_price(x)), "time": self.market.now_ms()}
            for x in rows
            if x is not None
        ]
        return out[0] if "symbol" in query else out

    # -- websocket -------------------------------------------------------------------------------------------

    def is_ws_path(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        return parts[0] in ("ws", "stream") or parts[:2] in (
            ["market", "ws"],
            ["public", "ws"],
            ["market", "stream"],
            ["public", "stream"],
        )

    async def on_ws_text(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            method, params, req_id = msg["method"], msg.get("params", []), msg["id"]
        except (ValueError, KeyError, TypeError):
            await self.reply(
                conn, {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}
            )
            return
        if method == "SUBSCRIBE":
            conn.subscriptions.update(params)
            self._start_klines(conn, params)
            await self.reply(conn, {"result": None, "id": req_id})
        elif method == "UNSUBSCRIBE":
            conn.subscriptions.difference_update(params)
            await self.reply(conn, {"result": None, "id": req_id})
        elif method == "LIST_SUBSCRIPTIONS":
            await self.reply(conn, {"result": sorted(conn.subscriptions), "id": req_id})
        else:
            await self.reply(
                conn, {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": req_id}
            )

    def _start_klines(self, conn: Connection, streams: list[str]) -> None:
        """A kline stream starts with the candle open at subscription time (its close is pushed later)."""
        cursors: dict[str, int] = conn.state.setdefault("kline", {})
        now = self.market.now_ms()
        for stream in streams:
            interval = stream.partition("@kline_")[2]
            if interval in INTERVALS and stream not in cursors:
                cursors[stream] = now // timeframe_ms(interval) * timeframe_ms(interval)

    async def _push(self, conn: Connection, stream: str, data: Any) -> None:
        combined = "/stream" in conn.path
        await self.send(conn, {"stream": stream, "data": data} if combined else data)

    async def tick(self, prev_ms: int, now_ms: int) -> None:
        await self.ping_idle()
        for liq in self.market.background_prints(self.exchange_id, (now_ms - prev_ms) / 1000):
            self._on_print(liq)
        largest: dict[str, LiquidationPrint] = {}
        for liq in self.take_prints():  # Binance sends at most the largest print per symbol per second
            best = largest.get(liq.base)
            if best is None or liq.price * liq.quantity > best.price * best.quantity:
                largest[liq.base] = liq
        for conn in list(self.connections):
            subs = conn.subscriptions
            for liq in largest.values():
                own = f"{liq.base.lower()}usdt@forceOrder"
                if "!forceOrder@arr" in subs or own in subs:
                    await self._push(
                        conn,
                        "!forceOrder@arr" if "!forceOrder@arr" in subs else own,
                        force_order(liq, now_ms),
                    )
            for stream in subs:
                if stream.startswith("!markPrice@arr"):
                    every = 1000 if stream.endswith("@1s") else 3000
                    if now_ms // every != prev_ms // every:
                        await self._push(
                            conn,
                            stream,
                            [self._mark(x, now_ms) for x in self.market.trading(self.exchange_id)],
                        )
                elif "@kline_" in stream:
                    await self._kline(conn, stream, now_ms)

    def _mark(self, x: Listing, now_ms: int) -> dict[str, Any]:
        mark = self.market.last_price(x)
        return {
            "e": "markPriceUpdate",
            "E": now_ms,
            "s": _id(x),
            "p": fmt(mark),
            "i": fmt(mark * 0.9998),
            "P": fmt(mark * 0.9999),
            "r": fmt(x.funding_rate),
            "T": self.market.next_funding_ms(x),
        }

    async def _kline(self, conn: Connection, stream: str, now_ms: int) -> None:
        sym, _, interval = stream.partition("@kline_")
        listing = self.market.find(self.exchange_id, sym.upper().removesuffix("USDT"))
        if listing is None or interval not in INTERVALS:
            return
        span = timeframe_ms(interval)
        current = now_ms // span * span
        cursors: dict[str, int] = conn.state.setdefault("kline", {})
        last = cursors.get(stream, current)
        cursors[stream] = current
        if last < current:
            for open_ms in range(max(last, current - 3 * span), current, span):  # catch up a few, not a flood
                await self._push(
                    conn,
                    stream,
                    kline_event(
                        _id(listing),
                        interval,
                        self.market.bar(listing, interval, open_ms),
                        span,
                        now_ms,
                        closed=True,
                    ),
                )
        pushed: dict[str, int] = conn.state.setdefault("kline_pushed", {})
        if last != current or now_ms - pushed.get(stream, 0) >= 10_000:
            # the open candle: at once, then every 10 s (Binance: every 250 ms)
            pushed[stream] = now_ms
            await self._push(
                conn,
                stream,
                kline_event(
                    _id(listing),
                    interval,
                    self.market.bar(listing, interval, current),
                    span,
                    now_ms,
                    closed=False,
                ),
            )


def kline_row(b: Bar, span: int) -> list[Any]:
    return [
        b.open_ms,
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume, 3),
        b.open_ms + span - 1,
        fmt(b.quote_volume, 4),
        b.trades,
        fmt(b.volume / 2, 3),
        fmt(b.quote_volume / 2, 4),
        "0",
    ]


def kline_event(
    symbol_id: str, interval: str, b: Bar, span: int, now_ms: int, *, closed: bool
) -> dict[str, Any]:
    return {
        "e": "kline",
        "E": now_ms,
        "s": symbol_id,
        "k": {
            "t": b.open_ms,
            "T": b.open_ms + span - 1,
            "s": symbol_id,
            "i": interval,
            "f": 1,
            "L": b.trades,
            "o": fmt(b.open),
            "c": fmt(b.close),
            "h": fmt(b.high),
            "l": fmt(b.low),
            "v": fmt(b.volume, 3),
            "n": b.trades,
            "x": closed,
            "q": fmt(b.quote_volume, 4),
            "V": fmt(b.volume / 2, 3),
            "Q": fmt(b.quote_volume / 2, 4),
            "B": "0",
        },
    }


def force_order(liq: LiquidationPrint, now_ms: int) -> dict[str, Any]:
    # The liquidation engine closes the position: SELL closes a long, BUY closes a short.
    side = "SELL" if liq.side is Side.LONG else "BUY"
    return {
        "e": "forceOrder",
        "E": now_ms,
        "o": {
            "s": f"{liq.base}USDT",
            "S": side,
            "o": "LIMIT",
            "f": "IOC",
            "q": fmt(liq.quantity, 3),
            "p": fmt(liq.price * (0.995 if side == "SELL" else 1.005)),
            "ap": fmt(liq.price),
            "X": "FILLED",
            "l": fmt(liq.quantity, 3),
            "z": fmt(liq.quantity, 3),
            "T": liq.time_ms,
        },
    }
