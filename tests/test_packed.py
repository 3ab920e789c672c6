"""The packed windows the strategies and the desk keep per symbol: the last N numbers, nothing older."""

from __future__ import annotations

import statistics

from signalbots.packed import Floats, Rows


def test_floats_hold_the_last_numbers_only() -> None:
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
    assert next(iter(rows)) == (89 * 60_000, 1089.0, 2.0)
    assert next(reversed(rows)) == (119 * 60_000, 1119.0, 2.0)


def test_rows_give_each_column_oldest_first() -> None:
    rows = Rows(3)
    for minute in range(5):
        rows.append(minute * 60_000, 10.0 - minute, 100.0 + minute)
    times, bases, prices = rows.columns()
    assert list(times) == [0.0, 60_000.0, 120_000.0, 180_000.0, 240_000.0]
    assert list(bases) == [10.0, 9.0, 8.0, 7.0, 6.0] and list(prices) == [100.0, 101.0, 102.0, 103.0, 104.0]
