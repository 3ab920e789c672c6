"""``LiquidationFeed``: forced liquidations from the exchanges' websocket streams.

The exchange's profile names the stream and its parser: Binance ``!forceOrder@arr`` (every symbol), Bybit
``allLiquidation.<symbol>`` for the ``liquidation_symbols`` most liquid, OKX ``liquidation-orders`` (SWAP).
Raw payloads (ccxt's ``info``) are parsed by ``signalbots.exchange.normalize``. ccxt resolves a ``watch_*``
call with one message and keeps the rest in its ``liquidations`` cache, so the feed reads what is new in the
cache after every wake-up: nothing received between two calls is lost.
"""

from __future__ import annotations

import asyncio
from typing import Any, assert_never

from signalbots.errors import BadPayload, FatalError, SymbolError
from signalbots.events import Liquidation
from signalbots.exchange import normalize
from signalbots.exchange._feed import StreamFeed
from signalbots.exchange.bus import Liquidity
from signalbots.exchange.venues import LiquidationStream


class LiquidationFeed(StreamFeed):
    kind = "liquidations"
    _client_marks = ("forceOrder", "Liquidation", "liquidation")

    def __init__(self, *, liquidity: Liquidity | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.venue = self.gateway.venue
        if self.venue.liquidation_stream is None or self.venue.liquidation_parser is None:
            raise FatalError(f"{self.exchange_id} has no public liquidation stream")
        self.parse = self.venue.liquidation_parser
        self.stream: LiquidationStream = self.venue.liquidation_stream
        self.liquidity = liquidity
        self._seen: Any = None  # the newest cache entry already published

    # Liquidations stop for minutes in a calm market: only a much longer silence means a dead stream.
    @property
    def stale_after(self) -> float:
        return self.settings.liquidation_stale_after

    async def _work(self) -> None:
        endpoint = "watch_liquidations"
        how = self.stream
        if how is LiquidationStream.ALL:
            await self._watch_loop(endpoint, "watch_liquidations_for_symbols", lambda: ([],))
        elif how is LiquidationStream.LISTED:
            await self._watch_loop(
                endpoint, "watch_liquidations_for_symbols", lambda: (list(self.gateway.markets),)
            )
        elif how is LiquidationStream.PER_SYMBOL:
            await self._per_symbol(endpoint)
        else:
            assert_never(how)

    async def _per_symbol(self, endpoint: str) -> None:
        """One topic per symbol, for the most liquid N (from the ticker feed's ranking)."""
        if self.liquidity is None:
            raise FatalError(f"{self.exchange_id} liquidations need the ticker feed's liquidity ranking")
        await self.liquidity.wait_ready(self.exchange_id)
        symbols = self.liquidity.most_liquid(self.exchange_id, self.settings.liquidation_symbols)
        loops = [self._symbol_loop(symbol, endpoint) for symbol in symbols]
        await asyncio.gather(*loops)

    async def _symbol_loop(self, symbol: str, endpoint: str) -> None:
        try:
            await self._watch_loop(
                endpoint, "watch_liquidations", lambda: (symbol,), stream=f"{endpoint} {symbol}", key=symbol
            )
        except SymbolError as err:  # delisted since the ranking: the other symbols carry on
            self._log.info("liquidation_symbol_dropped", symbol=symbol, reason=str(err)[:200])

    def _new_entries(self) -> list[Any]:
        cache = self.gateway.liquidations()
        if not cache:
            return []
        fresh: list[Any] = []
        for entry in reversed(cache):
            if entry is self._seen:
                break
            fresh.append(entry)
        self._seen = cache[-1]
        fresh.reverse()
        return fresh

    def _drain(self) -> None:
        received = self.clock.monotonic()
        events: list[Liquidation] = []
        bad, example = 0, ""
        for entry in self._new_entries():
            info = entry.get("info") if isinstance(entry, dict) else None
            try:
                events.extend(self._parse(info, received))
            except normalize.UnknownSymbol:
                continue  # a listing newer than our markets: the next markets refresh knows it
            except BadPayload as err:
                bad, example = bad + 1, str(err)
                self._bad("watch_liquidations", str(err))
        if not self._publish(events):
            self._data(0)  # a message arrived even if nothing in it was new: the connection is alive
        self._report_bad("watch_liquidations", bad, example)

    def _parse(self, info: Any, received: float) -> list[Liquidation]:
        return self.parse(info, self._symbol_of, self._contract_size, received)

    def _contract_size(self, market_id: str) -> float | None:
        symbol = self._symbol_of(market_id)
        market = self.gateway.markets.get(symbol) if symbol else None
        size = market.get("contractSize") if market else None
        return float(size) if isinstance(size, int | float) else None
