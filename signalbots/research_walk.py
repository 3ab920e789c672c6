"""Walk-forward selection, pure: windows and each setting's outcomes in → the setting chosen per window and
the R it made in the window that chose it (in-sample) and in the window it was then used on (out-of-sample).

No look-ahead, by construction: the choice for window k reads only outcomes that were *known* before
window k starts — signals made in the in-sample windows *and resolved* before that start. A signal made in
the last in-sample minutes that resolves inside window k is not evidence yet, so it does not count. With no
evidence at all (no setting resolved a signal in-sample) the previous choice is kept, as a trader would.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Choice", "Outcome", "Window", "choose", "split", "split_even", "walk_forward"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One resolved signal of one setting: when it was made, when it ended, and its net R."""

    created_ms: int
    resolved_ms: int
    net_r: float


@dataclass(frozen=True, slots=True)
class Window:
    """``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int

    def holds(self, ms: int) -> bool:
        return self.start_ms <= ms < self.end_ms


@dataclass(frozen=True, slots=True)
class Choice:
    """The setting (an index into the grid) used in window ``window``; None before any evidence."""

    window: int
    setting: int | None
    kept: bool  # no new evidence: the previous window's choice carried on
    in_sample: tuple[float, ...]  # the chosen setting's net R in the windows that chose it
    out_of_sample: tuple[float, ...]  # its net R in this window


def split(first_ms: int, last_ms: int, count: int) -> list[Window]:
    """``count`` equal windows covering ``[first_ms, last_ms]`` (the last one includes ``last_ms``)."""
    if count < 2:
        raise ValueError("walk-forward needs at least 2 windows (one to choose, one to score)")
    if last_ms <= first_ms:
        raise ValueError("the data spans no time")
    span = last_ms + 1 - first_ms
    edges = [first_ms + span * i // count for i in range(count + 1)]
    return [Window(a, b) for a, b in itertools.pairwise(edges)]


def split_even(times: Sequence[int], count: int) -> list[Window]:
    """``count`` windows holding about equal numbers of ``times`` (the data's event times): a data set whose
    files cover a week here and a day there a year later is cut where its data is, not into empty months.
    Windows that would repeat an edge (too few distinct times) merge, so fewer may come back."""
    if count < 2:
        raise ValueError("walk-forward needs at least 2 windows (one to choose, one to score)")
    ordered = sorted(times)
    if not ordered or ordered[-1] <= ordered[0]:
        raise ValueError("the data spans no time")
    inner = [ordered[len(ordered) * i // count] for i in range(1, count)]
    edges = sorted({ordered[0], *inner, ordered[-1] + 1})
    return [Window(a, b) for a, b in itertools.pairwise(edges)]


def _known(outcomes: Sequence[Outcome], sample: Sequence[Window], before_ms: int) -> list[float]:
    return [
        o.net_r for o in outcomes if o.resolved_ms < before_ms and any(w.holds(o.created_ms) for w in sample)
    ]


def choose(
    in_sample: Sequence[Window], before_ms: int, outcomes: Sequence[Sequence[Outcome]]
) -> tuple[int | None, tuple[float, ...]]:
    """The setting with the highest mean net R over what was known at ``before_ms``; ties go to the
    earlier setting in the grid. None when no setting has a known outcome."""
    best: tuple[float, int, tuple[float, ...]] | None = None
    for index, setting in enumerate(outcomes):
        known = _known(setting, in_sample, before_ms)
        if not known:
            continue
        mean = sum(known) / len(known)
        if best is None or mean > best[0]:
            best = (mean, index, tuple(known))
    return (None, ()) if best is None else (best[1], best[2])


def walk_forward(
    windows: Sequence[Window], outcomes: Sequence[Sequence[Outcome]], *, lookback: int = 1
) -> list[Choice]:
    """One ``Choice`` per window from the second on: chosen on the ``lookback`` windows before it, scored
    on it. ``outcomes[i]`` are setting ``i``'s outcomes over the whole data."""
    if lookback < 1:
        raise ValueError("lookback must be at least one window")
    choices: list[Choice] = []
    previous: int | None = None
    for k in range(1, len(windows)):
        window = windows[k]
        sample = windows[max(0, k - lookback) : k]
        setting, in_r = choose(sample, window.start_ms, outcomes)
        kept = setting is None and previous is not None
        if setting is None:
            setting = previous
        out_r: tuple[float, ...] = ()
        if setting is not None:
            out_r = tuple(o.net_r for o in outcomes[setting] if window.holds(o.created_ms))
        choices.append(Choice(k, setting, kept, in_r, out_r))
        previous = setting
    return choices
