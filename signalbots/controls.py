"""Operator switches that survive a restart: paused strategies and muted alerts.

``/pause volume`` and ``/mute 2h`` are decisions the operator expects to hold until they undo them, so they
live in the store's key/value table (committed on write) and are read from it on every question; a new
``Controls`` on the same database sees them. Mute is wall-clock based (``clock.time()``) because it has
to mean the same thing after a restart.

Listeners (``add_listener``) are called after every change, e.g. the outbox wakes to send the digest when
a mute is lifted early.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from signalbots.clock import Clock
from signalbots.store import Store

_PAUSE = "controls.pause."
_MUTE = "controls.mute"


class Controls:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []
        self._log = structlog.get_logger(__name__)

    # listeners ---------------------------------------------------------------------------------------
    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # pause -------------------------------------------------------------------------------------------
    def pause(self, strategy: str) -> bool:
        """Pause ``strategy`` until resumed; False when it already was."""
        if self.is_paused(strategy):
            return False
        self._store.put(_PAUSE + strategy, {"since": self._clock.time()}, now=self._clock.time())
        self._log.info("strategy_paused", strategy=strategy)
        self._changed()
        return True

    def resume(self, strategy: str) -> bool:
        """False when ``strategy`` was not paused."""
        if not self.is_paused(strategy):
            return False
        self._store.delete(_PAUSE + strategy)
        self._log.info("strategy_resumed", strategy=strategy)
        self._changed()
        return True

    def is_paused(self, strategy: str) -> bool:
        return self._store.get(_PAUSE + strategy) is not None

    def paused(self) -> list[str]:
        return sorted(key.removeprefix(_PAUSE) for key in self._store.items(_PAUSE))

    # mute --------------------------------------------------------------------------------------------
    def mute(self, seconds: float) -> float:
        """Hold alerts for ``seconds`` from now (replacing any mute); returns the wall time it ends."""
        if seconds <= 0:
            raise ValueError("a mute needs a positive duration")
        until = self._clock.time() + seconds
        self._store.put(_MUTE, {"until": until}, now=self._clock.time())
        self._log.info("alerts_muted", until=until, seconds=seconds)
        self._changed()
        return until

    def unmute(self) -> bool:
        """End the mute now; False when there was none."""
        muted = self.is_muted()
        if self._store.get(_MUTE) is not None:
            self._store.delete(_MUTE)
        if muted:
            self._log.info("alerts_unmuted")
            self._changed()
        return muted

    def muted_until(self) -> float | None:
        """The wall time the mute ends, or None when alerts are not muted."""
        value = self._store.get(_MUTE)
        if not isinstance(value, dict):
            return None
        until = value.get("until")
        if not isinstance(until, int | float) or until <= self._clock.time():
            return None
        return float(until)

    def is_muted(self) -> bool:
        return self.muted_until() is not None
