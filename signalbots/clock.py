"""Time, injected.

Every component that needs the time takes a ``clock`` so tests and the demo move it explicitly.
``time()`` is UTC wall time in seconds (for event times, day boundaries, messages);
``monotonic()`` is for durations and deadlines; ``sleep()`` is how a task waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...
    def monotonic(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to (tests, simulated replays).

    ``sleep`` parks the caller until ``advance`` moves the clock past its deadline, so a test
    says exactly how much time passes and never waits for real time.
    """

    def __init__(self, *, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    @property
    def sleepers(self) -> int:
        """How many tasks are parked in ``sleep`` (lets a test wait until a task is idle)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._now += seconds
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def run_for(self, seconds: float, *, step: float = 1.0) -> None:
        """Advance ``seconds`` in ``step`` increments, letting woken tasks run between steps."""
        remaining = seconds
        while remaining > 1e-12:
            for _ in range(5):  # let tasks run up to their next sleep before time moves
                await asyncio.sleep(0)
            dt = min(step, remaining)
            self.advance(dt)
            remaining -= dt
        for _ in range(5):
            await asyncio.sleep(0)


class ScaledClock:
    """Real time running ``speed`` times faster, from ``start`` (the demo's simulated market).

    Everything that waits on it (polls, heartbeats, backoffs) waits ``speed`` times less real time, so an
    hour of market runs in minutes while every component keeps its production settings.
    """

    def __init__(self, *, speed: float, start: float | None = None) -> None:
        self.speed = speed
        self._real0 = _time.monotonic()
        self._start = _time.time() if start is None else start

    def _elapsed(self) -> float:
        return (_time.monotonic() - self._real0) * self.speed

    def time(self) -> float:
        return self._start + self._elapsed()

    def monotonic(self) -> float:
        return self._elapsed()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
