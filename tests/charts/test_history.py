"""The in-memory market data for charts stays bounded however much the feeds deliver."""

from __future__ import annotations

import itertools

from signalbots.charts.history import MarketHistory
from signalbots.events import Candle, FundingSnapshot, Liquidation, Side


def _candle(sym: str, i: int) -> Candle:
    return Candle("okx", sym, i * 300_000, "5m", 1, 2, 0.5, 1.5, 10, 15)


def test_candles_per_symbol_and_symbols_overall_are_bounded() -> None:
    h = MarketHistory(candles=10, max_symbols=3)
    for s in range(5):
        for i in range(30):
            h.on_event(_candle(f"S{s}/USDT:USDT", i))
    assert len(h) == 3
    assert h.candles("okx", "S0/USDT:USDT", "5m") == []  # forgotten first: updated least recently
    held = h.candles("okx", "S4/USDT:USDT", "5m")
    assert [c.time_ms // 300_000 for c in held] == list(range(20, 30))


def test_a_candle_delivered_twice_is_held_once_and_the_newest_version_wins() -> None:
    h = MarketHistory()
    h.on_event(_candle("A/USDT:USDT", 1))
    h.on_event(Candle("okx", "A/USDT:USDT", 300_000, "5m", 1, 3, 0.5, 2.5, 10, 15))
    h.on_event(_candle("A/USDT:USDT", 0))
    (only,) = h.candles("okx", "A/USDT:USDT", "5m")
    assert only.close == 2.5


def test_liquidations_older_than_the_horizon_and_beyond_the_count_are_dropped() -> None:
    h = MarketHistory(prints=5, liquidation_horizon=60)
    for i in range(10):
        h.on_event(Liquidation("okx", "A/USDT:USDT", i * 10_000, Side.LONG, 1.0, 1.0, 1.0))
    assert [p.time_ms for p in h.prints("okx", "A/USDT:USDT")] == [50_000, 60_000, 70_000, 80_000, 90_000]
    h.on_event(Liquidation("okx", "A/USDT:USDT", 200_000, Side.LONG, 1.0, 1.0, 1.0))
    assert [p.time_ms for p in h.prints("okx", "A/USDT:USDT")] == [200_000]


def test_funding_keeps_one_point_per_step() -> None:
    h = MarketHistory(funding_step=300, funding_points=4)
    for i in range(30):  # a snapshot a minute for 30 minutes
        h.on_event(FundingSnapshot("okx", "A/USDT:USDT", i * 60_000, i * 1e-5, 8, None, 1.0))
    points = h.funding("okx", "A/USDT:USDT")
    assert len(points) == 4
    assert points[-1].time_ms == 29 * 60_000  # the newest snapshot is always there
    assert all(b.time_ms - a.time_ms >= 240_000 for a, b in itertools.pairwise(points[:-1]))


def test_find_matches_what_people_type() -> None:
    h = MarketHistory()
    for ex, sym in (("okx", "BTC/USDT:USDT"), ("bybit", "BTC/USDC:USDC"), ("binanceusdm", "ETH/USDT:USDT")):
        h.on_event(Candle(ex, sym, 0, "5m", 1, 2, 0.5, 1.5, 10, 15))
    assert h.find("btc")[0] == ("okx", "BTC/USDT:USDT")
    assert h.find("BTCUSDT") == [("okx", "BTC/USDT:USDT")]
    assert h.find("ETH/USDT:USDT") == [("binanceusdm", "ETH/USDT:USDT")]
    assert h.find("DOGE") == []


async def test_a_bus_tap_holds_every_event_before_any_subscriber_sees_it() -> None:
    from signalbots.exchange.bus import EventBus
    from signalbots.metrics import Metrics

    bus, h = EventBus(metrics=Metrics()), MarketHistory()
    bus.tap(h.on_event)
    sub = bus.subscribe("strategy:volume")
    bus.publish(_candle("A/USDT:USDT", 3))
    event = await sub.get()
    assert h.candles("okx", "A/USDT:USDT", "5m") == [event]


def test_an_event_it_cannot_hold_is_skipped_without_raising_into_the_feed() -> None:
    h = MarketHistory()
    h.on_event(Candle("okx", "A/USDT:USDT", None, "5m", 1, 2, 0.5, 1.5, 10, 15))  # type: ignore[arg-type]
    h.on_event(Candle("okx", "A/USDT:USDT", 0, "5m", "x", 2, 0.5, 1.5, 10, 15))  # type: ignore[arg-type]
    h.on_event(_candle("A/USDT:USDT", 1))
    assert [c.time_ms for c in h.candles("okx", "A/USDT:USDT", "5m")] == [300_000]
