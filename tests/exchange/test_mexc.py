"""MEXC as a first-class exchange: the whole market's funding without a symbol list, tickers and candles with
MEXC's own turnover, all within "20 times per 2 seconds" per endpoint — the real ccxt client and the daemon's
feeds against the MEXC simulator, on a ManualClock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from signalbots.clock import ManualClock
from signalbots.events import Candle, FundingSnapshot, Ticker
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.feeds import feeds_for
from signalbots.exchange.funding import FundingFeed
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.tickers import TickerFeed
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

EX = "mexc"
REAL_TIMEOUT = 30.0  # a safety net in real seconds; nothing waits for it when the code works
CONTRACT = "/api/v1/contract/"


async def test_mexc_covers_the_market_within_its_per_endpoint_limit() -> None:
    clock = ManualClock(start=1_700_000_000.0)
    metrics = Metrics()
    market = Market(clock=clock, seed=3, symbols=60, exchanges=(EX,))
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        settings = sim.settings(EX, request_timeout=5.0, funding_symbols=[])
        gateway = Gateway(
            exchange_id=EX,
            settings=settings,
            limiter=WeightLimiter.for_exchange(EX, budget_fraction=settings.budget_fraction, clock=clock),
            breakers=BreakerRegistry(settings=BreakerSettings(), clock=clock, metrics=metrics),
            clock=clock,
            metrics=metrics,
        )
        async with gateway:
            bus, liquidity, health = EventBus(metrics=metrics), Liquidity(), Health(clock=clock)
            sub = bus.subscribe("test")
            common: dict[str, Any] = {
                "gateway": gateway,
                "bus": bus,
                "settings": settings,
                "clock": clock,
                "metrics": metrics,
            }
            feeds = feeds_for(
                liquidity=liquidity, timeframe="5m", floor_usd=5e6, **common
            )  # MEXC has no liquidation stream
            assert [type(f) for f in feeds] == [TickerFeed, FundingFeed, CandleFeed]
            tasks = [asyncio.create_task(f.run(health.task(f.name, kind="feed"))) for f in feeds]
            seen: list[Any] = []

            def of(kind: type) -> list[Any]:
                seen.extend(sub.drain())
                return [e for e in seen if isinstance(e, kind)]

            async def run_until(predicate: Callable[[], bool]) -> None:
                async with asyncio.timeout(REAL_TIMEOUT):
                    while not predicate():
                        assert not any(t.done() for t in tasks), tasks
                        await clock.run_for(1.0)
                        await asyncio.sleep(0.002)  # the feeds' real I/O with the simulator

            try:
                symbols = set(gateway.markets)
                assert len(symbols) >= 40
                await run_until(lambda: {e.symbol for e in of(FundingSnapshot)} == symbols)
                await run_until(lambda: len({c.symbol for c in of(Candle)}) >= 10)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        funding = of(FundingSnapshot)
        assert all(f.interval_hours > 0 and f.next_funding_ms for f in funding)
        tickers = of(Ticker)
        assert all(t.quote_volume_24h is not None and t.quote_volume_24h > 0 for t in tickers)
        candles = of(Candle)
        assert candles and all(c.quote_volume is not None for c in candles)
        # Base volume is contracts × contract size: it agrees with MEXC's turnover at the candle's prices.
        assert all(
            c.low * c.volume * 0.95 <= (c.quote_volume or 0) <= c.high * c.volume * 1.05 for c in candles
        )
        # Nothing was refused (code 510 comes with HTTP 200 and no weight), on any endpoint:
        refused = [r for r in sim.requests(EX) if r.path.startswith(CONTRACT) and r.weight == 0]
        assert refused == []
        assert not [p for p in sim.venue(EX).unknown_paths]
        assert not any(r.path.startswith("/api/v3/") for r in sim.requests(EX))  # no spot markets loaded
