"""Binance USDⓈ-M futures, as the simulator serves it.

``admission`` (request weights, 429 and the 418 ban, the funding endpoints' own budget), ``rest`` (the
``/fapi/v1`` endpoints, with BTC's and ETH's current-quarter delivery contracts listed beside the
perpetuals), ``stream`` (raw and combined websockets: liquidations, mark prices, klines) and ``wire`` (the
shapes they share).
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.binance.admission import BinanceAdmission, kline_weight
from signalbots.sim.binance.rest import BinanceRest
from signalbots.sim.binance.stream import BinanceStream
from signalbots.sim.binance.wire import (
    EXCHANGE_ID,
    delivery_id,
    force_order,
    kline_event,
    kline_row,
    quarter_expiry_ms,
)
from signalbots.sim.market import Market
from signalbots.sim.venue import Venue

__all__ = [
    "BinanceVenue",
    "delivery_id",
    "force_order",
    "kline_event",
    "kline_row",
    "kline_weight",
    "quarter_expiry_ms",
]


class BinanceVenue(Venue):
    exchange_id = EXCHANGE_ID

    def __init__(self, *, market: Market, clock: Clock) -> None:
        weights = BinanceAdmission(clock=clock)
        super().__init__(
            market=market,
            clock=clock,
            admission=weights,
            rest=BinanceRest(market=market, admission=weights),
            stream=BinanceStream(market=market),
        )
        self._weights = weights

    @property
    def weight_by_minute(self) -> dict[int, float]:
        """REST weight used per minute (minute start, sim wall seconds → weight); a test may write to it."""
        return self._weights.weight_by_minute
