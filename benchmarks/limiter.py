"""Uncontended ``WeightLimiter.acquire`` cost, in µs per call (a report, not a test).

Run: ``.venv/bin/python benchmarks/limiter.py``
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from signalbots.clock import SystemClock
from signalbots.exchange.ratelimit import Budgets, WeightLimiter

N = 200_000


async def measure() -> None:
    clock = SystemClock()
    # A bucket that never runs dry: every call takes the uncontended path.
    limiter = WeightLimiter(name="bench", capacity=1e12, refill_per_second=1e12, clock=clock)
    budgets = Budgets.for_exchange("binanceusdm", budget_fraction=1.0, clock=clock)
    budgets.weight.capacity = budgets.weight.refill_per_second = 1e12
    cases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("WeightLimiter.acquire(1)", lambda: limiter.acquire(1.0)),
        ("Budgets.acquire('klines', 1)", lambda: budgets.acquire("klines", 1.0)),
    ]
    for label, call in cases:
        for _ in range(1000):  # warm up
            await call()
        start = time.perf_counter()
        for _ in range(N):
            await call()
        elapsed = time.perf_counter() - start
        print(f"{label:<32} {elapsed / N * 1e6:6.2f} µs per call ({N} calls)")
    start = time.perf_counter()
    for _ in range(N):
        await asyncio.sleep(0)
    print(f"{'(reference) asyncio.sleep(0)':<32} {(time.perf_counter() - start) / N * 1e6:6.2f} µs per call")


if __name__ == "__main__":
    asyncio.run(measure())
