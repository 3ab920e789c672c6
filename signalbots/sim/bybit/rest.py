"""Bybit v5's REST endpoints (linear perpetuals), answered from the market.

``/v5/market/instruments-info``, ``/v5/market/tickers`` (funding rate, next funding time, the current
``fundingIntervalHour``, 24h ``turnover24h`` in USDT), ``/v5/market/kline`` (``turnover`` in USDT, newest
first), ``/v5/market/funding/history``, ``/v5/market/time``; answers wrapped in ``{"retCode", "retMsg",
"result", "retExtInfo", "time"}``.
"""

from __future__ import annotations

from typing import Any

from signalbots.sim.bybit.wire import EXCHANGE_ID, INTERVALS, error, kline_row, symbol_id, wrap
from signalbots.sim.market import Listing, Market
from signalbots.sim.venue import Query, Reject, Route, fmt, int_param


class BybitRest:
    def __init__(self, *, market: Market) -> None:
        self.market = market
        self.routes: dict[str, Route] = {
            "/v5/market/time": self._time,
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/tickers": self._tickers,
            "/v5/market/kline": self._kline,
            "/v5/market/funding/history": self._funding_history,
        }

    def route(self, path: str) -> Route | None:
        return self.routes.get(path)

    def _category(self, query: Query) -> None:
        if query.get("category") != "linear":
            raise Reject(
                200, error(self.market, 10001, "params error: category only support linear in this simulator")
            )

    def _one(self, query: Query) -> Listing | None:
        sym = query.get("symbol")
        if sym is None:
            return None
        listing = self.market.find(EXCHANGE_ID, sym.removesuffix("USDT"))
        if listing is None or listing.status != "trading":
            raise Reject(200, error(self.market, 10001, "params error: symbol invalid"))
        return listing

    def _time(self, query: Query) -> Any:
        now = self.market.now_ms()
        return wrap(self.market, {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    def _instruments(self, query: Query) -> Any:
        self._category(query)
        if query.get("status") == "PreLaunch":
            rows: list[Listing] = []
        else:
            rows = [
                x for x in self.market.trading(EXCHANGE_ID) if query.get("symbol") in (None, symbol_id(x))
            ]
        return wrap(
            self.market,
            {"category": "linear", "list": [self._instrument(x) for x in rows], "nextPageCursor": ""},
        )

    def _instrument(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        tick = fmt(10 ** (len(str(int(price))) - 6))
        return {
            "symbol": symbol_id(x),
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
            "symbol": symbol_id(x),
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
        rows = [one] if one is not None else self.market.trading(EXCHANGE_ID)
        return wrap(self.market, {"category": "linear", "list": [self._ticker(x) for x in rows]})

    def _kline(self, query: Query) -> Any:
        self._category(query)
        listing = self._one(query)
        if listing is None:
            raise Reject(200, error(self.market, 10001, "params error: symbol is required"))
        timeframe = INTERVALS.get(query.get("interval", ""))
        if timeframe is None:
            raise Reject(200, error(self.market, 10001, "params error: invalid interval"))
        limit = max(1, min(int(query.get("limit", "200")), 1000))
        start, end = int_param(query, "start"), int_param(query, "end")
        bars = self.market.bars(listing, timeframe, start_ms=start, end_ms=end, limit=limit)
        return wrap(
            self.market,
            {
                "symbol": symbol_id(listing),
                "category": "linear",
                "list": [kline_row(b) for b in reversed(bars)],
            },
        )  # Bybit: newest first

    def _funding_history(self, query: Query) -> Any:
        self._category(query)
        listing = self._one(query)
        if listing is None:
            raise Reject(200, error(self.market, 10001, "params error: symbol is required"))
        limit = max(1, min(int(query.get("limit", "200")), 200))
        rows = self.market.funding_page(
            listing, limit=limit, end_ms=int_param(query, "endTime"), start_ms=int_param(query, "startTime")
        )
        return wrap(
            self.market,
            {
                "category": "linear",
                "list": [
                    {"symbol": symbol_id(listing), "fundingRate": fmt(rate), "fundingRateTimestamp": str(t)}
                    for t, rate in reversed(rows)
                ],
            },
        )
