"""Statistics of resolved signals, in R multiples (shared by the tracker, ``/stats`` and the backtest).

A *win* is a resolved signal with R > 0, a *loss* one with R < 0; a scratch (exactly 0R, e.g. target 1 then
back to breakeven) is neither, but it counts in ``count`` and so lowers the hit rate. ``expectancy`` is the
classic ``hit_rate × avg_win − loss_rate × |avg_loss|``; over the same outcomes it equals ``avg_r`` (kept
because traders look for the word). Drawdown is measured on the cumulative R curve in resolution order,
starting from 0.

All of it is in **net** R (after fees, slippage and funding). ``ci95_low``/``ci95_high``: the 95 % confidence
interval of the average (mean ± 1.96 standard errors; None below 2 outcomes); ``profit_factor``: sum of wins
÷ |sum of losses| (None without a loss); below ``JUDGE_AT`` outcomes a line says "too few to judge".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ALL = "all"
JUDGE_AT = 30  # resolved signals below which an average says nothing about an edge
_Z95 = 1.96


@dataclass(frozen=True, slots=True)
class Stats:
    count: int
    wins: int
    losses: int
    hit_rate: float  # wins / count (0.0 when count is 0)
    avg_r: float
    expectancy: float
    avg_win_r: float
    avg_loss_r: float  # ≤ 0
    best_r: float
    worst_r: float
    total_r: float
    max_drawdown_r: float  # ≥ 0: the largest fall of cumulative R from a previous peak
    ci95_low: float | None = None
    ci95_high: float | None = None
    profit_factor: float | None = None

    @classmethod
    def empty(cls) -> Stats:
        return cls(0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def judged(self) -> bool:
        """Enough resolved signals for the average to mean something."""
        return self.count >= JUDGE_AT


def compute(r_multiples: Sequence[float]) -> Stats:
    """Statistics of outcomes given in resolution order. Non-finite values are a bug upstream: rejected."""
    if not r_multiples:
        return Stats.empty()
    if not all(math.isfinite(r) for r in r_multiples):
        raise ValueError("R multiples must be finite")
    n = len(r_multiples)
    wins = [r for r in r_multiples if r > 0]
    losses = [r for r in r_multiples if r < 0]
    avg_win = sum(wins) / len(wins) if wins else 0.0
    avg_loss = sum(losses) / len(losses) if losses else 0.0
    hit_rate = len(wins) / n
    total = math.fsum(r_multiples)
    mean = total / n
    low = high = None
    if n >= 2:
        sd = math.sqrt(math.fsum((r - mean) ** 2 for r in r_multiples) / (n - 1))
        half = _Z95 * sd / math.sqrt(n)
        low, high = mean - half, mean + half
    lost = -math.fsum(losses)
    return Stats(
        count=n,
        wins=len(wins),
        losses=len(losses),
        hit_rate=hit_rate,
        avg_r=mean,
        expectancy=hit_rate * avg_win - (len(losses) / n) * abs(avg_loss),
        avg_win_r=avg_win,
        avg_loss_r=avg_loss,
        best_r=max(r_multiples),
        worst_r=min(r_multiples),
        total_r=total,
        max_drawdown_r=max_drawdown(r_multiples),
        ci95_low=low,
        ci95_high=high,
        profit_factor=math.fsum(wins) / lost if lost > 0 else None,
    )


def max_drawdown(r_multiples: Iterable[float]) -> float:
    peak = equity = worst = 0.0
    for r in r_multiples:
        equity += r
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def by_strategy(outcomes: Iterable[tuple[str, float]]) -> dict[str, Stats]:
    """``(strategy, R)`` pairs in resolution order → statistics per strategy and overall under ``"all"``."""
    per: dict[str, list[float]] = {}
    everything: list[float] = []
    for strategy, r in outcomes:
        per.setdefault(strategy, []).append(r)
        everything.append(r)
    out = {name: compute(rs) for name, rs in sorted(per.items())}
    out[ALL] = compute(everything)
    return out
