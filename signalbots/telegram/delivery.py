"""Whether Telegram answers, and how often to ask while it does not.

A trade signal decays in minutes, so an outage must cost little and end fast. While requests fail with
network errors, timeouts or 5xx answers, Telegram is *down* for every chat: one request at a time probes it
(the head message of whichever chat asks first), spaced 1, 2, 4 s and then every ``cap`` seconds however
long the outage lasts. The first probe Telegram answers ends the outage for every chat at once, so pending
messages flow within ``cap`` seconds of Telegram answering again, and an outage of any length costs at most
one request per ``cap`` seconds. No message counts attempts toward giving up: only a permanent answer
(chat not found, bot blocked) dead-letters one.

Any answer from Telegram — a 429 or a 400 included — proves it reachable; a 429's ``retry_after`` is then
the chat's own wait (``not_before`` of its row), not an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from signalbots.clock import Clock


async def first_of(clock: Clock, *waits: Awaitable[Any], seconds: float | None = None) -> None:
    """Until the first of ``waits`` completes or ``seconds`` pass on ``clock``."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    if seconds is not None:
        tasks.append(asyncio.ensure_future(clock.sleep(max(0.0, seconds))))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w, t in zip([*waits, None], tasks, strict=False):
            if t is not w and not t.done():  # cancel only what was started here
                t.cancel()


class Reachability:
    """The outage state shared by every chat's delivery loop."""

    def __init__(self, *, clock: Clock, initial: float = 1.0, cap: float = 5.0) -> None:
        self._clock = clock
        self._initial = initial
        self.cap = cap
        self.down_since: float | None = None  # monotonic
        self._failures = 0  # failed probes in this outage
        self._next_probe = 0.0  # monotonic
        self._probing = False
        self._changed = asyncio.Event()

    @property
    def up(self) -> bool:
        return self.down_since is None

    def wait_time(self) -> float | None:
        """Seconds until a chat may send: 0 when up or when it may probe now; None while a probe is out."""
        if self.up:
            return 0.0
        if self._probing:
            return None
        return max(0.0, self._next_probe - self._clock.monotonic())

    def begin(self) -> bool:
        """Take the probe slot if Telegram is down (True: the caller's request is the probe)."""
        if self.up:
            return False
        self._probing = True
        return True

    async def changed(self) -> None:
        """Until the state changes (a probe ended, the outage ended, the schedule was hurried)."""
        await self._changed.wait()

    def answered(self) -> float | None:
        """Telegram answered a request; returns how long it was down (None: it was up)."""
        self._probing = False
        down = self.down_since
        self.down_since = None
        self._failures = 0
        self._notify()
        return None if down is None else self._clock.monotonic() - down

    def failed(self, *, probe: bool) -> bool:
        """A request failed transiently; True when this starts an outage.

        Failures of requests that were already in flight when the outage began do not lengthen the wait.
        """
        now = self._clock.monotonic()
        started = self.down_since is None
        if started:
            self.down_since = now
        if started or probe:
            self._failures += 1
            self._next_probe = now + min(self.cap, self._initial * 2.0 ** min(self._failures - 1, 30))
        if probe:
            self._probing = False
        self._notify()
        return started

    def abandoned(self) -> None:
        """A probe ended without an answer either way (cancelled): let another chat probe."""
        self._probing = False
        self._notify()

    def hurry(self, cap: float) -> float:
        """Probe now and then every ``cap`` seconds (the shutdown flush: its deadline is for delivering);
        returns the previous cap, to restore."""
        previous, self.cap = self.cap, min(self.cap, cap)
        self._next_probe = min(self._next_probe, self._clock.monotonic())
        self._notify()
        return previous

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
