"""OKX v5's REST endpoints (USDT-margined perpetual swaps), answered from the market.

``/api/v5/public/instruments?instType=SWAP``, ``/api/v5/public/funding-rate`` (``instId=ANY`` or one),
``/api/v5/public/funding-rate-history``, ``/api/v5/market/tickers?instType=SWAP``, ``/api/v5/market/ticker``,
``/api/v5/market/candles`` and ``history-candles`` (newest first, ``after``/``before`` exclusive). Swap
instruments and tickers include the coin-margined BTC-USD-SWAP/ETH-USD-SWAP (``ctType`` inverse, ``ctVal`` in
USD); ``funding-rate instId=ANY`` lists those and an X-Perp future (``ETH-USD_UM_XPERP-310404``, ``instType``
FUTURES; no real answer with one was found, the entry has the swap entries' shape). Ticker ``vol24h`` counts
contracts, ``volCcy24h`` the base coin; candles carry contracts, base and quote (``volCcyQuote``); answers
``{"code": "0", "msg": "", "data": [...]}``.
"""

from __future__ import annotations

from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim.market import Listing, Market
from signalbots.sim.okx.wire import (
    BARS,
    EXCHANGE_ID,
    NO_INST_ID,
    NO_INSTRUMENT,
    candle_row,
    inverse_ct_val,
    ok,
    symbol_id,
)
from signalbots.sim.venue import Query, Reject, Route, fmt, int_param

INVERSE_BASES = ("BTC", "ETH")  # coin-margined swaps OKX lists next to the USDT ones
XPERP_BASES = (
    "ETH",
)  # extended perpetual futures that pay funding (ccxt's example: ETH-USD_UM_XPERP-310404)
INVERSE_SHARE = 0.1  # of the linear swap's 24h turnover


class OkxRest:
    def __init__(self, *, market: Market) -> None:
        self.market = market
        self.routes: dict[str, Route] = {
            "/api/v5/public/time": lambda q: ok([{"ts": str(self.market.now_ms())}]),
            "/api/v5/public/instruments": self._instruments,
            "/api/v5/public/funding-rate": self._funding_rate,
            "/api/v5/public/funding-rate-history": self._funding_history,
            "/api/v5/market/tickers": self._tickers,
            "/api/v5/market/ticker": self._ticker_one,
            "/api/v5/market/candles": self._candles,
            "/api/v5/market/history-candles": self._candles,
        }

    def route(self, path: str) -> Route | None:
        return self.routes.get(path)

    def _swap(self, query: Query) -> None:
        if query.get("instType", "SWAP") != "SWAP":
            raise Reject(200, ok([]))

    def _one(self, query: Query) -> Listing | None:
        inst = query.get("instId")
        if inst is None or inst == "ANY":
            return None
        listing = self.market.find(EXCHANGE_ID, inst.split("-")[0]) if inst.endswith("-USDT-SWAP") else None
        if listing is None or listing.status != "trading":
            raise Reject(200, NO_INSTRUMENT)
        return listing

    def _inverses(self) -> list[Listing]:
        return [x for x in self.market.trading(EXCHANGE_ID) if x.base in INVERSE_BASES]

    def _instruments(self, query: Query) -> Any:
        self._swap(query)
        linear = [self._instrument(x) for x in self.market.trading(EXCHANGE_ID)]
        return ok(linear + [self._inverse_instrument(x) for x in self._inverses()])

    def _inverse_instrument(self, x: Listing) -> dict[str, Any]:
        out = self._instrument(x)
        out.update(
            ctType="inverse",
            ctVal=fmt(inverse_ct_val(x)),
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
            "instId": symbol_id(x),
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
            "instId": symbol_id(x),
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
            raise Reject(200, NO_INST_ID)
        one = self._one(query)
        if one is not None:
            return ok([self._funding(one)])
        # instId=ANY: every contract that pays funding, coin-margined swaps and X-Perp futures included
        linear = [self._funding(x) for x in self.market.trading(EXCHANGE_ID)]
        inverse = [{**self._funding(x), "instId": f"{x.base}-USD-SWAP"} for x in self._inverses()]
        xperp = [
            {**self._funding(x), "instId": f"{x.base}-USD_UM_XPERP-310404", "instType": "FUTURES"}
            for x in self.market.trading(EXCHANGE_ID)
            if x.base in XPERP_BASES
        ]
        return ok(linear + inverse + xperp)

    def _funding_history(self, query: Query) -> Any:
        listing = self._one(query)
        if listing is None:
            raise Reject(200, NO_INST_ID)
        limit = max(1, min(int(query.get("limit", "100")), 400))
        rows = self.market.funding_page(
            listing, limit=limit, end_ms=int_param(query, "after"), start_ms=int_param(query, "before")
        )
        return ok(
            [
                {
                    "fundingRate": fmt(r),
                    "fundingTime": str(t),
                    "instId": symbol_id(listing),
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
            "instId": symbol_id(x),
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
            vol24h=fmt(usd / inverse_ct_val(x), 0),
            volCcy24h=fmt(usd / last, 4),
        )
        return out

    def _tickers(self, query: Query) -> Any:
        self._swap(query)
        linear = [self._ticker(x) for x in self.market.trading(EXCHANGE_ID)]
        return ok(linear + [self._inverse_ticker(x) for x in self._inverses()])

    def _ticker_one(self, query: Query) -> Any:
        one = self._one(query)
        if one is None:
            raise Reject(200, NO_INST_ID)
        return ok([self._ticker(one)])

    def _candles(self, query: Query) -> Any:
        listing = self._one(query)
        if listing is None:
            raise Reject(200, NO_INST_ID)
        timeframe = BARS.get(query.get("bar", "1m"))
        if timeframe is None:
            raise Reject(200, {"code": "51000", "msg": "Parameter bar error", "data": []})
        span = timeframe_ms(timeframe)
        limit = max(1, min(int(query.get("limit", "100")), 300))
        after = int_param(query, "after")  # strictly older than
        before = int_param(query, "before")  # strictly newer than
        end = after - 1 if after is not None else None
        start = before + 1 if before is not None else None
        if start is not None and end is None:
            end = start + (limit - 1) * span
        bars = self.market.bars(
            listing, timeframe, start_ms=None if end is not None else start, end_ms=end, limit=limit
        )
        bars = [b for b in bars if start is None or b.open_ms >= start]
        now = self.market.now_ms()
        return ok([candle_row(b, listing, now, timeframe) for b in reversed(bars)])
