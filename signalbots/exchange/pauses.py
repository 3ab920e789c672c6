"""An exchange's pauses: what a rate-limit answer costs, kept across restarts.

A rate-limit answer (the profile's table: ``RateLimitRule``) stops every request to the exchange — every
limiter of it is paused — for ``Retry-After`` when the exchange sends one (it says exactly how long: a
Binance 418 with ``Retry-After: 41`` is 41 s, not the rule's 120), else the rule's documented minimum (Bybit's
403: 10 minutes, each time; a ban still in force answers 403 again), else a doubling backoff (10 s … 5 min).
A ban also stops the exchange's streams (``banned_for``) unless they are on a host apart (the gateway asks
the profile). The pause is kept in the store under ``ban:<exchange>`` so that a restart inside it sends
nothing until it ends.
"""

from __future__ import annotations

from typing import Any

from signalbots.clock import Clock
from signalbots.errors import RateLimited
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.venues import RateLimitRule
from signalbots.logs import shorten
from signalbots.store import Store

BACKOFF_FIRST = 10.0  # seconds of pause after a rate-limit answer without Retry-After, doubling
BACKOFF_MAX = 300.0


class Pauses:
    def __init__(
        self,
        *,
        exchange_id: str,
        limiters: list[WeightLimiter],
        clock: Clock,
        store: Store | None,
        log: Any,
    ) -> None:
        self._exchange_id = exchange_id
        self._limiters = limiters  # the first one's pause is the exchange's
        self._clock = clock
        self._store = store
        self._log = log
        self._backoff = BACKOFF_FIRST
        self._saved = False
        self._ban_until: float | None = None  # monotonic end of a ban (streams stop too), else None
        self._last: tuple[float, float, str] = (0.0, 0.0, "rate limited")  # (started, seconds, meaning)

    def paused_for(self) -> float:
        """Seconds until the exchange may be called again (0 when not paused)."""
        until = self._limiters[0].paused_until
        return 0.0 if until is None else max(0.0, until - self._clock.monotonic())

    def banned_for(self) -> float:
        """Seconds until a ban ends (0 when not banned): streams wait too."""
        if self._ban_until is None:
            return 0.0
        left = self._ban_until - self._clock.monotonic()
        if left <= 0:
            self._ban_until = None
            return 0.0
        return left

    def refusal(self, where: str) -> RateLimited | None:
        """The pause in force as the error of a call it refused (None when the exchange is not paused)."""
        left = self.paused_for()
        if left <= 0:
            return None
        started, seconds, meaning = self._last
        if self._clock.monotonic() == started:
            left = seconds  # the pause just begun: its whole length, unrounded
        banned = self.banned_for() > 0
        return RateLimited(f"{where}: {meaning} (retry after {left:.0f} s)", retry_after=left, banned=banned)

    def answered(self) -> None:
        """The exchange answered a request: the backoff starts over and a saved pause is forgotten."""
        self._backoff = BACKOFF_FIRST
        if self._saved and self._store is not None:
            self._store.delete(f"ban:{self._exchange_id}")
            self._saved = False

    def pause(
        self, retry_after: float | None, rule: RateLimitRule | None, *, where: str, reason: str = ""
    ) -> RateLimited:
        """Pause the exchange for a rate-limit answer; returns the error to raise."""
        banned = rule is not None and rule.ban
        # The exchange's own Retry-After says exactly how long: authoritative. A rule's documented minimum is
        # for answers without one.
        seconds = retry_after
        if seconds is None and rule is not None:
            seconds = rule.min_pause
        if seconds is None:
            seconds, self._backoff = self._backoff, min(self._backoff * 2, BACKOFF_MAX)
        deadline = self._clock.monotonic() + seconds
        self._pause_limiters(deadline)
        if banned:
            self._ban_until = max(self._ban_until or 0.0, deadline)
        meaning = rule.meaning if rule is not None else "rate limited"
        self._last = (self._clock.monotonic(), seconds, meaning)
        if self._store is not None:
            record = {
                "until": self._clock.time() + seconds,
                "banned": banned,
                "reason": shorten(reason or meaning),
            }
            self._store.put(f"ban:{self._exchange_id}", record, now=self._clock.time())
            self._saved = True
        self._log.warning(
            "exchange_paused", seconds=round(seconds, 1), banned=banned, where=where, why=meaning
        )
        return RateLimited(
            f"{where}: {meaning} (retry after {seconds:.0f} s)", retry_after=seconds, banned=banned
        )

    def restore(self) -> None:
        """A pause saved by the previous run still in force: keep to it."""
        if self._store is None:
            return
        saved = self._store.get(f"ban:{self._exchange_id}")
        if not isinstance(saved, dict):
            return
        left = float(saved.get("until", 0.0)) - self._clock.time()
        if left <= 0:
            self._store.delete(f"ban:{self._exchange_id}")
            return
        deadline = self._clock.monotonic() + left
        self._pause_limiters(deadline)
        if saved.get("banned"):
            self._ban_until = deadline
        self._saved = True
        self._log.warning("exchange_pause_restored", seconds=round(left, 1), reason=saved.get("reason", ""))

    async def wait_out(self) -> None:
        while (left := self.paused_for()) > 0:
            await self._clock.sleep(left)

    def _pause_limiters(self, deadline: float) -> None:
        for limiter in self._limiters:
            limiter.pause_until(deadline)
