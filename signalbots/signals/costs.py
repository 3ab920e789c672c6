"""What a trade costs, in R: exchange fees, slippage and funding (also in docs/signals.md).

The plan behind every signal is filled as an exchange would fill it: the entry is a market order (taker fee
plus slippage), a target is a resting limit order (maker fee, no slippage), a stop and an expiry are market
orders (taker fee plus slippage). Slippage is counted as a cost, not moved into the exit price, so that
``gross R`` is the move between the levels and ``net R = gross R − costs + funding``.

Each cost is a fraction of the notional at that fill; divided by the risk (entry − stop, as a fraction of
entry) it becomes R: ``cost_R = fraction × price / |entry − stop|``.

Funding: at each settlement the position spans, a long pays ``rate × price`` (receives when the rate is
negative) and a short receives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from signalbots.exchange.venues import VENUES
from signalbots.settings import Settings
from signalbots.signals.model import Candidate, Direction

_DEFAULT_TAKER = 0.0005  # an exchange without a profile (tests, recordings of another venue)
_DEFAULT_MAKER = 0.0002


@dataclass(frozen=True, slots=True)
class Fees:
    taker: float
    maker: float
    slippage: float  # fraction of price per market fill


class Costs:
    """Fees per exchange (the venue profile's, or ``[exchanges.<id>] taker_fee/maker_fee``) and slippage
    (``[risk] slippage_bps``); ``settings`` is public so that a reload applies to the next outcome."""

    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings

    def fees(self, exchange: str) -> Fees:
        venue = VENUES.get(exchange)
        taker = venue.taker_fee if venue is not None else _DEFAULT_TAKER
        maker = venue.maker_fee if venue is not None else _DEFAULT_MAKER
        override = self.settings.exchanges.get(exchange)
        if override is not None and override.taker_fee != "venue":
            taker = override.taker_fee
        if override is not None and override.maker_fee != "venue":
            maker = override.maker_fee
        return Fees(taker=taker, maker=maker, slippage=self.settings.risk.slippage_bps / 10_000)

    def trade_r(self, c: Candidate, exit_price: float, *, maker_exit: bool) -> float:
        """Fees and slippage of entering at ``c.entry`` and leaving at ``exit_price``, in R (≥ 0 unless a
        maker rebate outweighs the rest)."""
        return trade_r(c, exit_price, self.fees(c.exchange), maker_exit=maker_exit)


def trade_r(c: Candidate, exit_price: float, fees: Fees, *, maker_exit: bool) -> float:
    risk = c.risk
    if not risk:
        return 0.0
    entry_cost = (fees.taker + fees.slippage) * c.entry
    exit_cost = (fees.maker if maker_exit else fees.taker + fees.slippage) * exit_price
    return (entry_cost + exit_cost) / risk


def funding_r(c: Candidate, rate: float, price: float) -> float:
    """What one settlement at ``rate`` (per interval, a fraction) and ``price`` does to the position, in R:
    negative when it pays."""
    risk = c.risk
    if not risk or c.direction is Direction.NONE:
        return 0.0
    side = 1.0 if c.direction is Direction.LONG else -1.0
    return -side * rate * price / risk
