"""Hyperliquid's public REST API: one path, ``POST /info``, answering by the body's ``type``.

``metaAndAssetCtxs`` (``[meta, assetCtxs]``, index for index: delisted perps stay in the universe with
``isDelisted``), ``meta``, ``spotMeta`` (USDC only: ccxt reads it for currencies while loading markets),
``allMids`` and ``candleSnapshot`` (``req``: ``coin``, ``interval``, ``startTime``, ``endTime``; oldest first,
the open candle last, at most 5000). An unknown ``type`` is answered 422 as the body cannot be read.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.sim.hyperliquid.wire import EXCHANGE_ID, INTERVALS, asset_ctx, candle, meta, price
from signalbots.sim.market import Listing, Market
from signalbots.sim.venue import Query, Reject, Route

MAX_CANDLES = 5000
_UNREADABLE = "Failed to deserialize the JSON body into the target type"


class HyperliquidRest:
    def __init__(self, *, market: Market) -> None:
        self.market = market
        self.types: dict[str, Route] = {
            "metaAndAssetCtxs": self._meta_and_ctxs,
            "meta": lambda q: meta(self._listed()),
            "spotMeta": self._spot_meta,
            "allMids": lambda q: {x.base: price(self.market.last_price(x)) for x in self._trading()},
            "candleSnapshot": self._candles,
        }

    def route(self, path: str) -> Route | None:
        return self._info if path == "/info" else None

    def _info(self, query: Query) -> Any:
        handler = self.types.get(query.get("type", ""))
        if handler is None:
            raise Reject(422, _UNREADABLE)
        return handler(query)

    def _listed(self) -> list[Listing]:
        return list(self.market.listings[EXCHANGE_ID].values())

    def _trading(self) -> list[Listing]:
        return self.market.trading(EXCHANGE_ID)

    def _meta_and_ctxs(self, query: Query) -> Any:
        listed = self._listed()
        return [meta(listed), [asset_ctx(self.market, x) for x in listed]]

    def _spot_meta(self, query: Query) -> Any:
        usdc = {
            "name": "USDC",
            "szDecimals": 8,
            "weiDecimals": 8,
            "index": 0,
            "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
            "isCanonical": True,
            "evmContract": None,
            "fullName": None,
        }
        return {"universe": [], "tokens": [usdc]}

    def _candles(self, query: Query) -> Any:
        try:
            req = json.loads(query.get("req", ""))
            coin, interval = str(req["coin"]), str(req["interval"])
            start, end = int(req["startTime"]), int(req["endTime"])
        except (ValueError, KeyError, TypeError):
            raise Reject(422, _UNREADABLE) from None
        listing = self.market.find(EXCHANGE_ID, coin)
        if listing is None or interval not in INTERVALS:
            return []
        bars = self.market.bars(listing, interval, start_ms=start, end_ms=end, limit=MAX_CANDLES)
        return [candle(b, listing, interval) for b in bars]
