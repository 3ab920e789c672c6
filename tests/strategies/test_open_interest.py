"""The open interest flush as a pure function of open interest samples."""

from __future__ import annotations

import pytest

from signalbots.events import OpenInterest, Ticker
from signalbots.settings import OpenInterestSettings
from signalbots.signals.model import Direction
from signalbots.strategies.open_interest import SPEC, OpenInterestStrategy

T0 = 1_700_000_000_000
MIN = 60_000


def oi(minute: float, base: float, price: float, symbol: str = "SOL/USDT:USDT") -> OpenInterest:
    return OpenInterest("bybit", symbol, T0 + round(minute * MIN), base=base, usd=base * price)


def feed(strategy: OpenInterestStrategy, *events: OpenInterest) -> list[list]:  # type: ignore[type-arg]
    return [strategy.on_event(e) for e in events]


def strategy(**settings: object) -> OpenInterestStrategy:
    return OpenInterestStrategy(settings=OpenInterestSettings(**settings))  # type: ignore[arg-type]


def test_open_interest_falling_while_the_price_falls_proposes_a_long_after_the_flush() -> None:
    s = strategy()
    # 1,000,000 SOL open at $100 ($100M); 20 minutes later 930,000 at $96: -7 % open interest, -4 % price
    out = feed(s, oi(0, 1_000_000, 100.0), oi(10, 990_000, 99.0), oi(20, 930_000, 96.0))
    assert out[:2] == [[], []]
    [c] = out[2]
    assert (c.strategy, c.kind, c.direction) == ("open_interest", "flush", Direction.LONG)
    assert c.entry == 96.0
    # the window's lowest price since the peak is the entry itself: stop 0.5 % below it
    assert c.stop == pytest.approx(96.0 * 0.995)
    assert c.facts["oi_change_pct"] == pytest.approx(-7.0)
    assert c.facts["price_change_pct"] == pytest.approx(-4.0)
    assert c.facts["within_s"] == 1200.0
    assert c.facts["closed_usd"] == pytest.approx(70_000 * 96.0)  # 70,000 SOL closed, valued now
    assert c.strength == pytest.approx(7.0 / 5.0)
    assert "longs flushed" in c.notes[0]


def test_a_short_squeeze_proposes_a_short_and_momentum_mode_turns_both_around() -> None:
    squeeze = (oi(0, 1_000_000, 100.0), oi(15, 940_000, 103.0))  # -6 % open interest, +3 % price
    [[], [c]] = feed(strategy(), *squeeze)
    assert c.direction is Direction.SHORT
    assert c.stop == pytest.approx(103.0 * 1.005)
    [[], [m]] = feed(strategy(mode="momentum"), *squeeze)
    assert m.direction is Direction.LONG
    [[], [a]] = feed(strategy(mode="alert"), *squeeze)
    assert (a.direction, a.stop, a.targets) == (Direction.NONE, None, ())


def test_price_revaluation_alone_is_no_flush_the_coins_are_compared() -> None:
    # The USD figure falls 10 % with the price; the coins open stay the same: nobody closed anything.
    assert feed(strategy(), oi(0, 1_000_000, 100.0), oi(10, 1_000_000, 90.0)) == [[], []]


@pytest.mark.parametrize(
    ("later", "why"),
    [
        (oi(20, 960_000, 96.0), "open interest only -4 %"),
        (oi(20, 930_000, 99.0), "price only -1 %"),
        (oi(31, 930_000, 96.0), "the peak left the 30-minute window"),
    ],
)
def test_below_either_threshold_or_outside_the_window_nothing_fires(later: OpenInterest, why: str) -> None:
    assert feed(strategy(), oi(0, 1_000_000, 100.0), later) == [[], []], why


def test_a_thin_market_does_not_count() -> None:
    # $1M open interest: one trader closing halves it
    assert feed(strategy(), oi(0, 10_000, 100.0), oi(10, 9_000, 95.0)) == [[], []]


def test_it_fires_once_per_window_and_ignores_repeated_or_older_samples() -> None:
    s = strategy()
    out = feed(
        s,
        oi(0, 1_000_000, 100.0),
        oi(10, 930_000, 96.0),
        oi(10, 900_000, 95.0),  # the same time again: a repeated poll
        oi(12, 900_000, 95.0),  # still within the window of the first flush
    )
    assert [len(x) for x in out] == [0, 1, 0, 0]


def test_symbols_and_exchanges_are_kept_apart_and_other_events_are_ignored() -> None:
    s = strategy()
    assert s.on_event(Ticker("bybit", "SOL/USDT:USDT", T0, 100.0, 1e9)) == []
    out = feed(s, oi(0, 1_000_000, 100.0), oi(10, 930_000, 96.0, symbol="ETH/USDT:USDT"))
    assert out == [[], []]


def test_the_spec_declares_its_input_cooldown_and_alert() -> None:
    section = SPEC.settings()
    built = SPEC.factory(section)
    assert built.name == "open_interest"
    [[], [c]] = feed(built, oi(0, 1_000_000, 100.0), oi(20, 930_000, 96.0))  # type: ignore[arg-type]
    key, seconds = SPEC.cooldown(c, section, None)  # type: ignore[arg-type]
    assert (key, seconds) == ("open_interest:flush:bybit:SOL/USDT:USDT", 7200.0)
    assert set(SPEC.alerts) == {"flush"}


def test_the_extreme_stop_goes_k_ranges_beyond_the_flushs_extreme_then_the_buffer() -> None:
    # Since the peak the price ran 100 → 99 → 96: range 4; k = 0.5 puts the LONG's stop 2 below the low.
    flush = (oi(0, 1_000_000, 100.0), oi(10, 990_000, 99.0), oi(20, 930_000, 96.0))
    [[], [], [c]] = feed(strategy(stop_range_k=0.5), *flush)
    assert c.stop == pytest.approx((96.0 - 0.5 * 4.0) * 0.995)
    [[], [], [m]] = feed(strategy(stop_range_k=0.5, mode="momentum"), *flush)  # SHORT: above the high
    assert (m.direction, m.stop) == (Direction.SHORT, pytest.approx((100.0 + 0.5 * 4.0) * 1.005))


def test_the_fixed_stop_is_a_percentage_of_entry() -> None:
    flush = (oi(0, 1_000_000, 100.0), oi(20, 930_000, 96.0))
    [[], [c]] = feed(strategy(stop_style="fixed", stop_pct=3.0), *flush)
    assert (c.direction, c.stop) == (Direction.LONG, pytest.approx(96.0 * 0.97))
