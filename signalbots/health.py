"""What every task is doing, for ``/healthz``, the heartbeat and ``/status`` — and what that adds up to.

Tasks report through their ``TaskHealth`` (counters, status, errors); other components (breakers, the
outbox) add sections through ``add_section``. ``Health.assess`` turns all of it into one verdict: each
problem once, by the part it belongs to (an exchange, a strategy, a task), with a severity, so that the
heartbeat's headline and ``/healthz`` say the same thing. Nothing here does I/O.

Task names carry what they belong to: ``exchange:<id>`` (markets and feeds of one exchange, supervised as
one), ``markets:<id>``, ``feed:<id>:<kind>``, ``strategy:<name>``; everything else is a worker.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from signalbots.clock import Clock
from signalbots.logs import redact, shorten


class TaskStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    RESTARTING = "restarting"
    PAUSED = "paused"
    STOPPED = "stopped"


HEALTHY = frozenset({TaskStatus.STARTING, TaskStatus.RUNNING, TaskStatus.PAUSED})


class Severity(IntEnum):
    OK = 0
    DEGRADED = 1  # a part works partly (a stale feed, an open circuit): 🟡
    DOWN = 2  # a part does not work at all (an exchange unreachable, a task failing): 🔴


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    time: float  # wall clock, seconds (of the latest occurrence)
    task: str
    reason: str
    count: int = 1  # the same failure repeated (digits aside) is one record, counted


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
    failing: str = ""  # the supervisor's current streak of failures (its root cause), "" when none
    inputs: tuple[str, ...] = ()  # strategies: the feed kinds they read ("candles", "funding", ...)
    _health: Health | None = field(default=None, repr=False)

    def cycle(self) -> None:
        self.cycles += 1

    def event(self, n: int = 1) -> None:
        self.events += n
        if self._health is not None:
            self.last_event = self._health.clock.monotonic()

    def error(self, reason: str) -> None:
        self.errors += 1
        self.last_error = shorten(redact(reason))
        if self._health is not None:
            self._health.record_error(self.name, reason)

    def set(self, status: TaskStatus, detail: str | None = None) -> None:
        self.status = status
        if detail is not None:
            self.detail = detail

    @property
    def down(self) -> bool:
        """Failing: waiting to restart, stopped, or retrying after failures and not up yet."""
        return self.status in (TaskStatus.RESTARTING, TaskStatus.STOPPED) or (
            self.status is TaskStatus.STARTING and bool(self.failing)
        )


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    part: str  # the task or exchange it belongs to ("exchange:bybit", "strategy:volume", "outbox")
    text: str


@dataclass(slots=True)
class ExchangeView:
    id: str
    severity: Severity
    state: str  # up | starting | degraded | down
    detail: str  # "612 markets" once loaded, else why not
    reason: str  # why it is down ("" when it is not)
    feeds: list[TaskHealth]
    live_feeds: int
    circuits: list[dict[str, Any]]
    last_data_age: float | None


@dataclass(slots=True)
class StrategyView:
    task: TaskHealth
    severity: Severity
    state: str  # the task's status, or "no data" when none of its inputs is live
    detail: str


@dataclass(slots=True)
class Assessment:
    severity: Severity
    headline: str  # what is wrong, most severe first; "" when all is well
    problems: list[Problem]
    exchanges: list[ExchangeView]
    strategies: list[StrategyView]


def _norm(text: str) -> str:
    """A reason with its numbers blanked: "retry in 16s" and "retry in 8s" are the same failure."""
    return re.sub(r"\d+(\.\d+)?", "#", text)


def _part(name: str) -> tuple[str, str, str]:
    """``feed:bybit:candles`` → ("feed", "bybit", "candles"); ``exchange:okx`` → ("exchange", "okx", "")."""
    kind, _, rest = name.partition(":")
    exchange, _, sub = rest.partition(":")
    return kind, exchange, sub


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
        text = shorten(redact(reason))
        key = _norm(text)
        count = 1
        for old in self.recent_errors:
            if old.task == task and _norm(old.reason) == key:  # a repeat: one line, counted, moved last
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

    # -- the verdict ---------------------------------------------------------------------------------------

    def assess(self) -> Assessment:
        now = self.clock.monotonic()
        breakers = self._sections.get("breakers")
        circuits: list[dict[str, Any]] = list(breakers() or []) if breakers is not None else []
        problems: list[Problem] = []
        exchanges = [
            self._exchange(t, circuits, now, problems) for t in self.tasks() if _part(t.name)[0] == "exchange"
        ]
        ids = {e.id for e in exchanges}
        all_feeds = self.tasks("feed")
        for t in self._tasks.values():
            kind, exchange, _ = _part(t.name)
            if (
                t.kind == "strategy"
                or kind == "exchange"
                or (exchange in ids and kind in ("feed", "markets"))
            ):
                continue  # in their exchange's or strategy's view
            if t.status not in HEALTHY or t.down:
                severity = Severity.DOWN if t.down else Severity.DEGRADED
                problems.append(Problem(severity, t.name, _task_problem(t)))
        strategies = [self._strategy(t, all_feeds, exchanges, problems) for t in self.tasks("strategy")]
        if (
            not ids
        ):  # breakers of exchanges this daemon does not run as tasks (tests, tools): said on their own
            problems.extend(_circuit_problems(circuits))
        for name, fn in self._problems.items():
            if name != "breakers":
                problems.extend(Problem(Severity.DEGRADED, name, text) for text in fn())
        severity = max(
            [p.severity for p in problems]
            + [e.severity for e in exchanges]
            + [s.severity for s in strategies],
            default=Severity.OK,
        )
        return Assessment(severity, _headline(problems, exchanges), problems, exchanges, strategies)

    def _exchange(
        self, main: TaskHealth, circuits: list[dict[str, Any]], now: float, problems: list[Problem]
    ) -> ExchangeView:
        ex = _part(main.name)[1]
        feeds = [t for t in self.tasks("feed") if _part(t.name)[1] == ex]
        mine = [c for c in circuits if c.get("exchange") == ex]
        live = [f for f in feeds if f.status is TaskStatus.RUNNING]
        ages = [now - f.last_event for f in feeds if f.last_event is not None]
        age = min(ages) if ages else None
        part = main.name
        if main.down:
            reason = main.failing or main.last_error or main.detail or main.status.value
            problems.append(Problem(Severity.DOWN, part, f"{ex} down: {reason}"))
            detail = "markets not loaded" if main.status is not TaskStatus.STOPPED else main.detail
            return ExchangeView(ex, Severity.DOWN, "down", detail, reason, feeds, 0, mine, age)
        if main.status is TaskStatus.STARTING and not feeds:
            return ExchangeView(ex, Severity.OK, "starting", main.detail, "", feeds, 0, mine, age)
        severity = Severity.OK
        for f in feeds:
            if f.status not in HEALTHY:
                sub = _part(f.name)[2]
                why = (
                    (f.failing if f.down else "") or f.detail or f.last_error
                )  # a cause beats "restart in 4s"
                problems.append(
                    Problem(
                        Severity.DEGRADED,
                        part,
                        f"{ex} {sub} feed {f.status.value}" + (f": {why}" if why else ""),
                    )
                )
                severity = Severity.DEGRADED
        refresh = self._tasks.get(f"markets:{ex}")
        if refresh is not None and refresh.status not in HEALTHY:
            problems.append(Problem(Severity.DEGRADED, part, f"{ex} {_task_problem(refresh)}"))
            severity = Severity.DEGRADED
        for text in _circuit_problems(mine):
            problems.append(Problem(Severity.DEGRADED, part, text.text))
            severity = Severity.DEGRADED
        if feeds and not live:
            problems.append(Problem(Severity.DOWN, part, f"{ex}: no live feed"))
            return ExchangeView(ex, Severity.DOWN, "down", main.detail, "no live feed", feeds, 0, mine, age)
        state = "degraded" if severity else "up"
        return ExchangeView(ex, severity, state, main.detail, "", feeds, len(live), mine, age)

    def _strategy(
        self, t: TaskHealth, feeds: list[TaskHealth], exchanges: list[ExchangeView], problems: list[Problem]
    ) -> StrategyView:
        name = t.name.removeprefix("strategy:")
        if t.status not in HEALTHY or t.down:
            severity = Severity.DOWN if t.down else Severity.DEGRADED
            problems.append(Problem(severity, t.name, _task_problem(t)))
            state = "failing" if t.status is TaskStatus.STARTING else t.status.value
            return StrategyView(t, severity, state, t.failing or t.detail)
        if t.status is TaskStatus.PAUSED or not t.inputs:
            return StrategyView(t, Severity.OK, t.status.value, t.detail)
        inputs = [f for f in feeds if _part(f.name)[2] in t.inputs]
        live = [f for f in inputs if f.status is TaskStatus.RUNNING]
        kinds = "/".join(t.inputs)
        if inputs and not live:
            text = f"{name} has no live input: every {kinds} feed stale or down"
            problems.append(Problem(Severity.DOWN, t.name, text))
            return StrategyView(t, Severity.DOWN, "no data", f"every {kinds} feed stale or down")
        if (
            not inputs
            and any(e.state == "down" for e in exchanges)
            and not any(e.state == "starting" for e in exchanges)
        ):
            # Explained by the exchanges down (listed once, there): the row says so, the problems do not.
            return StrategyView(t, Severity.DOWN, "no data", f"no live {kinds} feed: exchanges down")
        if len(live) < len(inputs):
            partly = f"{kinds} feeds {len(live)}/{len(inputs)} live"
            return StrategyView(t, Severity.DEGRADED, TaskStatus.DEGRADED.value, partly)
        return StrategyView(t, Severity.OK, t.status.value, t.detail)

    def problems(self) -> list[str]:
        return [p.text for p in self.assess().problems]

    def healthy(self) -> bool:
        return self.assess().severity is Severity.OK

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        verdict = self.assess()
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
        return {
            "status": "ok" if verdict.severity is Severity.OK else "unhealthy",
            "severity": verdict.severity.name.lower(),
            "headline": verdict.headline,
            "problems": [p.text for p in verdict.problems],
            "uptime": round(self.uptime(), 1),
            "exchanges": {
                e.id: {
                    "state": e.state,
                    "detail": e.detail,
                    "reason": e.reason,
                    "feeds": {
                        _part(f.name)[2]: {
                            "status": f.status.value,
                            "detail": f.detail,
                            "last_event_age": None if f.last_event is None else round(now - f.last_event, 1),
                        }
                        for f in e.feeds
                    },
                    "live_feeds": e.live_feeds,
                    "last_data_age": None if e.last_data_age is None else round(e.last_data_age, 1),
                }
                for e in verdict.exchanges
            },
            "strategies": {
                s.task.name.removeprefix("strategy:"): {"state": s.state, "detail": s.detail}
                for s in verdict.strategies
            },
            "tasks": tasks,
            "recent_errors": [
                {"time": e.time, "task": e.task, "reason": e.reason, "count": e.count}
                for e in self.recent_errors
            ],
        } | {name: fn() for name, fn in self._sections.items()}


def _task_problem(t: TaskHealth) -> str:
    why = t.failing or t.detail
    state = "failing" if t.down and t.status is TaskStatus.STARTING else t.status.value  # retrying
    return f"{t.name} {state}" + (f": {why}" if why else "")


def _circuit_problems(circuits: list[dict[str, Any]]) -> list[Problem]:
    """An endpoint's open circuit is a problem; one symbol's (a delisting) is not the daemon's."""
    return [
        Problem(
            Severity.DEGRADED,
            f"exchange:{c.get('exchange')}",
            f"circuit {c.get('state', 'open').replace('_', '-')}: {c.get('exchange')} {c.get('endpoint')}",
        )
        for c in circuits
        if not c.get("symbol") and c.get("state") != "closed"
    ]


def _headline(problems: list[Problem], exchanges: list[ExchangeView]) -> str:
    """The reason first: exchanges down by name, then the other problems, most severe first."""
    down = [e.id for e in exchanges if e.state == "down"]
    parts: list[str] = []
    if len(down) > 1:
        parts.append(f"{len(down)} exchanges down: {', '.join(down)}")
    elif down:
        parts.append(f"{down[0]} down")
    rest = [p for p in problems if not (p.part.startswith("exchange:") and _part(p.part)[1] in down)]
    rest.sort(key=lambda p: -p.severity)
    parts.extend(shorten(p.text, 80) for p in rest)
    if len(parts) > 3:
        parts = [*parts[:3], f"+{len(parts) - 3} more"]
    return " · ".join(parts)
