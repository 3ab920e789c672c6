"""The sweep behind ``research``: every grid point of a strategy replayed over a data set with
``backtest``'s own replay (strategies, desk, tracker: the same fills and costs), in a process pool.

The work is cut into chunks of grid points; a worker reads the data set once per chunk and replays each of
its points in turn, so reading the files is paid a few times, not once per point. Outcomes cross the
process boundary as plain ``Outcome`` records.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from signalbots.backtest import replay_signals
from signalbots.marketdata import DataProblem, scan
from signalbots.research_grid import Point, apply
from signalbots.research_walk import Outcome
from signalbots.settings import Settings
from signalbots.signals.model import Direction, Signal, Status

__all__ = ["Sweep", "Task", "sweep"]


@dataclass(frozen=True, slots=True)
class Task:
    """Some grid points of one strategy over one data set."""

    data: Path
    strategy: str
    points: tuple[tuple[int, Point], ...]  # (index in the grid, point)


@dataclass(slots=True)
class Sweep:
    """Per strategy, each grid point's outcomes (in grid order), the span replayed, and problems met."""

    outcomes: dict[str, list[list[Outcome]]] = field(default_factory=dict)
    signals: dict[str, list[int]] = field(default_factory=dict)  # all signals made, per point
    first_ms: int | None = None
    last_ms: int | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Done:
    task: Task
    outcomes: tuple[tuple[Outcome, ...], ...]
    signals: tuple[int, ...]
    first_ms: int | None
    last_ms: int | None
    problems: tuple[str, ...]


def _outcome(sig: Signal) -> Outcome | None:
    r = sig.r_multiple
    if sig.candidate.direction is Direction.NONE or sig.status is Status.OPEN or r is None:
        return None
    if sig.resolved_ms is None or not math.isfinite(r):
        return None
    return Outcome(sig.candidate.time_ms, sig.resolved_ms, r)


def _run(task: Task, settings: Settings) -> _Done:
    """In a worker: read the data set once, replay each point of the task."""
    market = scan(task.data)
    problems: list[str] = []

    def on_problem(problem: DataProblem) -> None:
        if problem.fatal and str(problem) not in problems:
            problems.append(str(problem))

    outcomes: list[tuple[Outcome, ...]] = []
    counts: list[int] = []
    first = last = None
    for _, point in task.points:
        run = replay_signals(
            market, names=[task.strategy], settings=apply(settings, point), on_problem=on_problem
        )
        found = (_outcome(s) for s in run.signals)
        outcomes.append(tuple(o for o in found if o is not None))
        counts.append(len(run.signals))
        first, last = run.first_ms, run.last_ms
    return _Done(task, tuple(outcomes), tuple(counts), first, last, tuple(problems))


def _tasks(data: Path, grids: dict[str, list[Point]], jobs: int) -> list[Task]:
    tasks: list[Task] = []
    for strategy, points in grids.items():
        indexed = tuple(enumerate(points))
        # A few chunks per worker keep both busy to the end without reading the data once per point.
        size = max(1, math.ceil(len(indexed) / (jobs * 2)))
        tasks.extend(Task(data, strategy, indexed[i : i + size]) for i in range(0, len(indexed), size))
    return tasks


def sweep(
    data: Path,
    grids: dict[str, list[Point]],
    settings: Settings,
    *,
    jobs: int,
    progress: Callable[[float], None] | None = None,
) -> Sweep:
    """Replay every point of ``grids`` over the data set at ``data`` (validated beforehand) with ``jobs``
    processes (1: in this process)."""
    result = Sweep(outcomes={s: [[] for _ in p] for s, p in grids.items()})
    result.signals = {s: [0] * len(p) for s, p in grids.items()}
    tasks = _tasks(data, grids, jobs)
    total = sum(len(t.points) for t in tasks) or 1
    done_points = 0

    def take(done: _Done) -> None:
        nonlocal done_points
        for (index, _), outcomes, count in zip(done.task.points, done.outcomes, done.signals, strict=True):
            result.outcomes[done.task.strategy][index] = list(outcomes)
            result.signals[done.task.strategy][index] = count
        if done.first_ms is not None:
            result.first_ms = min(done.first_ms, result.first_ms or done.first_ms)
        if done.last_ms is not None:
            result.last_ms = max(done.last_ms, result.last_ms or done.last_ms)
        result.problems.extend(p for p in done.problems if p not in result.problems)
        done_points += len(done.task.points)
        if progress is not None:
            progress(done_points / total)

    if jobs <= 1:
        for task in tasks:
            take(_run(task, settings))
        return result
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: set[Future[_Done]] = {pool.submit(_run, task, settings) for task in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                take(future.result())
    return result
