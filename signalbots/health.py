"""What every task is doing, for ``/healthz``, the heartbeat and ``/status`` — and what that adds up to.

Tasks report through their ``TaskHealth`` (counters, status, errors; ``task``); other components
(breakers, the outbox) add sections through ``add_section``. ``Health.assess`` turns all of it into one
verdict (``verdict``) and ``Health.snapshot`` into the /healthz document (``healthz``), so that the
heartbeat's headline and ``/healthz`` say the same thing. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

from signalbots import healthz
from signalbots.clock import Clock
from signalbots.logs import redact, shorten
from signalbots.task import HEALTHY, ErrorRecord, Role, TaskHealth, TaskName, TaskStatus
from signalbots.verdict import Assessment, ExchangeView, Problem, Severity, StrategyView, assess

__all__ = [
    "HEALTHY",
    "Assessment",
    "ErrorRecord",
    "ExchangeView",
    "Health",
    "Problem",
    "Role",
    "Severity",
    "StrategyView",
    "TaskHealth",
    "TaskName",
    "TaskStatus",
    "failure_key",
]


def failure_key(reason: str) -> str:
    """A reason with its numbers blanked: "retry in 16s" and "retry in 8s" are the same failure."""
    return re.sub(r"\d+(\.\d+)?", "#", reason)


class Health:
    """The registry of tasks (by ``TaskName``; a string is read as one), recent errors and sections."""

    def __init__(self, *, clock: Clock, recent_errors: int = 20) -> None:
        self.clock = clock
        self.started_wall = clock.time()
        self.started = clock.monotonic()
        self._tasks: dict[TaskName, TaskHealth] = {}
        self.recent_errors: deque[ErrorRecord] = deque(maxlen=recent_errors)
        self._sections: dict[str, Callable[[], Any]] = {}
        self._problems: dict[str, Callable[[], list[str]]] = {}

    def task(self, name: TaskName | str, *, kind: str = "worker") -> TaskHealth:
        key = TaskName.of(name)
        th = self._tasks.get(key)
        if th is None:
            th = self._tasks[key] = TaskHealth(
                name=str(key), kind=kind, started=self.clock.monotonic(), _health=self, task=key
            )
        return th

    def tasks(self, kind: str | None = None) -> list[TaskHealth]:
        return [t for t in self._tasks.values() if kind is None or t.kind == kind]

    def forget(self, name: TaskName | str) -> None:
        self._tasks.pop(TaskName.of(name), None)

    def record_error(self, task: str, reason: str) -> None:
        # Error texts reach /healthz, the heartbeat and Telegram: library errors can carry /bot<token>/.
        text = shorten(redact(reason))
        key = failure_key(text)
        count = 1
        for old in self.recent_errors:
            if old.task == task and failure_key(old.reason) == key:  # a repeat: one line, counted, moved last
                self.recent_errors.remove(old)
                count += old.count
                break
        self.recent_errors.append(ErrorRecord(self.clock.time(), task, text, count))

    def add_section(
        self, name: str, snapshot: Callable[[], Any], *, problems: Callable[[], list[str]] | None = None
    ) -> None:
        """A component's own view (breakers, outbox); ``problems`` lists what makes the daemon unhealthy."""
        self._sections[name] = snapshot
        if problems is not None:
            self._problems[name] = problems

    def uptime(self) -> float:
        return self.clock.monotonic() - self.started

    def assess(self) -> Assessment:
        # Open circuits are folded into their exchange's problems by the verdict, not listed on their own.
        breakers = self._sections.get("breakers")
        circuits: list[dict[str, Any]] = list(breakers() or []) if breakers is not None else []
        components = {name: fn for name, fn in self._problems.items() if name != "breakers"}
        return assess(
            self._tasks.values(), circuits=circuits, components=components, now=self.clock.monotonic()
        )

    def problems(self) -> list[str]:
        return [p.text for p in self.assess().problems]

    def healthy(self) -> bool:
        return self.assess().severity is Severity.OK

    def snapshot(self) -> dict[str, Any]:
        """The /healthz document, with each section's own view under its name."""
        doc = healthz.document(
            self.assess(),
            tasks=self._tasks.values(),
            recent_errors=self.recent_errors,
            uptime=self.uptime(),
            now=self.clock.monotonic(),
        )
        return doc | {name: fn() for name, fn in self._sections.items()}
