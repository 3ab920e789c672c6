"""Stop distances shared by the strategies."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from signalbots.events import Candle
from signalbots.signals.model import Direction


def pct_stop(entry: float, direction: Direction, pct: float) -> float:
    """The price ``pct`` percent away from ``entry`` on the losing side."""
    sign = -1.0 if direction is Direction.LONG else 1.0
    return entry * (1.0 + sign * pct / 100.0)


def atr(candles: Sequence[Candle], period: int) -> float | None:
    """Average true range of the last ``period`` candles (simple mean), or None without enough data.

    The first candle of the sequence only lends its close, so ``period + 1`` candles give a full ATR.
    """
    if len(candles) < period + 1:
        return None
    recent = list(candles)[-(period + 1) :]
    ranges = [
        max(cur.high - cur.low, abs(cur.high - prev.close), abs(cur.low - prev.close))
        for prev, cur in itertools.pairwise(recent)
    ]
    value = sum(ranges) / len(ranges)
    return value if math.isfinite(value) and value > 0 else None
