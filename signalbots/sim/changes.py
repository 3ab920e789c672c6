"""What a test waits on instead of sleeping: a signal raised whenever a simulator's state changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Changes:
    """``notify`` wakes every ``until`` waiter, which re-checks its predicate (set, then replaced)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        changed, self._event = self._event, asyncio.Event()
        changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._event.wait()
