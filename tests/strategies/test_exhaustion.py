"""Exhaustion confirmation: a cascade is signalled once the forced selling stops, or not at all."""

from __future__ import annotations

from signalbots.events import Candle, Liquidation, MarketEvent, Side, Ticker
from signalbots.settings import LiquidationSettings
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._exhaustion import peak_rate
from signalbots.strategies.liquidation import LiquidationStrategy

T0 = 1_699_999_800_000  # a multiple of 5 minutes
SOL = "SOL/USDT:USDT"


def _liq(t_s: float, usd: float, *, side: Side = Side.LONG, price: float = 100.0) -> Liquidation:
    return Liquidation("binanceusdm", SOL, T0 + round(t_s * 1000), side, price, usd / price, usd)


def _tick(t_s: float, last: float = 99.0, symbol: str = SOL) -> Ticker:
    return Ticker("binanceusdm", symbol, T0 + round(t_s * 1000), last, None)


def _candle(open_s: float, o: float, c: float, symbol: str = SOL) -> Candle:
    return Candle(
        "binanceusdm", symbol, T0 + round(open_s * 1000), "5m", o, max(o, c) + 1, min(o, c) - 1, c, 10.0
    )


def _run(strategy: LiquidationStrategy, events: list[MarketEvent]) -> list[Candidate]:
    return [c for e in events for c in strategy.on_event(e)]


def _strategy(**kw: object) -> LiquidationStrategy:
    return LiquidationStrategy(settings=LiquidationSettings.model_validate(kw))


# $300k of longs in 50 s: past the $250k tier at the third print; the peak minute holds all of it.
CASCADE: list[MarketEvent] = [_liq(0, 100_000), _liq(30, 100_000), _liq(50, 100_000)]


def test_peak_rate_is_the_largest_minute_ending_at_a_print() -> None:
    prints = [_liq(0, 100_000), _liq(30, 100_000), _liq(50, 100_000), _liq(100, 50_000)]
    assert peak_rate(prints) == 300_000  # 0…50 s; at 100 s the minute holds 50 s and 100 s: $150k


def test_rate_drop_waits_for_the_rate_to_fall_under_its_share_of_the_peak() -> None:
    strategy = _strategy(confirm="rate_drop", confirm_fraction=0.25)
    assert _run(strategy, CASCADE) == []  # past the threshold: held, not signalled
    assert _run(strategy, [_liq(100, 50_000)]) == []  # the minute to 100 s: $150k ≥ 25 % of $300k
    (c,) = strategy.on_event(_tick(150, last=97.0))  # the minute to 150 s: $50k < $75k
    assert c.direction is Direction.LONG
    assert c.time_ms == T0 + 150_000
    assert c.entry == 97.0  # the ticker is newer than the last print
    assert c.facts["peak_rate_usd"] == 300_000
    assert c.facts["confirm_rate_usd"] == 50_000
    assert c.facts["confirm_wait_s"] == 100  # from the print that crossed the threshold
    assert c.facts["window_notional_usd"] == 350_000  # the print that came while it waited belongs to it
    assert c.facts["prints"] == 4


def test_an_unconfirmed_cascade_is_dropped_and_counted_on_the_next_signal() -> None:
    strategy = _strategy(confirm="rate_drop", confirm_fraction=0.5, confirm_within="60s")
    _run(strategy, CASCADE)  # waits until 110 s
    selling_on = [_liq(t, 100_000) for t in (60, 70, 80, 90, 100)]
    assert _run(strategy, [*selling_on, _tick(120)]) == []  # still $500k a minute at 110 s: dropped
    assert strategy.unconfirmed == 1
    _run(strategy, [_liq(1000, 100_000), _liq(1010, 100_000), _liq(1020, 100_000)])
    (c,) = strategy.on_event(_tick(1075))  # the minute to 1075 s: $100k < 50 % of $300k
    assert c.facts["unconfirmed_count"] == 1


def test_close_back_waits_for_a_candle_closing_against_the_cascade() -> None:
    strategy = _strategy(confirm="close_back")
    _run(strategy, CASCADE)
    assert strategy.on_event(_candle(0, 100.0, 96.0)) == []  # closes down: still falling
    assert strategy.on_event(_candle(300, 96.0, 97.5, symbol="ETH/USDT:USDT")) == []  # another market
    (c,) = strategy.on_event(_candle(300, 96.0, 97.5))  # longs liquidated, then a candle closes up
    assert (c.direction, c.entry, c.time_ms) == (Direction.LONG, 97.5, T0 + 600_000)
    assert c.facts["confirm_wait_s"] == 550
    assert "confirm_rate_usd" not in c.facts


def test_close_back_for_shorts_squeezed_needs_a_down_candle() -> None:
    strategy = _strategy(confirm="close_back")
    _run(strategy, [_liq(t, 100_000, side=Side.SHORT) for t in (0, 30, 50)])
    assert strategy.on_event(_candle(300, 100.0, 101.0)) == []
    (c,) = strategy.on_event(_candle(600, 101.0, 100.2))
    assert c.direction is Direction.SHORT


def test_without_confirmation_the_cascade_fires_at_once() -> None:
    (c,) = _run(_strategy(), CASCADE)
    assert c.time_ms == T0 + 50_000
    assert "peak_rate_usd" not in c.facts
