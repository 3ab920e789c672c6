"""A reload restarts exactly the tasks whose settings changed; the others keep running, state and all."""

from __future__ import annotations

import asyncio
from collections import Counter

from signalbots.clock import ManualClock
from signalbots.health import Health, TaskHealth, TaskName
from signalbots.metrics import Metrics
from signalbots.supervisor import Supervisor
from signalbots.units import Unit, Units


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_apply_starts_new_restarts_changed_stops_removed_and_stop_takes_intake_first() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    starts: Counter[str] = Counter()

    async def work(th: TaskHealth) -> None:
        starts[th.name] += 1
        await asyncio.Event().wait()

    heartbeat, okx, bybit = (
        TaskName.for_worker("heartbeat"),
        TaskName.for_exchange("okx"),
        TaskName.for_exchange("bybit"),
    )
    async with asyncio.TaskGroup() as tg:
        units = Units(
            tg=tg, supervisor=Supervisor(health=health, clock=clock, metrics=Metrics()), health=health
        )
        assert units.apply([Unit(heartbeat, work, key="1h"), Unit(okx, work, key="a", intake=True)]) == [
            "heartbeat",
            "exchange:okx",
        ]
        await settle()
        # okx's settings changed, bybit is new, heartbeat is as it was
        touched = units.apply(
            [
                Unit(heartbeat, work, key="1h"),
                Unit(okx, work, key="b", intake=True),
                Unit(bybit, work, intake=True),
            ]
        )
        await settle()
        assert touched == ["exchange:okx", "exchange:bybit"]
        assert starts == {"heartbeat": 1, "exchange:okx": 2, "exchange:bybit": 1}
        assert units.apply([Unit(heartbeat, work, key="1h"), Unit(okx, work, key="b", intake=True)]) == [
            "exchange:bybit"
        ]
        await settle()
        assert {t.name for t in health.tasks()} == {"heartbeat", "exchange:okx"}  # bybit forgotten
        await units.stop(intake_only=True)
        assert health.task(okx).status.value == "stopped"
        assert health.task(heartbeat).status.value == "running"
        await units.stop(intake_only=False)
    assert health.task(heartbeat).status.value == "stopped"
