"""MEXC futures (USDT-margined perpetual contracts), as the simulator serves it.

``admission`` (20 requests per 2 s per endpoint, ``detail`` 1 per 5 s, code 510 over it; no ban), ``rest``
(``/api/v1/contract/*`` and the spot endpoints ccxt's market loading reads), ``stream`` (``/edge``: tickers
and klines) and ``wire`` (the shapes they share: numbers as JSON numbers, volumes in contracts).
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.market import Market
from signalbots.sim.mexc.admission import REQUESTS_PER_WINDOW, WINDOW_SECONDS, MexcAdmission, endpoint
from signalbots.sim.mexc.rest import MexcRest
from signalbots.sim.mexc.stream import MexcStream
from signalbots.sim.mexc.wire import EXCHANGE_ID, kline_columns
from signalbots.sim.venue import Venue

__all__ = ["REQUESTS_PER_WINDOW", "WINDOW_SECONDS", "MexcVenue", "endpoint", "kline_columns"]


class MexcVenue(Venue):
    exchange_id = EXCHANGE_ID
    ws_ping_interval = 1e12  # MEXC expects the client's {"method": "ping"}; it never pings
    numeric_json = True

    def __init__(self, *, market: Market, clock: Clock) -> None:
        super().__init__(
            market=market,
            clock=clock,
            admission=MexcAdmission(clock=clock),
            rest=MexcRest(market=market),
            stream=MexcStream(market=market),
        )
