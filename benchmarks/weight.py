"""REST weight per minute each feed spends for full-market coverage of the simulated Binance (500 symbols).

Runs the real ccxt client against the simulator for ``MINUTES`` simulated minutes (a ManualClock, so it takes
seconds) with each feed alone, then all together, and prints weight per minute and the share of the budget.
Run: ``.venv/bin/python benchmarks/weight.py``
"""

from __future__ import annotations

import asyncio
from typing import Any

from signalbots.clock import ManualClock
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.feeds import (
    CandleFeed,
    FundingFeed,
    LiquidationFeed,
    TickerFeed,
)
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import BUDGETS, WeightLimiter
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

EX = "binanceusdm"
SYMBOLS = 500
MINUTES = 30
FEEDS = ("tickers", "funding", "liquidations", "candles")


async def measure(kinds: tuple[str, ...]) -> tuple[float, float, int]:
    """(steady weight per minute, first-minute weight, symbols with candles)."""
    clock = ManualClock()
    market = Market(clock=clock, seed=3, symbols=SYMBOLS, exchanges=(EX,))
    market.background_liquidations_per_minute = 30.0
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        metrics = Metrics()
        settings = sim.settings(EX)
        limiter = WeightLimiter.for_exchange(EX, budget_fraction=settings.budget_fraction, clock=clock)
        breakers = BreakerRegistry(settings=BreakerSettings(), clock=clock, metrics=metrics)
        async with Gateway(
            exchange_id=EX,
            settings=settings,
            limiter=limiter,
            breakers=breakers,
            clock=clock,
            metrics=metrics,
        ) as gateway:
            bus, liquidity, health = EventBus(metrics=metrics), Liquidity(), Health(clock=clock)
            common: dict[str, Any] = {
                "gateway": gateway,
                "bus": bus,
                "settings": settings,
                "clock": clock,
                "metrics": metrics,
            }
            feeds: list[Any] = []
            if (
                "tickers" in kinds or "candles" in kinds
            ):  # the candle feed needs the tickers' liquidity ranking
                feeds.append(TickerFeed(liquidity=liquidity, **common))
            if "funding" in kinds:
                feeds.append(FundingFeed(**common))
            if "liquidations" in kinds:
                feeds.append(LiquidationFeed(**common))
            candles = None
            if "candles" in kinds:
                candles = CandleFeed(liquidity=liquidity, timeframe="5m", floor_usd=5e6, **common)
                feeds.append(candles)
            tasks = [asyncio.create_task(f.run(health.task(f.name, kind="feed"))) for f in feeds]
            before = len(sim.requests(EX))
            try:
                for _ in range(MINUTES):
                    for _ in range(50):  # let the minute's requests finish (real I/O)
                        await asyncio.sleep(0.002)
                    clock.advance(60.0)
                    await sim.flush()
                await asyncio.sleep(0.2)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            assert len(sim.requests(EX)) > before or kinds == ("liquidations",)
            per_minute = sorted(sim.weight_by_minute().items())
            first = per_minute[0][1] if per_minute else 0.0
            steady = [w for _, w in per_minute[1:-1]]
            return (
                (sum(steady) / len(steady) if steady else 0.0),
                first,
                len(candles.symbols) if candles else 0,
            )


async def main() -> None:
    budget = BUDGETS[EX].units
    print(
        f"simulated Binance USDⓈ-M, {SYMBOLS} symbols, {MINUTES} simulated minutes, budget {budget:.0f}/min"
    )
    print(f"{'feed':<22}{'weight/min':>12}{'first min':>12}{'of budget':>12}")
    for kind in FEEDS:
        steady, first, _ = await measure((kind,))
        label = kind + (" (+tickers)" if kind == "candles" else "")
        print(f"{label:<22}{steady:>12.1f}{first:>12.0f}{steady / budget:>11.1%}")
    steady, first, watched = await measure(FEEDS)
    print(
        f"{'all feeds':<22}{steady:>12.1f}{first:>12.0f}{steady / budget:>11.1%}"
        f"   (candles for {watched} symbols above $5M 24h volume, via kline streams)"
    )


if __name__ == "__main__":
    asyncio.run(main())
