"""Bybit v5 (linear perpetuals), as the simulator serves it.

REST ``/v5/market/instruments-info``, ``/v5/market/tickers`` (funding rate, next funding time, the current
``fundingIntervalHour``, 24h ``turnover24h`` in USDT), ``/v5/market/kline`` (``turnover`` in USDT),
``/v5/market/funding/history``, ``/v5/market/time``; answers wrapped in ``{"retCode", "retMsg", "result",
"retExtInfo", "time"}``. Past the IP limit (600 requests per 5 s) the IP is banned: HTTP 403 for every request
for 10 minutes (Bybit: "your IP has been either temporarily or permanently banned", wait at least 10 minutes;
no Retry-After; the body is not documented and no capture of it exists). The per-UID API limit answers HTTP
200 ``retCode 10006 "Too many visits"`` (a captured body); ``X-Bapi-Limit``/``X-Bapi-Limit-Status``/
``X-Bapi-Limit-Reset-Timestamp`` report the window on every answer. Websocket ``/v5/public/linear``:
``{"op": "subscribe"}`` with Bybit's acks, ``{"op": "ping"}`` → pong, topics ``allLiquidation.<symbol>``
(``S=Buy``: a long was liquidated) and ``kline.<interval>.<symbol>``.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import Side, timeframe_ms
from signalbots.sim.market import Bar, Listing
from signalbots.sim.venue import Connection, Fault, FaultKind, Query, Reject, Venue, fmt

REQUESTS_PER_WINDOW = 600
WINDOW_SECONDS = 5.0
BAN_SECONDS = 600.0  # Bybit: an IP ban lasts at least 10 minutes
INTERVALS = {
    "1": "1m",
    "3": "3m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "120": "2h",
    "240": "4h",
    "360": "6h",
    "720": "12h",
    "D": "1d",
}


def _id(listing: Listing) -> str:
    return f"{listing.base}USDT"


class BybitVenue(Venue):
    exchange_id = "bybit"
    ws_ping_interval = 1e12  # Bybit expects the client to ping; it never pings

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._window: list[float] = []
        self.banned_until: float | None = None  # sim wall clock
        self.routes = {
            "/v5/market/time": self._time,
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/tickers": self._tickers,
            "/v5/market/kline": self._kline,
            "/v5/market/funding/history": self._funding_history,
        }

    def _wrap(self, result: Any) -> dict[str, Any]:
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": self.market.now_ms(),
        }

    def _error(self, code: int, msg: str) -> dict[str, Any]:
        return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": self.market.now_ms()}

    # -- rate limits -----------------------------------------------------------------------------------------

    def _prune(self) -> float:
        now = self.clock.time()
        self._window = [t for t in self._window if t > now - WINDOW_SECONDS]
        return now

    def headers(self) -> dict[str, str]:
        now = self._prune()
        reset = (self._window[0] if self._window else now) + WINDOW_SECONDS
        return {
            "X-Bapi-Limit": str(REQUESTS_PER_WINDOW),
            "X-Bapi-Limit-Status": str(max(0, REQUESTS_PER_WINDOW - len(self._window))),
            "X-Bapi-Limit-Reset-Timestamp": str(int(reset * 1000)),
        }

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        now = self._prune()
        if self.banned_until is not None and now < self.banned_until:
            return 0.0, self._banned()
        if len(self._window) >= REQUESTS_PER_WINDOW:
            self.banned_until = now + BAN_SECONDS  # Bybit: past the IP limit the IP is banned
            return 0.0, self._banned()
        self._window.append(now)
        return 1.0, None

    def _banned(self) -> Reject:
        # HTTP 403 with no Retry-After: Bybit says only to wait (at least 10 minutes)
        return Reject(403, "access too frequent")

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind is FaultKind.BAN:
            seconds = fault.retry_after if fault.retry_after is not None else BAN_SECONDS
            self.banned_until = self.clock.time() + seconds  # every request is refused until it expires
            return self._banned()
        if fault.kind is FaultKind.RATE_LIMIT:
            # the per-UID API limit: HTTP 200, retCode 10006, the window's reset in the usual headers
            headers = {"X-Bapi-Limit-Status": "0"}
            return Reject(200, self._error(10006, "Too many visits"), headers)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, self._error(10001, "params error: symbol invalid"))
        return Reject(
            fault.status,
            "<html><body><h1>502 Bad Gateway</h1></body></html>"
            if fault.status >= 500
            else self._error(10016, "System error. Please try again later."),
        )

    # -- REST ------------------------------------------------------------------------------------------------

    def _category(self, query: Query) -> None:
        if query.get("category") != "linear":
            raise Reject(
                200, self._error(10001, "params error: category only support linear in this simulator")
            )

    def _one(self, query: Query) -> Listing | None:
        sym = query.get("symbol")
        if sym is None:
            return None
        listing = self.market.find(self.exchange_id, sym.removesuffix("USDT"))
        if listing is None or listing.status != "trading":
            raise Reject(200, self._error(10001, "params error: symbol invalid"))
        return listing

    def _time(self, query: Query) -> Any:
        now = self.market.now_ms()
        return self._wrap({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    def _instruments(self, query: Query) -> Any:
        self._category(query)
        if query.get("status") == "PreLaunch":
            rows: list[Listing] = []
        else:
            rows = [x for x in self.market.trading(self.exchange_id) if query.get("symbol") in (None, _id(x))]
        return self._wrap(
            {"category": "linear", "list": [self._instrument(x) for x in rows], "nextPageCursor": ""}
        )

    def _instrument(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        tick = fmt(10 ** (len(str(int(price))) - 6))
        return {
            "symbol": _id(x),
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": x.base,
            "quoteCoin": "USDT",
            "launchTime": str(x.onboard_ms),
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": "4",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "50.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": tick, "maxPrice": fmt(price * 100), "tickSize": tick},
            "lotSizeFilter": {
                "maxOrderQty": "1000000",
                "minOrderQty": "0.001",
                "qtyStep": "0.001",
                "postOnlyMaxOrderQty": "1000000",
                "maxMktOrderQty": "100000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": x.funding_interval_hours * 60,
            "settleCoin": "USDT",
            "copyTrading": "both",
            "upperFundingRate": "0.02",
            "lowerFundingRate": "-0.02",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
        }

    def _ticker(self, x: Listing) -> dict[str, Any]:
        now = self.market.now_ms()
        last, prev = self.market.last_price(x), self.market.price_at(x, now - 86_400_000)
        return {
            "symbol": _id(x),
            "lastPrice": fmt(last),
            "indexPrice": fmt(last * 0.9998),
            "markPrice": fmt(last),
            "prevPrice24h": fmt(prev),
            "price24hPcnt": fmt(last / prev - 1, 6),
            "highPrice24h": fmt(max(last, prev) * 1.01),
            "lowPrice24h": fmt(min(last, prev) * 0.99),
            "prevPrice1h": fmt(self.market.price_at(x, now - 3_600_000)),
            "openInterest": fmt(x.quote_volume_24h / 4 / last, 3),
            "openInterestValue": fmt(x.quote_volume_24h / 4, 2),
            "singleOpenInterest": fmt(x.quote_volume_24h / 8 / last, 3),
            "singleOpenInterestValue": fmt(x.quote_volume_24h / 8, 2),
            "turnover24h": fmt(x.quote_volume_24h, 4),
            "volume24h": fmt(x.quote_volume_24h / last, 3),
            "fundingRate": fmt(x.funding_rate),
            "nextFundingTime": str(self.market.next_funding_ms(x)),
            "fundingIntervalHour": str(x.funding_interval_hours),
            "fundingCap": "0.02",
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": "1.0",
            "bid1Price": fmt(last * 0.9999),
            "ask1Price": fmt(last * 1.0001),
            "bid1Size": "1.0",
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "basisRateYear": "",
        }

    def _tickers(self, query: Query) -> Any:
        self._category(query)
        one = self._one(query)
        rows = [one] if one is not None else self.market.trading(self.exchange_id)
        return self._wrap({"category": "linear", "list": [self._ticker(x) for x in rows]})

    def _kline(self, query: Query) -> Any:
        self._category(query)
        listing = self._one(query)
        if listing is None:
            raise Reject(200, self._error(10001, "params error: symbol is required"))
        timeframe = INTERVALS.get(query.get("interval", ""))
        if timeframe is None:
            raise Reject(200, self._error(10001, "params error: invalid interval"))
        limit = max(1, min(int(query.get("limit", "200")), 1000))
        start = int(query["start"]) if "start" in query else None
        end = int(query["end"]) if "end" in query else None
        bars = self.market.bars(listing, timeframe, start_ms=start, end_ms=end, limit=limit)
        return self._wrap(
            {"symbol": _id(listing), "category": "linear", "list": [kline_row(b) for b in reversed(bars)]}
        )  # Bybit: newest first

    def _funding_history(self, query: Query) -> Any:
        self._category(query)
        listing = self._one(query)
        if listing is None:
            raise Reject(200, self._error(10001, "params error: symbol is required"))
        limit = max(1, min(int(query.get("limit", "200")), 200))
        now = self.market.now_ms()
        end = min(int(query.get("endTime", now)), now)
        start = int(query.get("startTime", end - limit * listing.funding_interval_hours * 3_600_000))
        rows = self.market.funding_history(listing, start, end)[-limit:]
        return self._wrap(
            {
                "category": "linear",
                "list": [
                    {"symbol": _id(listing), "fundingRate": fmt(rate), "fundingRateTimestamp": str(t)}
                    for t, rate in reversed(rows)
                ],
            }
        )

    # -- websocket -------------------------------------------------------------------------------------------

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/v5/public/")

    async def on_ws_text(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            await self.reply(
                conn, {"success": False, "ret_msg": "error:request not json", "conn_id": conn.state["id"]}
            )
            return
        req_id = msg.get("req_id", "")
        if op == "ping":
            await self.reply(
                conn,
                {
                    "success": True,
                    "ret_msg": "pong",
                    "conn_id": conn.state["id"],
                    "req_id": req_id,
                    "op": "ping",
                },
            )
        elif op in ("subscribe", "unsubscribe"):
            topics = list(msg.get("args", []))
            bad = [t for t in topics if not self._valid_topic(t)]
            if bad and op == "subscribe":
                await self.reply(
                    conn,
                    {
                        "success": False,
                        "ret_msg": f"error:handler not found,topic:{bad[0]}",
                        "conn_id": conn.state["id"],
                        "req_id": req_id,
                        "op": op,
                    },
                )
                return
            if op == "subscribe":
                conn.subscriptions.update(topics)
                self._start_klines(conn, topics)
            else:
                conn.subscriptions.difference_update(topics)
            await self.reply(
                conn,
                {"success": True, "ret_msg": "", "conn_id": conn.state["id"], "req_id": req_id, "op": op},
            )

    def _start_klines(self, conn: Connection, topics: list[str]) -> None:
        """A kline topic starts with the candle open at subscription time (its close is pushed later)."""
        cursors: dict[str, int] = conn.state.setdefault("kline", {})
        now = self.market.now_ms()
        for topic in topics:
            if topic.startswith("kline.") and topic not in cursors:
                span = timeframe_ms(INTERVALS[topic.split(".")[1]])
                cursors[topic] = now // span * span

    def _valid_topic(self, topic: str) -> bool:
        kind, _, rest = topic.partition(".")
        if kind == "allLiquidation":
            return self.market.find(self.exchange_id, rest.removesuffix("USDT")) is not None
        if kind == "kline":
            interval, _, sym = rest.partition(".")
            return (
                interval in INTERVALS
                and self.market.find(self.exchange_id, sym.removesuffix("USDT")) is not None
            )
        return False

    async def tick(self, prev_ms: int, now_ms: int) -> None:
        for liq in self.market.background_prints(self.exchange_id, (now_ms - prev_ms) / 1000):
            self._on_print(liq)
        prints = self.take_prints()
        for conn in list(self.connections):
            for liq in prints:
                topic = f"allLiquidation.{liq.base}USDT"
                if topic in conn.subscriptions:
                    await self.send(
                        conn,
                        {
                            "topic": topic,
                            "type": "snapshot",
                            "ts": now_ms,
                            "data": [
                                {
                                    "T": liq.time_ms,
                                    "s": f"{liq.base}USDT",
                                    "S": "Buy" if liq.side is Side.LONG else "Sell",
                                    "v": fmt(liq.quantity, 3),
                                    "p": fmt(liq.price),
                                }
                            ],
                        },
                    )
            for topic in conn.subscriptions:
                if topic.startswith("kline."):
                    await self._push_kline(conn, topic, now_ms)

    async def _push_kline(self, conn: Connection, topic: str, now_ms: int) -> None:
        _, interval, sym = topic.split(".", 2)
        listing = self.market.find(self.exchange_id, sym.removesuffix("USDT"))
        if listing is None:
            return
        timeframe = INTERVALS[interval]
        span = timeframe_ms(timeframe)
        current = now_ms // span * span
        cursors: dict[str, int] = conn.state.setdefault("kline", {})
        last = cursors.get(topic, current)
        cursors[topic] = current
        data = []
        if last < current:
            for open_ms in range(max(last, current - 3 * span), current, span):
                data.append(
                    _ws_kline(self.market.bar(listing, timeframe, open_ms), span, interval, now_ms, True)
                )
        pushed: dict[str, int] = conn.state.setdefault("kline_pushed", {})
        if data or now_ms - pushed.get(topic, 0) >= 10_000:
            pushed[topic] = now_ms
            data.append(
                _ws_kline(self.market.bar(listing, timeframe, current), span, interval, now_ms, False)
            )
            await self.send(conn, {"topic": topic, "data": data, "ts": now_ms, "type": "snapshot"})


def kline_row(b: Bar) -> list[str]:
    return [
        str(b.open_ms),
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume, 3),
        fmt(b.quote_volume, 4),
    ]


def _ws_kline(b: Bar, span: int, interval: str, now_ms: int, confirm: bool) -> dict[str, Any]:
    return {
        "start": b.open_ms,
        "end": b.open_ms + span - 1,
        "interval": interval,
        "open": fmt(b.open),
        "close": fmt(b.close),
        "high": fmt(b.high),
        "low": fmt(b.low),
        "volume": fmt(b.volume, 3),
        "turnover": fmt(b.quote_volume, 4),
        "confirm": confirm,
        "timestamp": now_ms,
    }
