"""``CandleFeed`` on every exchange, with the real ccxt.pro client against the exchange simulator (issue 19):
candles come by the stream and are published at the exchange's close, with the exchange's own turnover; REST
serves the symbols whose stream is down, and the feed's health says which is in use."""

from __future__ import annotations

import asyncio

import pytest

from signalbots.events import Candle
from signalbots.exchange.feeds import CandleFeed
from signalbots.health import TaskStatus
from tests.exchange.test_feeds import rig

SPAN = 300_000
KLINE_PATHS = {"bybit": "/v5/market/kline", "okx": "/market/candles", "mexc": "/contract/kline/"}
TOPICS = {"bybit": "kline.5.BTCUSDT", "okx": "candle5m:BTC-USDT-SWAP", "mexc": "kline:BTC_USDT:Min5"}


@pytest.mark.parametrize("ex", ["bybit", "okx", "mexc"])
async def test_a_candle_is_published_by_the_stream_at_the_exchange_close_with_its_turnover(ex: str) -> None:
    async with rig(ex=ex, symbols=5, stale_after=3600.0) as r:
        now_open = int(r.clock.time() * 1000) // SPAN * SPAN
        bar = {"open": 100.0, "high": 112.0, "low": 99.0, "close": 111.0}
        r.sim.market.script_candle(ex, "BTC", "5m", now_open, **bar, quote_volume=98_765_432.5)
        r.liquidity.update(ex, {"BTC/USDT:USDT": 1e9})
        feed = CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common())
        r.start(feed)
        await r.until(lambda: TOPICS[ex] in r.sim.subscriptions(ex), "kline subscription")
        rest = len(r.sim.requests(ex, path=KLINE_PATHS[ex]))
        assert rest == 1  # the backfill

        r.clock.advance((now_open + SPAN) / 1000 - r.clock.time())  # the close, not a second later
        await r.sim.flush()
        await r.until(lambda: any(c.time_ms == now_open for c in r.events(Candle)), "the closed candle")
        [candle] = [c for c in r.events(Candle) if c.time_ms == now_open]
        assert candle.quote_volume == 98_765_432.5  # the exchange's turnover, kept through ccxt
        assert (candle.open, candle.close) == (100.0, 111.0)
        assert len(r.sim.requests(ex, path=KLINE_PATHS[ex])) == rest  # it came by the stream
        th = r.health.task(feed.name, kind="feed")
        assert th.status is TaskStatus.RUNNING and th.detail == "candles streamed: 1 symbols"


@pytest.mark.parametrize("ex", ["bybit", "okx", "mexc"])
async def test_while_the_stream_is_down_rest_serves_the_candles_and_health_says_so(ex: str) -> None:
    async with rig(ex=ex, symbols=5, stale_after=3600.0) as r:
        r.sim.refuse_ws(ex)
        now_open = int(r.clock.time() * 1000) // SPAN * SPAN
        r.sim.market.script_candle(
            ex, "BTC", "5m", now_open, open=100.0, high=112.0, low=99.0, close=111.0, quote_volume=5e7
        )
        r.liquidity.update(ex, {"BTC/USDT:USDT": 1e9})
        feed = CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common())
        r.start(feed)
        th = r.health.task(feed.name, kind="feed")
        await r.until(lambda: th.status is TaskStatus.DEGRADED, "the stream is down")
        assert "by REST: 1" in th.detail and th.detail.startswith("stream down:")

        r.clock.advance((now_open + SPAN) / 1000 + 1.0 - r.clock.time())  # the close and REST's grace
        await r.until(lambda: any(c.time_ms == now_open for c in r.events(Candle)), "the candle by REST")
        [candle] = [c for c in r.events(Candle) if c.time_ms == now_open]
        assert candle.quote_volume == 5e7
        assert len(r.sim.requests(ex, path=KLINE_PATHS[ex])) == 2  # the backfill, then the fallback


async def test_symbols_past_the_connection_limit_are_polled_and_the_most_liquid_streamed() -> None:
    # Bybit: 600 kline topics per connection (21,000 characters of topics, shared with liquidations).
    async with rig(ex="bybit", symbols=5, stale_after=3600.0) as r:
        names = [f"{b}/USDT:USDT" for b in ("BTC", "ETH", "SOL", "XRP", "DOGE")]
        r.liquidity.update("bybit", {s: 1e9 - i for i, s in enumerate(names)})
        feed = CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common())
        stream = r.gateway.venue.candle_stream
        assert stream is not None and stream.per_connection == 600
        feed.symbols = sorted(names)
        feed.stream = type(stream)(method=stream.method, per_request=2, per_connection=3)
        feed._plan()
        assert sorted(s for batch in feed._units.values() for s in batch) == sorted(names[:3])
        assert all(len(batch) <= 2 for batch in feed._units.values())
        assert feed._polled() == sorted(names[3:])


async def test_frames_of_a_still_open_candle_keep_the_stream_fresh() -> None:
    # Frames that close nothing still prove the stream alive (marked at most once a second, not per frame).
    async with rig(ex="bybit", symbols=5, stale_after=10.0) as r:
        r.sim.venue("bybit").kline_every_ms = 1000
        r.liquidity.update("bybit", {"BTC/USDT:USDT": 1e9})
        feed = CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common())
        r.start(feed)
        await r.until(lambda: TOPICS["bybit"] in r.sim.subscriptions("bybit"), "kline subscription")
        th = r.health.task(feed.name, kind="feed")
        labels = {"exchange": "bybit", "feed": "candles"}

        def marked_now() -> bool:
            at = r.metrics.registry.get_sample_value("signalbots_feed_last_data_timestamp_seconds", labels)
            return at == r.clock.time()

        for _ in range(15):  # 30 s of open-candle frames, three times the silence limit
            await r.clock.run_for(2.0)
            await r.sim.flush()
            await r.until(marked_now, "the frame marked the stream alive")
        assert not feed.stale and feed.stale_episodes == 0
        assert th.status is TaskStatus.RUNNING


async def test_mexc_subscriptions_are_paced_on_the_daemons_clock_not_the_wall() -> None:
    # One sub.kline per symbol (750 at full market): ccxt's pace (50 ms, a second's worth at once) on the
    # daemon's clock; on the wall clock the benchmark's 10x daemon saw a 375 s ramp and late candles.
    async with rig(ex="mexc", symbols=25, stale_after=3600.0) as r:
        symbols = sorted(s for s, m in r.gateway.markets.items() if m.get("swap"))[:21]
        assert len(symbols) == 21
        idle = r.clock.sleepers  # the simulator's tick
        watches = [
            asyncio.create_task(r.gateway.watch("watch_ohlcv", "watch_ohlcv", s, "5m", key=s))
            for s in symbols
        ]
        try:

            def klines() -> int:
                return sum(1 for t in r.sim.subscriptions("mexc") if t.startswith("kline:"))

            # the first second's worth at once; the 21st waits for the daemon's clock, not the wall's
            await r.until(lambda: klines() == 20 and r.clock.sleepers == idle + 1, "20 sent, 1 waiting")
            r.clock.advance(0.05)
            await r.until(lambda: klines() == 21, "the 21st subscription")
        finally:
            for task in watches:
                task.cancel()
            await asyncio.gather(*watches, return_exceptions=True)
