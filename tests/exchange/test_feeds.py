"""Feeds with the real ccxt.pro client against the exchange simulator, on a ManualClock."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from signalbots.clock import ManualClock
from signalbots.events import Candle, FundingSnapshot, Liquidation, Side, Ticker
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity, Subscription
from signalbots.exchange.feeds import (
    CandleFeed,
    FundingFeed,
    LiquidationFeed,
    TickerFeed,
)
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.health import Health, TaskStatus
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings, ExchangeSettings
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind

EX = "binanceusdm"
REAL_TIMEOUT = 20.0  # a safety net in real seconds; nothing waits for it when the code works


@dataclass
class Rig:
    clock: ManualClock
    sim: ExchangeSim
    gateway: Gateway
    bus: EventBus
    sub: Subscription
    liquidity: Liquidity
    health: Health
    metrics: Metrics
    settings: ExchangeSettings
    tasks: list[asyncio.Task[None]]

    def common(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "bus": self.bus,
            "settings": self.settings,
            "clock": self.clock,
            "metrics": self.metrics,
        }

    def start(self, feed: Any) -> None:
        th = self.health.task(feed.name, kind="feed")
        self.tasks.append(asyncio.create_task(feed.run(th)))

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait for the feeds' real I/O (never for time: the ManualClock only moves when a test moves it)."""
        async with asyncio.timeout(REAL_TIMEOUT):
            while not predicate():
                for task in self.tasks:
                    assert not task.done(), f"a feed died: {task}"
                await asyncio.sleep(0.002)

    def events(self, kind: type) -> list[Any]:
        self.seen.extend(self.sub.drain())
        return [e for e in self.seen if isinstance(e, kind)]

    seen: list[Any]


@asynccontextmanager
async def rig(*, symbols: int = 30, ex: str = EX, **overrides: Any) -> AsyncIterator[Rig]:
    clock = ManualClock()
    market = Market(clock=clock, seed=7, symbols=symbols, exchanges=(ex,))
    async with ExchangeSim(market=market, clock=clock, exchanges=(ex,)) as sim:
        metrics = Metrics()
        settings = sim.settings(ex, **overrides)
        limiter = WeightLimiter.for_exchange(ex, budget_fraction=settings.budget_fraction, clock=clock)
        breakers = BreakerRegistry(settings=BreakerSettings(), clock=clock, metrics=metrics)
        async with Gateway(
            exchange_id=ex,
            settings=settings,
            limiter=limiter,
            breakers=breakers,
            clock=clock,
            metrics=metrics,
        ) as gateway:
            bus = EventBus(metrics=metrics)
            r = Rig(
                clock,
                sim,
                gateway,
                bus,
                bus.subscribe("test"),
                Liquidity(),
                Health(clock=clock),
                metrics,
                settings,
                [],
                [],
            )
            try:
                yield r
            finally:
                for task in r.tasks:
                    task.cancel()
                await asyncio.gather(*r.tasks, return_exceptions=True)


def bad_payloads(metrics: Metrics, endpoint: str) -> float:
    value = metrics.registry.get_sample_value(
        "signalbots_bad_payloads_total", {"exchange": EX, "endpoint": endpoint}
    )
    return value or 0.0


# -- acceptance 1: load --------------------------------------------------------------------------------------


async def test_three_feeds_over_300_symbols_for_an_hour_stay_within_budget() -> None:
    async with rig(symbols=300) as r:
        r.sim.market.background_liquidations_per_minute = 20.0
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        r.start(FundingFeed(**r.common()))
        r.start(LiquidationFeed(liquidity=r.liquidity, **r.common()))
        candles = CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common())
        r.start(candles)
        await r.until(lambda: len(r.events(FundingSnapshot)) == 300, "first funding poll")
        await r.until(
            lambda: bool(candles.symbols) and len(r.sim.subscriptions(EX)) > len(candles.symbols),
            "kline subscriptions",
        )
        watched = len(candles.symbols)
        assert 50 < watched < 300  # the liquidity floor leaves the thin tail out
        for minute in range(1, 61):
            r.clock.advance(60.0)
            await r.sim.flush()
            want = 300 * (minute + 1)
            await r.until(lambda: len(r.events(FundingSnapshot)) == want, f"funding {minute}")  # noqa: B023
            await r.until(lambda: len(r.events(Ticker)) == want, f"tickers {minute}")  # noqa: B023
            if minute % 5 == 0:
                closed = int(r.clock.time() * 1000) // 300_000 * 300_000 - 300_000
                await r.until(
                    lambda: sum(1 for c in r.events(Candle) if c.time_ms == closed) == watched,  # noqa: B023
                    f"candles {minute}",
                )
        statuses = {rec.status for rec in r.sim.requests(EX)}
        assert 429 not in statuses and 418 not in statuses
        per_minute = r.sim.weight_by_minute()
        print(
            "\nREST weight per minute (simulated Binance, 300 symbols):",
            sorted(per_minute.values(), reverse=True)[:5],
            "… max",
            max(per_minute.values()),
            "of 2400",
        )
        assert max(per_minute.values()) <= 2400 * r.settings.budget_fraction
        assert len(r.events(Liquidation)) > 0
        for task in r.tasks:
            assert not task.done()


# -- acceptance 4: staleness ---------------------------------------------------------------------------------


async def test_silent_websocket_is_detected_resubscribed_and_shown_in_health() -> None:
    async with rig(liquidation_stale_after=120.0) as r:
        feed = LiquidationFeed(**r.common())
        r.start(feed)
        th = r.health.task(feed.name)
        venue = r.sim.venue(EX)
        await r.until(lambda: "!forceOrder@arr" in r.sim.subscriptions(EX), "subscribed")
        r.sim.market.liquidate(EX, "BTC", Side.LONG, notional_usd=1e6)
        await r.sim.flush()
        await r.until(lambda: len(r.events(Liquidation)) == 1, "first print")
        first = r.events(Liquidation)[0]
        assert (first.symbol, first.side) == ("BTC/USDT:USDT", Side.LONG)
        assert abs(first.notional_usd - 1e6) < 1e6 * 1e-3  # quantity travels with 3 decimals

        assert r.sim.silence_ws(EX) >= 1  # connected, answers pings, sends nothing
        r.sim.market.liquidate(EX, "ETH", Side.SHORT, notional_usd=2e6)
        await r.sim.flush()
        await r.clock.run_for(119.0, step=7.0)
        assert not feed.stale and th.status is TaskStatus.RUNNING
        await r.clock.run_for(1.0)
        await r.until(lambda: feed.stale, "stale detected")
        assert th.status.value == "degraded" and "stale" in th.detail
        await r.until(
            lambda: any(not c.silent and "!forceOrder@arr" in c.subscriptions for c in venue.connections),
            "resubscribed on a fresh connection",
        )
        assert all(not c.silent for c in venue.connections)  # the silent one was closed

        r.sim.market.liquidate(EX, "SOL", Side.SHORT, notional_usd=3e5)
        await r.sim.flush()
        await r.until(
            lambda: any(e.symbol == "SOL/USDT:USDT" for e in r.events(Liquidation)), "flowing again"
        )
        assert not feed.stale and th.status is TaskStatus.RUNNING
        assert feed.stale_episodes == 1 and th.errors >= 1 and "no data" in th.last_error
        stale_count = r.metrics.registry.get_sample_value("signalbots_feed_stale_total", {"feed": feed.name})
        assert stale_count == 1


# -- acceptance 5: bad payloads ------------------------------------------------------------------------------


async def test_bad_rest_payloads_are_counted_by_endpoint_and_the_feeds_live_on() -> None:
    async with rig(symbols=20) as r:
        funding = FundingFeed(**r.common())
        tickers = TickerFeed(liquidity=r.liquidity, **r.common())
        r.sim.inject(EX, FaultKind.MALFORMED, path="premiumIndex")
        r.sim.inject(EX, FaultKind.NAN, path="ticker/24hr")
        r.start(funding)
        r.start(tickers)
        # ccxt cannot parse a NaN trade count: the whole answer is bad, counted once, nothing published.
        await r.until(lambda: bad_payloads(r.metrics, "fetch_tickers") == 1, "NaN tickers counted")
        assert r.events(Ticker) == []
        assert "binanceusdm fetch_tickers" in r.health.task(tickers.name).last_error
        await r.until(lambda: bad_payloads(r.metrics, "fetch_funding_rates") >= 1, "malformed JSON counted")
        th = r.health.task(funding.name)
        assert "binanceusdm fetch_funding_rates" in th.last_error

        r.sim.inject(EX, FaultKind.NEGATIVE, path="premiumIndex")  # negative mark prices, item by item
        await r.clock.run_for(2.0)  # the funding feed retries after its backoff
        await r.until(lambda: bad_payloads(r.metrics, "fetch_funding_rates") >= 21, "negative prices counted")
        assert r.events(FundingSnapshot) == []
        await r.clock.run_for(60.0, step=5.0)
        await r.until(
            lambda: len(r.events(FundingSnapshot)) >= 20 and len(r.events(Ticker)) >= 20, "recovered"
        )
        assert all(math.isfinite(e.rate) and (e.mark_price or 0) > 0 for e in r.events(FundingSnapshot))
        assert not any(t.done() for t in r.tasks)


async def test_bad_liquidation_prints_are_counted_and_good_ones_still_flow() -> None:
    async with rig() as r:
        r.start(LiquidationFeed(**r.common()))
        await r.until(lambda: "!forceOrder@arr" in r.sim.subscriptions(EX), "subscribed")
        r.sim.market.liquidate(EX, "BTC", Side.LONG, quantity=-1.0)  # negative size
        r.sim.market.liquidate(EX, "ETH", Side.SHORT, notional_usd=5e5, price=float("nan"))
        r.sim.market.liquidate(EX, "SOL", Side.SHORT, notional_usd=5e5)
        await r.sim.flush()
        await r.until(lambda: len(r.events(Liquidation)) == 1, "the good print")
        await r.until(lambda: bad_payloads(r.metrics, "watch_liquidations") == 2, "two bad prints")
        assert r.events(Liquidation)[0].symbol == "SOL/USDT:USDT"


# -- candles carry the exchange's quote volume ---------------------------------------------------------------


async def test_binance_candles_carry_the_exchange_quote_volume_by_rest_and_by_websocket() -> None:
    async with rig(symbols=5, stale_after=3600.0) as r:
        span = 300_000
        now_open = int(r.clock.time() * 1000) // span * span
        backfilled, streamed = now_open - span, now_open  # closed already; closes while we stream
        bar = {"open": 100.0, "high": 112.0, "low": 99.0, "close": 111.0}
        r.sim.market.script_candle(EX, "BTC", "5m", backfilled, **bar, quote_volume=123_456_789.25)
        r.sim.market.script_candle(EX, "BTC", "5m", streamed, **bar, quote_volume=98_765_432.5)
        r.liquidity.update(EX, {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))

        def candle(open_ms: int) -> list[Candle]:
            return [c for c in r.events(Candle) if c.time_ms == open_ms and c.symbol == "BTC/USDT:USDT"]

        await r.until(lambda: bool(candle(backfilled)), "the backfilled candle (REST)")
        assert candle(backfilled)[0].quote_volume == 123_456_789.25  # the exchange's, not an estimate

        await r.until(lambda: "btcusdt@kline_5m" in r.sim.subscriptions(EX), "kline subscription")
        rest_klines = len(r.sim.requests(EX, path="klines"))
        r.clock.advance((streamed + span) / 1000 - r.clock.time())
        await r.sim.flush()
        await r.until(lambda: bool(candle(streamed)), "the streamed candle (websocket)")
        assert len(r.sim.requests(EX, path="klines")) == rest_klines  # it came by the stream
        assert candle(streamed)[0].quote_volume == 98_765_432.5
        assert len(candle(backfilled)) == len(candle(streamed)) == 1


# -- the bus -------------------------------------------------------------------------------------------------


def test_slow_subscriber_drops_oldest_and_counts() -> None:
    metrics = Metrics()
    bus = EventBus(metrics=metrics)
    slow, fast = bus.subscribe("slow", maxsize=3), bus.subscribe("fast")
    for i in range(5):
        bus.publish(Ticker(exchange=EX, symbol="BTC/USDT:USDT", time_ms=i, last=1.0, quote_volume_24h=None))
    assert [e.time_ms for e in slow.drain()] == [2, 3, 4]
    assert len(fast.drain()) == 5 and slow.dropped == 2
    assert metrics.registry.get_sample_value("signalbots_bus_dropped_total", {"subscriber": "slow"}) == 2
