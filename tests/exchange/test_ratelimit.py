"""The shared limiter never spends more than the budget allows, is fair, and survives cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalbots.clock import ManualClock
from signalbots.exchange.ratelimit import Budgets, WeightLimiter
from signalbots.exchange.venues import venue

STEP = 0.05


async def drain() -> None:
    for _ in range(12):
        await asyncio.sleep(0)


async def step(clock: ManualClock, seconds: float = STEP) -> None:
    clock.advance(seconds)
    await drain()


async def step_until(clock: ManualClock, done: Callable[[], bool], *, within: float = 200.0) -> None:
    """Move the clock in small steps until ``done()``; fail (rather than hang) after ``within`` seconds."""
    deadline = clock.monotonic() + within
    while not done():
        assert clock.monotonic() < deadline, "waiters still blocked"
        await step(clock)


def limiter(clock: ManualClock, capacity: float = 10.0, refill: float = 2.0) -> WeightLimiter:
    return WeightLimiter(name="test", capacity=capacity, refill_per_second=refill, clock=clock)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


# -- properties (acceptance 6) ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=3.0), st.floats(min_value=0.1, max_value=10.0)),
        min_size=1,
        max_size=14,
    ),
    syncs=st.lists(st.tuples(st.floats(0.0, 20.0), st.floats(0.0, 2400.0)), max_size=4),
)
def test_never_grants_more_than_capacity_plus_refill(
    arrivals: list[tuple[float, float]], syncs: list[tuple[float, float]]
) -> None:
    """Over every window [t0, t1], granted cost ≤ capacity + refill × (t1 − t0) (bucket starts full)."""
    capacity, refill = 10.0, 2.0

    async def scenario() -> None:
        clock = ManualClock()
        lim = limiter(clock, capacity, refill)
        grants: list[tuple[float, float]] = []

        async def one(cost: float) -> None:
            await lim.acquire(cost)
            grants.append((clock.monotonic(), cost))

        schedule = []
        t = 0.0
        for gap, cost in arrivals:
            t += gap
            schedule.append((t, cost))
        pending_syncs = sorted(syncs)
        tasks: list[asyncio.Task[None]] = []
        while len(grants) < len(arrivals):
            now = clock.monotonic()
            while schedule and schedule[0][0] <= now:
                tasks.append(asyncio.create_task(one(schedule.pop(0)[1])))
            while pending_syncs and pending_syncs[0][0] <= now:
                lim.sync_used(pending_syncs.pop(0)[1], window_capacity=2400.0)
            await drain()
            assert clock.monotonic() < 500.0, "waiters still blocked"
            if len(grants) < len(arrivals):
                await step(clock)
        await asyncio.gather(*tasks)
        for i, (t0, _) in enumerate(grants):
            total = 0.0
            for t1, cost in grants[i:]:
                total += cost
                assert total <= capacity + refill * (t1 - t0) + 1e-6
        assert sum(c for _, c in grants) <= capacity + refill * grants[-1][0] + 1e-6

    run(scenario)


@settings(max_examples=60, deadline=None)
@given(costs=st.lists(st.floats(min_value=0.5, max_value=10.0), min_size=2, max_size=12))
def test_waiters_are_served_in_arrival_order(costs: list[float]) -> None:
    """A small request never overtakes a larger one that asked first (fair between strategies)."""

    async def scenario() -> None:
        clock = ManualClock()
        lim = limiter(clock)
        await lim.acquire(10.0)  # empty bucket: everyone below has to queue
        served: list[int] = []

        async def one(i: int, cost: float) -> None:
            await lim.acquire(cost)
            served.append(i)

        tasks = []
        for i, cost in enumerate(costs):
            tasks.append(asyncio.create_task(one(i, cost)))
            await drain()
        await step_until(clock, lambda: len(served) == len(costs))
        await asyncio.gather(*tasks)
        assert served == list(range(len(costs)))

    run(scenario)


@settings(max_examples=60, deadline=None)
@given(
    # Costs up to half the capacity: a head woken one clock step late keeps its surplus (a full bucket
    # would clip it), so every survivor's grant time is exact to within one step.
    waiters=st.lists(
        st.tuples(st.floats(min_value=0.5, max_value=5.0), st.booleans()), min_size=1, max_size=10
    )
)
def test_cancelled_waiter_consumes_nothing_and_blocks_nobody(waiters: list[tuple[float, bool]]) -> None:
    """Survivor k of an empty bucket is served exactly when the survivors' own costs have refilled."""
    refill = 2.0

    async def scenario() -> None:
        clock = ManualClock()
        lim = limiter(clock, 10.0, refill)
        await lim.acquire(10.0)
        served: dict[int, float] = {}

        async def one(i: int, cost: float) -> None:
            await lim.acquire(cost)
            served[i] = clock.monotonic()

        tasks = []
        for i, (cost, _) in enumerate(waiters):
            tasks.append(asyncio.create_task(one(i, cost)))
            await drain()
        # Cancel while queued — the head is asleep in the clock, waiting for its tokens.
        for task, (_, cancel) in zip(tasks, waiters, strict=True):
            if cancel:
                task.cancel()
        await drain()
        survivors = [i for i, (_, cancel) in enumerate(waiters) if not cancel]
        await step_until(clock, lambda: len(served) == len(survivors))
        await asyncio.gather(*tasks, return_exceptions=True)
        assert sorted(served) == survivors
        cumulative = 0.0
        for i in survivors:
            cumulative += waiters[i][0]
            expected = cumulative / refill
            assert expected - 1e-6 <= served[i] <= expected + 2 * STEP
        assert lim.granted == pytest.approx(10.0 + cumulative)
        assert lim.waiting == 0

    run(scenario)


# -- behaviour ------------------------------------------------------------------------------------------


async def test_cancelled_head_while_paused_hands_over_to_next() -> None:
    clock = ManualClock()
    lim = limiter(clock)
    lim.pause_until(30.0)
    order: list[str] = []

    async def one(name: str) -> None:
        await lim.acquire(1.0)
        order.append(name)

    a = asyncio.create_task(one("a"))
    b = asyncio.create_task(one("b"))
    await drain()
    a.cancel()
    await drain()
    assert order == []
    await clock.run_for(29.0)
    assert order == []
    await clock.run_for(1.0)
    await drain()
    assert order == ["b"]
    with pytest.raises(asyncio.CancelledError):
        await a
    assert b.done()


async def test_pause_blocks_everything_until_deadline_and_is_never_shortened() -> None:
    clock = ManualClock()
    lim = limiter(clock)
    lim.pause_until(120.0)
    lim.pause_until(60.0)  # a later, shorter Retry-After must not cut a ban short
    assert lim.paused_until == 120.0
    done = asyncio.create_task(lim.acquire(1.0))
    await clock.run_for(119.0, step=1.0)
    assert not done.done()
    await clock.run_for(1.0)
    await drain()
    assert done.done()
    assert lim.paused_until is None


async def test_sync_used_lowers_tokens_in_proportion_and_never_raises_them() -> None:
    clock = ManualClock()
    lim = limiter(clock, capacity=1200.0, refill=20.0)
    lim.sync_used(1800.0, window_capacity=2400.0)  # a quarter left on the exchange → a quarter of ours
    assert lim.tokens == pytest.approx(300.0)
    lim.sync_used(0.0, window_capacity=2400.0)  # a fresh window on the exchange does not mint tokens
    assert lim.tokens == pytest.approx(300.0)
    lim.sync_used(2400.0, window_capacity=2400.0)
    assert lim.tokens == 0.0
    waiter = asyncio.create_task(lim.acquire(40.0))
    await clock.run_for(1.9, step=0.1)
    assert not waiter.done()
    await clock.run_for(0.2, step=0.1)
    await drain()
    assert waiter.done()


async def test_uncontended_acquire_does_not_wait() -> None:
    clock = ManualClock()
    lim = limiter(clock)
    for _ in range(10):
        await lim.acquire(1.0)
    assert lim.tokens == pytest.approx(0.0)
    assert lim.waited == 0.0


def test_published_budgets_times_fraction() -> None:
    clock = ManualClock()
    binance = WeightLimiter.for_exchange("binanceusdm", budget_fraction=0.5, clock=clock)
    assert (binance.capacity, binance.refill_per_second) == (1200.0, 20.0)
    funding = WeightLimiter.funding_budget("binanceusdm", budget_fraction=0.5, clock=clock)
    assert funding is not None and funding.capacity == 250.0
    assert funding.refill_per_second == pytest.approx(250.0 / 300.0)
    assert WeightLimiter.funding_budget("bybit", budget_fraction=0.5, clock=clock) is None
    for exchange_id in ("bybit", "okx", "mexc"):
        assert WeightLimiter.for_exchange(exchange_id, budget_fraction=1.0, clock=clock).capacity > 0
    with pytest.raises(ValueError, match="kraken"):
        WeightLimiter.for_exchange("kraken", budget_fraction=0.5, clock=clock)


def test_binance_costs_corrected_where_ccxt_undercounts() -> None:
    binance = venue("binanceusdm")
    assert binance.cost("premiumIndex", {}, 1) == 10
    assert binance.cost("premiumIndex", {"symbol": "BTCUSDT"}, 1) == 1
    assert binance.cost("ticker/24hr", {}, 40) == 40
    assert binance.cost("klines", {"symbol": "BTCUSDT", "limit": 99}, 1) == 1
    assert venue("bybit").cost("v5/market/tickers", {}, 5) == 5
    assert binance.uses_funding_budget("fundingInfo")
    assert not binance.uses_funding_budget("premiumIndex")


async def test_funding_requests_also_spend_the_funding_bucket() -> None:
    clock = ManualClock()
    budgets = Budgets.for_exchange("binanceusdm", budget_fraction=0.01, clock=clock)
    assert budgets.funding is not None
    for _ in range(5):  # 500 × 0.01 = 5 funding requests, then a wait of 300 s / 5 per request
        await budgets.acquire("fundingInfo", 1.0)
    blocked = asyncio.create_task(budgets.acquire("fundingInfo", 1.0))
    free = asyncio.create_task(budgets.acquire("klines", 1.0))
    await drain()
    assert free.done() and not blocked.done()
    await clock.run_for(60.0)
    await drain()
    assert blocked.done()
    budgets.pause_until(clock.monotonic() + 10)
    assert budgets.funding.paused_until is not None


async def test_an_endpoint_reported_spent_waits_for_its_own_window_and_no_other() -> None:
    """Bybit's X-Bapi-Limit* describe one endpoint's per-second window (issue 19): a request to that endpoint
    waits for it to refill; the IP's weight and every other endpoint are untouched."""
    clock = ManualClock()
    budgets = Budgets.for_exchange("bybit", budget_fraction=0.5, clock=clock)
    full = budgets.weight.tokens
    budgets.sync_endpoint("v5/market/tickers", 120.0, window_capacity=120.0, window=1.0)
    assert budgets.weight.tokens == full  # the per-IP bucket believes nothing new
    blocked = asyncio.create_task(budgets.acquire("v5/market/tickers", 5.0))
    free = asyncio.create_task(budgets.acquire("v5/market/kline", 5.0))
    await drain()
    assert free.done() and not blocked.done()
    await clock.run_for(1.0)  # one request of the endpoint's 60 a second (120 × 0.5)
    await drain()
    assert blocked.done()
