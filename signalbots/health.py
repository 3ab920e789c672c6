"""What every task is doing, for ``/healthz``, the heartbeat and ``/status``.

Tasks report through their ``TaskHealth`` (counters, status, errors); other components (breakers, the
outbox, feeds) add sections through ``add_section``. Nothing here does I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from signalbots.clock import Clock
from signalbots.logs import redact


class TaskStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    RESTARTING = "restarting"
    PAUSED = "paused"
    STOPPED = "stopped"


HEALTHY = frozenset({TaskStatus.STARTING, TaskStatus.RUNNING, TaskStatus.PAUSED})


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    time: float  # wall clock, seconds
    task: str
    reason: str


@dataclass(slots=True)
class TaskHealth:
    name: str
    kind: str  # strategy | feed | worker
    status: TaskStatus = TaskStatus.STARTING
    started: float = 0.0  # monotonic
    cycles: int = 0
    events: int = 0
    candidates: int = 0
    signals: int = 0
    suppressed: int = 0
    errors: int = 0
    restarts: int = 0
    last_event: float | None = None  # monotonic
    detail: str = ""  # e.g. "circuit open: mexc fetch_ohlcv", "stale 3m"
    last_error: str = ""
    _health: Health | None = field(default=None, repr=False)

    def cycle(self) -> None:
        self.cycles += 1

    def event(self, n: int = 1) -> None:
        self.events += n
        if self._health is not None:
            self.last_event = self._health.clock.monotonic()

    def error(self, reason: str) -> None:
        self.errors += 1
        self.last_error = redact(reason)[:200]
        if self._health is not None:
            self._health.record_error(self.name, reason)

    def set(self, status: TaskStatus, detail: str | None = None) -> None:
        self.status = status
        if detail is not None:
            self.detail = detail


class Health:
    def __init__(self, *, clock: Clock, recent_errors: int = 20) -> None:
        self.clock = clock
        self.started_wall = clock.time()
        self.started = clock.monotonic()
        self._tasks: dict[str, TaskHealth] = {}
        self.recent_errors: deque[ErrorRecord] = deque(maxlen=recent_errors)
        self._sections: dict[str, Callable[[], Any]] = {}
        self._problems: dict[str, Callable[[], list[str]]] = {}

    def task(self, name: str, *, kind: str = "worker") -> TaskHealth:
        th = self._tasks.get(name)
        if th is None:
            th = self._tasks[name] = TaskHealth(
                name=name, kind=kind, started=self.clock.monotonic(), _health=self
            )
        return th

    def tasks(self, kind: str | None = None) -> list[TaskHealth]:
        return [t for t in self._tasks.values() if kind is None or t.kind == kind]

    def forget(self, name: str) -> None:
        self._tasks.pop(name, None)

    def record_error(self, task: str, reason: str) -> None:
        # Error texts reach /healthz, the heartbeat and Telegram: library errors can carry /bot<token>/.
        self.recent_errors.append(ErrorRecord(self.clock.time(), task, redact(reason)[:200]))

    def add_section(
        self, name: str, snapshot: Callable[[], Any], *, problems: Callable[[], list[str]] | None = None
    ) -> None:
        """A component's own view (breakers, outbox); ``problems`` lists what makes the daemon unhealthy."""
        self._sections[name] = snapshot
        if problems is not None:
            self._problems[name] = problems

    def uptime(self) -> float:
        return self.clock.monotonic() - self.started

    def problems(self) -> list[str]:
        out = [f"{t.name} {t.status.value}" for t in self._tasks.values() if t.status not in HEALTHY]
        for fn in self._problems.values():
            out.extend(fn())
        return out

    def healthy(self) -> bool:
        return not self.problems()

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        tasks = {
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
                "last_event_age": None if t.last_event is None else round(now - t.last_event, 1),
            }
            for t in self._tasks.values()
        }
        problems = self.problems()
        return {
            "status": "ok" if not problems else "unhealthy",
            "problems": problems,
            "uptime": round(self.uptime(), 1),
            "tasks": tasks,
            "recent_errors": [
                {"time": e.time, "task": e.task, "reason": e.reason} for e in self.recent_errors
            ],
        } | {name: fn() for name, fn in self._sections.items()}
