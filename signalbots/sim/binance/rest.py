"""Binance USDⓈ-M's REST endpoints under ``/fapi/v1``, answered from the market.

``exchangeInfo`` and the bulk ``premiumIndex`` also list the current-quarter delivery contracts of BTC and ETH
(``BTCUSDT_231229``), whose ``lastFundingRate``/``interestRate`` are ``""`` and ``nextFundingTime`` 0, as on
Binance.
"""

from __future__ import annotations

import math
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim.binance.admission import BinanceAdmission
from signalbots.sim.binance.wire import (
    EXCHANGE_ID,
    INTERVALS,
    INVALID_SYMBOL,
    delivery_id,
    kline_row,
    quarter_expiry_ms,
    symbol_id,
)
from signalbots.sim.market import Listing, Market
from signalbots.sim.venue import Query, Reject, Route, fmt

DELIVERY_BASES = ("BTC", "ETH")


class BinanceRest:
    def __init__(self, *, market: Market, admission: BinanceAdmission) -> None:
        self.market = market
        self._admission = admission  # exchangeInfo reports its weight limit
        self.routes: dict[str, Route] = {
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

    def route(self, path: str) -> Route | None:
        return self.routes.get(path)

    def _one(self, query: Query) -> Listing | None:
        sym = query.get("symbol")
        if sym is None:
            return None
        listing = self.market.find(EXCHANGE_ID, sym.removesuffix("USDT"))
        if listing is None or not sym.endswith("USDT"):
            raise Reject(400, INVALID_SYMBOL)
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
                    "limit": self._admission.weight_limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [self._symbol_info(x) for x in self.market.listings[EXCHANGE_ID].values()]
            + [self._delivery_info(x, expiry) for x, expiry in self._deliveries()],
        }

    def _deliveries(self) -> list[tuple[Listing, int]]:
        """The current-quarter delivery contracts Binance lists next to BTC's and ETH's perpetuals."""
        expiry = quarter_expiry_ms(self.market.now_ms())
        return [(x, expiry) for x in self.market.trading(EXCHANGE_ID) if x.base in DELIVERY_BASES]

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
            "symbol": symbol_id(x),
            "pair": symbol_id(x),
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
            "symbol": symbol_id(x),
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
        return [self._premium(x) for x in self.market.trading(EXCHANGE_ID)] + [
            self._delivery_premium(x, expiry) for x, expiry in self._deliveries()
        ]

    def _funding_info(self, query: Query) -> Any:
        # Binance lists only symbols whose cap/floor or interval were adjusted: the rest are 8h.
        return [
            {
                "symbol": symbol_id(x),
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": x.funding_interval_hours,
                "disclaimer": False,
                "updateTime": x.onboard_ms,
            }
            for x in self.market.trading(EXCHANGE_ID)
            if x.funding_interval_hours != 8
        ]

    def _funding_rate(self, query: Query) -> Any:
        listings = [self._one(query)] if "symbol" in query else self.market.trading(EXCHANGE_ID)
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
                        "symbol": symbol_id(x),
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
            "symbol": symbol_id(x),
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
            else [self._ticker(x) for x in self.market.trading(EXCHANGE_ID)]
        )

    def _ticker_price(self, query: Query) -> Any:
        rows = [self._one(query)] if "symbol" in query else self.market.trading(EXCHANGE_ID)
        out = [
            {"symbol": symbol_id(x), "price": fmt(self.market.last_price(x)), "time": self.market.now_ms()}
            for x in rows
            if x is not None
        ]
        return out[0] if "symbol" in query else out
