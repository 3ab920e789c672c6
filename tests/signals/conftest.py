"""Fixtures: a desk and a tracker on a real Store in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from signals_support import Bench, RecordingNotifier, make_settings

from signalbots.clock import ManualClock
from signalbots.metrics import Metrics
from signalbots.store import Store


@pytest.fixture
def bench_factory(tmp_path: Path) -> Iterator[Callable[..., Bench]]:
    made: list[Bench] = []

    def make(*, costs: bool = False, **risk: Any) -> Bench:
        path = tmp_path / f"state{len(made)}.sqlite"
        store = Store(path=path)
        store.open()
        b = Bench(
            path, make_settings(costs=costs, **risk), RecordingNotifier(), Metrics(), ManualClock(), store
        )
        made.append(b)
        return b

    yield make
    for b in made:
        b.store.close()


@pytest.fixture
def bench(bench_factory: Callable[..., Bench]) -> Bench:
    return bench_factory()
