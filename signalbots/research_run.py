"""The sweep behind ``research``: every grid point of a strategy replayed over a data set with
``backtest``'s own replay (strategies, desk, tracker: the same fills and costs), in a process pool.

A data set is read once, in this process, into the events in the order they became known, grouped by
moment; the workers are forked with it (shared, not pickled per task) and each replays one grid point at a
time.
Outcomes cross the process boundary as plain ``Outcome`` records.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from signalbots.backtest import replay_moments
from signalbots.marketdata import DataProblem, MarketData
from signalbots.replay import Replayed, moments, replay_events
from signalbots.research_grid import Point, apply
from signalbots.research_walk import Outcome
from signalbots.settings import Settings
from signalbots.signals.model import Direction, Signal, Status

__all__ = ["Sweep", "collector_paused", "sweep"]


@dataclass(slots=True)
class Sweep:
    """Per strategy, each grid point's outcomes (in grid order), the span replayed, and problems met."""

    outcomes: dict[str, list[list[Outcome]]] = field(default_factory=dict)
    signals: dict[str, list[int]] = field(default_factory=dict)  # all signals made, per point
    first_ms: int | None = None
    last_ms: int | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Task:
    strategy: str
    index: int  # in the strategy's grid
    point: Point


@dataclass(frozen=True, slots=True)
class _Done:
    task: _Task
    outcomes: tuple[Outcome, ...]
    signals: int


# The data set of a worker process, set once when the pool forks it. A pool gives a worker no other place
# for state that outlives one task, and passing a million events with every task would cost more than
# replaying them.
_WORKER: dict[str, object] = {}


def _outcome(sig: Signal) -> Outcome | None:
    r = sig.r_multiple
    if sig.candidate.direction is Direction.NONE or sig.status is Status.OPEN or r is None:
        return None
    if sig.resolved_ms is None or not math.isfinite(r):
        return None
    return Outcome(sig.candidate.time_ms, sig.resolved_ms, r)


def _replay(grouped: Sequence[Sequence[Replayed]], settings: Settings, task: _Task) -> _Done:
    run = replay_moments(grouped, names=[task.strategy], settings=apply(settings, task.point))
    found = (_outcome(s) for s in run.signals)
    return _Done(task, tuple(o for o in found if o is not None), len(run.signals))


def _start_worker(grouped: Sequence[Sequence[Replayed]], settings: Settings) -> None:
    _WORKER["events"] = grouped
    _WORKER["settings"] = settings


def _in_worker(task: _Task) -> _Done:
    events = _WORKER["events"]
    settings = _WORKER["settings"]
    assert isinstance(events, list) and isinstance(settings, Settings)
    return _replay(events, settings, task)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a data set is read and ordered: that builds millions of
    objects which all live on, and the collector's passes over them were about 2 s per million candles of
    the serial part, freeing nothing. Nothing read holds a reference cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sweep(
    market: MarketData,
    grids: dict[str, list[Point]],
    settings: Settings,
    *,
    jobs: int,
    progress: Callable[[float], None] | None = None,
) -> Sweep:
    """Replay every point of ``grids`` over ``market`` (validated beforehand) with ``jobs`` processes
    (1: in this process)."""
    result = Sweep(outcomes={s: [[] for _ in p] for s, p in grids.items()})
    result.signals = {s: [0] * len(p) for s, p in grids.items()}

    def on_problem(problem: DataProblem) -> None:
        if problem.fatal and str(problem) not in result.problems:
            result.problems.append(str(problem))

    # grouped by moment once here rather than once per setting
    with collector_paused():
        events = list(moments(replay_events(market, on_problem=on_problem)))
    if events:
        result.first_ms, result.last_ms = events[0][0].at_ms, events[-1][0].at_ms
    tasks = [_Task(s, i, p) for s, points in grids.items() for i, p in enumerate(points)]
    total = len(tasks) or 1
    finished = 0

    def take(done: _Done) -> None:
        nonlocal finished
        result.outcomes[done.task.strategy][done.task.index] = list(done.outcomes)
        result.signals[done.task.strategy][done.task.index] = done.signals
        finished += 1
        if progress is not None:
            progress(finished / total)

    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            take(_replay(events, settings, task))
        return result
    # fork: the workers inherit the events as they are in memory. Frozen first, so that no collection in
    # a worker walks them (copying every page it touches) to find what the pause above left unexamined.
    gc.freeze()
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(events, settings)
        ) as pool:
            pending: set[Future[_Done]] = {pool.submit(_in_worker, task) for task in tasks}
            while pending:
                ready, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in ready:
                    take(future.result())
    finally:
        gc.unfreeze()
    return result
