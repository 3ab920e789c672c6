"""MEXC futures' REST endpoints under ``/api/v1/contract``, answered from the market.

``detail``, ``ticker`` (the bulk answer carries ``fundingRate`` for every contract; ``?symbol=`` answers one
object), ``kline/<symbol>`` (``interval=Min5``, ``start``/``end`` in seconds, at most 2000 candles; columns
``time`` in seconds, ``vol`` in contracts, ``amount`` in USDT), ``funding_rate/<symbol>``,
``funding_rate/history``, ``ping``; answers ``{"success", "code", "data"}``. ccxt's market loading also reads
the spot ``/api/v3/exchangeInfo``; it is answered (no spot pairs are simulated) and logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim.market import Listing, Market
from signalbots.sim.mexc.wire import (
    EXCHANGE_ID,
    FUNDING,
    INTERVALS,
    KLINE,
    NO_CONTRACT,
    PARAMETER_ERROR,
    contract_id,
    kline_columns,
    num,
    ok,
    symbol_id,
    ticker_row,
)
from signalbots.sim.venue import Query, Reject, Route

MAX_CANDLES = 2000


class MexcRest:
    def __init__(self, *, market: Market) -> None:
        self.market = market
        self.routes: dict[str, Route] = {
            "/api/v1/contract/ping": lambda q: ok(self.market.now_ms()),
            "/api/v1/contract/detail": self._detail,
            "/api/v1/contract/ticker": self._ticker,
            "/api/v1/contract/funding_rate/history": self._funding_history,
            "/api/v3/exchangeInfo": self._spot_exchange_info,
            "/api/v3/ping": lambda q: {},
            "/api/v3/time": lambda q: {"serverTime": self.market.now_ms()},
        }

    def route(self, path: str) -> Route | None:
        exact = self.routes.get(path)
        if exact is not None:
            return exact
        for prefix, handler in ((KLINE, self._kline), (FUNDING, self._funding_rate)):
            symbol = path.removeprefix(prefix)
            if symbol != path and symbol and "/" not in symbol:
                return _bind(handler, symbol)
        return None

    def _listing(self, symbol: str | None) -> Listing:
        listing = (
            self.market.find(EXCHANGE_ID, symbol.removesuffix("_USDT"))
            if symbol is not None and symbol.endswith("_USDT")
            else None
        )
        if listing is None or listing.status != "trading":
            raise Reject(200, NO_CONTRACT)
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
            return ok(self._contract(self._listing(query["symbol"])))
        return ok([self._contract(x) for x in self.market.trading(EXCHANGE_ID)])

    def _contract(self, x: Listing) -> dict[str, Any]:
        price = self.market.last_price(x)
        scale = max(0, 6 - len(str(int(price))))
        unit = num(10.0**-scale, scale)
        return {
            "symbol": symbol_id(x),
            "displayName": f"{symbol_id(x)}永续",
            "displayNameEn": f"{symbol_id(x)} PERPETUAL",
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
            "id": contract_id(self.market, x),
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
            "fn": f"{symbol_id(x)}永续",
            "feeRateType": "BASE",
            "tagIdList": [],
            "tempMaxLeverageLimited": False,
            "regularMaxLeverage": 200,
        }

    def _ticker(self, query: Query) -> Any:
        if "symbol" in query:
            return ok(ticker_row(self.market, self._listing(query["symbol"])))
        return ok([ticker_row(self.market, x) for x in self.market.trading(EXCHANGE_ID)])

    def _kline(self, symbol: str, query: Query) -> Any:
        listing = self._listing(symbol)
        timeframe = INTERVALS.get(query.get("interval", "Min1"))
        if timeframe is None:
            raise Reject(200, PARAMETER_ERROR)
        span = timeframe_ms(timeframe)
        now = self.market.now_ms()
        end = min(now, int(query["end"]) * 1000) if "end" in query else now
        start = int(query["start"]) * 1000 if "start" in query else None
        if start is not None and "end" not in query:
            end = min(now, start + (MAX_CANDLES - 1) * span)
        bars = self.market.bars(listing, timeframe, start_ms=start, end_ms=end, limit=MAX_CANDLES)
        bars = [b for b in bars if b.open_ms <= end]
        return ok(kline_columns(bars, listing.contract_size))

    def _funding_rate(self, symbol: str, query: Query) -> Any:
        x = self._listing(symbol)
        price = self.market.last_price(x)
        return ok(
            {
                "symbol": symbol_id(x),
                "fundingRate": num(x.funding_rate, 6),
                "maxFundingRate": 0.0018,
                "minFundingRate": -0.0018,
                "collectCycle": x.funding_interval_hours,
                "nextSettleTime": self.market.next_funding_ms(x),
                "timestamp": self.market.now_ms(),
                "idxPrice": num(price * 0.9998),
                "fairPrice": num(price),
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
        return ok(
            {
                "pageSize": size,
                "totalCount": len(rows),
                "totalPage": -(-len(rows) // size),
                "currentPage": page,
                "resultList": [
                    {
                        "symbol": symbol_id(x),
                        "fundingRate": num(rate, 6),
                        "settleTime": t,
                        "collectCycle": x.funding_interval_hours,
                    }
                    for t, rate in chunk
                ],
            }
        )


def _bind(handler: Callable[[str, Query], Any], symbol: str) -> Route:
    return lambda query: handler(symbol, query)
