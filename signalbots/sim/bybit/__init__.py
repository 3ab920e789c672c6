"""Bybit v5 (linear perpetuals), as the simulator serves it.

``admission`` (600 requests per 5 s, then a 10-minute IP ban; the per-UID limit's ``retCode 10006``),
``rest`` (``/v5/market/*``), ``stream`` (``/v5/public/linear``: liquidations and klines) and ``wire`` (the
shapes they share).
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.bybit.admission import BybitAdmission
from signalbots.sim.bybit.rest import BybitRest
from signalbots.sim.bybit.stream import BybitStream
from signalbots.sim.bybit.wire import EXCHANGE_ID
from signalbots.sim.market import Market
from signalbots.sim.venue import Venue

__all__ = ["BybitVenue"]


class BybitVenue(Venue):
    exchange_id = EXCHANGE_ID
    ws_ping_interval = 1e12  # Bybit expects the client to ping; it never pings

    def __init__(self, *, market: Market, clock: Clock) -> None:
        super().__init__(
            market=market,
            clock=clock,
            admission=BybitAdmission(market=market, clock=clock),
            rest=BybitRest(market=market),
            stream=BybitStream(market=market),
        )
