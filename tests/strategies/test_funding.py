"""Funding extremes (with hysteresis) and cross-exchange spreads."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from signalbots.events import Candle, FundingSnapshot, Ticker
from signalbots.settings import FundingSettings
from signalbots.signals import render
from signalbots.signals.model import Candidate, Direction, Signal
from signalbots.strategies.funding import SPEC, FundingStrategy
from signalbots.telegram.text import to_plain

XRP = "XRP/USDT:USDT"
HOUR = 3_600_000


def _ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)


def _recorded(
    load_funding: Callable[[str], list[tuple[int, float]]],
    load_candles: Callable[..., list[Candle]],
    interval_hours: float,
) -> list[FundingSnapshot]:
    # The price at a settlement is the open of the 8h candle that starts there (its close is 8h later).
    price = {c.time_ms: c.open for c in load_candles("binanceusdm_XRP-USDT-USDT_8h.csv", "8h")}
    return [
        FundingSnapshot(
            exchange="binanceusdm",
            symbol=XRP,
            time_ms=t,
            rate=rate,
            interval_hours=interval_hours,
            next_funding_ms=t + 8 * HOUR,
            mark_price=price[t],
        )
        for t, rate in load_funding("binanceusdm_XRP-USDT-USDT_funding-8h.csv")
    ]


def _run(strategy: FundingStrategy, events: list[FundingSnapshot]) -> list[Candidate]:
    return [c for e in events for c in strategy.on_event(e)]


def test_the_recorded_extreme_fires_long_and_the_baseline_never(
    load_funding: Callable[[str], list[tuple[int, float]]], load_candles: Callable[..., list[Candle]]
) -> None:
    snaps = _recorded(load_funding, load_candles, 8)
    found = _run(FundingStrategy(settings=FundingSettings()), snaps)

    (c,) = found
    assert (c.time_ms, c.direction, c.kind) == (_ms("2021-12-04 08:00"), Direction.LONG, "extreme")
    assert c.facts["rate_8h"] == pytest.approx(-0.00219334)
    assert c.facts["apr"] == pytest.approx(-0.00219334 * 3 * 365)  # about -240% a year
    assert c.facts["interval_h"] == 8
    assert c.facts["hours_to_settlement"] == 8
    assert c.entry == 0.7497  # the 8h candle's open at the settlement
    assert c.stop == pytest.approx(0.7497 * 0.98)  # stop_pct 2% below
    assert c.targets == pytest.approx((0.7497 * 1.02, 0.7497 * 1.04))
    assert c.dedupe_key == f"funding:binanceusdm:{XRP}:{_ms('2021-12-04 08:00')}"
    assert c.strength == pytest.approx(2.1933, abs=1e-3)
    baseline = [s for s in snaps if s.rate == 0.0001]
    assert len(baseline) == 70
    assert all(s.time_ms != c.time_ms for s in baseline)


def test_the_same_rates_on_a_4h_interval_count_double(
    load_funding: Callable[[str], list[tuple[int, float]]], load_candles: Callable[..., list[Candle]]
) -> None:
    found = _run(FundingStrategy(settings=FundingSettings()), _recorded(load_funding, load_candles, 4))
    # +0.0583% per 4h is +0.1166% per 8h: now extreme too (crowded longs → SHORT)
    assert [(c.time_ms, c.direction) for c in found] == [
        (_ms("2021-11-26 00:00"), Direction.SHORT),
        (_ms("2021-12-04 08:00"), Direction.LONG),
    ]
    assert found[0].facts["rate"] == pytest.approx(0.00058316)
    assert found[0].facts["rate_8h"] == pytest.approx(2 * 0.00058316)
    assert found[1].facts["rate_8h"] == pytest.approx(2 * -0.00219334)
    assert found[1].facts["interval_h"] == 4


def _snap(
    rate: float, i: int, *, exchange: str = "bybit", symbol: str = XRP, interval: float = 8
) -> FundingSnapshot:
    return FundingSnapshot(
        exchange=exchange,
        symbol=symbol,
        time_ms=1_700_000_000_000 + i * 60_000,
        rate=rate,
        interval_hours=interval,
        next_funding_ms=None,
        mark_price=2.0,
    )


def test_a_1h_interval_is_scaled_to_8h() -> None:
    (c,) = FundingStrategy(settings=FundingSettings()).on_event(_snap(-0.0002, 0, interval=1))
    assert c.direction is Direction.LONG
    assert c.facts["rate_8h"] == pytest.approx(-0.0016)
    assert "hours_to_settlement" not in c.facts  # unknown here, so not invented


def test_hysteresis_rearms_only_below_75_percent_of_the_threshold() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    rates = [0.0012, 0.0009, 0.0011, 0.00076, 0.0015, 0.00074, 0.0010, 0.0001]
    fired = [bool(strategy.on_event(_snap(r, i))) for i, r in enumerate(rates)]
    assert fired == [True, False, False, False, False, False, True, False]


def test_an_opposite_extreme_fires_while_latched() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    first = strategy.on_event(_snap(0.0012, 0))
    flipped = strategy.on_event(_snap(-0.0012, 1))
    assert [c.direction for c in first + flipped] == [Direction.SHORT, Direction.LONG]


def test_the_latch_survives_a_restart_through_state() -> None:
    before = FundingStrategy(settings=FundingSettings())
    assert before.on_event(_snap(0.0012, 0, symbol="DOGE/USDT:USDT"))
    saved = before.state()

    after = FundingStrategy(settings=FundingSettings())
    after.restore(saved)
    assert after.on_event(_snap(0.0012, 1, symbol="DOGE/USDT:USDT")) == []
    fresh = FundingStrategy(settings=FundingSettings())
    assert fresh.on_event(_snap(0.0012, 1, symbol="DOGE/USDT:USDT"))  # without state it would repeat


def test_restore_ignores_garbage() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    strategy.restore({"latched": [["bybit", XRP, "sideways"], "x", [1, 2, 3]]})
    strategy.restore({"latched": "nope"})
    assert strategy.on_event(_snap(0.0012, 0))


def test_the_ticker_last_price_is_the_entry_when_fresh() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    snap = _snap(0.0012, 0)
    strategy.on_event(
        Ticker(exchange="bybit", symbol=XRP, time_ms=snap.time_ms - 5_000, last=2.1, quote_volume_24h=1e9)
    )
    (c,) = strategy.on_event(snap)
    assert (c.direction, c.entry) == (Direction.SHORT, 2.1)
    assert c.stop == pytest.approx(2.1 * 1.02)


# --- spreads ----------------------------------------------------------------------------------


def _tick(exchange: str, volume: float, i: int = 0, symbol: str = "SOL/USDT:USDT") -> Ticker:
    return Ticker(
        exchange=exchange,
        symbol=symbol,
        time_ms=1_700_000_000_000 + i * 60_000,
        last=100.0,
        quote_volume_24h=volume,
    )


def _sol(exchange: str, rate_8h: float, i: int) -> FundingSnapshot:
    return _snap(rate_8h, i, exchange=exchange, symbol="SOL/USDT:USDT")


def test_a_cross_exchange_spread_is_a_carry_alert() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    for ex in ("binanceusdm", "okx"):
        strategy.on_event(_tick(ex, 50e6))
    assert strategy.on_event(_sol("binanceusdm", 0.0001, 0)) == []  # 11% APR, alone
    (c,) = strategy.on_event(_sol("okx", 0.0005, 1))  # 55% APR: 44 points apart
    assert (c.kind, c.direction, c.stop, c.targets) == ("spread", Direction.NONE, None, ())
    assert c.symbol == "SOL long binanceusdm SOL/USDT:USDT / short okx SOL/USDT:USDT"
    assert c.exchange == "binanceusdm+okx"
    assert c.facts["apr_long_leg"] == pytest.approx(0.1095)
    assert c.facts["apr_short_leg"] == pytest.approx(0.5475)
    assert c.facts["apr_spread"] == pytest.approx(0.438)
    assert c.strength == pytest.approx(0.438 / 0.30)
    assert c.dedupe_key.startswith("funding:spread:binanceusdm:SOL/USDT:USDT:okx:SOL/USDT:USDT:")

    # once per pair per hour; the next hour it may be said again (the desk's cooldown decides)
    assert strategy.on_event(_sol("binanceusdm", 0.0001, 2)) == []
    later = strategy.on_event(_sol("binanceusdm", 0.0001, 61)) + strategy.on_event(_sol("okx", 0.0005, 61))
    assert len(later) == 1 and later[0].dedupe_key != c.dedupe_key


def test_a_carry_alert_reads_like_its_headline() -> None:
    # The note once repeated the legs as "long binanceusdm … (APR -273.8%)" under a headline saying
    # "Binance" and "−273.8%": the legs and APRs are now said once, rendered for people.
    strategy = FundingStrategy(settings=FundingSettings())
    for ex in ("binanceusdm", "okx"):
        strategy.on_event(_tick(ex, 50e6))
    strategy.on_event(_sol("okx", -0.0025, 0))
    (c,) = strategy.on_event(_sol("binanceusdm", 0.0001, 1))
    text = to_plain(render.signal(Signal(id=1, candidate=c)))
    assert "binanceusdm" not in text and "okx" not in text
    assert "long OKX SOL/USDT:USDT / short Binance SOL/USDT:USDT" in text
    assert "long leg APR −273.8%" in text and not re.search(r"(?<!\d)-\d", text)
    assert c.notes == ("carry: entry is the short leg's price",)


def test_a_spread_needs_both_legs_liquid_fresh_and_far_enough_apart() -> None:
    def spread(vol_a: float, vol_b: float, rate_b: float, gap_minutes: int) -> list[Candidate]:
        strategy = FundingStrategy(settings=FundingSettings())
        strategy.on_event(_tick("binanceusdm", vol_a))
        strategy.on_event(_tick("okx", vol_b))
        strategy.on_event(_sol("binanceusdm", 0.0001, 0))
        return strategy.on_event(_sol("okx", rate_b, gap_minutes))

    assert len(spread(50e6, 50e6, 0.0005, 1)) == 1
    assert spread(50e6, 5e6, 0.0005, 1) == []  # one leg under the $10M floor
    assert spread(50e6, 50e6, 0.00035, 1) == []  # 27 APR points: not enough
    assert spread(50e6, 50e6, 0.0005, 11) == []  # the other leg is 11 min old (max_age 10 min)


def test_two_symbols_of_one_exchange_are_not_a_spread() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    strategy.on_event(_tick("okx", 50e6, symbol="SOL/USDT:USDT"))
    strategy.on_event(_tick("okx", 50e6, symbol="SOL/USDC:USDC"))
    strategy.on_event(_snap(0.0001, 0, exchange="okx", symbol="SOL/USDT:USDT"))
    assert strategy.on_event(_snap(0.0005, 1, exchange="okx", symbol="SOL/USDC:USDC")) == []


# --- direction and stop styles ------------------------------------------------------------------


def test_follow_trades_with_the_crowded_side_and_says_so() -> None:
    settings = FundingSettings(direction="follow")
    (longs_pay,) = FundingStrategy(settings=settings).on_event(_snap(0.0012, 0))
    assert longs_pay.direction is Direction.LONG  # positive funding: the crowd is long, and so is the trade
    assert longs_pay.stop == pytest.approx(2.0 * 0.98)
    assert longs_pay.notes == (
        "positive funding: longs pay shorts, so the crowded side is long",
        "following the crowded side, against the usual fade",
    )
    (shorts_pay,) = FundingStrategy(settings=settings).on_event(_snap(-0.0012, 0))
    assert shorts_pay.direction is Direction.SHORT
    (faded,) = FundingStrategy(settings=FundingSettings()).on_event(_snap(-0.0012, 0))
    assert faded.direction is Direction.LONG and len(faded.notes) == 1  # the default fades


def _hourly(n: int, *, range_: float, symbol: str = XRP) -> list[Candle]:
    return [
        Candle("bybit", symbol, 1_700_000_000_000 - (n - i) * 3_600_000, "1h", 2.0, 2.0 + range_ / 2,
               2.0 - range_ / 2, 2.0, 1.0)
        for i in range(n)
    ]  # fmt: skip


def test_the_atr_stop_reads_the_symbols_candles_and_falls_back_to_stop_pct_without_them() -> None:
    settings = FundingSettings(stop_style="atr", stop_atr_multiple=2.0)
    strategy = FundingStrategy(settings=settings)
    for candle in _hourly(15, range_=0.04):
        strategy.on_event(candle)
    (c,) = strategy.on_event(_snap(0.0012, 0))  # SHORT at the mark, 2.0
    assert c.facts["atr"] == pytest.approx(0.04)
    assert c.stop == pytest.approx(2.0 + 2.0 * 0.04)
    (other,) = strategy.on_event(_snap(0.0012, 0, symbol="DOGE/USDT:USDT"))  # no candles known
    assert other.stop == pytest.approx(2.0 * 1.02) and "atr" not in other.facts


def test_the_extreme_stop_sits_beyond_the_last_candle_by_k_ranges() -> None:
    strategy = FundingStrategy(settings=FundingSettings(stop_style="extreme", stop_range_k=0.5))
    for candle in _hourly(3, range_=0.04):
        strategy.on_event(candle)
    (c,) = strategy.on_event(_snap(-0.0012, 0))  # LONG at 2.0: below the low (1.98) by half the range
    assert c.stop == pytest.approx(1.98 - 0.5 * 0.04)


def test_candles_are_asked_for_only_when_the_stop_reads_them() -> None:
    assert SPEC.needs(FundingSettings()).candles == ()
    (series,) = SPEC.needs(FundingSettings(stop_style="atr", stop_timeframe="4h")).candles
    assert (series.timeframe, series.history) == ("4h", 15)
