"""Outcomes filled as an exchange would fill them: hand-computed cases (issue 23, acceptance 1).

LONG entry 100, stop 98, T1 102, T2 104 (1R = 2.0); fees and slippage are zero on this bench, so net = gross.
"""

from __future__ import annotations

from collections.abc import Callable

from signals_support import T0, Bench, candidate

from signalbots.events import FundingSnapshot
from signalbots.notifier import Kind
from signalbots.signals.model import Direction, Status

EX, XRP = "binanceusdm", "XRP/USDT:USDT"
M5 = 300_000


def test_a_fifty_percent_gap_past_target_two_books_exactly_two_r(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    [sig] = tracker.on_price(EX, XRP, T0, 151.0, 150.0, 150.5, end_ms=T0 + M5, open_price=150.0)
    assert sig.status is Status.TARGET2 and sig.exit_price == 104.0
    assert sig.gross_r is not None and round(sig.gross_r, 2) == 2.00


def test_a_candle_opening_below_a_longs_stop_exits_at_that_open(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    [sig] = tracker.on_price(EX, XRP, T0, 96.0, 94.0, 95.0, end_ms=T0 + M5, open_price=96.0)
    assert sig.status is Status.STOPPED and sig.exit_price == 96.0 and sig.gross_r == -2.0


def test_a_ticker_sample_beyond_target_two_exits_at_target_two(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    [sig] = tracker.on_price(EX, XRP, T0 + 60_000, 150.0, 150.0, 150.0)
    assert sig.status is Status.TARGET2 and sig.exit_price == 104.0 and sig.gross_r == 2.0


def test_a_short_sample_beyond_its_stop_exits_at_the_stop(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate(direction=Direction.SHORT)])
    [sig] = tracker.on_price(EX, XRP, T0 + 60_000, 110.0, 110.0, 110.0)
    assert sig.status is Status.STOPPED and sig.exit_price == 102.0 and sig.gross_r == -1.0


def test_stop_and_target_one_in_one_candle_is_the_stop(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    [sig] = tracker.on_price(EX, XRP, T0, 102.5, 97.5, 100.0, end_ms=T0 + M5, open_price=100.0)
    assert sig.status is Status.STOPPED and sig.exit_price == 98.0 and sig.gross_r == -1.0


def test_the_part_of_the_signals_own_candle_before_the_signal_is_ignored(bench: Bench) -> None:
    noon, signal_at = T0 + 12 * 3_600_000, T0 + 12 * 3_600_000 + 200_000  # 12:00 candle, signal 12:03:20
    tracker = bench.tracker()
    bench.desk().consider([candidate(time_ms=signal_at)])
    # the 12:00 candle's low (97, below the stop) came before 12:03:20: it must not stop the signal
    assert tracker.on_price(EX, XRP, noon, 101.0, 97.0, 101.0, end_ms=noon + M5, open_price=99.0) == []
    assert [s.status for s in tracker.open_signals()] == [Status.OPEN]


def test_the_close_of_the_signals_own_candle_comes_after_the_signal_and_counts(bench: Bench) -> None:
    noon, signal_at = T0 + 12 * 3_600_000, T0 + 12 * 3_600_000 + 200_000
    tracker = bench.tracker()
    bench.desk().consider([candidate(time_ms=signal_at)])
    [sig] = tracker.on_price(EX, XRP, noon, 105.0, 97.0, 104.5, end_ms=noon + M5, open_price=99.0)
    assert sig.status is Status.TARGET2 and sig.exit_price == 104.0 and sig.resolved_ms == noon + M5


def test_finer_candles_after_the_signal_resolve_inside_the_coarse_candle(bench: Bench) -> None:
    noon, signal_at = T0 + 12 * 3_600_000, T0 + 12 * 3_600_000 + 200_000
    tracker = bench.tracker()
    bench.desk().consider([candidate(time_ms=signal_at)])
    m1 = 60_000
    # 12:03 1m candle holds the signal: only its close (99.5) counts; the 12:04 one reaches the stop
    assert tracker.on_price(EX, XRP, noon + 3 * m1, 100.0, 97.0, 99.5, end_ms=noon + 4 * m1) == []
    [sig] = tracker.on_price(EX, XRP, noon + 4 * m1, 99.5, 97.9, 98.5, end_ms=noon + 5 * m1, open_price=99.5)
    assert sig.status is Status.STOPPED and sig.exit_price == 98.0 and sig.resolved_ms == noon + 5 * m1


def test_breakeven_stop_gapped_through_exits_at_the_open(bench: Bench) -> None:
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    assert tracker.on_price(EX, XRP, T0, 102.5, 100.0, 102.0, end_ms=T0 + M5, open_price=100.0) == []
    [sig] = tracker.on_price(EX, XRP, T0 + M5, 99.0, 98.5, 99.0, end_ms=T0 + 2 * M5, open_price=99.0)
    assert sig.status is Status.TARGET1 and sig.exit_price == 99.0 and sig.gross_r == -0.5


def test_with_mark_trigger_the_mark_price_stops_and_last_prices_only_fill_targets(
    bench_factory: Callable[..., Bench],
) -> None:
    bench = bench_factory(stop_trigger="mark")
    tracker = bench.tracker()
    bench.desk().consider([candidate()])
    # a last-price wick through the stop: the mark did not follow, so no stop
    assert tracker.on_price(EX, XRP, T0, 100.5, 97.0, 99.0, end_ms=T0 + M5, open_price=100.0) == []
    [sig] = tracker.on_funding(FundingSnapshot(EX, XRP, T0 + M5 + 1, 0.0001, 8.0, T0 + 8 * 3_600_000, 97.9))
    assert sig.status is Status.STOPPED and sig.exit_price == 98.0
    [reply] = bench.notifier.of(Kind.OUTCOME)
    assert "stops on mark price" in reply.text


def test_an_alert_inside_a_candle_has_nothing_to_fill(bench: Bench) -> None:
    tracker = bench.tracker()
    alert = candidate(strategy="funding", kind="spread", direction=Direction.NONE, time_ms=T0 + 60_000)
    bench.desk().consider([alert])
    assert tracker.on_price(EX, XRP, T0, 150.0, 50.0, 100.0, end_ms=T0 + M5, open_price=100.0) == []
    assert [s.candidate.kind for s in tracker.expire(T0 + 2 * 86_400_000)] == ["spread"]
