"""Funding extremes against the symbol's own history: percentile and z-score thresholds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from signalbots.events import Candle, FundingSnapshot
from signalbots.settings import FundingSettings
from signalbots.signals import render
from signalbots.signals.model import Candidate, Direction, Signal
from signalbots.strategies._funding_history import FundingHistory
from signalbots.strategies.funding import FundingStrategy
from signalbots.telegram.text import to_plain

XRP = "XRP/USDT:USDT"
HOUR = 3_600_000
DAY0 = 1_699_920_000_000  # 2023-11-14 00:00 UTC, a multiple of 8h


def _settled(rate: float, n: int, *, interval: float = 8, symbol: str = XRP) -> FundingSnapshot:
    """The rate settled at the n-th settlement after DAY0 (as a replay gives it: one snapshot each)."""
    t = DAY0 + round(n * interval * HOUR)
    return FundingSnapshot("binanceusdm", symbol, t, rate, interval, t, 2.0)


def _feed(strategy: FundingStrategy, rates: list[float], *, interval: float = 8) -> list[Candidate]:
    return [
        c for n, r in enumerate(rates, start=1) for c in strategy.on_event(_settled(r, n, interval=interval))
    ]


def _settings(**kw: object) -> FundingSettings:
    return FundingSettings.model_validate(kw)


# Ten settlements alternating 0.01 % and 0.03 %: mean 0.02 %, population sd 0.01 %.
TEN = [0.0001, 0.0003] * 5


def test_zscore_fires_at_k_sd_above_the_symbols_mean_and_says_so() -> None:
    s = _settings(threshold="zscore", zscore=3.0, min_history=10, min_per_8h=0.0001)
    strategy = FundingStrategy(settings=s)
    assert _feed(strategy, TEN) == []
    # z = (0.055 % − 0.02 %) / 0.01 % = 3.5 ≥ 3: SHORT, though far under the absolute 0.10 %
    (c,) = strategy.on_event(_settled(0.00055, 11))
    assert c.direction is Direction.SHORT
    assert c.facts["funding_z"] == pytest.approx(3.5)
    assert c.facts["history_count"] == 10
    assert c.facts["threshold_8h"] == pytest.approx(0.0005)  # mean + 3 sd
    assert c.strength == pytest.approx(0.00055 / 0.0005)
    assert c.notes[-1] == "threshold: z 3.5 over 10 8h periods of the symbol's funding (fires at |z| ≥ 3)"
    text = to_plain(render.signal(Signal(id=1, candidate=c)))
    assert "z 3.5" in text and "10 8h periods" in text


def test_zscore_stays_silent_under_k_sd() -> None:
    strategy = FundingStrategy(settings=_settings(threshold="zscore", min_history=10, min_per_8h=0.0001))
    _feed(strategy, TEN)
    assert strategy.on_event(_settled(0.00045, 11)) == []  # z = 2.5


def test_the_floor_keeps_a_pinned_symbol_from_firing_on_a_tick() -> None:
    # A history pinned at 0.01 % has no spread: 0.012 % would be z = 20 without the floor of 0.03 %.
    strategy = FundingStrategy(settings=_settings(threshold="zscore", min_history=10))
    _feed(strategy, [0.0001] * 10)
    assert strategy.on_event(_settled(0.00012, 11)) == []
    (c,) = strategy.on_event(_settled(0.00031, 12))  # beyond the floor: fires
    assert c.facts["threshold_8h"] == pytest.approx(0.0003)


def test_percentile_fires_in_the_top_share_of_the_history() -> None:
    # History 0.001 % … 0.020 %: the 90th percentile (nearest rank, 18 of 20) is 0.018 %.
    history = [i * 1e-5 for i in range(1, 21)]
    s = _settings(threshold="percentile", percentile=90.0, min_history=20, min_per_8h=0.00001)
    quiet = FundingStrategy(settings=s)
    _feed(quiet, history)
    assert quiet.on_event(_settled(0.000175, 21)) == []  # 17 of 20 at or below it: 85 %
    strategy = FundingStrategy(settings=s)
    _feed(strategy, history)
    (c,) = strategy.on_event(_settled(0.00018, 21))
    assert c.direction is Direction.SHORT
    assert c.facts["percentile"] == pytest.approx(90.0)
    assert c.facts["threshold_8h"] == pytest.approx(0.00018)
    assert c.notes[-1] == "threshold: the top 10% of the symbol's last 20 8h periods of funding"


def test_percentile_low_side_needs_a_negative_rate() -> None:
    # The bottom of an all-positive history is still longs paying shorts: no LONG until below −floor.
    history = [i * 1e-5 for i in range(1, 21)]
    s = _settings(threshold="percentile", percentile=90.0, min_history=20, min_per_8h=0.00005)
    strategy = FundingStrategy(settings=s)
    _feed(strategy, history)
    assert strategy.on_event(_settled(0.00001, 21)) == []
    (c,) = strategy.on_event(_settled(-0.00005, 22))
    assert c.direction is Direction.LONG
    assert c.facts["threshold_8h"] == pytest.approx(0.00005)


def test_until_min_history_the_absolute_threshold_decides() -> None:
    strategy = FundingStrategy(settings=_settings(threshold="zscore", min_history=10, min_per_8h=0.0001))
    _feed(strategy, [0.0001, 0.0003] * 3)  # 6 settlements: 5 of them known when the 7th arrives
    assert strategy.on_event(_settled(0.00055, 7)) == []  # z 3.5 would fire; 0.055 % < absolute 0.10 %
    (c,) = strategy.on_event(_settled(0.0011, 8))
    assert c.facts["threshold_8h"] == pytest.approx(0.001)
    assert c.facts["history_count"] == 7  # the six, and the 0.055 % settled before this one
    assert "absolute, 7 of the 10 8h periods" in c.notes[-1]


def test_an_hourly_venue_is_averaged_per_8h_period() -> None:
    # Hourly rates of 0.0025 % (0.02 % per 8h) for 80 hours: ten 8h periods of 0.02 % each.
    s = _settings(threshold="zscore", min_history=10, min_per_8h=0.0001)
    strategy = FundingStrategy(settings=s)
    assert _feed(strategy, [0.000025] * 80, interval=1) == []
    history = FundingHistory(90)
    for n in range(1, 18):  # settlements 01:00 … 17:00: two whole periods, the third not yet
        history.observe(DAY0 + n * HOUR, n * 1e-5)
    assert list(history.values) == pytest.approx([4.5e-5, 12.5e-5])  # means of 1…8 and 9…16


def test_the_last_snapshot_before_a_settlement_is_the_settled_rate() -> None:
    history = FundingHistory(3)
    for rate in (0.0001, 0.0002, 0.0004):  # polled every minute before the 08:00 settlement
        history.observe(DAY0 + 8 * HOUR, rate)
    assert list(history.values) == []  # not settled yet: never compared with itself
    history.observe(DAY0 + 16 * HOUR, 0.0009)
    history.observe(DAY0 + 8 * HOUR, 0.0005)  # late, for a settlement already passed: ignored
    assert list(history.values) == [0.0004]
    for n in (3, 4, 5, 6):
        history.observe(DAY0 + n * 8 * HOUR, 0.0)
    assert len(history.values) == 3  # bounded by its size


def test_min_history_above_history_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_history"):
        _settings(threshold="percentile", history=20, min_history=30)


def test_recorded_xrp_extreme_fires_under_every_threshold(
    load_funding: Callable[[str], list[tuple[int, float]]], load_candles: Callable[..., list[Candle]]
) -> None:
    price = {c.time_ms: c.open for c in load_candles("binanceusdm_XRP-USDT-USDT_8h.csv", "8h")}
    snaps = [
        FundingSnapshot("binanceusdm", XRP, t, r, 8, t, price[t])
        for t, r in load_funding("binanceusdm_XRP-USDT-USDT_funding-8h.csv")
    ]
    for threshold in ("absolute", "percentile", "zscore"):
        strategy = FundingStrategy(settings=_settings(threshold=threshold))
        (c,) = [c for e in snaps for c in strategy.on_event(e)]
        assert (c.time_ms, c.direction) == (1_638_604_800_000, Direction.LONG)  # 2021-12-04 08:00
    # 49 settlements before it, 70 of the 91 pinned at 0.01 %: z −26.6 against the symbol's own month.
    assert c.facts["funding_z"] == pytest.approx(-26.56, abs=0.01)
    assert c.facts["history_count"] == 49


def test_the_history_survives_a_restart_through_state() -> None:
    s = _settings(threshold="zscore", min_history=10, min_per_8h=0.0001)
    before = FundingStrategy(settings=s)
    _feed(before, [*TEN, 0.0002])  # the 0.02 % settles only when a later one arrives: not in the history
    saved = before.state()
    assert saved["history"] == [["binanceusdm", XRP, TEN]]

    after = FundingStrategy(settings=s)
    after.restore(saved)
    (c,) = after.on_event(_settled(0.00055, 12))  # without the history: absolute, silent
    assert c.facts["funding_z"] == pytest.approx(3.5)
    assert FundingStrategy(settings=s).on_event(_settled(0.00055, 12)) == []
    assert "history" not in FundingStrategy(settings=FundingSettings()).state()  # absolute: nothing to keep


def test_the_saved_history_changes_at_most_hourly_and_garbage_is_ignored() -> None:
    strategy = FundingStrategy(settings=_settings(threshold="zscore"))
    _feed(strategy, TEN)  # 8h … 80h: the 80h settlement is still the pending one
    first = strategy.state()["history"]
    assert first == [["binanceusdm", XRP, TEN[:-1]]]
    assert strategy.state()["history"] is first  # unchanged: the same object, so comparing it costs nothing
    # 20 minutes on, a snapshot for the 88h settlement completes the 80h one: saved within the hour, not now.
    snap = FundingSnapshot("binanceusdm", XRP, DAY0 + 80 * HOUR + 1_200_000, 0.0002, 8, DAY0 + 88 * HOUR, 2.0)
    strategy.on_event(snap)
    assert strategy.state()["history"] is first
    strategy.on_event(_settled(0.0001, 12))  # 96h: completes 88h, and an hour has passed
    assert strategy.state()["history"] == [["binanceusdm", XRP, [*TEN, 0.0002]]]
    fresh = FundingStrategy(settings=_settings(threshold="zscore"))
    fresh.restore({"history": [["okx", XRP, [0.1, "x"]], "junk", ["okx", 1, [0.1]]], "latched": "nope"})
    fresh.restore({"history": "nope"})
    assert fresh.state()["history"] == []
