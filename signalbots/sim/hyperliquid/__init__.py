"""Hyperliquid (the first perp dex's USDC perpetuals), as the simulator serves it.

``admission`` (1200 weight per minute across ``POST /info``, weights by request type, 429 past it), ``rest``
(``POST /info`` by ``type``: ``metaAndAssetCtxs``, ``meta``, ``spotMeta``, ``allMids``, ``candleSnapshot``),
``stream`` (``/ws``: ``candle`` subscriptions, ping/pong) and ``wire`` (the shapes they share). Hyperliquid
publishes no public liquidation feed, so neither does the simulator.
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.hyperliquid.admission import WEIGHT_PER_MINUTE, HyperliquidAdmission
from signalbots.sim.hyperliquid.rest import HyperliquidRest
from signalbots.sim.hyperliquid.stream import HyperliquidStream
from signalbots.sim.hyperliquid.wire import EXCHANGE_ID, candle, weight
from signalbots.sim.market import Market
from signalbots.sim.venue import Venue

__all__ = ["WEIGHT_PER_MINUTE", "HyperliquidVenue", "candle", "weight"]


class HyperliquidVenue(Venue):
    exchange_id = EXCHANGE_ID
    ws_ping_interval = 1e12  # Hyperliquid expects the client's {"method": "ping"}

    def __init__(self, *, market: Market, clock: Clock) -> None:
        weights = HyperliquidAdmission(clock=clock)
        super().__init__(
            market=market,
            clock=clock,
            admission=weights,
            rest=HyperliquidRest(market=market),
            stream=HyperliquidStream(market=market),
        )
        self._weights = weights

    @property
    def weight_by_minute(self) -> dict[int, float]:
        """REST weight used per minute (minute start, sim wall seconds → weight)."""
        return self._weights.weight_by_minute
