"""The tracker scores every signal by the documented rule, replies with the outcome, and survives restarts."""

from __future__ import annotations

import pytest
from signals_support import DAY, HOUR, T0, Bench, candidate

from signalbots.notifier import Kind
from signalbots.signals.model import Direction, Status

EX, XRP, ADA = "binanceusdm", "XRP/USDT:USDT", "ADA/USDT:USDT"
# LONG entry 100, stop 98, T1 102, T2 104; SHORT entry 100, stop 102, T1 98, T2 96


def _open(bench: Bench, **kw: object) -> str:
    [sig] = bench.desk().consider([candidate(**kw)])  # type: ignore[arg-type]
    return sig.candidate.dedupe_key


def test_stop_before_target_is_minus_one_r_and_replies_to_the_signal(bench: Bench) -> None:
    key = _open(bench)
    tracker = bench.tracker()
    assert tracker.on_price(EX, XRP, T0 + 60_000, high=101.0, low=99.0) == []
    [sig] = tracker.on_price(EX, XRP, T0 + 3 * HOUR + 20 * 60_000, high=99.5, low=97.5)
    assert sig.status is Status.STOPPED and sig.r_multiple == -1.0 and sig.exit_price == 98.0
    [out] = bench.notifier.of(Kind.OUTCOME)
    assert out.reply_to_key == f"signal:{key}" and out.dedupe_key == f"outcome:{key}"
    assert "❌ Stopped" in out.text and "−1.0R" in out.text and "3h 20m" in out.text
    assert tracker.open_signals() == []


def test_short_to_target_two_via_target_one_with_a_progress_reply(bench: Bench) -> None:
    key = _open(bench, direction=Direction.SHORT)
    tracker = bench.tracker()
    for i, last in enumerate((99.0, 97.9, 99.5)):  # T1 (98) touched, never back to entry
        assert tracker.on_price(EX, XRP, T0 + (i + 1) * 60_000, last, last, last) == []
    [progress] = bench.notifier.of(Kind.OUTCOME)
    assert progress.dedupe_key == f"target1:{key}" and progress.reply_to_key == f"signal:{key}"
    assert "Target 1 reached" in progress.text and "breakeven" in progress.text
    [sig] = tracker.on_price(EX, XRP, T0 + 2 * HOUR, 96.0, 96.0, 96.0)
    assert sig.status is Status.TARGET2 and sig.r_multiple == 2.0
    assert "✅ Target 2" in bench.notifier.messages[-1].text and "+2.0R" in bench.notifier.messages[-1].text


def test_target_one_then_back_to_entry_is_breakeven(bench: Bench) -> None:
    _open(bench)
    tracker = bench.tracker()
    assert (
        tracker.on_price(EX, XRP, T0 + 60_000, high=102.5, low=99.0) == []
    )  # T1; the stop moves next update
    [sig] = tracker.on_price(EX, XRP, T0 + 120_000, high=101.0, low=99.9)
    assert sig.status is Status.TARGET1 and sig.r_multiple == 0.0 and sig.exit_price == 100.0
    assert "Target 1, then breakeven" in bench.notifier.messages[-1].text


def test_a_candle_touching_stop_and_target_is_scored_as_the_stop(bench: Bench) -> None:
    _open(bench)
    [sig] = bench.tracker().on_price(EX, XRP, T0 + 60_000, high=104.5, low=97.0)
    assert sig.status is Status.STOPPED and sig.r_multiple == -1.0


def test_a_candle_spanning_both_targets_scores_target_two(bench: Bench) -> None:
    _open(bench)
    [sig] = bench.tracker().on_price(EX, XRP, T0 + 60_000, high=104.5, low=99.0)
    assert sig.status is Status.TARGET2 and sig.r_multiple == 2.0


def test_a_sample_beyond_the_stop_proves_a_touch_and_exits_at_the_stop(bench: Bench) -> None:
    _open(bench)
    [sig] = bench.tracker().on_price(EX, XRP, T0 + 60_000, 97.0, 97.0, 97.0)
    assert sig.exit_price == 98.0 and sig.r_multiple == -1.0


def test_prices_from_before_the_signal_do_not_count(bench: Bench) -> None:
    _open(bench, time_ms=T0 + HOUR)
    tracker = bench.tracker()
    assert tracker.on_price(EX, XRP, T0 + HOUR - 300_000, high=105.0, low=90.0) == []  # the candle before
    assert tracker.on_price(EX, ADA, T0 + 2 * HOUR, high=105.0, low=90.0) == []  # another symbol
    assert [s.candidate.symbol for s in tracker.open_signals()] == [XRP]


def test_expiry_scores_r_at_the_last_price_before_it(bench: Bench) -> None:
    _open(bench)  # expires T0 + 1 day
    tracker = bench.tracker()
    tracker.on_price(EX, XRP, T0 + DAY - 60_000, 101.0, 101.0, 101.0)
    [sig] = tracker.on_price(EX, XRP, T0 + DAY + 60_000, 110.0, 110.0, 110.0)  # after expiry: not a target
    assert sig.status is Status.EXPIRED and sig.exit_price == 101.0 and sig.r_multiple == pytest.approx(0.5)
    assert sig.resolved_ms == T0 + DAY
    assert "⌛ Expired" in bench.notifier.messages[-1].text and "+0.5R" in bench.notifier.messages[-1].text


def test_expire_without_any_price_has_no_r_and_stays_out_of_the_statistics(bench: Bench) -> None:
    _open(bench)
    alert = candidate(strategy="funding", kind="spread", direction=Direction.NONE, symbol=ADA)
    bench.desk().consider([alert])
    tracker = bench.tracker()
    assert tracker.expire(T0 + DAY - 1) == []
    expired = tracker.expire(T0 + DAY)
    assert sorted(s.status for s in expired) == [Status.EXPIRED, Status.EXPIRED]
    assert all(s.r_multiple is None for s in expired)
    [out] = bench.notifier.of(Kind.OUTCOME)  # the alert has no outcome to report
    assert "no price seen" in out.text
    assert tracker.stats(None, T0 + DAY)["all"].count == 0


def test_a_new_tracker_after_a_restart_resolves_and_replies_to_the_original(bench: Bench) -> None:
    key = _open(bench)
    tracker = bench.tracker()
    tracker.on_price(EX, XRP, T0 + 60_000, high=102.0, low=100.0)  # target 1 reached before the crash

    bench.restart()
    tracker = bench.tracker()
    assert [s.candidate.dedupe_key for s in tracker.open_signals()] == [key]
    [sig] = tracker.on_price(
        EX, XRP, T0 + HOUR, high=100.5, low=99.0
    )  # back to entry: breakeven, not the stop
    assert sig.status is Status.TARGET1 and sig.r_multiple == 0.0
    assert bench.notifier.messages[-1].reply_to_key == f"signal:{key}"
    assert bench.notifier.messages[-1].dedupe_key == f"outcome:{key}"

    bench.restart()
    assert bench.tracker().open_signals() == []  # resolved stays resolved


def test_signals_the_desk_adds_later_are_followed(bench: Bench) -> None:
    tracker = bench.tracker()
    desk = bench.desk()
    desk.consider([candidate(direction=Direction.SHORT)])
    [sig] = tracker.on_price(EX, XRP, T0 + 60_000, 102.0, 102.0, 102.0)
    assert sig.status is Status.STOPPED


def test_statistics_and_daily_summary(bench: Bench) -> None:
    desk, tracker = bench.desk(), bench.tracker()
    desk.consider([candidate(symbol=XRP), candidate(strategy="liquidation", kind="cascade", symbol=ADA)])
    desk.consider([candidate(symbol="BTC/USDT:USDT", direction=Direction.SHORT, time_ms=T0 + HOUR)])
    tracker.on_price(EX, XRP, T0 + 2 * HOUR, high=104.0, low=100.0)  # +2R
    tracker.on_price(EX, ADA, T0 + 3 * HOUR, high=100.0, low=98.0)  # −1R
    stats = tracker.stats(None, T0 + DAY)
    assert stats["all"].count == 2 and stats["all"].total_r == 1.0 and stats["all"].hit_rate == 0.5
    assert stats["volume"].best_r == 2.0 and stats["liquidation"].worst_r == -1.0
    assert tracker.stats(1, T0 + 3 * DAY)["all"].count == 0  # outside the last day
    text = tracker.stats_text(7, T0 + DAY)
    assert "last 7 days" in text and "hit 50%" in text

    summary = tracker.daily_summary(T0)
    assert summary is not None and summary.kind is Kind.DIGEST and summary.dedupe_key == "summary:2021-11-16"
    assert (
        "Signals sent: 3" in summary.text and "Resolved 2" in summary.text and "Open now: 1" in summary.text
    )
    assert tracker.daily_summary(T0 + 5 * DAY) is None  # a quiet day says nothing

    listing = tracker.signals_text(T0 + 4 * HOUR)
    assert "BTC/USDT:USDT" in listing and "Open signals</b> (1)" in listing


def test_a_candle_resolves_at_its_close_not_its_open(bench: Bench) -> None:
    _open(bench)
    tracker = bench.tracker()
    # the 5m candle opening at the signal's time runs to target 2: known only when it closes
    [sig] = tracker.on_price(EX, XRP, T0, high=104.5, low=99.5, last=104.2, end_ms=T0 + 300_000)
    assert sig.status is Status.TARGET2 and sig.resolved_ms == T0 + 300_000
    [out] = bench.notifier.of(Kind.OUTCOME)
    assert "after 5m" in out.text


def test_statistics_per_exchange_on_request(bench: Bench) -> None:
    desk, tracker = bench.desk(), bench.tracker()
    desk.consider([candidate(symbol=XRP), candidate(exchange="bybit", symbol=ADA)])
    tracker.on_price(EX, XRP, T0 + HOUR, high=104.0, low=100.0)  # +2R on Binance
    tracker.on_price("bybit", ADA, T0 + HOUR, high=100.0, low=98.0)  # −1R on Bybit
    per = tracker.stats(None, T0 + DAY, per="exchange")
    assert per["binanceusdm"].total_r == 2.0 and per["bybit"].total_r == -1.0 and per["all"].count == 2
    assert "<b>bybit</b> 1" in tracker.stats_text(None, T0 + DAY, per="exchange")
