"""A symbol's own funding history, and the extreme thresholds normalised by it (percentile, z-score).

The history holds one value per UTC 8h period (00–08, 08–16, 16–24): the rate per 8h that settled in it. A
venue settling every 4h or every hour has its settlements in a period averaged, so that ``size`` periods are
always ``size`` × 8 hours whatever the venue (90 = 30 days) and an hourly venue's noisier single settlements
count as the 8h of funding they add up to.

The histories are 30 days long and cannot be rebuilt from a restart's first minutes, so a strategy whose
threshold reads them saves them (``dump`` / ``load``): at most once an hour of event time, since they change
once per 8h period and losing an hour of them loses at most one period.

A settlement is known from the snapshots: each carries the time of the settlement it predicts
(``next_funding_ms``); the last snapshot seen for a settlement is the rate that settled, and it enters the
history once a snapshot for a later settlement arrives. The current rate is therefore compared with
settlements before it, never with itself. Memory is bounded: ``size`` floats per symbol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from signalbots.events import FundingSnapshot
from signalbots.packed import Floats

__all__ = [
    "FundingHistories",
    "FundingHistory",
    "Levels",
    "Thresholds",
    "absolute_levels",
    "percentile_levels",
    "settlement_of",
    "zscore_levels",
]

_HOUR_MS = 3_600_000
PERIOD_MS = 8 * _HOUR_MS
# A history whose rates never moved (funding pinned at the interest rate) has no spread: a z-score against
# it would be infinite for any change. Floored at 0.0001 % per 8h, a tenth of the smallest step venues quote.
SD_FLOOR = 1e-6


class FundingHistory:
    """One symbol's settled funding, per 8h period (rate per 8h), the newest ``size`` periods."""

    __slots__ = ("_count", "_pending", "_pending_ms", "_period", "_sum", "values")

    def __init__(self, size: int) -> None:
        self.values = Floats(size)
        self._pending_ms: int | None = None  # the settlement the latest snapshot predicts
        self._pending = 0.0
        self._period: int | None = None  # the 8h period being accumulated
        self._sum = 0.0
        self._count = 0

    def observe(self, settlement_ms: int, rate_8h: float) -> int:
        """A snapshot predicting ``rate_8h`` for the settlement at ``settlement_ms``; how many periods it
        completed (0 or 1, rarely 2)."""
        pushed = 0
        if self._pending_ms is not None:
            if settlement_ms < self._pending_ms:
                return 0  # a snapshot for an earlier settlement, arriving late
            if settlement_ms > self._pending_ms:
                pushed = self._settle(self._pending_ms, self._pending)
        self._pending_ms, self._pending = settlement_ms, rate_8h
        return pushed

    def resize(self, size: int) -> None:
        if size != self.values.size:
            self.values = Floats(size, self.values)

    def _settle(self, settlement_ms: int, rate_8h: float) -> int:
        pushed = 0
        period = (settlement_ms - 1) // PERIOD_MS  # a settlement at 08:00 closes the 00–08 period
        if self._period is not None and period != self._period and self._count:
            pushed += self._push()  # a venue whose settlements do not fall on the period's end
        self._period = period
        self._sum += rate_8h
        self._count += 1
        if settlement_ms % PERIOD_MS == 0:
            pushed += self._push()
        return pushed

    def _push(self) -> int:
        self.values.append(self._sum / self._count)
        self._sum, self._count = 0.0, 0
        return 1


def settlement_of(snap: FundingSnapshot) -> int:
    """The settlement a snapshot's rate is for: its ``next_funding_ms``, else the end of its interval."""
    if snap.next_funding_ms is not None:
        return snap.next_funding_ms
    interval_ms = max(1, round(snap.interval_hours * 3_600_000))
    return -(-snap.time_ms // interval_ms) * interval_ms


@dataclass(frozen=True, slots=True)
class Levels:
    """The rates per 8h at or beyond which an extreme fires: ``high`` > 0 (SHORT) and ``low`` < 0 (LONG);
    ``facts`` say how they were found; ``note`` says it in words for the message."""

    high: float
    low: float
    facts: dict[str, float]
    note: str = ""


class Thresholds(Protocol):
    """The part of ``FundingSettings`` the levels read."""

    @property
    def threshold(self) -> str: ...
    @property
    def extreme_per_8h(self) -> float: ...
    @property
    def percentile(self) -> float: ...
    @property
    def zscore(self) -> float: ...
    @property
    def min_history(self) -> int: ...
    @property
    def min_per_8h(self) -> float: ...


class FundingHistories:
    """Every symbol's ``FundingHistory``, keyed by (exchange, symbol)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._by_key: dict[tuple[str, str], FundingHistory] = {}
        self._newest_ms = 0  # the newest snapshot's time: the clock of ``dump``
        self._dumped: tuple[int, int, list[list[Any]]] | None = None  # (time, pushes, the dump)
        self._pushes = 0

    def resize(self, size: int) -> None:
        self._size = size
        for history in self._by_key.values():
            history.resize(size)

    def observe(self, snap: FundingSnapshot, rate_8h: float) -> None:
        key = (snap.exchange, snap.symbol)
        history = self._by_key.get(key)
        if history is None:
            history = self._by_key[key] = FundingHistory(self._size)
        self._newest_ms = max(self._newest_ms, snap.time_ms)
        self._pushes += history.observe(settlement_of(snap), rate_8h)

    def dump(self) -> list[list[Any]]:
        """``[[exchange, symbol, [rate per 8h, …]], …]``, the same object until an hour after a change."""
        if self._dumped is None or (
            self._pushes != self._dumped[1] and self._newest_ms - self._dumped[0] >= _HOUR_MS
        ):
            dump = [[ex, sym, list(h.values)] for (ex, sym), h in sorted(self._by_key.items()) if h.values]
            self._dumped = (self._newest_ms, self._pushes, dump)
        return self._dumped[2]

    def load(self, dump: object) -> None:
        """What ``dump`` returned; anything else (an older version's state, damage) is ignored."""
        for entry in dump if isinstance(dump, list) else ():
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], list)):
                continue
            exchange, symbol, values = entry
            numbers = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
            if isinstance(exchange, str) and isinstance(symbol, str) and len(numbers) == len(values):
                history = self._by_key[(exchange, symbol)] = FundingHistory(self._size)
                history.values.extend(numbers)

    def values(self, key: tuple[str, str]) -> list[float]:
        history = self._by_key.get(key)
        return list(history.values) if history is not None else []

    def levels(self, key: tuple[str, str], rate_8h: float, s: Thresholds) -> Levels:
        """The thresholds ``s.threshold`` sets for ``key`` at a rate of ``rate_8h``. With fewer than
        ``min_history`` periods known a normalised mode falls back to the absolute ``extreme_per_8h``: a new
        listing (whose funding is often the wildest) is still watched, and the message says so."""
        if s.threshold == "absolute":
            return absolute_levels(s.extreme_per_8h)
        values = self.values(key)
        if len(values) < s.min_history:
            fallback = absolute_levels(s.extreme_per_8h)
            note = (
                f"threshold: absolute, {len(values)} of the {s.min_history} 8h periods of history a "
                f"{s.threshold} threshold needs are known"
            )
            facts = fallback.facts | {"history_count": float(len(values))}
            return Levels(fallback.high, fallback.low, facts, note)
        if s.threshold == "percentile":
            return percentile_levels(values, rate_8h, s.percentile, s.min_per_8h)
        return zscore_levels(values, rate_8h, s.zscore, s.min_per_8h)


def absolute_levels(extreme_per_8h: float) -> Levels:
    return Levels(extreme_per_8h, -extreme_per_8h, {"threshold_8h": extreme_per_8h})


def percentile_levels(values: Sequence[float], rate_8h: float, percentile: float, floor: float) -> Levels:
    """Nearest rank: ``high`` is the ``percentile``-th of ``values``, ``low`` its mirror (the 99th: with 90
    values, the highest and the lowest — a 30-day high or low). ``percentile`` (fact) is the share of the
    history at or inside the rate, on its own side (it fires at ≥ ``percentile``)."""
    ordered = sorted(values)
    n = len(ordered)
    rank = max(1, math.ceil(percentile / 100.0 * n))
    high, low = max(ordered[rank - 1], floor), min(ordered[n - rank], -floor)
    beyond = sum(1 for v in ordered if (v <= rate_8h if rate_8h >= 0 else v >= rate_8h))
    facts = {
        "percentile": beyond / n * 100.0,
        "history_count": float(n),
        "threshold_8h": _side(rate_8h, high, low),
    }
    side = "top" if rate_8h >= 0 else "bottom"
    note = f"threshold: the {side} {100 - percentile:g}% of the symbol's last {n} 8h periods of funding"
    return Levels(high, low, facts, note)


def zscore_levels(values: Sequence[float], rate_8h: float, k: float, floor: float) -> Levels:
    """``mean ± k × sd`` of ``values`` (population sd, floored at ``SD_FLOOR``)."""
    n = len(values)
    mean = math.fsum(values) / n
    sd = max(math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n), SD_FLOOR)
    high, low = max(mean + k * sd, floor), min(mean - k * sd, -floor)
    z = (rate_8h - mean) / sd
    facts = {"funding_z": z, "history_count": float(n), "threshold_8h": _side(rate_8h, high, low)}
    note = f"threshold: z {z:.1f} over {n} 8h periods of the symbol's funding (fires at |z| ≥ {k:g})"
    return Levels(high, low, facts, note)


def _side(rate_8h: float, high: float, low: float) -> float:
    return high if rate_8h >= 0 else -low
