"""``WeightLimiter.acquire`` cost, in µs per call: uncontended, and with 100 concurrent waiters.

Uncontended: a bucket that never runs dry, so every call takes the fast path (what almost every REST call
pays). Contended: 100 tasks acquiring in a loop from a bucket that is always empty, on a clock whose
``sleep`` moves time instead of waiting, so every call goes through the FIFO queue and the refill wait and
what is measured is the limiter's own bookkeeping plus the event loop's task switches, not the refill rate.

Run alone: ``python -m benchmarks limiter``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from signalbots.clock import SystemClock
from signalbots.exchange.ratelimit import WeightLimiter

REPEAT = 5
CALLS = 200_000
WAITERS = 100
CONTENDED_CALLS = 20_000


class _JumpClock:
    """Time that moves by exactly what a sleeper asked for (and yields once to the loop)."""

    def __init__(self) -> None:
        self._mono = 0.0

    def time(self) -> float:
        return 1_700_000_000.0 + self._mono

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        self._mono += max(0.0, seconds)
        await asyncio.sleep(0)


async def _uncontended() -> float:
    limiter = WeightLimiter(name="bench", capacity=1e12, refill_per_second=1e12, clock=SystemClock())
    for _ in range(1000):
        await limiter.acquire(1.0)
    start = time.perf_counter()
    for _ in range(CALLS):
        await limiter.acquire(1.0)
    return (time.perf_counter() - start) / CALLS * 1e6


async def _contended() -> float:
    limiter = WeightLimiter(name="bench", capacity=1.0, refill_per_second=1.0, clock=_JumpClock())
    per_task = CONTENDED_CALLS // WAITERS

    async def worker() -> None:
        for _ in range(per_task):
            await limiter.acquire(1.0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WAITERS)))
    elapsed = time.perf_counter() - start
    assert limiter.granted == per_task * WAITERS
    return elapsed / (per_task * WAITERS) * 1e6


async def _reference() -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        await asyncio.sleep(0)
    return (time.perf_counter() - start) / CALLS * 1e6


async def run(directory: Path) -> dict[str, Any]:
    return {
        "summary": {
            "limiter_acquire_us": await _uncontended(),
            "limiter_acquire_contended_us": await _contended(),
        },
        "detail": {"asyncio_sleep0_us": await _reference()},
    }
