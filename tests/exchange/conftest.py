"""Fixtures shared by the gateway tests: a manual clock, fresh metrics, a real store in ``tmp_path``, and
``make`` — a Gateway on the test module's own ``sim`` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from signalbots.clock import ManualClock
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings
from signalbots.sim.exchange import ExchangeSim
from signalbots.store import Store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_700_000_000.0)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(path=tmp_path / "state.db") as s:
        yield s


@pytest.fixture
def breakers(clock: ManualClock, metrics: Metrics) -> BreakerRegistry:
    return BreakerRegistry(settings=BreakerSettings(failures=5, cooldown=30.0), clock=clock, metrics=metrics)


@pytest.fixture
def make(
    sim: ExchangeSim, clock: ManualClock, metrics: Metrics, breakers: BreakerRegistry, store: Store
) -> Callable[..., Gateway]:
    """A new Gateway (as after a daemon restart: a fresh limiter) on the shared store."""

    def build(exchange_id: str = "binanceusdm", *, timeout: float = 2.0, **overrides: Any) -> Gateway:
        settings = sim.settings(exchange_id, request_timeout=timeout, **overrides)
        limiter = WeightLimiter.for_exchange(
            exchange_id, budget_fraction=settings.budget_fraction, clock=clock
        )
        return Gateway(
            exchange_id=exchange_id,
            settings=settings,
            limiter=limiter,
            breakers=breakers,
            clock=clock,
            metrics=metrics,
            store=store,
        )

    return build
