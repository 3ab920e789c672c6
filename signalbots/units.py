"""The daemon's supervised tasks as data (``Unit``) and the reconciler that keeps the running set equal to
the planned one (``Units.apply``): on start and on every reload, only what changed is (re)started."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from signalbots.health import Health, TaskHealth, TaskName
from signalbots.supervisor import Supervisor


@dataclass(frozen=True)
class Unit:
    """A supervised task. ``key`` is the slice of settings it depends on: when it changes on reload,
    the task is restarted; otherwise it keeps running."""

    name: TaskName
    fn: Callable[[TaskHealth], Awaitable[None]]
    key: Any = None
    kind: str = "worker"
    bind: dict[str, str] = field(default_factory=dict)
    intake: bool = False  # what produces new messages (exchanges, strategies, heartbeat): stopped first


class Units:
    """The named tasks currently running inside the daemon's TaskGroup."""

    def __init__(self, *, tg: asyncio.TaskGroup, supervisor: Supervisor, health: Health) -> None:
        self._tg = tg
        self._supervisor = supervisor
        self._health = health
        self._running: dict[TaskName, tuple[Unit, asyncio.Task[None]]] = {}

    def apply(self, units: list[Unit]) -> list[str]:
        """Start new units, restart changed ones, stop removed ones; return the names (re)started."""
        wanted = {TaskName.of(u.name): u for u in units}
        touched: list[str] = []
        for name in list(self._running):
            if name not in wanted:
                self._running.pop(name)[1].cancel()
                self._health.forget(name)
                touched.append(str(name))
        for name, unit in wanted.items():
            current = self._running.get(name)
            if current is not None and current[0].key == unit.key and not current[1].done():
                continue
            if current is not None:
                current[1].cancel()
            task = self._tg.create_task(
                self._supervisor.run(name, unit.fn, kind=unit.kind, **unit.bind), name=str(name)
            )
            self._running[name] = (unit, task)
            touched.append(str(name))
        return touched

    async def stop(self, *, intake_only: bool) -> None:
        tasks = [t for u, t in self._running.values() if u.intake or not intake_only]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running = {n: (u, t) for n, (u, t) in self._running.items() if t not in tasks}
