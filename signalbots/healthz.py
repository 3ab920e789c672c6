"""The /healthz document: the verdict, each exchange with its feeds, each strategy, every task's
counters and the recent errors, as JSON-ready data. Task names appear here as strings (the keys users'
monitoring reads); ``http.describe_health`` reads the same document back for ``signalbots status``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from signalbots.task import ErrorRecord, TaskHealth
from signalbots.verdict import Assessment, Severity


def document(
    verdict: Assessment,
    *,
    tasks: Iterable[TaskHealth],
    recent_errors: Iterable[ErrorRecord],
    uptime: float,
    now: float,
) -> dict[str, Any]:
    """``now``: monotonic, for the ages of the last events."""
    return {
        "status": "ok" if verdict.severity is Severity.OK else "unhealthy",
        "severity": verdict.severity.name.lower(),
        "headline": verdict.headline,
        "problems": [p.text for p in verdict.problems],
        "uptime": round(uptime, 1),
        "exchanges": {
            e.id: {
                "state": e.state,
                "detail": e.detail,
                "reason": e.reason,
                "feeds": {
                    f.id.feed: {
                        "status": f.status.value,
                        "detail": f.detail,
                        "last_event_age": _age(now, f.last_event),
                    }
                    for f in e.feeds
                },
                "live_feeds": e.live_feeds,
                "last_data_age": None if e.last_data_age is None else round(e.last_data_age, 1),
            }
            for e in verdict.exchanges
        },
        "strategies": {s.task.id.label: {"state": s.state, "detail": s.detail} for s in verdict.strategies},
        "tasks": {
            t.name: {
                "kind": t.kind,
                "status": t.status.value,
                "detail": t.detail,
                "cycles": t.cycles,
                "events": t.events,
                "candidates": t.candidates,
                "signals": t.signals,
                "suppressed": t.suppressed,
                "errors": t.errors,
                "restarts": t.restarts,
                "last_error": t.last_error,
                "last_event_age": _age(now, t.last_event),
            }
            for t in tasks
        },
        "recent_errors": [
            {"time": e.time, "task": e.task, "reason": e.reason, "count": e.count} for e in recent_errors
        ],
    }


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else round(now - then, 1)
