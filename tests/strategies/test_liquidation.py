"""Liquidation cascades from streams in each exchange's payload shape."""

from __future__ import annotations

from typing import Literal

import pytest

from signalbots.events import Candle, Liquidation, Side, Ticker
from signalbots.exchange.normalize import binance_force_order, bybit_liquidations, okx_liquidations
from signalbots.settings import LiquidationSettings
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies.liquidation import LiquidationStrategy

T0 = 1_700_000_000_000
SYMBOLS = {
    "SOLUSDT": "SOL/USDT:USDT",
    "BTCUSDT": "BTC/USDT:USDT",
    "SOL-USDT-SWAP": "SOL/USDT:USDT",
    "DOGEUSDT": "DOGE/USDT:USDT",
}


def _binance(t_ms: int, side: str, qty: float, price: float, symbol: str = "SOLUSDT") -> Liquidation:
    payload = {
        "e": "forceOrder",
        "E": t_ms + 3,
        "o": {
            "s": symbol,
            "S": side,
            "o": "LIMIT",
            "f": "IOC",
            "q": str(qty),
            "p": str(price * 0.995),
            "ap": str(price),
            "X": "FILLED",
            "l": str(qty),
            "z": str(qty),
            "T": t_ms,
        },
    }
    return binance_force_order(payload, SYMBOLS)


def _bybit(t_ms: int, side: str, qty: float, price: float, symbol: str = "DOGEUSDT") -> list[Liquidation]:
    message = {
        "topic": f"allLiquidation.{symbol}",
        "type": "snapshot",
        "ts": t_ms + 5,
        "data": [{"T": t_ms, "s": symbol, "S": side, "v": str(qty), "p": str(price)}],
    }
    return bybit_liquidations(message, SYMBOLS)


def _okx(t_ms: int, pos_side: str, side: str, contracts: int, price: float) -> list[Liquidation]:
    item = {
        "instId": "SOL-USDT-SWAP",
        "instType": "SWAP",
        "details": [
            {"bkPx": str(price), "sz": str(contracts), "side": side, "posSide": pos_side, "ts": str(t_ms)}
        ],
    }
    return okx_liquidations(item, SYMBOLS, {"SOL-USDT-SWAP": 1.0})


def _feed(strategy: LiquidationStrategy, prints: list[Liquidation]) -> list[Candidate]:
    return [c for p in prints for c in strategy.on_event(p)]


def test_a_binance_long_cascade_fires_once_and_clears_its_window() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    # SOL, no ticker yet: the "other" tier, $250k. SELL orders = longs liquidated.
    prints = [_binance(T0 + i * 1_000, "SELL", 1_000, 100.0) for i in range(3)]  # $100k each
    out = _feed(strategy, prints)
    (c,) = out
    assert (c.kind, c.direction, c.symbol, c.exchange) == (
        "cascade",
        Direction.LONG,
        "SOL/USDT:USDT",
        "binanceusdm",
    )
    assert c.time_ms == T0 + 2_000
    assert c.facts["window_notional_usd"] == pytest.approx(300_000)
    assert c.facts["prints"] == 3
    assert c.facts["threshold_usd"] == 250_000
    assert c.dedupe_key == f"liquidation:binanceusdm:SOL/USDT:USDT:long:{T0 + 2_000}"
    assert c.notes[0] == "3 longs liquidated within 5m"  # as the facts line says it, not "300s"
    assert any("lower bound" in n for n in c.notes)
    assert c.entry == 100.0 and c.stop == pytest.approx(98.5)  # stop_pct 1.5% without candles
    assert c.targets == pytest.approx((101.5, 103.0))
    assert c.strength == pytest.approx(1.2)

    # the same prints cannot fire again: the next one starts a fresh window
    assert strategy.on_event(_binance(T0 + 3_000, "SELL", 1_000, 100.0)) == []
    assert strategy.on_event(_binance(T0 + 4_000, "SELL", 1_000, 100.0)) == []
    assert len(strategy.on_event(_binance(T0 + 5_000, "SELL", 1_000, 100.0))) == 1


def test_prints_split_across_windows_do_not_fire_together() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    early = _binance(T0, "SELL", 2_000, 100.0)  # $200k
    late = _binance(T0 + 300_001, "SELL", 1_000, 100.0)  # $100k, just over 5 min later
    assert _feed(strategy, [early, late]) == []
    # and within the window they would have
    again = LiquidationStrategy(settings=LiquidationSettings())
    assert len(_feed(again, [early, _binance(T0 + 299_000, "SELL", 1_000, 100.0)])) == 1


def test_a_late_print_older_than_the_window_is_not_counted() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    assert strategy.on_event(_binance(T0 + 400_000, "SELL", 2_000, 100.0)) == []
    assert strategy.on_event(_binance(T0, "SELL", 2_000, 100.0)) == []  # 400 s older than the newest


def test_long_and_short_liquidations_are_separate_windows() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    prints = [_binance(T0, "SELL", 1_500, 100.0), _binance(T0 + 1_000, "BUY", 1_500, 100.0)]
    assert _feed(strategy, prints) == []


def test_one_big_print_is_not_a_cascade() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    assert strategy.on_event(_binance(T0, "SELL", 100_000, 100.0)) == []  # $10M but one print


def test_bybit_buy_updates_are_long_liquidations() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    prints = _bybit(T0, "Buy", 1_000_000, 0.2) + _bybit(T0 + 500, "Buy", 1_000_000, 0.2)  # 2 × $200k
    (c,) = _feed(strategy, prints)
    assert (c.exchange, c.symbol, c.direction) == ("bybit", "DOGE/USDT:USDT", Direction.LONG)
    assert c.facts["window_notional_usd"] == pytest.approx(400_000)
    assert not any("lower bound" in n for n in c.notes)  # Bybit sends every liquidation


def test_okx_short_squeeze_is_a_short_in_contrarian_mode() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    prints = _okx(T0, "short", "buy", 1_500, 100.0) + _okx(T0 + 700, "net", "buy", 1_500, 100.0)
    (c,) = _feed(strategy, prints)
    assert (c.exchange, c.direction) == ("okx", Direction.SHORT)
    assert c.stop is not None and c.stop > c.entry
    assert c.facts["window_notional_usd"] == pytest.approx(300_000)


@pytest.mark.parametrize(
    ("base", "volume_24h", "threshold"),
    [
        ("BTCUSDT", 50e9, 5_000_000.0),  # a major, whatever its volume
        ("SOLUSDT", 600e6, 1_000_000.0),  # liquid
        ("SOLUSDT", 400e6, 250_000.0),  # other
        ("SOLUSDT", None, 250_000.0),  # volume unknown: other
    ],
)
def test_tiers_pick_the_threshold(base: str, volume_24h: float | None, threshold: float) -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    symbol = SYMBOLS[base]
    if volume_24h is not None:
        strategy.on_event(
            Ticker(exchange="binanceusdm", symbol=symbol, time_ms=T0, last=100.0, quote_volume_24h=volume_24h)
        )
    assert strategy.threshold_usd("binanceusdm", symbol) == threshold
    half = threshold / 2 / 100.0
    below = [
        _binance(T0 + 1_000, "SELL", half, 100.0, base),
        _binance(T0 + 2_000, "SELL", half * 0.99, 100.0, base),
    ]
    assert _feed(strategy, below) == []
    (c,) = strategy.on_event(_binance(T0 + 3_000, "SELL", half * 0.02, 100.0, base))
    assert c.facts["threshold_usd"] == threshold


@pytest.mark.parametrize(
    ("mode", "liquidated", "direction"),
    [
        ("contrarian", "SELL", Direction.LONG),
        ("contrarian", "BUY", Direction.SHORT),
        ("momentum", "SELL", Direction.SHORT),
        ("momentum", "BUY", Direction.LONG),
        ("alert", "SELL", Direction.NONE),
        ("alert", "BUY", Direction.NONE),
    ],
)
def test_modes_map_to_directions(
    mode: Literal["contrarian", "momentum", "alert"], liquidated: str, direction: Direction
) -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings(mode=mode))
    (c,) = _feed(strategy, [_binance(T0 + i * 1_000, liquidated, 1_500, 100.0) for i in range(2)])
    assert c.direction is direction
    if direction is Direction.NONE:
        assert (c.stop, c.targets) == (None, ())
    elif direction is Direction.LONG:
        assert c.stop is not None and c.stop < c.entry < c.targets[0] < c.targets[1]
    else:
        assert c.stop is not None and c.stop > c.entry > c.targets[0] > c.targets[1]


def _candles(n: int, *, range_: float, timeframe: str = "5m") -> list[Candle]:
    return [
        Candle(
            exchange="binanceusdm",
            symbol="SOL/USDT:USDT",
            time_ms=T0 - (n - i) * 300_000,
            timeframe=timeframe,
            open=100.0,
            high=100.0 + range_ / 2,
            low=100.0 - range_ / 2,
            close=100.0,
            volume=1.0,
        )
        for i in range(n)
    ]


def test_the_stop_comes_from_atr_when_candles_are_known() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    for candle in _candles(15, range_=2.0):
        strategy.on_event(candle)
    strategy.on_event(
        Ticker(exchange="binanceusdm", symbol="SOL/USDT:USDT", time_ms=T0, last=99.0, quote_volume_24h=1e8)
    )
    (c,) = _feed(strategy, [_binance(T0 + i * 1_000, "SELL", 1_500, 100.0) for i in range(2)])
    assert c.entry == 100.0  # the newest print: fresher than the ticker
    # 13 closed candles of range 2 and the cascade as the newest (prints at the last close: range 0).
    assert c.facts["atr"] == pytest.approx((13 * 2.0 + 0.0) / 14)
    assert c.stop == pytest.approx(100.0 - 1.5 * 26.0 / 14)


def test_the_atr_stop_counts_the_cascade_itself_as_the_newest_candle() -> None:
    """The issue's case: calm candles (range 0.2) and a cascade taking the price from 100 to 96: the ATR
    of the calm candles alone would put the stop 0.3 away, inside the cascade's own noise."""
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    for candle in _candles(15, range_=0.2):
        strategy.on_event(candle)
    prints = [_binance(T0 + 1_000, "SELL", 1_500, 99.0), _binance(T0 + 2_000, "SELL", 1_500, 96.0)]
    (c,) = _feed(strategy, prints)
    assert c.direction is Direction.LONG and c.entry == 96.0
    # The cascade's true range against the last close (100): max(99 − 96, |99 − 100|, |96 − 100|) = 4.
    assert c.facts["atr"] == pytest.approx((13 * 0.2 + 4.0) / 14)
    assert c.stop == pytest.approx(96.0 - 1.5 * (13 * 0.2 + 4.0) / 14)


def test_the_extreme_stop_sits_beyond_the_cascades_extreme_print() -> None:
    settings = LiquidationSettings(stop_style="extreme", stop_range_k=0.5)
    for mode, side, prices, stop in (
        ("contrarian", "SELL", (99.0, 96.0), 96.0 - 0.5 * 3.0),  # LONG: below the low by half the range
        ("momentum", "SELL", (99.0, 96.0), 99.0 + 0.5 * 3.0),  # SHORT: above the high
        ("contrarian", "BUY", (101.0, 104.0), 104.0 + 0.5 * 3.0),  # shorts squeezed: SHORT above the high
    ):
        strategy = LiquidationStrategy(settings=settings.model_copy(update={"mode": mode}))
        (c,) = _feed(strategy, [_binance(T0 + i * 1_000, side, 1_500, x) for i, x in enumerate(prices)])
        assert c.stop == pytest.approx(stop), mode
        assert "atr" not in c.facts


def test_the_fixed_stop_ignores_known_candles() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings(stop_style="fixed", stop_pct=2.0))
    for candle in _candles(15, range_=2.0):
        strategy.on_event(candle)
    (c,) = _feed(strategy, [_binance(T0 + i * 1_000, "SELL", 1_500, 100.0) for i in range(2)])
    assert c.stop == pytest.approx(98.0) and "atr" not in c.facts


def test_a_cascade_whose_ticker_is_fifty_seconds_older_takes_the_newest_prints_price() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    strategy.on_event(
        Ticker(exchange="binanceusdm", symbol="SOL/USDT:USDT", time_ms=T0, last=100.0, quote_volume_24h=1e8)
    )
    prints = [_binance(T0 + 40_000, "SELL", 1_500, 99.7), _binance(T0 + 50_000, "SELL", 1_500, 99.65)]
    (c,) = _feed(strategy, prints)
    assert c.entry == 99.65 and c.facts["price_age_s"] == 0.0
    assert c.stop is not None and c.stop == pytest.approx(99.65 * (1 - 0.015))  # placed from that entry


def test_too_few_or_other_timeframe_candles_fall_back_to_stop_pct() -> None:
    # 13 closed candles: with the cascade as the 14th, still one short of a full ATR(14).
    for candles in (_candles(13, range_=2.0), _candles(15, range_=2.0, timeframe="1h")):
        strategy = LiquidationStrategy(settings=LiquidationSettings())
        for candle in candles:
            strategy.on_event(candle)
        (c,) = _feed(strategy, [_binance(T0 + i * 1_000, "SELL", 1_500, 100.0) for i in range(2)])
        assert "atr" not in c.facts
        assert c.stop == pytest.approx(98.5)


def test_a_stale_ticker_price_is_not_the_entry() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    strategy.on_event(
        Ticker(
            exchange="binanceusdm",
            symbol="SOL/USDT:USDT",
            time_ms=T0 - 3_600_000,
            last=120.0,
            quote_volume_24h=1e8,
        )
    )
    (c,) = _feed(strategy, [_binance(T0 + i * 1_000, "SELL", 1_500, 100.0) for i in range(2)])
    assert c.entry == 100.0


def test_other_exchanges_and_symbols_have_their_own_windows() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    prints = [
        _binance(T0, "SELL", 1_500, 100.0),
        *_okx(T0 + 100, "long", "sell", 1_500, 100.0),
        _binance(T0 + 200, "SELL", 1_500_000, 0.1, "DOGEUSDT"),
    ]
    assert _feed(strategy, prints) == []
    assert Side.LONG in {p.side for p in prints}


def test_a_late_arriving_print_does_not_stretch_the_window() -> None:
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    newest = _binance(T0 + 400_000, "SELL", 1_000, 100.0)  # $100k
    late = _binance(T0 + 200_000, "SELL", 1_000, 100.0)  # arrives after, but 200 s older: still in the window
    assert _feed(strategy, [newest, late]) == []
    # 200 s before the late one (and 400 s before the newest): outside the window that ends at the newest
    assert strategy.on_event(_binance(T0 + 50_000, "SELL", 1_000, 100.0)) == []
    (c,) = strategy.on_event(_binance(T0 + 401_000, "SELL", 1_000, 100.0))
    assert c.facts["prints"] == 3
