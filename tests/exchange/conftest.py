"""Fixtures shared by the gateway tests: a manual clock, fresh metrics, a real store in ``tmp_path``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signalbots.clock import ManualClock
from signalbots.metrics import Metrics
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
