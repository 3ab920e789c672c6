"""A strategy's track record and a signal's grade, as every alert shows them (also in docs/signals.md).

The record is read from the state database at the moment the alert is made: the strategy's signals resolved
in the ``RECORD_DAYS`` days before it, in net R. The grade turns ``Candidate.strength`` — the multiple of the
strategy's own firing threshold the candidate reached — into a letter a reader can compare across
strategies.
"""

from __future__ import annotations

from signalbots.signals.stats import Stats, compute
from signalbots.store import Store

RECORD_DAYS = 30
_DAY_MS = 86_400_000


def grade(strength: float) -> str:
    """A: at least twice the threshold; B: at least 1.5×; C: it only just fired."""
    if strength >= 2.0:
        return "A"
    if strength >= 1.5:
        return "B"
    return "C"


def record(store: Store, strategy: str, now_ms: int, days: int = RECORD_DAYS) -> Stats:
    """The strategy's outcomes resolved in the ``days`` days up to ``now_ms``, in net R."""
    rows = store.db.execute(
        "SELECT r_multiple FROM signals WHERE strategy = ? AND status != 'open' AND r_multiple IS NOT NULL "
        "AND resolved_ms >= ? AND resolved_ms <= ? ORDER BY resolved_ms, id",
        (strategy, now_ms - days * _DAY_MS, now_ms),
    ).fetchall()
    return compute([float(r[0]) for r in rows])


def record_line(stats: Stats, days: int = RECORD_DAYS) -> str:
    """``📒 30d record: 40 resolved · hit 55% · avg net +0.21R (95% −0.10…+0.52)`` or "no record yet"."""
    if stats.count == 0:
        return f"📒 {days}d record: no record yet"
    ci = ""
    if stats.ci95_low is not None and stats.ci95_high is not None:
        ci = f" (95% {_signed(stats.ci95_low)}…{_signed(stats.ci95_high)})"
    judge = "" if stats.judged else " · too few to judge"
    return (
        f"📒 {days}d record: {stats.count} resolved · hit {stats.hit_rate:.0%} · "
        f"avg net {_signed(stats.avg_r)}R{ci}{judge}"
    )


def _signed(value: float) -> str:
    text = f"{abs(value):.2f}"
    if float(text) == 0:
        return text
    return f"{'+' if value > 0 else '−'}{text}"
