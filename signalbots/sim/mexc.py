"""MEXC futures (USDT-margined perpetual contracts), as the simulator serves it.

REST under ``/api/v1/contract``: ``detail``, ``ticker`` (the bulk answer carries ``fundingRate`` for every
contract; ``?symbol=`` answers one object), ``kline/<symbol>`` (``interval=Min5``, ``start``/``end`` in
seconds, at most 2000 candles; columns ``time`` in seconds, ``vol`` in contracts, ``amount`` in USDT),
``funding_rate/<symbol>``, ``funding_rate/history``, ``ping``; answers ``{"success", "code", "data"}`` with
numbers as JSON numbers. Volumes are in contracts: ``contractSize`` base units each. ccxt's market loading
also reads the spot ``/api/v3/exchangeInfo``; it is answered (no spot pairs are simulated) and logged.

Rate limits (MEXC's documentation): every endpoint 20 requests per 2 s, ``detail`` 1 per 5 s; over the limit
the answer is HTTP 200 ``{"code": 510, "msg": "Requests are too frequent"}`` (captured from the live
exchange), no headers, no ``Retry-After``; MEXC documents no IP ban.

Websocket ``/edge``: ``{"method": "ping"}`` → ``{"channel": "pong", "data": <ms>}``;
``{"method": "sub.ticker" | "sub.tickers" | "sub.kline", "param": {...}}`` → ``{"channel": "rs.sub.ticker",
"data": "success", "ts": ...}``; pushes ``push.ticker``, ``push.tickers`` (every second) and ``push.kline``
(``q`` contracts, ``a`` USDT, ``t`` window start in seconds; no "closed" flag: the final state of a window is
pushed once when the next one opens). MEXC has no public liquidation stream. The shapes follow
``tests/fixtures/wire/mexc``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim.market import Bar, Listing
from signalbots.sim.venue import Connection, Fault, FaultKind, Query, Reject, Route, Venue

REQUESTS_PER_WINDOW = 20
WINDOW_SECONDS = 2.0
DETAIL_REQUESTS_PER_WINDOW = 1
DETAIL_WINDOW_SECONDS = 5.0
MAX_CANDLES = 2000
INTERVALS = {
    "Min1": "1m",
    "Min5": "5m",
    "Min15": "15m",
    "Min30": "30m",
    "Min60": "1h",
    "Hour4": "4h",
    "Hour8": "8h",
    "Day1": "1d",
}
_CONTRACT = "/api/v1/contract/"
_KLINE = _CONTRACT + "kline/"
_FUNDING = _CONTRACT + "funding_rate/"
_TOO_FREQUENT = {"code": 510, "msg": "Requests are too frequent"}
_NO_CONTRACT = {"success": False, "code": 1001, "message": "Contract does not exist"}


def _id(listing: Listing) -> str:
    return f"{listing.base}_USDT"


def _round(x: float, digits: int = 8) -> float:
    return round(x, digits)


class MexcVenue(Venue):
    exchange_id = "mexc"
    ws_ping_interval = 1e12  # MEXC expects the client's {"method": "ping"}; it never pings
    numeric_json = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calls: dict[str, list[float]] = {}
        self.routes = {
            "/api/v1/contract/ping": lambda q: self._ok(self.market.now_ms()),
            "/api/v1/contract/detail": self._detail,
            "/api/v1/contract/ticker": self._ticker,
            "/api/v1/contract/funding_rate/history": self._funding_history,
            "/api/v3/exchangeInfo": self._spot_exchange_info,
            "/api/v3/ping": lambda q: {},
            "/api/v3/time": lambda q: {"serverTime": self.market.now_ms()},
        }

    def _ok(self, data: Any) -> dict[str, Any]:
        return {"success": True, "code": 0, "data": data}

    def route(self, path: str) -> Route | None:
        exact = self.routes.get(path)
        if exact is not None:
            return exact
        for prefix, handler in ((_KLINE, self._kline), (_FUNDING, self._funding_rate)):
            symbol = path.removeprefix(prefix)
            if symbol != path and symbol and "/" not in symbol:
                return _bind(handler, symbol)
        return None

    # -- rate limits -----------------------------------------------------------------------------------------

    @staticmethod
    def endpoint(path: str) -> str:
        """The rate-limited endpoint: the path without its symbol (all klines share one budget)."""
        for prefix in (_KLINE, _FUNDING):
            if path.startswith(prefix) and path != _FUNDING + "history":
                return prefix + "{symbol}"
        return path

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        if path.startswith("/api/v3/"):
            return (10.0 if path == "/api/v3/exchangeInfo" else 1.0), None  # spot: its own budget
        key = self.endpoint(path)
        limit, window = (
            (DETAIL_REQUESTS_PER_WINDOW, DETAIL_WINDOW_SECONDS)
            if key == _CONTRACT + "detail"
            else (REQUESTS_PER_WINDOW, WINDOW_SECONDS)
        )
        now = self.clock.time()
        calls = [t for t in self._calls.get(key, []) if t > now - window]
        if len(calls) >= limit:
            self._calls[key] = calls
            return 0.0, Reject(200, _TOO_FREQUENT)
        calls.append(now)
        self._calls[key] = calls
        return 1.0, None

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BAN):
            # MEXC documents no ban and sends no Retry-After: a ban looks like the rate-limit answer.
            return Reject(200, _TOO_FREQUENT)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, _NO_CONTRACT)
        if fault.status >= 500:
            return Reject(fault.status, {"success": False, "code": 501, "message": "System busy"})
        return Reject(fault.status, {"success": False, "code": 600, "message": "Parameter error"})

    # -- REST ------------------------------------------------------------------------------------------------

    def _listing(self, symbol: str | None) -> Listing:
        listing = (
            self.market.find(self.exchange_id, symbol.removesuffix("_USDT"))
            if symbol is not None and symbol.endswith("_USDT")
            else None
        )
        if listing is None or listing.status != "trading":
            raise Reject(200, _NO_CONTRACT)
        return listing

    def _spot_exchange_info(self, query: Query) -> Any:
        return {
            "timezone": "CST",
            "serverTime": self.market.now_ms(),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [],
        }

    def _detail(self, query: Query) -> Any:
        if "symbol" in query:
            return self._ok(self._contract(self._listing(query["symbol"])))
        return self._ok([self._contract(x) for x in self.market.trading(self.exchange_id)])

    def _contract(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        scale = max(0, 6 - len(str(int(price))))
        unit = _round(10.0**-scale, scale)
        return {
            "symbol": _id(x),
            "displayName": f"{_id(x)}永续",
            "displayNameEn": f"{_id(x)} PERPETUAL",
            "positionOpenType": 3,
            "baseCoin": x.base,
            "quoteCoin": "USDT",
            "baseCoinName": x.base,
            "quoteCoinName": "USDT",
            "futureType": 1,
            "settleCoin": "USDT",
            "contractSize": x.contract_size,
            "minLeverage": 1,
            "maxLeverage": 200,
            "countryConfigContractMaxLeverage": 200,
            "priceScale": scale,
            "volScale": 0,
            "amountScale": 4,
            "priceUnit": unit,
            "volUnit": 1,
            "minVol": 1,
            "maxVol": 1000000,
            "bidLimitPriceRate": 0.2,
            "askLimitPriceRate": 0.2,
            "takerFeeRate": 0.0002,
            "makerFeeRate": 0,
            "maintenanceMarginRate": 0.004,
            "initialMarginRate": 0.005,
            "riskBaseVol": 1000000,
            "riskIncrVol": 0,
            "riskLongShortSwitch": 0,
            "riskIncrMmr": 0,
            "riskIncrImr": 0,
            "riskLevelLimit": 1,
            "priceCoefficientVariation": 0.004,
            "indexOrigin": ["BINANCE", "BYBIT", "OKX", "MEXC"],
            "state": 0,
            "isNew": False,
            "isHot": False,
            "isHidden": False,
            "conceptPlate": [],
            "conceptPlateId": [],
            "riskLimitType": "BY_VOLUME",
            "maxNumOrders": [200, 50],
            "marketOrderMaxLevel": 20,
            "marketOrderPriceLimitRate1": 0.2,
            "marketOrderPriceLimitRate2": 0.005,
            "triggerProtect": 0.1,
            "appraisal": 0,
            "showAppraisalCountdown": 0,
            "automaticDelivery": 0,
            "apiAllowed": True,
            "depthStepList": [f"{unit:.{scale}f}", f"{unit * 10:.{max(0, scale - 1)}f}"],
            "limitMaxVol": 1000000,
            "threshold": 0,
            "baseCoinIconUrl": f"https://public.mocortech.com/coin/{x.base}.png",
            "id": 10 + sorted(self.market.listings[self.exchange_id]).index(x.base),
            "vid": "128f589271cb4951b03e71e6323eb7be",
            "baseCoinId": hashlib.md5(x.base.encode()).hexdigest(),  # an opaque id, stable per coin
            "createTime": x.onboard_ms,
            "openingTime": 0,
            "openingCountdownOption": 1,
            "showBeforeOpen": True,
            "isMaxLeverage": False,
            "isZeroFeeRate": False,
            "riskLimitMode": "INCREASE",
            "isZeroFeeSymbol": False,
            "riskLimitCustom": [],
            "liquidationFeeRate": 0.0004,
            "feeRateMode": "NORMAL",
            "leverageFeeRates": [],
            "tieredFeeRates": [],
            "type": 1,
            "stopOnlyFair": False,
            "preMarket": False,
            "typeLabel": 0,
            "fn": f"{_id(x)}永续",
            "feeRateType": "BASE",
            "tagIdList": [],
            "tempMaxLeverageLimited": False,
            "regularMaxLeverage": 200,
        }

    def _ticker_row(self, x: Listing) -> dict[str, Any]:
        now = self.market.now_ms()
        last, prev = self.market.last_price(x), self.market.price_at(x, now - 86_400_000)
        change = last / prev - 1
        return {
            "contractId": 10 + sorted(self.market.listings[self.exchange_id]).index(x.base),
            "symbol": _id(x),
            "lastPrice": _round(last),
            "bid1": _round(last * 0.9999),
            "ask1": _round(last * 1.0001),
            "volume24": round(x.quote_volume_24h / last / x.contract_size),  # contracts
            "amount24": _round(x.quote_volume_24h, 4),  # USDT
            "holdVol": round(x.quote_volume_24h / 4 / last / x.contract_size),
            "lower24Price": _round(min(last, prev) * 0.99),
            "high24Price": _round(max(last, prev) * 1.01),
            "riseFallRate": _round(change, 4),
            "riseFallValue": _round(last - prev),
            "indexPrice": _round(last * 0.9998),
            "fairPrice": _round(last),
            "fundingRate": _round(x.funding_rate, 6),
            "maxBidPrice": _round(last * 1.1),
            "minAskPrice": _round(last * 0.9),
            "timestamp": now,
            "riseFallRates": {
                "zone": "UTC+8",
                "r": _round(change, 4),
                "v": _round(last - prev),
                "r7": 0,
                "r30": 0,
                "r90": 0,
                "r180": 0,
                "r365": 0,
            },
            "riseFallRatesOfTimezone": [_round(change, 4), _round(change, 4), _round(change, 4)],
        }

    def _ticker(self, query: Query) -> Any:
        if "symbol" in query:
            return self._ok(self._ticker_row(self._listing(query["symbol"])))
        return self._ok([self._ticker_row(x) for x in self.market.trading(self.exchange_id)])

    def _kline(self, symbol: str, query: Query) -> Any:
        listing = self._listing(symbol)
        timeframe = INTERVALS.get(query.get("interval", "Min1"))
        if timeframe is None:
            raise Reject(200, {"success": False, "code": 600, "message": "Parameter error"})
        span = timeframe_ms(timeframe)
        now = self.market.now_ms()
        end = min(now, int(query["end"]) * 1000) if "end" in query else now
        start = int(query["start"]) * 1000 if "start" in query else None
        if start is not None and "end" not in query:
            end = min(now, start + (MAX_CANDLES - 1) * span)
        bars = self.market.bars(listing, timeframe, start_ms=start, end_ms=end, limit=MAX_CANDLES)
        bars = [b for b in bars if b.open_ms <= end]
        return self._ok(kline_columns(bars, listing.contract_size))

    def _funding_rate(self, symbol: str, query: Query) -> Any:
        x = self._listing(symbol)
        price = self.market.last_price(x)
        return self._ok(
            {
                "symbol": _id(x),
                "fundingRate": _round(x.funding_rate, 6),
                "maxFundingRate": 0.0018,
                "minFundingRate": -0.0018,
                "collectCycle": x.funding_interval_hours,
                "nextSettleTime": self.market.next_funding_ms(x),
                "timestamp": self.market.now_ms(),
                "idxPrice": _round(price * 0.9998),
                "fairPrice": _round(price),
            }
        )

    def _funding_history(self, query: Query) -> Any:
        x = self._listing(query.get("symbol"))
        size = max(1, min(int(query.get("page_size", "20")), 100))
        page = max(1, int(query.get("page_num", "1")))
        now = self.market.now_ms()
        step = x.funding_interval_hours * 3_600_000
        rows = list(reversed(self.market.funding_history(x, now - 1000 * step, now)))  # newest first
        chunk = rows[(page - 1) * size : page * size]
        return self._ok(
            {
                "pageSize": size,
                "totalCount": len(rows),
                "totalPage": -(-len(rows) // size),
                "currentPage": page,
                "resultList": [
                    {
                        "symbol": _id(x),
                        "fundingRate": _round(rate, 6),
                        "settleTime": t,
                        "collectCycle": x.funding_interval_hours,
                    }
                    for t, rate in chunk
                ],
            }
        )

    # -- websocket -------------------------------------------------------------------------------------------

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/edge")

    async def on_ws_text(self, conn: Connection, text: str) -> None:
        now = self.market.now_ms()
        try:
            msg = json.loads(text)
            method = msg["method"]
            param = msg.get("param") or {}
            if not isinstance(method, str) or not isinstance(param, dict):
                raise TypeError(method)
        except (ValueError, KeyError, TypeError):
            await self.reply(conn, {"channel": "rs.error", "data": "请求参数错误!", "ts": now})
            return
        if method == "ping":
            await self.reply(conn, {"channel": "pong", "data": now})
            return
        action, _, topic = method.partition(".")
        if action not in ("sub", "unsub") or topic not in ("ticker", "tickers", "kline"):
            await self.reply(conn, {"channel": "rs.error", "data": f"{method} not support!", "ts": now})
            return
        key = self._subscription(topic, param)
        if key is None:
            await self.reply(conn, {"channel": "rs.error", "data": "合约不存在!", "ts": now})
            return
        if action == "sub":
            conn.subscriptions.add(key)
            if topic == "kline":
                span = timeframe_ms(INTERVALS[param["interval"]])
                conn.state.setdefault("kline", {}).setdefault(key, now // span * span)
        else:
            conn.subscriptions.discard(key)
        await self.reply(conn, {"channel": f"rs.{method}", "data": "success", "ts": now})

    def _subscription(self, topic: str, param: dict[str, Any]) -> str | None:
        if topic == "tickers":
            return "tickers"
        symbol = param.get("symbol")
        listing = (
            self.market.find(self.exchange_id, symbol.removesuffix("_USDT"))
            if isinstance(symbol, str) and symbol.endswith("_USDT")
            else None
        )
        if listing is None:
            return None
        if topic == "ticker":
            return f"ticker:{symbol}"
        interval = param.get("interval", "Min1")
        return f"kline:{symbol}:{interval}" if interval in INTERVALS else None

    async def tick(self, prev_ms: int, now_ms: int) -> None:
        self.take_prints()  # MEXC publishes no liquidations
        for conn in list(self.connections):
            for key in sorted(conn.subscriptions):
                kind, _, rest = key.partition(":")
                if kind == "tickers":
                    rows = [self._ticker_row(x) for x in self.market.trading(self.exchange_id)]
                    await self.send(
                        conn, {"channel": "push.tickers", "data": [_ws_ticker(r) for r in rows], "ts": now_ms}
                    )
                elif kind == "ticker":
                    listing = self.market.find(self.exchange_id, rest.removesuffix("_USDT"))
                    if listing is not None:
                        data = _ws_ticker_one(self._ticker_row(listing))
                        await self.send(
                            conn, {"symbol": rest, "data": data, "channel": "push.ticker", "ts": now_ms}
                        )
                elif kind == "kline":
                    await self._push_kline(conn, key, now_ms)

    async def _push_kline(self, conn: Connection, key: str, now_ms: int) -> None:
        _, symbol, interval = key.split(":")
        listing = self.market.find(self.exchange_id, symbol.removesuffix("_USDT"))
        if listing is None:
            return
        timeframe = INTERVALS[interval]
        span = timeframe_ms(timeframe)
        current = now_ms // span * span
        cursors: dict[str, int] = conn.state.setdefault("kline", {})
        last = cursors.get(key, current)
        cursors[key] = current
        frames = [
            _ws_kline(symbol, interval, self.market.bar(listing, timeframe, open_ms), listing, now_ms)
            for open_ms in range(max(last, current - 3 * span), current, span)
        ]  # the final state of each window that closed since the last push
        pushed: dict[str, int] = conn.state.setdefault("kline_pushed", {})
        if frames or now_ms - pushed.get(key, 0) >= 10_000:
            pushed[key] = now_ms
            frames.append(
                _ws_kline(symbol, interval, self.market.bar(listing, timeframe, current), listing, now_ms)
            )
        for frame in frames:
            await self.send(conn, frame)


def _bind(handler: Callable[[str, Query], Any], symbol: str) -> Route:
    return lambda query: handler(symbol, query)


def kline_columns(bars: list[Bar], contract_size: float) -> dict[str, list[Any]]:
    """MEXC's column-wise candles: ``time`` seconds, ``vol`` contracts, ``amount`` quote (USDT)."""
    return {
        "time": [b.open_ms // 1000 for b in bars],
        "open": [_round(b.open) for b in bars],
        "close": [_round(b.close) for b in bars],
        "high": [_round(b.high) for b in bars],
        "low": [_round(b.low) for b in bars],
        "vol": [float(round(b.volume / contract_size)) for b in bars],
        "amount": [_round(b.quote_volume, 4) for b in bars],
    }


def _ws_ticker_one(row: dict[str, Any]) -> dict[str, Any]:
    """``push.ticker``: the REST row's fields, ``zone`` on top and the rates as a list (as MEXC sends)."""
    rates = row["riseFallRates"]
    out = _ws_ticker(row)
    out.update(
        bid1=row["bid1"],
        ask1=row["ask1"],
        holdVol=row["holdVol"],
        riseFallValue=row["riseFallValue"],
        fundingRate=row["fundingRate"],
        zone=rates["zone"],
        riseFallRates=[rates[k] for k in ("r", "r7", "r30", "r90", "r180", "r365")],
        riseFallRatesOfTimezone=row["riseFallRatesOfTimezone"],
    )
    return out


def _ws_ticker(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "symbol",
        "lastPrice",
        "riseFallRate",
        "fairPrice",
        "indexPrice",
        "volume24",
        "amount24",
        "maxBidPrice",
        "minAskPrice",
        "lower24Price",
        "high24Price",
        "timestamp",
    )
    return {k: row[k] for k in keys}


def _ws_kline(symbol: str, interval: str, b: Bar, listing: Listing, now_ms: int) -> dict[str, Any]:
    return {
        "channel": "push.kline",
        "data": {
            "a": _round(b.quote_volume, 4),
            "c": _round(b.close),
            "h": _round(b.high),
            "interval": interval,
            "l": _round(b.low),
            "o": _round(b.open),
            "q": round(b.volume / listing.contract_size),
            "rc": _round(b.close),
            "rh": _round(b.high),
            "rl": _round(b.low),
            "ro": _round(b.open),
            "symbol": symbol,
            "t": b.open_ms // 1000,
        },
        "symbol": symbol,
        "ts": now_ms,
    }
