"""Every desk gate stops the candidate it must stop and lets through the one it must let through."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signals_support import DAY, HOUR, T0, Bench, RecordingNotifier, candidate, make_settings

from signalbots.clock import ManualClock
from signalbots.metrics import Metrics
from signalbots.notifier import Kind
from signalbots.signals.desk import Desk
from signalbots.signals.model import Direction
from signalbots.store import Store
from tests.filling_disk import FillingDisk

XRP, ADA, BTC, DOGE = "XRP/USDT:USDT", "ADA/USDT:USDT", "BTC/USDT:USDT", "DOGE/USDT:USDT"


def test_an_accepted_candidate_is_stored_and_sent_once_as_a_signal_message(bench: Bench) -> None:
    sig = bench.desk().consider([candidate(key="volume:1")])
    assert [s.candidate.dedupe_key for s in sig] == ["volume:1"]
    [msg] = bench.notifier.messages
    assert msg.kind is Kind.SIGNAL and msg.dedupe_key == "signal:volume:1" and msg.strategy == "volume"
    assert "XRP/USDT:USDT" in msg.text and "LONG" in msg.text


def test_dedupe_same_key_once_also_after_a_restart(bench: Bench) -> None:
    assert len(bench.desk().consider([candidate(key="k1"), candidate(key="k1")])) == 1
    assert bench.suppressed("volume", "dedupe") == 1

    bench.restart()  # a new process on the same state file
    desk = bench.desk()
    assert desk.consider([candidate(key="k1", time_ms=T0 + 3 * DAY)]) == []
    assert bench.suppressed("volume", "dedupe") == 1
    # a different key is a different signal
    assert len(desk.consider([candidate(key="k2", time_ms=T0 + 3 * DAY)])) == 1
    assert [m.dedupe_key for m in bench.notifier.of(Kind.SIGNAL)] == ["signal:k1", "signal:k2"]


def test_volume_cooldown_per_symbol_survives_a_restart(bench: Bench) -> None:
    desk = bench.desk()  # volume cooldown 2h by default, whatever the direction
    assert desk.consider([candidate(time_ms=T0)])
    assert desk.consider([candidate(direction=Direction.SHORT, time_ms=T0 + HOUR)]) == []
    assert desk.consider([candidate(symbol=ADA, time_ms=T0 + HOUR)])  # another symbol: its own cooldown
    assert bench.suppressed("volume", "cooldown") == 1

    bench.restart()
    desk = bench.desk()
    assert desk.consider([candidate(direction=Direction.SHORT, time_ms=T0 + 2 * HOUR - 1)]) == []
    assert desk.consider([candidate(direction=Direction.SHORT, time_ms=T0 + 2 * HOUR)])


def test_liquidation_cooldown_is_per_side(bench: Bench) -> None:
    desk = bench.desk()  # liquidation cooldown 30 min
    liq = {"strategy": "liquidation", "kind": "cascade"}
    # short-lived signals, so that the correlation gate (same asset, same direction) stays out of the way
    assert desk.consider([candidate(**liq, direction=Direction.LONG, time_ms=T0, expiry_ms=T0 + 60_000)])
    assert desk.consider([candidate(**liq, direction=Direction.LONG, time_ms=T0 + 120_000)]) == []
    assert bench.suppressed("liquidation", "cooldown") == 1
    assert desk.consider([candidate(**liq, direction=Direction.SHORT, time_ms=T0 + 120_000)])
    assert desk.consider([candidate(**liq, direction=Direction.LONG, time_ms=T0 + 1_800_000)])


def test_funding_spread_cooldown(bench: Bench) -> None:
    desk = bench.desk()  # spread cooldown 8h
    spread = {
        "strategy": "funding",
        "kind": "spread",
        "direction": Direction.NONE,
        "exchange": "binanceusdm+bybit",
    }
    assert desk.consider([candidate(**spread, time_ms=T0)])
    assert desk.consider([candidate(**spread, time_ms=T0 + HOUR)]) == []
    assert desk.consider([candidate(**spread, time_ms=T0 + 8 * HOUR)])


def test_funding_extreme_cooldown_backs_up_the_hysteresis(bench: Bench) -> None:
    desk = bench.desk()  # risk.extreme_cooldown 8h, per direction
    extreme = {"strategy": "funding", "kind": "extreme"}
    assert desk.consider([candidate(**extreme, time_ms=T0, expiry_ms=T0 + 60_000)])
    assert desk.consider([candidate(**extreme, time_ms=T0 + HOUR)]) == []
    assert bench.suppressed("funding", "cooldown") == 1
    assert desk.consider([candidate(**extreme, direction=Direction.SHORT, time_ms=T0 + HOUR)])
    assert desk.consider([candidate(**extreme, time_ms=T0 + 8 * HOUR)])


def test_max_open_global(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(max_open=2)
    desk, tracker = b.desk(), b.tracker()
    assert desk.consider([candidate(symbol=XRP, key="a")])
    assert desk.consider([candidate(strategy="liquidation", kind="cascade", symbol=BTC, key="b")])
    assert desk.consider([candidate(strategy="funding", kind="extreme", symbol=DOGE, key="c")]) == []
    assert b.suppressed("funding", "max_open") == 1
    # an alert is not a position: it does not count, and is not stopped
    alert = candidate(strategy="funding", kind="spread", direction=Direction.NONE, symbol=DOGE, key="s")
    assert desk.consider([alert])
    # once one position closes, there is room again
    assert tracker.on_price("binanceusdm", XRP, T0 + HOUR, high=100.5, low=97.0)  # XRP stopped
    assert desk.consider(
        [candidate(strategy="funding", kind="extreme", symbol=DOGE, key="d", time_ms=T0 + 2 * HOUR)]
    )


def test_max_open_per_strategy(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(max_open_per_strategy=1)
    desk = b.desk()
    assert desk.consider([candidate(symbol=XRP)])
    assert desk.consider([candidate(symbol=BTC)]) == []
    assert b.suppressed("volume", "max_open_strategy") == 1
    assert desk.consider([candidate(strategy="liquidation", kind="cascade", symbol=BTC)])  # other strategy
    # an open signal past its expiry is not a position any more, even before the tracker closes it
    assert desk.consider([candidate(symbol=ADA, time_ms=T0 + DAY)])


def test_strategy_daily_cap_keeps_the_strongest_of_a_batch(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(strategy_daily_cap=2)
    desk = b.desk()
    batch = [candidate(symbol=s, strength=k, key=f"k{k}") for s, k in ((XRP, 1.0), (BTC, 3.0), (ADA, 2.0))]
    accepted = desk.consider(batch)
    assert sorted(s.candidate.strength for s in accepted) == [2.0, 3.0]
    assert b.suppressed("volume", "strategy_daily_cap") == 1
    assert desk.consider([candidate(strategy="liquidation", kind="cascade", symbol=DOGE)])  # other strategy
    # the cap is per UTC day of the candidate's own time, not the wall clock
    assert desk.consider([candidate(symbol=DOGE, time_ms=T0 + DAY)])


def test_global_daily_cap_counts_alerts_too(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(daily_cap=2)
    desk = b.desk()
    alert = candidate(strategy="funding", kind="spread", direction=Direction.NONE, symbol=ADA)
    assert len(desk.consider([alert, candidate(symbol=XRP)])) == 2
    assert desk.consider([candidate(strategy="liquidation", kind="cascade", symbol=BTC)]) == []
    assert b.suppressed("liquidation", "daily_cap") == 1
    assert desk.consider([candidate(strategy="liquidation", kind="cascade", symbol=BTC, time_ms=T0 + DAY)])


def test_daily_loss_limit_pauses_the_strategy_until_the_next_utc_day(
    bench_factory: Callable[..., Bench],
) -> None:
    b = bench_factory(daily_loss_limit_r=2.0)
    desk, tracker = b.desk(), b.tracker()
    desk.consider([candidate(symbol=XRP, time_ms=T0 + HOUR), candidate(symbol=BTC, time_ms=T0 + HOUR)])
    resolved = tracker.on_price("binanceusdm", XRP, T0 + 2 * HOUR, high=100.0, low=97.0)
    resolved += tracker.on_price("binanceusdm", BTC, T0 + 3 * HOUR, high=100.0, low=97.0)
    assert [s.r_multiple for s in resolved] == [-1.0, -1.0]
    desk.note_outcomes(resolved)
    [notice] = b.notifier.of(Kind.NOTICE)
    assert "volume" in notice.text and "paused" in notice.text and "2021-11-16" in notice.text

    assert desk.consider([candidate(symbol=ADA, time_ms=T0 + 4 * HOUR)]) == []
    assert desk.consider([candidate(symbol=DOGE, time_ms=T0 + 23 * HOUR)]) == []
    assert b.suppressed("volume", "loss_limit") == 2
    assert len(b.notifier.of(Kind.NOTICE)) == 1  # said once
    # other strategies carry on; the strategy itself resumes at 00:00 UTC
    assert desk.consider(
        [candidate(strategy="liquidation", kind="cascade", symbol=ADA, time_ms=T0 + 5 * HOUR)]
    )
    assert desk.consider([candidate(symbol=DOGE, time_ms=T0 + DAY)])


def test_daily_loss_limit_is_not_reached_by_a_smaller_loss(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(daily_loss_limit_r=2.0)
    desk, tracker = b.desk(), b.tracker()
    desk.consider([candidate(symbol=XRP, time_ms=T0 + HOUR)])
    desk.note_outcomes(tracker.on_price("binanceusdm", XRP, T0 + 2 * HOUR, high=100.0, low=97.0))
    assert desk.consider([candidate(symbol=ADA, time_ms=T0 + 4 * HOUR)])
    assert b.notifier.of(Kind.NOTICE) == []


def _hourly_walks(hours: int) -> dict[str, list[float]]:
    rnd = random.Random(7)
    base = [rnd.gauss(0, 0.01) for _ in range(hours)]
    follower = [r + rnd.gauss(0, 0.002) for r in base]  # ρ ≈ 0.98
    independent = [rnd.gauss(0, 0.01) for _ in range(hours)]
    out = {}
    for symbol, rets in ((XRP, base), (ADA, follower), (DOGE, independent)):
        price, prices = 1.0, []
        for r in rets:
            price *= math.exp(r)
            prices.append(price)
        out[symbol] = prices
    return out


def test_correlation_gate_stops_same_direction_on_correlated_symbols(bench: Bench) -> None:
    desk = bench.desk()
    walks = _hourly_walks(49)
    for symbol, prices in walks.items():
        for h, price in enumerate(prices):
            desk.observe_price("binanceusdm", symbol, T0 + h * HOUR + 1_800_000, price)
    now = T0 + 48 * HOUR + 1_900_000
    assert (desk.correlation(XRP, ADA, now) or 0) > 0.9
    assert abs(desk.correlation(XRP, DOGE, now) or 1) < 0.5

    assert desk.consider([candidate(symbol=XRP, time_ms=now, key="xrp")])
    assert desk.consider([candidate(symbol=ADA, time_ms=now, key="ada-long")]) == []
    assert bench.suppressed("volume", "correlation") == 1
    assert desk.consider([candidate(symbol=ADA, time_ms=now, key="ada-short", direction=Direction.SHORT)])
    assert desk.consider([candidate(symbol=DOGE, time_ms=now, key="doge-long")])
    # the same asset on another exchange is the same bet
    liq = candidate(strategy="liquidation", kind="cascade", exchange="bybit", symbol=XRP, time_ms=now)
    assert desk.consider([liq]) == []


def test_correlation_gate_lets_pass_without_enough_history(bench: Bench) -> None:
    desk = bench.desk()
    walks = _hourly_walks(10)  # 9 returns: too few to judge
    for symbol, prices in walks.items():
        for h, price in enumerate(prices):
            desk.observe_price("binanceusdm", symbol, T0 + h * HOUR, price)
    now = T0 + 10 * HOUR
    assert desk.correlation(XRP, ADA, now) is None
    assert desk.consider([candidate(symbol=XRP, time_ms=now)])
    assert desk.consider([candidate(symbol=ADA, time_ms=now)])


def test_position_size_from_account_and_risk(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(account_usd=10_000.0, per_signal=0.01)
    [sig] = b.desk().consider([candidate(entry=100.0, risk=2.0)])
    assert sig.size_base == 50.0  # $100 at risk over a $2 stop distance
    assert "Size 50.00 XRP ≈ $5.00k · risk $100" in b.notifier.messages[0].text
    spread = candidate(strategy="funding", kind="spread", direction=Direction.NONE, symbol=ADA)
    [alert] = b.desk().consider([spread])
    assert alert.size_base is None


def test_no_position_size_without_an_account(bench: Bench) -> None:
    [sig] = bench.desk().consider([candidate()])
    assert sig.size_base is None
    assert "Size" not in bench.notifier.messages[0].text


def test_a_candidate_with_its_stop_on_the_wrong_side_never_reaches_the_user(bench: Bench) -> None:
    good = candidate()
    bad = dataclasses.replace(
        candidate(key="bad", symbol=ADA), stop=101.0
    )  # a long with its stop above entry
    assert [s.candidate.dedupe_key for s in bench.desk().consider([good, bad])] == [good.dedupe_key]
    assert bench.suppressed("volume", "invalid") == 1


# -- property: dedupe and cooldown over any stream ---------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([XRP, ADA, BTC]), st.integers(0, 3 * HOUR), st.integers(0, 5)),
        min_size=1,
        max_size=25,
    )
)
def test_accepted_signals_respect_cooldown_and_dedupe(events: list[tuple[str, int, int]]) -> None:
    cooldown = 2 * HOUR
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(path=Path(tmp) / "s.sqlite")
        store.open()
        try:
            desk = Desk(
                store=store,
                settings=make_settings(
                    max_open=100, max_open_per_strategy=100, daily_cap=1000, strategy_daily_cap=1000
                ),
                clock=ManualClock(),
                metrics=Metrics(),
                notifier=RecordingNotifier(),
            )
            t = T0
            accepted: dict[str, list[int]] = {}
            keys: list[str] = []
            for symbol, gap, n in events:
                t += gap
                key = f"{symbol}:{t // 600_000}:{n % 2}"  # collisions on purpose
                previous = accepted.get(symbol, [])
                taken = key in keys
                # a one-minute life keeps the open-position gates out of this property
                got = desk.consider([candidate(symbol=symbol, time_ms=t, key=key, expiry_ms=t + 60_000)])
                if not got:  # refused for a reason: a taken key or a running cooldown
                    assert taken or (previous and t - previous[-1] < cooldown)
                for s in got:
                    accepted.setdefault(symbol, []).append(s.candidate.time_ms)
                    keys.append(s.candidate.dedupe_key)
        finally:
            store.close()
    assert len(keys) == len(set(keys))
    for times in accepted.values():
        assert all(b - a >= cooldown for a, b in itertools.pairwise(times))


def test_a_gap_past_target_two_cannot_lift_a_losing_day_above_the_loss_limit(
    bench_factory: Callable[..., Bench],
) -> None:
    b = bench_factory(costs=True, daily_loss_limit_r=2.2, max_open_per_strategy=10)
    desk, tracker = b.desk(), b.tracker()
    symbols = [XRP, BTC, ADA, DOGE, "ETH/USDT:USDT"]
    desk.consider([candidate(symbol=s, time_ms=T0 + HOUR) for s in symbols])
    # a +50 % jump past target 2 (entry 100, T2 104): once booked at the sample (+25R), now +2R gross
    resolved = tracker.on_price("binanceusdm", XRP, T0 + 2 * HOUR, 150.0, 150.0, 150.0)
    for s in symbols[1:]:
        resolved += tracker.on_price("binanceusdm", s, T0 + 3 * HOUR, high=100.0, low=97.0)
    desk.note_outcomes(resolved)
    assert [s.gross_r for s in resolved] == [2.0, -1.0, -1.0, -1.0, -1.0]
    # gross the day is −2.0R, inside the limit; net of fees and slippage it is past it
    assert desk.daily_r("volume", T0 + 4 * HOUR) == pytest.approx(sum(s.r_multiple or 0 for s in resolved))
    assert desk.daily_r("volume", T0 + 4 * HOUR) < -2.2
    assert desk.paused("volume", T0 + 4 * HOUR)
    assert desk.consider([candidate(symbol="SOL/USDT:USDT", time_ms=T0 + 5 * HOUR)]) == []


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[tuple[Bench, FillingDisk]]:
    """A desk's bench on a state disk that can fill up (``disk.full``)."""
    store = Store(path=tmp_path / "state.sqlite", connection=FillingDisk)
    store.open()
    bench = Bench(
        tmp_path / "state.sqlite", make_settings(), RecordingNotifier(), Metrics(), ManualClock(), store
    )
    assert isinstance(store.db, FillingDisk)
    yield bench, store.db
    bench.store.close()


def test_signals_decided_while_the_disk_is_full_are_sent_once_and_written_when_space_returns(
    full_disk: tuple[Bench, FillingDisk],
) -> None:
    """Issue 20: a signal the state disk refuses is still sent; dedupe and cooldown hold from memory."""
    bench, disk = full_disk
    store, desk = bench.store, bench.desk()

    disk.full = True
    assert desk.consider([candidate(key="k1")])  # accepted although no row could be written
    assert desk.consider([candidate(key="k1")]) == []  # the same key: once
    assert desk.consider([candidate(key="k2", time_ms=T0 + HOUR)]) == []  # XRP's 2h cooldown holds
    assert [m.dedupe_key for m in bench.notifier.of(Kind.SIGNAL)] == ["signal:k1"]
    assert store.db.execute("SELECT COUNT(*) FROM signals").fetchone()[0] == 0

    disk.full = False  # space returns: the held signal is written before the next decision
    assert desk.consider([candidate(symbol=ADA, key="k3", time_ms=T0 + HOUR)])
    keys = [r["dedupe_key"] for r in store.db.execute("SELECT dedupe_key FROM signals ORDER BY id")]
    assert keys == ["k1", "k3"]
    bench.restart()  # the cooldown written from memory outlives the process
    assert bench.desk().consider([candidate(key="k4", time_ms=T0 + HOUR)]) == []
    assert [m.dedupe_key for m in bench.notifier.of(Kind.SIGNAL)] == ["signal:k1", "signal:k3"]


def test_signals_held_in_memory_never_share_an_id_with_an_earlier_one(
    full_disk: tuple[Bench, FillingDisk],
) -> None:
    """The tracker follows open signals by id: two held while the disk filled twice must not collide."""
    bench, disk = full_disk
    desk = bench.desk()
    disk.full = True
    [first] = desk.consider([candidate(key="k1")])
    disk.full = False
    desk.consider([])  # space returns: k1 is written
    disk.full = True
    [second] = desk.consider([candidate(symbol=ADA, key="k2", time_ms=T0 + HOUR)])
    assert first.id < 0 and second.id < 0 and first.id != second.id


def test_correlation_reads_only_its_window_after_long_feeds_and_gaps(bench: Bench) -> None:
    """Hourly closes are kept only for the window (research feeds a desk a million candles): a desk fed
    weeks of prices, with a gap, judges exactly as one fed only the window's hours."""
    long, fresh = bench.desk(), bench.desk()
    walks = _hourly_walks(400)
    window = long._window_hours()
    now = T0 + 399 * HOUR + 1_900_000
    for symbol, prices in walks.items():
        for h, price in enumerate(prices):
            if 100 <= h < 130:
                continue  # a feed that went quiet for a day
            for minute in (5, 30, 55):  # several prices per hour: the last one is the hour's close
                long.observe_price(
                    "binanceusdm", symbol, T0 + h * HOUR + minute * 60_000, price * (1 + minute / 1e4)
                )
                if h >= 399 - window - 1:
                    fresh.observe_price(
                        "binanceusdm", symbol, T0 + h * HOUR + minute * 60_000, price * (1 + minute / 1e4)
                    )
    assert long.correlation(XRP, ADA, now) is not None
    for a, b in ((XRP, ADA), (XRP, DOGE), (ADA, DOGE)):
        assert long.correlation(a, b, now) == fresh.correlation(a, b, now)
    assert all(len(closes) <= window + 1 for closes in long._closes.values())
