"""What a trade costs, in R: exchange fees, slippage and funding (also in docs/signals.md).

The plan behind every signal is filled as an exchange would fill it: the entry is a market order (taker fee
plus slippage), a target is a resting limit order (maker fee, no slippage), a stop and an expiry are market
orders (taker fee plus slippage). Slippage is counted as a cost, not moved into the exit price, so that
``gross R`` is the move between the levels and ``net R = gross R − costs + funding``.

Each cost is a fraction of the notional at that fill; divided by the risk (entry − stop, as a fraction of
entry) it becomes R: ``cost_R = fraction × price / |entry − stop|``.

Funding: at each settlement the position spans, a long pays ``rate × price`` (receives when the rate is
negative) and a short receives it.

The stop floor: a stop closer to entry than ``risk.stop_floor_cost_multiple`` × the round trip's cost
(entry and stop both market orders: ``2 × (taker + slippage)`` of the price) is widened to that distance,
its targets moved to keep their R multiples. At 3× a stopped trade pays a third of an R in costs; a 0.2 %
stop on a 0.05 % taker fee paid 0.7R, which no edge survives. Strategies know no fees, so the desk applies
it (``Costs.floor``) to every candidate, live and in the backtest alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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

    def floor(self, c: Candidate) -> Candidate:
        """``c`` with its stop widened to the floor when closer (see the module's doc), else ``c``."""
        return floor_stop(c, self.fees(c.exchange), self.settings.risk.stop_floor_cost_multiple)

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


def round_trip(fees: Fees) -> float:
    """Entering and leaving by market orders (a stop), as a fraction of the price."""
    return 2.0 * (fees.taker + fees.slippage)


def floor_stop(c: Candidate, fees: Fees, multiple: float) -> Candidate:
    """``c`` with its stop at least ``multiple`` × ``round_trip(fees)`` of its entry away, its targets
    scaled from the entry by the same factor (so T1 stays 1R and T2 2R); the stop it had is kept in the
    fact ``stop_unfloored_price`` and a note says so. Unchanged when far enough, or without a stop."""
    if c.direction is Direction.NONE or c.stop is None or multiple <= 0 or c.entry <= 0:
        return c
    sign = -1.0 if c.direction is Direction.LONG else 1.0
    risk = sign * (c.stop - c.entry)  # > 0 on the losing side; the desk refuses any other stop
    floor = multiple * round_trip(fees) * c.entry
    if not (math.isfinite(risk) and risk > 0) or risk >= floor:
        return c
    stop = c.entry + sign * floor
    scale = floor / risk
    targets = tuple(c.entry + (t - c.entry) * scale for t in c.targets)
    if stop <= 0 or any(t <= 0 for t in targets):
        return c  # a floor beyond the price itself: the candidate stays as proposed
    note = (
        f"stop widened to {floor / c.entry * 100:.2f}% from entry ({multiple:g}× the round trip's fees and "
        f"slippage); the strategy's was {risk / c.entry * 100:.2f}%, targets moved to keep 1R and 2R"
    )
    return replace(
        c,
        stop=stop,
        targets=targets,
        facts={**c.facts, "stop_unfloored_price": c.stop},
        notes=(*c.notes, note),
    )
