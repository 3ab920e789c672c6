"""The pure strategy path on recorded-like candles: events per second through each strategy's ``on_event``
(no I/O), the figure the backtest's speed rests on. Candles come from the simulator's market (100 symbols ×
2,000 5m candles, about a week), replayed in time order; tickers first so every symbol is above the floor.

Not part of ``python -m benchmarks`` (no summary key); run: ``python -m benchmarks.replay``.
"""

from __future__ import annotations

import time

from signalbots.clock import ManualClock
from signalbots.events import Candle, Ticker
from signalbots.settings import LiquidationSettings, VolumeSettings
from signalbots.sim.market import Market
from signalbots.strategies.liquidation import LiquidationStrategy
from signalbots.strategies.volume import VolumeStrategy

SYMBOLS = 100
CANDLES = 2000


def events() -> list[Candle | Ticker]:
    clock = ManualClock(start=1_700_000_000.0)
    market = Market(clock=clock, seed=4, symbols=SYMBOLS, exchanges=("binanceusdm",))
    span = 300_000
    start = int(clock.time() * 1000) // span * span - CANDLES * span
    out: list[Candle | Ticker] = [
        Ticker(exchange="binanceusdm", symbol=x.symbol, time_ms=start, last=x.price, quote_volume_24h=1e9)
        for x in market.trading("binanceusdm")
    ]
    for i in range(CANDLES):
        for x in market.trading("binanceusdm"):
            b = market.bar(x, "5m", start + i * span)
            out.append(
                Candle(
                    exchange="binanceusdm",
                    symbol=x.symbol,
                    time_ms=b.open_ms,
                    timeframe="5m",
                    open=b.open,
                    high=b.high,
                    low=b.low,
                    close=b.close,
                    volume=b.volume,
                    quote_volume=b.quote_volume,
                )
            )
    return out


def main() -> None:
    stream = events()
    for name, strategy in (
        ("volume", VolumeStrategy(settings=VolumeSettings())),
        ("liquidation", LiquidationStrategy(settings=LiquidationSettings())),
    ):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for event in stream:
                strategy.on_event(event)
            best = min(best, time.perf_counter() - start)
            strategy = type(strategy)(settings=strategy.settings)  # type: ignore[call-arg]
        print(f"{name:<12} {len(stream) / best:>10,.0f} events/s  ({len(stream):,} events, best of 3)")


if __name__ == "__main__":
    main()
