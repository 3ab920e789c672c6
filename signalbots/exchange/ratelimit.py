"""One weight-aware token bucket per exchange, shared by every strategy.

Units are ccxt's rate-limiter cost units for that exchange (what ccxt passes to ``throttle(cost)``): for
Binance USDⓈ-M that is the exchange's request weight; for the others it is ccxt's multiple of its
``rateLimit`` interval, so the published per-request budgets below are converted with ccxt's own per-request
cost. The bucket starts full, refills continuously, and is only ever lowered by what the exchange reports
(``sync_used``) or stopped altogether by a 429/418 (``pause_until``).

Waiters are served strictly first-come first-served, so a strategy issuing a burst cannot starve the others;
a waiter that is cancelled leaves the queue without taking tokens and hands its turn to the next one.

An exchange's buckets together are its ``Budgets``: the request-weight bucket every request spends, the
separate funding budget (Binance ``fundingRate``/``fundingInfo``) and, where the exchange limits each
endpoint (MEXC) or reports each endpoint's usage (Bybit ``X-Bapi-Limit*``), one bucket per endpoint. The
gateway's admission spends them in ``throttle(cost)``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from signalbots.clock import Clock
from signalbots.exchange.venues import VENUES, ExchangeBudget, venue

# Published budgets and their sources live in each exchange's profile (``signalbots.exchange.venues``).
BUDGETS: dict[str, ExchangeBudget] = {ex: v.budget for ex, v in VENUES.items()}


class WeightLimiter:
    """An async token bucket: FIFO, cancellation-safe, pausable, synced down by the exchange's headers."""

    def __init__(self, *, name: str, capacity: float, refill_per_second: float, clock: Clock) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("capacity and refill_per_second must be positive")
        self.name = name
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock.monotonic()
        self._paused_until: float | None = None
        # Each waiter is a future resolved when it becomes the head of the queue.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.granted = 0.0  # total cost granted since start (for reports)
        self.waited = 0.0  # total seconds spent waiting by all callers

    @classmethod
    def for_exchange(cls, exchange_id: str, *, budget_fraction: float, clock: Clock) -> WeightLimiter:
        """The exchange's published budget × ``budget_fraction`` (in ccxt cost units)."""
        return cls._from_budget(f"{exchange_id}", venue(exchange_id).budget, budget_fraction, clock)

    @classmethod
    def funding_budget(
        cls, exchange_id: str, *, budget_fraction: float, clock: Clock
    ) -> WeightLimiter | None:
        """A separate funding-endpoint bucket (Binance: 1 per request), None where the exchange has none."""
        budget = venue(exchange_id).funding_budget
        if budget is None:
            return None
        return cls._from_budget(f"{exchange_id} funding", budget, budget_fraction, clock)

    @classmethod
    def endpoint_budget(
        cls, exchange_id: str, path: str, *, budget_fraction: float, clock: Clock
    ) -> WeightLimiter | None:
        """One endpoint's own bucket where the exchange limits per endpoint (MEXC), else None."""
        budget = venue(exchange_id).endpoint_budget
        if budget is None:
            return None
        return cls._from_budget(f"{exchange_id} {path}", budget, budget_fraction, clock)

    @classmethod
    def _from_budget(cls, name: str, budget: ExchangeBudget, fraction: float, clock: Clock) -> WeightLimiter:
        if not 0 < fraction <= 1:
            raise ValueError("budget_fraction must be in (0, 1]")
        return cls(
            name=name,
            capacity=budget.units * fraction,
            refill_per_second=budget.per_second * fraction,
            clock=clock,
        )

    # -- state --------------------------------------------------------------------------------------------

    @property
    def tokens(self) -> float:
        self._refill(self._clock.monotonic())
        return self._tokens

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.cancelled())

    @property
    def paused_until(self) -> float | None:
        """The monotonic deadline of a 429/418 pause still in force, else None."""
        if self._paused_until is not None and self._clock.monotonic() >= self._paused_until:
            self._paused_until = None
        return self._paused_until

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.refill_per_second)
            self._stamp = now

    # -- the exchange talks back -----------------------------------------------------------------------------

    def sync_used(self, used: float, *, window_capacity: float) -> None:
        """The exchange says ``used`` of ``window_capacity`` is spent: never believe we have more left."""
        if window_capacity <= 0 or used != used:  # NaN guard: a bad header must not lower us to nothing
            return
        left = max(0.0, window_capacity - used) / window_capacity * self.capacity
        self._refill(self._clock.monotonic())
        self._tokens = min(self._tokens, left)

    def pause_until(self, monotonic_deadline: float) -> None:
        """Nothing passes before ``monotonic_deadline`` (a pause is extended, never shortened)."""
        current = self.paused_until
        if current is None or monotonic_deadline > current:
            self._paused_until = monotonic_deadline

    # -- acquiring ------------------------------------------------------------------------------------------

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` may be spent, then spend it.

        A cost above ``capacity`` waits for a full bucket and leaves it in debt, so it delays whoever follows
        rather than never passing.
        """
        if cost <= 0:
            return
        if not self._waiters and self.paused_until is None:
            self._refill(self._clock.monotonic())
            if self._tokens >= cost:
                self._tokens -= cost
                self.granted += cost
                return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._waiters:
            turn.set_result(None)
        self._waiters.append(turn)
        started = self._clock.monotonic()
        try:
            await turn
            await self._take(cost)
        finally:
            self.waited += self._clock.monotonic() - started
            self._leave(turn)

    async def _take(self, cost: float) -> None:
        need = min(cost, self.capacity)
        while True:
            now = self._clock.monotonic()
            paused = self.paused_until
            if paused is not None:
                await self._clock.sleep(paused - now)
                continue
            self._refill(now)
            if self._tokens >= need - 1e-9:
                self._tokens -= cost
                self.granted += cost
                return
            await self._clock.sleep((need - self._tokens) / self.refill_per_second)

    def _leave(self, turn: asyncio.Future[None]) -> None:
        was_head = bool(self._waiters) and self._waiters[0] is turn
        if turn in self._waiters:
            self._waiters.remove(turn)
        if not turn.done():
            turn.cancel()
        if was_head:
            self._wake_head()

    def _wake_head(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.done() and head.cancelled():
                self._waiters.popleft()
                continue
            if not head.done():
                head.set_result(None)
            return


class Budgets:
    """An exchange's buckets: the request weight (shared by every strategy), the funding-endpoint budget where
    the exchange has one (Binance), and one bucket per endpoint where it limits each (MEXC)."""

    def __init__(
        self, *, exchange_id: str, weight: WeightLimiter, budget_fraction: float, clock: Clock
    ) -> None:
        self.exchange_id = exchange_id
        self.weight = weight
        self.funding = WeightLimiter.funding_budget(exchange_id, budget_fraction=budget_fraction, clock=clock)
        self._venue = venue(exchange_id)
        self._fraction = budget_fraction
        self._clock = clock
        self._endpoints: dict[str, WeightLimiter] = {}
        self._counted: set[str] = set()  # endpoint buckets made from usage headers (requests, not weight)

    @classmethod
    def for_exchange(cls, exchange_id: str, *, budget_fraction: float, clock: Clock) -> Budgets:
        weight = WeightLimiter.for_exchange(exchange_id, budget_fraction=budget_fraction, clock=clock)
        return cls(exchange_id=exchange_id, weight=weight, budget_fraction=budget_fraction, clock=clock)

    @property
    def limiters(self) -> list[WeightLimiter]:
        """The buckets a pause stops (an endpoint's bucket is behind the weight bucket: it waits there)."""
        return [self.weight] + ([self.funding] if self.funding is not None else [])

    async def acquire(self, path: str, cost: float) -> None:
        """Spend ``cost`` of weight, one funding request for a funding endpoint, and ``cost`` of the
        endpoint's own bucket where the exchange limits per endpoint."""
        if self.funding is not None and self._venue.uses_funding_budget(path):
            await self.funding.acquire(1.0)
        await self.weight.acquire(cost)
        endpoint = self._endpoint(path)
        if endpoint is not None:
            # A bucket made from usage headers counts requests, as the headers do.
            await endpoint.acquire(1.0 if path in self._counted else cost)

    def sync_endpoint(self, path: str, used: float, *, window_capacity: float, window: float) -> None:
        """The exchange says ``used`` of ``window_capacity`` requests per ``window`` seconds of ``path`` are
        spent (Bybit's per-endpoint usage headers): that endpoint's own bucket, made from what it says, is
        lowered; the per-IP weight is not."""
        if window_capacity <= 0 or window <= 0:
            return
        limiter = self._endpoints.get(path)
        if limiter is None:
            capacity = window_capacity * self._fraction
            limiter = WeightLimiter(
                name=f"{self.exchange_id} {path}",
                capacity=capacity,
                refill_per_second=capacity / window,
                clock=self._clock,
            )
            self._endpoints[path] = limiter
            self._counted.add(path)
        limiter.sync_used(used, window_capacity=window_capacity)

    def endpoint(self, path: str) -> WeightLimiter | None:
        """The bucket of one endpoint, where the exchange limits it (MEXC) or has reported on it (Bybit)."""
        return self._endpoints.get(path)

    def pause_until(self, monotonic_deadline: float) -> None:
        """A 429/418 stops every request to the exchange, whichever bucket it would spend."""
        for limiter in self.limiters:
            limiter.pause_until(monotonic_deadline)

    def _endpoint(self, path: str) -> WeightLimiter | None:
        limiter = self._endpoints.get(path)
        if self._venue.endpoint_budget is None:
            return limiter
        if limiter is None:
            limiter = WeightLimiter.endpoint_budget(
                self.exchange_id, path, budget_fraction=self._fraction, clock=self._clock
            )
            assert limiter is not None
            self._endpoints[path] = limiter
        return limiter
