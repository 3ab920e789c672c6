"""What one supervised task is called and what it reports: ``TaskName``, ``TaskStatus``, ``TaskHealth``.

A task's name says what it belongs to — an exchange (its markets and feeds, supervised as one), the
exchange's markets refresh, one of its feeds, a strategy, or nothing (a worker: the outbox, the heartbeat).
``TaskName`` holds those parts typed; its string form (``exchange:okx``, ``markets:okx``,
``feed:okx:candles``, ``strategy:volume``, ``outbox``) is for the edge only: log fields and /healthz keys.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from typing import Protocol

from signalbots.clock import Clock
from signalbots.logs import redact, shorten


class Role(StrEnum):
    EXCHANGE = "exchange"
    MARKETS = "markets"
    FEED = "feed"
    STRATEGY = "strategy"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class TaskName:
    role: Role
    exchange: str = ""  # EXCHANGE, MARKETS, FEED: the ccxt id
    feed: str = ""  # FEED: its kind ("liquidations", "funding", "candles", "tickers")
    label: str = ""  # STRATEGY: the strategy's name; WORKER: the whole name

    @classmethod
    def for_exchange(cls, exchange: str) -> TaskName:
        return cls(Role.EXCHANGE, exchange=exchange)

    @classmethod
    def for_markets(cls, exchange: str) -> TaskName:
        return cls(Role.MARKETS, exchange=exchange)

    @classmethod
    def for_feed(cls, exchange: str, kind: str) -> TaskName:
        return cls(Role.FEED, exchange=exchange, feed=kind)

    @classmethod
    def for_strategy(cls, name: str) -> TaskName:
        return cls(Role.STRATEGY, label=name)

    @classmethod
    def for_worker(cls, name: str) -> TaskName:
        return cls(Role.WORKER, label=name)

    @classmethod
    def parse(cls, text: str) -> TaskName:
        """The name ``str()`` gave (a /healthz key, a name typed in a test); anything else is a worker's.
        ``str(TaskName.parse(text)) == text`` for every text."""
        prefix, _, rest = text.partition(":")
        if rest and prefix in (Role.EXCHANGE, Role.MARKETS):
            return cls(Role(prefix), exchange=rest)
        if rest and prefix == Role.STRATEGY:
            return cls.for_strategy(rest)
        exchange, sep, kind = rest.partition(":")
        if prefix == Role.FEED and exchange and (kind or not sep):
            return cls.for_feed(exchange, kind)
        return cls.for_worker(text)

    @classmethod
    def of(cls, name: TaskName | str) -> TaskName:
        return name if isinstance(name, TaskName) else cls.parse(name)

    def __str__(self) -> str:
        if self.role is Role.WORKER:
            return self.label
        if self.role is Role.STRATEGY:
            return f"strategy:{self.label}"
        if self.role is Role.FEED and self.feed:
            return f"feed:{self.exchange}:{self.feed}"
        return f"{self.role.value}:{self.exchange}"


class TaskStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    RESTARTING = "restarting"
    PAUSED = "paused"
    STOPPED = "stopped"


HEALTHY = frozenset({TaskStatus.STARTING, TaskStatus.RUNNING, TaskStatus.PAUSED})


class Registry(Protocol):
    """Where a task's events are timed and its errors collected (``Health``)."""

    @property
    def clock(self) -> Clock: ...

    def record_error(self, task: str, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    time: float  # wall clock, seconds (of the latest occurrence)
    task: str
    reason: str
    count: int = 1  # the same failure repeated (digits aside) is one record, counted


@dataclass(slots=True)
class TaskHealth:
    name: str  # str(id): for logs and /healthz
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
    _health: Registry | None = field(default=None, repr=False)
    task: InitVar[TaskName | None] = None  # what ``name`` says, typed (read from ``name`` when not given)
    id: TaskName = field(init=False, repr=False)

    def __post_init__(self, task: TaskName | None) -> None:
        self.id = task if task is not None else TaskName.parse(self.name)

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
