"""Every signal kind draws a real PNG of the promised size, showing the data that made it fire."""

from __future__ import annotations

import pytest

from signalbots.charts.draw import draw
from signalbots.charts.history import MarketHistory
from signalbots.charts.signal_chart import for_signal
from signalbots.charts.spec import for_market, resample
from signalbots.signals.model import Direction

from .conftest import CASCADE_FACTS, END, EX, SPIKE_FACTS, SYM, candidate
from .png import decode


def test_volume_spike_chart_holds_the_candles_up_to_the_spike_and_the_baseline(
    history: MarketHistory,
) -> None:
    spec = for_signal(candidate("spike", facts=SPIKE_FACTS), history)
    assert len(spec.candles) == 60 and spec.candles[-1].close_time_ms == END
    assert spec.highlight_ms == spec.candles[-1].time_ms
    assert spec.baseline_median == SPIKE_FACTS["baseline_median_usd"]
    assert spec.levels is not None and spec.levels.targets == (0.62, 0.63) and spec.levels.stop == 0.60
    png = decode(draw(spec))
    assert (png.width, png.height) == (1000, 640)


def test_cascade_chart_holds_only_the_window_prints(history: MarketHistory) -> None:
    c = candidate("cascade", facts=CASCADE_FACTS, time_ms=END - 50_000)
    spec = for_signal(c, history)
    assert spec.window == (END - 350_000, END - 50_000)
    assert spec.prints and all(END - 350_000 < p.time_ms <= END - 50_000 for p in spec.prints)
    assert len(spec.prints) == 11  # the twelfth print came after the signal
    assert {p.side.value for p in spec.prints} == {"long", "short"}
    assert decode(draw(spec)).width == 1000


def test_funding_extreme_chart_has_the_history_the_threshold_and_the_mark(history: MarketHistory) -> None:
    c = candidate(
        "extreme",
        direction=Direction.SHORT,
        stop=0.62,
        targets=(0.60, 0.59),
        time_ms=END - 600_000,
        facts={"rate_8h": 0.0012, "apr": 1.3, "threshold_8h": 0.001, "mark_price": 0.61},
    )
    spec = for_signal(c, history)
    (leg,) = spec.funding
    assert len(leg.points) > 50 and leg.points[-1][0] <= END - 600_000
    assert spec.threshold_8h == 0.001
    assert decode(draw(spec)).height == 640


def test_carry_spread_chart_shows_both_legs_normalised_per_8h(history: MarketHistory) -> None:
    c = candidate(
        "spread",
        exchange="binanceusdm+bybit",
        symbol="XRP long bybit XRP/USDT:USDT / short binanceusdm XRP/USDT:USDT",
        direction=Direction.NONE,
        stop=None,
        targets=(),
        facts={"apr_spread": 0.9, "apr_long_leg": -0.2, "apr_short_leg": 0.7},
    )
    spec = for_signal(c, history)
    legs = {leg.label: leg for leg in spec.funding}
    assert set(legs) == {f"binanceusdm {SYM}", f"bybit {SYM}"}
    # bybit's 4h rate counts twice per 8h
    assert legs[f"bybit {SYM}"].points[-1][1] == pytest.approx(2 * (0.0001 - 99 * 0.000005))
    assert spec.levels is None
    assert decode(draw(spec)).width == 1000


def test_market_chart_resamples_to_the_asked_timeframe(history: MarketHistory) -> None:
    spec = for_market(history, EX, SYM, "15m")
    assert spec is not None and {c.timeframe for c in spec.candles} == {"15m"}
    five = history.candles(EX, SYM, "5m")
    assert spec.candles[-1].close == five[-1].close
    assert spec.candles[-1].high == max(c.high for c in five[-3:])
    assert decode(draw(spec)).height == 640
    with pytest.raises(ValueError, match="cannot build 7m"):
        resample(five, "7m")


def test_a_signal_with_no_data_held_still_draws(history: MarketHistory) -> None:
    spec = for_signal(candidate("spike", symbol="NEW/USDT:USDT", facts=SPIKE_FACTS), MarketHistory())
    assert spec.candles == ()
    assert decode(draw(spec)).width == 1000


def test_outcome_chart_shows_the_path_from_the_signal_to_its_exit(history: MarketHistory) -> None:
    from signalbots.charts.spec import for_outcome
    from signalbots.signals.model import Signal, Status

    c = candidate("spike", time_ms=END - 20 * 300_000, facts=SPIKE_FACTS)
    sig = Signal(id=1, candidate=c, status=Status.STOPPED, resolved_ms=END - 5 * 300_000, exit_price=0.60)
    sig.r_multiple = -1.0
    spec = for_outcome(sig, history)
    assert spec.candles[0].time_ms == c.time_ms - 12 * 300_000
    assert spec.candles[-1].time_ms < END - 5 * 300_000
    assert spec.exit == (END - 5 * 300_000, 0.60)
    assert "stopped -1.00R" in spec.title
    png = decode(draw(spec))
    assert (png.width, png.height) == (800, 480)
