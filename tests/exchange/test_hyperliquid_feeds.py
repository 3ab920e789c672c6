"""The daemon's own feeds on the Hyperliquid simulator venue, through the real ccxt client: funding every hour
from the profile, tickers and candles for USDC perpetuals, the weight spent as Hyperliquid counts it, and a
429 pausing the exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from signalbots.clock import ManualClock
from signalbots.errors import RateLimited
from signalbots.events import Candle, FundingSnapshot, Ticker
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.feeds import feeds_for
from signalbots.exchange.funding import FundingFeed
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.tickers import TickerFeed
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind

EX = "hyperliquid"
REAL_TIMEOUT = 20.0  # a safety net in real seconds; nothing waits for it when the code works


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ExchangeSim]:
    market = Market(clock=clock, seed=7, symbols=6, exchanges=("binanceusdm", EX))
    async with ExchangeSim(market=market, clock=clock, exchanges=("binanceusdm", EX)) as s:
        yield s


def snapshots(sim: ExchangeSim) -> int:
    return sum(1 for r in sim.requests(EX, path="/info") if r.query.get("type") == "candleSnapshot")


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(REAL_TIMEOUT):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.002)  # the feeds' real I/O; the ManualClock moves only when told


async def test_funding_tickers_and_candles_from_the_simulator(
    sim: ExchangeSim, make: Callable[..., Gateway], clock: ManualClock, metrics: Metrics
) -> None:
    sim.market.set_funding(EX, "BTC", 0.0000625)  # per hour: 0.05 % per 8 h
    async with make(EX) as gw:
        assert set(gw.markets) == {f"{x.base}/USDC:USDC" for x in sim.market.trading(EX)}
        bus, liquidity, health = EventBus(metrics=metrics), Liquidity(), Health(clock=clock)
        sub = bus.subscribe("test")
        common: dict[str, Any] = {
            "gateway": gw,
            "bus": bus,
            "settings": gw.settings,
            "clock": clock,
            "metrics": metrics,
        }
        feeds = [
            TickerFeed(liquidity=liquidity, **common),
            FundingFeed(**common),
            CandleFeed(liquidity=liquidity, timeframe="5m", floor_usd=5e6, **common),
        ]
        tasks = [asyncio.create_task(f.run(health.task(f.name, kind="feed"))) for f in feeds]
        seen: list[Any] = []
        try:
            await until(lambda: seen.extend(sub.drain()) or any(isinstance(e, Candle) for e in seen))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        funding = {e.symbol: e for e in seen if isinstance(e, FundingSnapshot)}
        btc = funding["BTC/USDC:USDC"]
        assert (btc.rate, btc.interval_hours) == (0.0000625, 1.0)
        listing = sim.market.listing(EX, "BTC")
        tickers = {e.symbol: e for e in seen if isinstance(e, Ticker)}
        assert tickers["BTC/USDC:USDC"].quote_volume_24h == pytest.approx(listing.quote_volume_24h)
        candles = [e for e in seen if isinstance(e, Candle)]
        assert all(c.quote_volume is None and c.volume > 0 for c in candles)  # base volume only
        # Every request weighed as Hyperliquid counts it, or a little more (a candle snapshot is paid for the
        # span asked, before Hyperliquid counts the candles returned): never less.
        counted = sum(r.weight for r in sim.requests(EX))
        assert counted <= gw.limiter.granted <= counted + len(sim.requests(EX, path="/info"))
        assert {r.query["type"] for r in sim.requests(EX)} == {
            "spotMeta",
            "metaAndAssetCtxs",
            "candleSnapshot",
        }


async def test_the_feed_plan_has_no_liquidation_feed(
    sim: ExchangeSim, make: Callable[..., Gateway], clock: ManualClock, metrics: Metrics
) -> None:
    async with make(EX) as gw:
        feeds = feeds_for(
            gateway=gw,
            bus=EventBus(metrics=metrics),
            liquidity=Liquidity(),
            settings=gw.settings,
            clock=clock,
            metrics=metrics,
            timeframe="5m",
            floor_usd=5e6,
        )
        assert sorted(type(f).__name__ for f in feeds) == ["CandleFeed", "FundingFeed", "TickerFeed"]


async def test_a_429_pauses_hyperliquid(sim: ExchangeSim, make: Callable[..., Gateway]) -> None:
    async with make(EX) as gw:
        sim.inject(EX, FaultKind.RATE_LIMIT, path="/info", retry_after=30)
        with pytest.raises(RateLimited) as err:
            await gw.call("fetch_funding_rates", "fetch_funding_rates")
        assert err.value.retry_after == 30 and not err.value.banned
        sent = len(sim.requests(EX))
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        assert len(sim.requests(EX)) == sent  # nothing leaves while paused


async def test_candles_stream_per_coin_through_the_gateway(
    sim: ExchangeSim, make: Callable[..., Gateway], clock: ManualClock
) -> None:
    """ccxt.pro streams Hyperliquid candles one coin per ``candle`` subscription (``watch_ohlcv``): the rows
    land in the gateway's cache, where the candle feed reads them."""
    async with make(EX) as gw:
        watching = asyncio.create_task(gw.watch("watch_ohlcv", "watch_ohlcv", "ETH/USDC:USDC", "1m"))
        await sim.wait_until(lambda: "candle:ETH:1m" in sim.subscriptions(EX))
        clock.advance(60)  # the minute rolls: its last state, then the next one's first
        await sim.flush()
        await asyncio.wait_for(watching, REAL_TIMEOUT)
        rows = gw.candle_rows("ETH/USDC:USDC", "1m")
        listing = sim.market.listing(EX, "ETH")
        assert rows and rows[-1][0] % 60_000 == 0
        assert rows[-1][4] == pytest.approx(sim.market.bar(listing, "1m", rows[-1][0]).close, rel=1e-4)


async def test_the_candle_feed_streams_and_publishes_at_the_exchange_close_without_rest(
    sim: ExchangeSim, make: Callable[..., Gateway], clock: ManualClock, metrics: Metrics
) -> None:
    """Acceptance 4 of issue 22: after the backfill, candles come by the stream, one ``candle`` subscription
    per coin, each published when the simulator's next candle begins; no candle snapshot is asked."""
    span = 300_000
    now_open = int(clock.time() * 1000) // span * span
    sim.market.script_candle(
        EX, "BTC", "5m", now_open, open=100.0, high=112.0, low=99.0, close=111.0, quote_volume=5e7
    )
    async with make(EX) as gw:
        bus, liquidity, health = EventBus(metrics=metrics), Liquidity(), Health(clock=clock)
        sub = bus.subscribe("test")
        liquidity.update(EX, {"BTC/USDC:USDC": 1e9, "ETH/USDC:USDC": 1e9})
        feed = CandleFeed(
            liquidity=liquidity,
            timeframe="5m",
            floor_usd=5e6,
            gateway=gw,
            bus=bus,
            settings=gw.settings,
            clock=clock,
            metrics=metrics,
        )
        task = asyncio.create_task(feed.run(health.task(feed.name, kind="feed")))
        try:
            await sim.wait_until(lambda: {"candle:BTC:5m", "candle:ETH:5m"} <= sim.subscriptions(EX))
            backfills = snapshots(sim)
            assert backfills == 2  # one per coin, when it joins
            clock.advance((now_open + span) / 1000 - clock.time())  # the close, not a second later
            await sim.flush()
            seen: list[Any] = []
            await until(
                lambda: (
                    seen.extend(sub.drain())
                    or any(isinstance(e, Candle) and e.time_ms == now_open for e in seen)
                )
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        [btc] = [
            e for e in seen if isinstance(e, Candle) and e.time_ms == now_open and e.symbol.startswith("BTC")
        ]
        assert (btc.open, btc.high, btc.low, btc.close) == (100.0, 112.0, 99.0, 111.0)
        assert snapshots(sim) == backfills  # by the stream
        assert health.task(feed.name, kind="feed").detail == "candles streamed: 2 symbols"
