"""Run long-lived tasks; restart one that fails, with backoff, without touching the others.

A task is ``async def fn(health: TaskHealth) -> None``. An exception is logged with its traceback,
recorded in health, and the task is started again after a backoff that doubles from ``initial_backoff``
to ``max_backoff``, reset once a run has lasted ``stable_after``. ``FatalError`` stops the task for good
(and tells the admin). Cancellation always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from signalbots.clock import Clock
from signalbots.errors import FatalError
from signalbots.health import Health, TaskHealth, TaskStatus
from signalbots.metrics import Metrics

TaskFn = Callable[[TaskHealth], Awaitable[None]]


def short_reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:200] if text else type(err).__name__


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

    async def run(self, name: str, fn: TaskFn, *, kind: str = "worker", **bind: str) -> None:
        log = structlog.get_logger("supervisor").bind(task=name, **bind)
        th = self._health.task(name, kind=kind)
        backoff = self.initial_backoff
        failing: str | None = None  # the reason of the current streak of failures
        while True:
            started = self._clock.monotonic()
            if th.status is not TaskStatus.PAUSED:
                th.set(TaskStatus.RUNNING, "")
            try:
                await fn(th)
            except asyncio.CancelledError:
                th.set(TaskStatus.STOPPED)
                raise
            except FatalError as err:
                th.error(short_reason(err))
                th.set(TaskStatus.STOPPED, f"stopped: {short_reason(err)}")
                self._metrics.task_errors.labels(task=name).inc()
                log.error("task_fatal", error=short_reason(err), exc_info=err)
                if self._on_fatal is not None:
                    self._on_fatal(name, err)
                return
            except Exception as err:
                if self._clock.monotonic() - started >= self.stable_after:
                    backoff = self.initial_backoff
                    failing = None
                reason = short_reason(err)
                th.error(reason)
                th.restarts += 1
                th.set(TaskStatus.RESTARTING, f"restart in {backoff:g}s")
                self._metrics.task_errors.labels(task=name).inc()
                self._metrics.task_restarts.labels(task=name).inc()
                if reason != failing:  # a new failure: with its traceback, once
                    log.error("task_failed", error=reason, restart_in=backoff, exc_info=err)
                else:  # the same failure again (e.g. the network is down): one line, no traceback
                    log.warning("task_still_failing", error=reason, restarts=th.restarts, restart_in=backoff)
                failing = reason
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
