"""The packed windows the strategies keep per symbol: the last N candles and numbers, nothing older."""

from __future__ import annotations

import statistics

import pytest

from signalbots.events import Candle
from signalbots.signals.model import Direction
from signalbots.strategies._bars import Bar, Bars, Floats, Rows
from signalbots.strategies._stops import atr, candle_stop


def _candle(i: int, high: float, low: float, close: float) -> Candle:
    return Candle("okx", "X/USDT:USDT", 1_700_000_000_000 + i * 300_000, "5m", close, high, low, close, 1.0)


def test_bars_hold_the_last_candles_only_and_give_the_stop_the_same_atr() -> None:
    candles = [_candle(i, 100.0 + i + 0.5 * (i % 3), 99.0 + i, 99.5 + i) for i in range(200)]
    bars = Bars(15)
    for c in candles:
        bars.append(c)
    assert len(bars) == 15  # a day of candles later, still the last 15
    assert bars[0] == Bar(candles[-15].time_ms, candles[-15].high, candles[-15].low, candles[-15].close)
    assert [b.time_ms for b in bars] == [c.time_ms for c in candles[-15:]]
    assert bars[-1].time_ms == candles[-1].time_ms and bars[-2:] == list(bars)[-2:]
    assert atr(bars, 14) == pytest.approx(atr(candles[-15:], 14))
    stop = {"pct": 1.0, "atr_period": 14, "atr_multiple": 1.5, "range_k": 0.0}
    assert candle_stop("atr", Direction.LONG, 250.0, bars, **stop) == (  # type: ignore[arg-type]
        candle_stop("atr", Direction.LONG, 250.0, candles, **stop)  # type: ignore[arg-type]
    )
    with pytest.raises(IndexError):
        bars[15]


def test_a_smaller_window_keeps_the_newest() -> None:
    bars = Bars(15, [_candle(i, 2.0, 1.0, 1.5) for i in range(15)])
    assert [b.time_ms for b in Bars(4, bars)] == [b.time_ms for b in bars][-4:]
    bars.clear()
    assert len(bars) == 0 and list(bars) == []


def test_floats_hold_the_last_numbers_for_the_baseline() -> None:
    values = Floats(48)
    for v in range(1000):
        values.append(float(v))
    assert len(values) == 48 and list(values) == [float(v) for v in range(952, 1000)]
    assert statistics.median(values) == statistics.median(range(952, 1000))
    assert list(Floats(3, values)) == [997.0, 998.0, 999.0]


def test_rows_forget_what_is_older_than_the_window() -> None:
    rows = Rows(3)
    for minute in range(120):
        rows.append(minute * 60_000, 1000.0 + minute, 2.0)
    rows.drop_before(119 * 60_000 - 1_800_000)  # a 30-minute window at the newest sample
    assert len(rows) == 31 and rows.last_time() == 119 * 60_000
    assert next(iter(rows)) == (89 * 60_000, 1089.0, 2.0) and next(reversed(rows)) == (
        119 * 60_000,
        1119.0,
        2.0,
    )
