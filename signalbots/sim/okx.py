"""OKX v5 (USDT-margined perpetual swaps), as the simulator serves it.

REST ``/api/v5/public/instruments?instType=SWAP``, ``/api/v5/public/funding-rate`` (``instId=ANY`` or one),
``/api/v5/public/funding-rate-history``, ``/api/v5/market/tickers?instType=SWAP``, ``/api/v5/market/ticker``,
``/api/v5/market/candles`` and ``history-candles`` (newest first, ``after``/``before`` exclusive). Swap
instruments and tickers include the coin-margined BTC-USD-SWAP/ETH-USD-SWAP (``ctType`` inverse, ``ctVal`` in
USD); ``funding-rate instId=ANY`` lists those and an X-Perp future (``ETH-USD_UM_XPERP-310404``, ``instType``
FUTURES; no real answer with one was found, the entry has the swap entries' shape). Ticker ``vol24h`` counts
contracts, ``volCcy24h`` the base coin; candles carry contracts, base and quote (``volCcyQuote``); answers
``{"code": "0", "msg": "", "data": [...]}``; rate limit ``429 {"code": "50011"}``. Websocket
``/ws/v5/public``: ``{"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}``
with ``{"event": "subscribe"}`` acks, text ``ping`` → ``pong``; liquidation ``sz`` is in contracts.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import Side, timeframe_ms
from signalbots.sim.market import Bar, Listing
from signalbots.sim.venue import Connection, Fault, FaultKind, Query, Reject, Venue, fmt

BARS = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6Hutc": "6h",
    "12Hutc": "12h",
    "1Dutc": "1d",
    "6H": "6h",
    "12H": "12h",
    "1D": "1d",
}


INVERSE_BASES = ("BTC", "ETH")  # coin-margined swaps OKX lists next to the USDT ones
XPERP_BASES = (
    "ETH",
)  # extended perpetual futures that pay funding (ccxt's example id: ETH-USD_UM_XPERP-310404)
INVERSE_SHARE = 0.1  # of the linear swap's 24h turnover


def _id(listing: Listing) -> str:
    return f"{listing.base}-USDT-SWAP"


def _inverse_ct_val(listing: Listing) -> float:
    return 100.0 if listing.base == "BTC" else 10.0  # USD per contract (real: BTC-USD-SWAP 100)


class OkxVenue(Venue):
    exchange_id = "okx"
    ws_ping_interval = 1e12  # OKX expects the client's text "ping"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes = {
            "/api/v5/public/time": lambda q: self._ok([{"ts": str(self.market.now_ms())}]),
            "/api/v5/public/instruments": self._instruments,
            "/api/v5/public/funding-rate": self._funding_rate,
            "/api/v5/public/funding-rate-history": self._funding_history,
            "/api/v5/market/tickers": self._tickers,
            "/api/v5/market/ticker": self._ticker_one,
            "/api/v5/market/candles": self._candles,
            "/api/v5/market/history-candles": self._candles,
        }

    def _ok(self, data: list[Any]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": data}

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BAN):
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            return Reject(429, {"msg": "Too Many Requests", "code": "50011"}, headers)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []})
        if fault.status >= 500:
            return Reject(
                fault.status,
                {"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []},
            )
        return Reject(fault.status, {"code": "50000", "msg": "Body cannot be empty.", "data": []})

    # -- REST ------------------------------------------------------------------------------------------------

    def _swap(self, query: Query) -> None:
        if query.get("instType", "SWAP") != "SWAP":
            raise Reject(200, self._ok([]))

    def _one(self, query: Query) -> Listing | None:
        inst = query.get("instId")
        if inst is None or inst == "ANY":
            return None
        listing = (
            self.market.find(self.exchange_id, inst.split("-")[0]) if inst.endswith("-USDT-SWAP") else None
        )
        if listing is None or listing.status != "trading":
            raise Reject(200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []})
        return listing

    def _inverses(self) -> list[Listing]:
        return [x for x in self.market.trading(self.exchange_id) if x.base in INVERSE_BASES]

    def _instruments(self, query: Query) -> Any:
        self._swap(query)
        linear = [self._instrument(x) for x in self.market.trading(self.exchange_id)]
        return self._ok(linear + [self._inverse_instrument(x) for x in self._inverses()])

    def _inverse_instrument(self, x: Listing) -> dict[str, Any]:
        out = self._instrument(x)
        out.update(
            ctType="inverse",
            ctVal=fmt(_inverse_ct_val(x)),
            ctValCcy="USD",
            instFamily=f"{x.base}-USD",
            instId=f"{x.base}-USD-SWAP",
            settleCcy=x.base,
            uly=f"{x.base}-USD",
        )
        return out

    def _instrument(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        tick = fmt(10 ** (len(str(int(price))) - 6))
        return {
            "alias": "",
            "baseCcy": "",
            "category": "1",
            "ctMult": "1",
            "ctType": "linear",
            "ctVal": fmt(x.contract_size),
            "ctValCcy": x.base,
            "expTime": "",
            "instFamily": f"{x.base}-USDT",
            "instId": _id(x),
            "instType": "SWAP",
            "lever": "50",
            "listTime": str(x.onboard_ms),
            "lotSz": "1",
            "maxIcebergSz": "100000000",
            "maxLmtAmt": "20000000",
            "maxLmtSz": "100000000",
            "maxMktAmt": "",
            "maxMktSz": "10000",
            "maxStopSz": "10000",
            "maxTriggerSz": "100000000",
            "maxTwapSz": "100000000",
            "minSz": "1",
            "optType": "",
            "quoteCcy": "",
            "settleCcy": "USDT",
            "state": "live",
            "ruleType": "normal",
            "stk": "",
            "tickSz": tick,
            "uly": f"{x.base}-USDT",
        }

    def _funding(self, x: Listing) -> dict[str, Any]:
        nxt = self.market.next_funding_ms(x)
        step = x.funding_interval_hours * 3_600_000
        return {
            "formulaType": "withRate",
            "fundingRate": fmt(x.funding_rate),
            "fundingTime": str(nxt),
            "impactValue": "20000",
            "instId": _id(x),
            "instType": "SWAP",
            "interestRate": "0.0001",
            "maxFundingRate": "0.015",
            "method": "current_period",
            "minFundingRate": "-0.015",
            "nextFundingRate": "",
            "nextFundingTime": str(nxt + step),
            "premium": "0.0001",
            "prevFundingTime": str(nxt - step),
            "settFundingRate": fmt(x.funding_rate),
            "settState": "settled",
            "ts": str(self.market.now_ms()),
        }

    def _funding_rate(self, query: Query) -> Any:
        if "instId" not in query:
            raise Reject(200, {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []})
        one = self._one(query)
        if one is not None:
            return self._ok([self._funding(one)])
        # instId=ANY: every contract that pays funding, coin-margined swaps and X-Perp futures included
        linear = [self._funding(x) for x in self.market.trading(self.exchange_id)]
        inverse = [{**self._funding(x), "instId": f"{x.base}-USD-SWAP"} for x in self._inverses()]
        xperp = [
            {**self._funding(x), "instId": f"{x.base}-USD_UM_XPERP-310404", "instType": "FUTURES"}
            for x in self.market.trading(self.exchange_id)
            if x.base in XPERP_BASES
        ]
        return self._ok(linear + inverse + xperp)

    def _funding_history(self, query: Query) -> Any:
        listing = self._one(query)
        if listing is None:
            raise Reject(200, {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []})
        limit = max(1, min(int(query.get("limit", "100")), 400))
        now = self.market.now_ms()
        end = min(int(query.get("after", now)), now)
        start = int(query.get("before", end - limit * listing.funding_interval_hours * 3_600_000))
        rows = self.market.funding_history(listing, start, end)[-limit:]
        return self._ok(
            [
                {
                    "fundingRate": fmt(r),
                    "fundingTime": str(t),
                    "instId": _id(listing),
                    "instType": "SWAP",
                    "method": "current_period",
                    "realizedRate": fmt(r),
                }
                for t, r in reversed(rows)
            ]
        )

    def _ticker(self, x: Listing) -> dict[str, Any]:
        now = self.market.now_ms()
        last, open_ = self.market.last_price(x), self.market.price_at(x, now - 86_400_000)
        base_volume = x.quote_volume_24h / last
        return {
            "instType": "SWAP",
            "instId": _id(x),
            "last": fmt(last),
            "lastSz": "1",
            "askPx": fmt(last * 1.0001),
            "askSz": "10",
            "bidPx": fmt(last * 0.9999),
            "bidSz": "10",
            "open24h": fmt(open_),
            "high24h": fmt(max(last, open_) * 1.01),
            "low24h": fmt(min(last, open_) * 0.99),
            "volCcy24h": fmt(base_volume, 4),
            "vol24h": fmt(base_volume / x.contract_size, 0),
            "sodUtc0": fmt(open_),
            "sodUtc8": fmt(open_),
            "ts": str(now),
        }

    def _inverse_ticker(self, x: Listing) -> dict[str, Any]:
        out = self._ticker(x)
        usd = x.quote_volume_24h * INVERSE_SHARE
        last = self.market.last_price(x)
        # vol24h: contracts of ctVal USD; volCcy24h: the base coin
        out.update(
            instId=f"{x.base}-USD-SWAP",
            vol24h=fmt(usd / _inverse_ct_val(x), 0),
            volCcy24h=fmt(usd / last, 4),
        )
        return out

    def _tickers(self, query: Query) -> Any:
        self._swap(query)
        linear = [self._ticker(x) for x in self.market.trading(self.exchange_id)]
        return self._ok(linear + [self._inverse_ticker(x) for x in self._inverses()])

    def _ticker_one(self, query: Query) -> Any:
        one = self._one(query)
        if one is None:
            raise Reject(200, {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []})
        return self._ok([self._ticker(one)])

    def _candles(self, query: Query) -> Any:
        listing = self._one(query)
        if listing is None:
            raise Reject(200, {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []})
        timeframe = BARS.get(query.get("bar", "1m"))
        if timeframe is None:
            raise Reject(200, {"code": "51000", "msg": "Parameter bar error", "data": []})
        span = timeframe_ms(timeframe)
        limit = max(1, min(int(query.get("limit", "100")), 300))
        after = int(query["after"]) if "after" in query else None  # strictly older than
        before = int(query["before"]) if "before" in query else None  # strictly newer than
        end = after - 1 if after is not None else None
        start = before + 1 if before is not None else None
        if start is not None and end is None:
            end = start + (limit - 1) * span
        bars = self.market.bars(
            listing, timeframe, start_ms=None if end is not None else start, end_ms=end, limit=limit
        )
        bars = [b for b in bars if start is None or b.open_ms >= start]
        now = self.market.now_ms()
        return self._ok([candle_row(b, listing, now, timeframe) for b in reversed(bars)])

    # -- websocket -------------------------------------------------------------------------------------------

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/ws/v5/")

    async def on_ws_text(self, conn: Connection, text: str) -> None:
        if text == "ping":
            await self.reply(conn, "pong")
            return
        try:
            msg = json.loads(text)
            op, args = msg["op"], msg["args"]
        except (ValueError, KeyError, TypeError):
            await self.reply(
                conn,
                {
                    "event": "error",
                    "msg": f"Illegal request: {text}",
                    "code": "60012",
                    "connId": conn.state["id"],
                },
            )
            return
        for arg in args:
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if channel != "liquidation-orders" or arg.get("instType") not in (
                "SWAP",
                "FUTURES",
                "MARGIN",
                "OPTION",
            ):
                await self.reply(
                    conn,
                    {
                        "event": "error",
                        "msg": f"channel:{channel} doesn't exist",
                        "code": "60018",
                        "connId": conn.state["id"],
                    },
                )
                continue
            key = f"{channel}:{arg['instType']}"
            if op == "subscribe":
                conn.subscriptions.add(key)
            elif op == "unsubscribe":
                conn.subscriptions.discard(key)
            await self.reply(conn, {"event": op, "arg": arg, "connId": conn.state["id"]})

    async def tick(self, prev_ms: int, now_ms: int) -> None:
        for liq in self.market.background_prints(self.exchange_id, (now_ms - prev_ms) / 1000):
            self._on_print(liq)
        prints = self.take_prints()
        if not prints:
            return
        data = []
        for liq in prints:
            listing = self.market.find(self.exchange_id, liq.base)
            size = liq.quantity / (listing.contract_size if listing else 1.0)
            long = liq.side is Side.LONG
            data.append(
                {
                    "details": [
                        {
                            "bkLoss": "0",
                            "bkPx": fmt(liq.price),
                            "ccy": "",
                            "posSide": "long" if long else "short",
                            "side": "sell" if long else "buy",
                            "sz": fmt(size, 4),
                            "ts": str(liq.time_ms),
                        }
                    ],
                    "instFamily": f"{liq.base}-USDT",
                    "instId": f"{liq.base}-USDT-SWAP",
                    "instType": "SWAP",
                    "uly": f"{liq.base}-USDT",
                }
            )
        await self.broadcast(
            lambda c: "liquidation-orders:SWAP" in c.subscriptions,
            lambda c: {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": data},
        )


def candle_row(b: Bar, listing: Listing, now_ms: int, timeframe: str) -> list[str]:
    confirmed = "1" if b.closed(now_ms, timeframe) else "0"
    return [
        str(b.open_ms),
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume / listing.contract_size, 0),
        fmt(b.volume, 4),
        fmt(b.quote_volume, 4),
        confirmed,
    ]
