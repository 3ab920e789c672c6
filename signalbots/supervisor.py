"""Run long-lived tasks; restart one that fails, with backoff, without touching the others.

A task is ``async def fn(health: TaskHealth) -> None``. An exception is recorded in health and the task is
started again after a backoff that doubles from ``initial_backoff`` to ``max_backoff``, reset once a run has
lasted ``stable_after``. ``FatalError`` stops the task for good (and tells the admin). Cancellation always
propagates.

Logs say state changes, not attempts: a streak of failures (the network is down) logs one line when it
starts, one short warning when its cause changes, and ``task_recovered`` once a run lasts ``stable_after``.
An expected failure (``TransientError``, ``FatalError``) is one line naming it, its traceback at debug only;
an unexpected exception is a bug of ours and carries its traceback. ``CircuitOpen`` is a consequence, not a
cause — the breaker logged its opening — so it never starts a line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from signalbots.clock import Clock
from signalbots.errors import CircuitOpen, FatalError, TransientError
from signalbots.health import Health, TaskHealth, TaskName, TaskStatus, failure_key
from signalbots.logs import log_expected, shorten
from signalbots.metrics import Metrics

TaskFn = Callable[[TaskHealth], Awaitable[None]]


def short_reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return shorten(f"{type(err).__name__}: {text}") if text else type(err).__name__


def _cause(err: BaseException) -> str:
    """What went wrong, for health: our own errors' texts say it; others need their type."""
    text = " ".join(str(err).split())
    if isinstance(err, TransientError) and text:
        return shorten(text)
    return short_reason(err)


def _log_failed(log: Any, err: Exception, **fields: Any) -> None:
    if isinstance(err, CircuitOpen):  # the breaker said why when it opened
        log.warning("task_failed", **fields)
    elif isinstance(err, TransientError):  # the world's (network, exchange): expected
        log_expected(log, "warning", "task_failed", err, **fields)
    else:  # ours: a bug, and its traceback is what fixing it needs
        log.error("task_failed", exc_info=err, **fields)


@dataclass(slots=True)
class _Streak:
    """Failures with no stable run between them: one episode for the log."""

    types: set[type[BaseException]] = field(default_factory=set)
    reason: str = ""  # the last cause logged (numbers blanked)


class Supervisor:
    def __init__(
        self,
        *,
        health: Health,
        clock: Clock,
        metrics: Metrics,
        on_fatal: Callable[[str, BaseException], None] | None = None,
        initial_backoff: float = 1.0,
        max_backoff: float = 300.0,
        stable_after: float = 60.0,
    ) -> None:
        self._health = health
        self._clock = clock
        self._metrics = metrics
        self._on_fatal = on_fatal
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after

    async def run(self, name: TaskName | str, fn: TaskFn, *, kind: str = "worker", **bind: str) -> None:
        th = self._health.task(name, kind=kind)
        log = structlog.get_logger("supervisor").bind(task=th.name, **bind)
        backoff = self.initial_backoff
        streak: _Streak | None = None
        while True:
            started = self._clock.monotonic()
            if th.status is not TaskStatus.PAUSED:
                th.set(TaskStatus.STARTING if streak is not None else TaskStatus.RUNNING, "")
            try:
                if streak is None:
                    await fn(th)
                else:
                    await self._attempt(fn, th, log)
            except asyncio.CancelledError:
                th.set(TaskStatus.STOPPED)
                raise
            except FatalError as err:
                th.error(short_reason(err))
                th.failing = _cause(err)
                th.set(TaskStatus.STOPPED, f"stopped: {short_reason(err)}")
                self._metrics.task_errors.labels(task=th.name).inc()
                log_expected(log, "error", "task_fatal", err, error=short_reason(err))
                if self._on_fatal is not None:
                    self._on_fatal(th.name, err)
                return
            except Exception as err:
                if self._clock.monotonic() - started >= self.stable_after:
                    backoff = self.initial_backoff
                    streak = None
                if not th.failing:  # recovered (see _attempt): a new failure is a new episode
                    streak = None
                reason = short_reason(err)
                if isinstance(
                    err, CircuitOpen
                ):  # counted, but kept out of the recent errors: the cause is there
                    th.errors += 1
                    th.last_error = reason
                else:
                    th.error(reason)
                th.restarts += 1
                self._metrics.task_errors.labels(task=th.name).inc()
                self._metrics.task_restarts.labels(task=th.name).inc()
                streak = self._log_failure(log, streak, err, reason, th, backoff)
                th.set(TaskStatus.RESTARTING, f"restart in {backoff:g}s")
                try:
                    await self._clock.sleep(backoff)
                except asyncio.CancelledError:
                    th.set(TaskStatus.STOPPED)
                    raise
                backoff = min(backoff * 2, self.max_backoff)
                log.debug("task_restarting")
                continue
            th.set(TaskStatus.STOPPED)
            log.info("task_finished")
            return

    def _log_failure(
        self, log: Any, streak: _Streak | None, err: Exception, reason: str, th: TaskHealth, backoff: float
    ) -> _Streak:
        """One line when a streak starts (and for a new kind of error in it), one line per new cause."""
        circuit = isinstance(err, CircuitOpen)
        if streak is None:
            streak = _Streak()
            _log_failed(log, err, error=reason, restart_in=backoff)
        elif circuit:  # the breaker said "opened" once; its refusals are the same outage
            log.debug("task_still_failing", error=reason, restarts=th.restarts, restart_in=backoff)
            return streak
        elif type(err) not in streak.types:
            _log_failed(log, err, error=reason, restart_in=backoff)
        elif failure_key(reason) != streak.reason:
            log.warning("task_failure_changed", error=reason, restarts=th.restarts, restart_in=backoff)
        else:
            log.debug("task_still_failing", error=reason, restarts=th.restarts, restart_in=backoff)
        if not circuit:
            streak.types.add(type(err))
            streak.reason = failure_key(reason)
            th.failing = _cause(err)
        elif not th.failing:
            th.failing = _cause(err)
        return streak

    async def _attempt(self, fn: TaskFn, th: TaskHealth, log: Any) -> None:
        """Run ``fn`` after failures; once it has lasted ``stable_after``, say it recovered (once)."""
        work = asyncio.ensure_future(fn(th))
        calm = asyncio.ensure_future(self._clock.sleep(self.stable_after))
        try:
            await asyncio.wait({work, calm}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                log.info("task_recovered", failed_with=th.failing, restarts=th.restarts)
                th.failing = ""
                if th.status is TaskStatus.STARTING:  # tasks that never report their own status
                    th.set(TaskStatus.RUNNING)
            await work
        finally:
            calm.cancel()
            if not work.done():
                work.cancel()
                # We are leaving by an exception already (our cancellation): the work's end adds nothing.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
