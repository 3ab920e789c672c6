"""``Pacer``: a websocket connection's messages at a rate, on the daemon's clock."""

from __future__ import annotations

import asyncio

from signalbots.clock import ManualClock
from signalbots.exchange._pacer import Pacer


async def test_a_burst_goes_at_once_and_the_rest_waits_its_turn_in_order() -> None:
    clock = ManualClock()
    pace = Pacer(clock=clock, rate=20.0, burst=2.0)
    sent: list[int] = []

    async def send(n: int) -> None:
        await pace()
        sent.append(n)

    tasks = [asyncio.create_task(send(n)) for n in range(5)]
    await asyncio.sleep(0)
    assert sent == [0, 1] and clock.sleepers == 3
    await clock.run_for(0.05, step=0.05)
    assert sent == [0, 1, 2]
    await clock.run_for(0.1, step=0.05)
    assert sent == [0, 1, 2, 3, 4]
    await asyncio.gather(*tasks)


async def test_an_idle_connection_earns_its_burst_back_but_no_more() -> None:
    clock = ManualClock()
    pace = Pacer(clock=clock, rate=20.0, burst=2.0)
    for _ in range(2):
        await pace()
    clock.advance(60.0)
    for _ in range(2):
        await pace()  # two at once again, not 1,200
    third = asyncio.create_task(pace())
    await asyncio.sleep(0)
    assert not third.done()
    await clock.run_for(0.05, step=0.05)
    assert third.done()
