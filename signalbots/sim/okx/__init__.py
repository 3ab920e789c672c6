"""OKX v5 (USDT-margined perpetual swaps), as the simulator serves it.

``admission`` (no limits; injected faults answer ``429 {"code": "50011"}`` and OKX's error bodies), ``rest``
(instruments, funding, tickers and candles, with the coin-margined swaps listed beside the linear ones),
``stream`` (``/ws/v5/public``: liquidation orders; ``/ws/v5/business``: candles) and ``wire`` (the shapes
they share).
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.market import Market
from signalbots.sim.okx.admission import OkxAdmission
from signalbots.sim.okx.rest import OkxRest
from signalbots.sim.okx.stream import OkxStream
from signalbots.sim.okx.wire import EXCHANGE_ID, candle_row
from signalbots.sim.venue import Venue

__all__ = ["OkxVenue", "candle_row"]


class OkxVenue(Venue):
    exchange_id = EXCHANGE_ID
    ws_ping_interval = 1e12  # OKX expects the client's text "ping"

    def __init__(self, *, market: Market, clock: Clock) -> None:
        super().__init__(
            market=market,
            clock=clock,
            admission=OkxAdmission(),
            rest=OkxRest(market=market),
            stream=OkxStream(market=market),
        )
