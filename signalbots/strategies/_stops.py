"""Stop placement shared by the strategies: the three styles a strategy's ``stop_style`` setting names.

* ``"atr"`` — ``k × ATR`` from entry, the ATR **including the trigger** (the candle that fired, or the move
  still under way inside an unclosed candle). An ATR of only the calm candles before a cascade put stops
  ~0.2 % from entry against cascade candles of 1–4 %: noise stopped them out.
* ``"extreme"`` — beyond the trigger's extreme (its low for a LONG, its high for a SHORT) by ``k × its
  range`` (high − low): the level whose break says the move was not what the signal thought.
* ``"fixed"`` — a percentage of entry.

"atr" without enough candles and "extreme" without a span fall back to "fixed" (the strategy's
``stop_pct``). No style knows fees: the desk widens any stop closer than a few round trips of costs
(``signals.costs.floor_stop``), so a strategy never needs to.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

from signalbots.events import Candle
from signalbots.signals.model import Direction

__all__ = [
    "StopStyle",
    "Trade",
    "atr",
    "candle_stop",
    "extreme_stop",
    "pct_stop",
    "place_stop",
    "trade_direction",
]

StopStyle = Literal["atr", "extreme", "fixed"]
# Trade what the move says (follow) or bet on its reversal (fade).
Trade = Literal["fade", "follow"]


def trade_direction(move: Direction, trade: Trade) -> Direction:
    """The direction to trade after a move in ``move``'s direction: the same to follow, the other to fade."""
    if trade == "follow" or move is Direction.NONE:
        return move
    return Direction.SHORT if move is Direction.LONG else Direction.LONG


def pct_stop(entry: float, direction: Direction, pct: float) -> float:
    """The price ``pct`` percent away from ``entry`` on the losing side."""
    sign = -1.0 if direction is Direction.LONG else 1.0
    return entry * (1.0 + sign * pct / 100.0)


def extreme_stop(direction: Direction, high: float, low: float, k: float) -> float:
    """Beyond the span's extreme on the losing side by ``k`` × its range: ``low − k(high − low)`` for a LONG,
    ``high + k(high − low)`` for a SHORT."""
    span = high - low
    return low - k * span if direction is Direction.LONG else high + k * span


def atr(
    candles: Sequence[Candle], period: int, *, trigger: tuple[float, float] | None = None
) -> float | None:
    """Average true range over ``period`` candles (simple mean), or None without enough data.

    The first candle of the sequence only lends its close, so ``period + 1`` candles give a full ATR.
    ``trigger`` = (high, low) of a move not yet in a closed candle (a cascade under way): it counts as the
    newest candle, its true range taken against the last closed candle's close, so ``period`` closed
    candles suffice.
    """
    closed = period if trigger is None else period - 1
    if closed < 1 or len(candles) < closed + 1:
        return None
    recent = list(candles)[-(closed + 1) :]
    ranges = [
        max(cur.high - cur.low, abs(cur.high - prev.close), abs(cur.low - prev.close))
        for prev, cur in itertools.pairwise(recent)
    ]
    if trigger is not None:
        high, low = trigger
        last = recent[-1].close
        ranges.append(max(high - low, abs(high - last), abs(low - last)))
    value = sum(ranges) / len(ranges)
    return value if math.isfinite(value) and value > 0 else None


def place_stop(
    style: StopStyle,
    direction: Direction,
    entry: float,
    *,
    pct: float,
    atr_value: float | None = None,
    atr_multiple: float = 0.0,
    span: tuple[float, float] | None = None,
    range_k: float = 0.0,
) -> tuple[float, StopStyle]:
    """(stop, the style that placed it) for a LONG or SHORT at ``entry``: ``atr_multiple × atr_value`` away
    ("atr"), beyond ``span`` = (high, low) by ``range_k`` × its range ("extreme"), or ``pct`` percent away
    ("fixed", also when the style's own data is missing)."""
    if style == "atr" and atr_value is not None and atr_value > 0:
        sign = -1.0 if direction is Direction.LONG else 1.0
        return entry + sign * atr_multiple * atr_value, "atr"
    if style == "extreme" and span is not None:
        return extreme_stop(direction, span[0], span[1], range_k), "extreme"
    return pct_stop(entry, direction, pct), "fixed"


def candle_stop(
    style: StopStyle,
    direction: Direction,
    entry: float,
    candles: Sequence[Candle],
    *,
    pct: float,
    atr_period: int,
    atr_multiple: float,
    range_k: float,
) -> tuple[float, float | None]:
    """(stop, the ATR it used or None) from a symbol's recent closed candles, the newest being the trigger:
    "atr" over them, "extreme" beyond the newest one's, "fixed" (or too few candles) ``pct``."""
    atr_value = atr(candles, atr_period) if style == "atr" else None
    span = (candles[-1].high, candles[-1].low) if candles else None
    stop, used = place_stop(
        style,
        direction,
        entry,
        pct=pct,
        atr_value=atr_value,
        atr_multiple=atr_multiple,
        span=span,
        range_k=range_k,
    )
    return stop, atr_value if used == "atr" else None
