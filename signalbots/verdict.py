"""What the tasks' health adds up to: one verdict for the heartbeat's headline, /healthz and ``status``.

Each problem is listed once, by the part it belongs to (an exchange, a strategy, a task), with a
severity: an exchange's feeds, markets refresh and open circuits are folded into its own view, and a
strategy is judged by whether any feed delivering its inputs is live (open interest: the ticker feed where
the exchange's ticker carries it). Pure: the tasks and circuits come in, the
``Assessment`` goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from signalbots.exchange.venues import VENUES, OpenInterestSource
from signalbots.logs import shorten
from signalbots.needs import FeedKind
from signalbots.task import HEALTHY, Role, TaskHealth, TaskName, TaskStatus


class Severity(IntEnum):
    OK = 0
    DEGRADED = 1  # a part works partly (a stale feed, an open circuit): 🟡
    DOWN = 2  # a part does not work at all (an exchange unreachable, a task failing): 🔴


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    part: TaskName  # the task or exchange it belongs to (exchange:bybit, strategy:volume, outbox)
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


def assess(
    tasks: Iterable[TaskHealth],
    *,
    circuits: list[dict[str, Any]],
    components: Mapping[str, Callable[[], list[str]]],
    now: float,
) -> Assessment:
    """``circuits``: the breakers' snapshot; ``components``: what else can be unhealthy (the outbox), by
    name, each listing its problems; ``now``: monotonic."""
    by_id = {t.id: t for t in tasks}
    feeds = [t for t in by_id.values() if t.kind == "feed"]
    problems: list[Problem] = []
    mains = [t for t in by_id.values() if t.id.role is Role.EXCHANGE]
    exchanges = [_exchange(t, by_id, feeds, circuits, now, problems) for t in mains]
    ids = {e.id for e in exchanges}
    for t in by_id.values():
        if (
            t.kind == "strategy"
            or t.id.role is Role.EXCHANGE
            or (t.id.exchange in ids and t.id.role in (Role.FEED, Role.MARKETS))
        ):
            continue  # in their exchange's or strategy's view
        if t.status not in HEALTHY or t.down:
            severity = Severity.DOWN if t.down else Severity.DEGRADED
            problems.append(Problem(severity, t.id, _task_problem(t)))
    strategies = [_strategy(t, feeds, exchanges, problems) for t in by_id.values() if t.kind == "strategy"]
    if not ids:  # breakers of exchanges this daemon does not run as tasks (tests, tools): said on their own
        problems.extend(_circuit_problems(circuits))
    for name, fn in components.items():
        problems.extend(Problem(Severity.DEGRADED, TaskName.for_worker(name), text) for text in fn())
    severity = max(
        [p.severity for p in problems] + [e.severity for e in exchanges] + [s.severity for s in strategies],
        default=Severity.OK,
    )
    return Assessment(severity, _headline(problems, exchanges), problems, exchanges, strategies)


def _exchange(
    main: TaskHealth,
    by_id: Mapping[TaskName, TaskHealth],
    all_feeds: list[TaskHealth],
    circuits: list[dict[str, Any]],
    now: float,
    problems: list[Problem],
) -> ExchangeView:
    ex = main.id.exchange
    feeds = [t for t in all_feeds if t.id.exchange == ex]
    mine = [c for c in circuits if c.get("exchange") == ex]
    live = [f for f in feeds if f.status is TaskStatus.RUNNING]
    ages = [now - f.last_event for f in feeds if f.last_event is not None]
    age = min(ages) if ages else None
    part = main.id
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
            why = (f.failing if f.down else "") or f.detail or f.last_error  # a cause beats "restart in 4s"
            text = f"{ex} {f.id.feed} feed {f.status.value}" + (f": {why}" if why else "")
            problems.append(Problem(Severity.DEGRADED, part, text))
            severity = Severity.DEGRADED
    refresh = by_id.get(TaskName.for_markets(ex))
    if refresh is not None and refresh.status not in HEALTHY:
        problems.append(Problem(Severity.DEGRADED, part, f"{ex} {_task_problem(refresh)}"))
        severity = Severity.DEGRADED
    for problem in _circuit_problems(mine):
        problems.append(Problem(Severity.DEGRADED, part, problem.text))
        severity = Severity.DEGRADED
    if feeds and not live:
        problems.append(Problem(Severity.DOWN, part, f"{ex}: no live feed"))
        return ExchangeView(ex, Severity.DOWN, "down", main.detail, "no live feed", feeds, 0, mine, age)
    state = "degraded" if severity else "up"
    return ExchangeView(ex, severity, state, main.detail, "", feeds, len(live), mine, age)


def _strategy(
    t: TaskHealth, feeds: list[TaskHealth], exchanges: list[ExchangeView], problems: list[Problem]
) -> StrategyView:
    if t.status not in HEALTHY or t.down:
        severity = Severity.DOWN if t.down else Severity.DEGRADED
        problems.append(Problem(severity, t.id, _task_problem(t)))
        state = "failing" if t.status is TaskStatus.STARTING else t.status.value
        return StrategyView(t, severity, state, t.failing or t.detail)
    if t.status is TaskStatus.PAUSED or not t.inputs:
        return StrategyView(t, Severity.OK, t.status.value, t.detail)
    inputs = [f for f in feeds if _delivers(f, t.inputs)]
    live = [f for f in inputs if f.status is TaskStatus.RUNNING]
    kinds = "/".join(dict.fromkeys([*t.inputs, *(_kind(f) for f in inputs)]))  # open_interest/tickers
    if inputs and not live:
        text = f"{t.id.label} has no live input: every {kinds} feed stale or down"
        problems.append(Problem(Severity.DOWN, t.id, text))
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


def _kind(feed: TaskHealth) -> str:
    """A further candle timeframe's feed is ``candles@15m``: of the kind ``candles`` all the same."""
    return feed.id.feed.partition("@")[0]


def _delivers(feed: TaskHealth, kinds: tuple[str, ...]) -> bool:
    """Whether ``feed`` delivers one of ``kinds``: by its own kind, or — where the exchange's bulk ticker
    carries open interest (Bybit, MEXC, Hyperliquid), so that no open interest feed runs there — its ticker
    feed, whose staleness is then the open interest's."""
    kind = _kind(feed)
    if kind in kinds:
        return True
    venue = VENUES.get(feed.id.exchange)
    interest = venue.open_interest if venue is not None else None
    return (
        kind == FeedKind.TICKERS
        and FeedKind.OPEN_INTEREST in kinds
        and interest is not None
        and interest.source is OpenInterestSource.TICKER
    )


def _task_problem(t: TaskHealth) -> str:
    why = t.failing or t.detail
    state = "failing" if t.down and t.status is TaskStatus.STARTING else t.status.value  # retrying
    return f"{t.name} {state}" + (f": {why}" if why else "")


def _circuit_problems(circuits: list[dict[str, Any]]) -> list[Problem]:
    """An endpoint's open circuit is a problem; one symbol's (a delisting) is not the daemon's."""
    return [
        Problem(
            Severity.DEGRADED,
            TaskName.for_exchange(str(c.get("exchange"))),
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
    rest = [p for p in problems if not (p.part.role is Role.EXCHANGE and p.part.exchange in down)]
    rest.sort(key=lambda p: -p.severity)
    parts.extend(shorten(p.text, 80) for p in rest)
    if len(parts) > 3:
        parts = [*parts[:3], f"+{len(parts) - 3} more"]
    return " · ".join(parts)
