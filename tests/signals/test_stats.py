"""Statistics in R: worked numbers and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalbots.signals.stats import ALL, Stats, by_strategy, compute, max_drawdown


def test_worked_example() -> None:
    s = compute([2.0, -1.0, -1.0, 2.0, 0.0, -1.0])
    assert (s.count, s.wins, s.losses) == (6, 2, 3)
    assert s.hit_rate == pytest.approx(1 / 3)  # the scratch (0R) is not a hit
    assert s.avg_r == pytest.approx(1 / 6) and s.expectancy == pytest.approx(1 / 6)
    assert (s.avg_win_r, s.avg_loss_r) == (2.0, -1.0)
    assert (s.best_r, s.worst_r, s.total_r) == (2.0, -1.0, 1.0)
    assert s.max_drawdown_r == 2.0  # equity 2, 1, 0: two R below the peak


def test_drawdown_counts_from_zero_and_from_later_peaks() -> None:
    assert max_drawdown([-1.0, -1.0, 3.0]) == 2.0
    assert max_drawdown([1.0, 2.0, -0.5, 4.0, -3.0, -1.5]) == 4.5
    assert max_drawdown([1.0, 1.0]) == 0.0


def test_empty_and_non_finite() -> None:
    assert compute([]) == Stats.empty()
    with pytest.raises(ValueError):
        compute([1.0, math.nan])


def test_by_strategy_adds_the_total() -> None:
    out = by_strategy([("volume", 2.0), ("funding", -1.0), ("volume", -1.0)])
    assert set(out) == {"volume", "funding", ALL}
    assert out["volume"].total_r == 1.0 and out["funding"].count == 1 and out[ALL].count == 3
    assert out[ALL].max_drawdown_r == 2.0  # in resolution order: +2, −1, −1


finite_r = st.floats(min_value=-5, max_value=5, allow_nan=False)


@given(st.lists(finite_r, max_size=60))
def test_properties(rs: list[float]) -> None:
    s = compute(rs)
    assert s.wins + s.losses <= s.count == len(rs)
    assert 0.0 <= s.hit_rate <= 1.0
    assert s.expectancy == pytest.approx(s.avg_r, abs=1e-9)
    assert 0.0 <= s.max_drawdown_r <= sum(-r for r in rs if r < 0) + 1e-9
    if rs:
        assert s.worst_r <= s.avg_r + 1e-9 and s.avg_r <= s.best_r + 1e-9
