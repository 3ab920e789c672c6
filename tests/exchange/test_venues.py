"""One profile per exchange, and one door (the gateway) for REST and streams alike: bans, translated errors
and connection failures shown at once — with the real ccxt client against the exchange simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from structlog.testing import capture_logs

from signalbots.clock import ManualClock
from signalbots.errors import RateLimited
from signalbots.events import Liquidation, Side
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.liquidations import LiquidationFeed
from signalbots.exchange.venues import VENUES, venue
from signalbots.health import Health, TaskStatus
from signalbots.metrics import Metrics
from signalbots.settings import LiquidationSettings, Settings
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind
from signalbots.store import Store
from signalbots.strategies.liquidation import LiquidationStrategy

REAL_TIMEOUT = 20.0  # a safety net in real seconds; nothing waits for it when the code works
MakeGateway = Callable[..., Gateway]


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ExchangeSim]:
    async with ExchangeSim(market=Market(clock=clock, seed=5, symbols=12), clock=clock) as s:
        yield s


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(REAL_TIMEOUT):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.002)  # the feeds' real I/O; the ManualClock moves only when told


# -- the registry --------------------------------------------------------------------------------------------


def test_every_exchange_has_one_profile_and_settings_know_exactly_those() -> None:
    assert set(VENUES) == {"binanceusdm", "bybit", "okx", "mexc", "hyperliquid"}
    assert set(Settings().exchanges) == set(VENUES)
    known = "binanceusdm, bybit, okx, mexc, hyperliquid"
    with pytest.raises(ValueError, match=rf"unknown exchange kraken \(known: {known}\)"):
        Settings(exchanges={"kraken": {}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=f"known: {known}"):
        venue("kraken")
    for profile in VENUES.values():
        assert profile.budget.units > 0 and profile.ticker_volume is not None
        assert (profile.liquidation_stream is None) == (profile.liquidation_parser is None)
    for exchange_id in ("binanceusdm", "bybit", "okx", "mexc"):
        assert VENUES[exchange_id].kline_volume is not None
    # Hyperliquid's candles carry the coin's volume only (``v``): no quote volume is claimed for them.
    assert VENUES["hyperliquid"].kline_volume is None


def test_every_venue_is_on_by_default_and_enabled_false_leaves_one_out() -> None:
    # Hyperliquid too, now its conformance holds (issue 22: candles streamed, wire and simulator conformance).
    defaults = Settings().exchanges
    assert [ex for ex, s in defaults.items() if s.enabled] == [
        "binanceusdm",
        "bybit",
        "okx",
        "mexc",
        "hyperliquid",
    ]
    off = Settings(exchanges={"hyperliquid": {"enabled": False}})  # type: ignore[dict-item]
    assert [ex for ex, s in off.exchanges.items() if s.enabled] == ["binanceusdm", "bybit", "okx", "mexc"]


def _cascade_notes(exchange_id: str) -> list[str]:
    """The notes of a $300k long-liquidation cascade on ``exchange_id`` (three $100k prints)."""
    strategy = LiquidationStrategy(settings=LiquidationSettings())
    t0 = 1_700_000_000_000
    prints = [
        Liquidation(exchange_id, "SOL/USDT:USDT", t0 + i * 1_000, Side.LONG, 100.0, 1_000.0, 100_000.0)
        for i in range(3)
    ]
    (cascade,) = [c for p in prints for c in strategy.on_event(p)]
    return list(cascade.notes)


def test_sampled_liquidation_feeds_say_the_cascade_sum_is_a_lower_bound() -> None:
    """Binance sends the latest print per symbol per second, OKX "a maximum of one order per one-second
    period" per contract, "not the total" (issue 19): their cascade messages say so; Bybit sends them all."""
    assert _cascade_notes("okx")[1:] == [
        "OKX publishes at most one liquidation per contract per second: the sum is a lower bound"
    ]
    assert _cascade_notes("binanceusdm")[1:] == [
        "Binance publishes at most one liquidation per symbol per second: the sum is a lower bound"
    ]
    assert _cascade_notes("bybit")[1:] == []


# -- Bybit's usage headers are per endpoint (issue 19) -------------------------------------------------------


async def test_bybit_usage_headers_lower_the_endpoint_they_describe_not_the_ip_bucket(
    sim: ExchangeSim, make: MakeGateway
) -> None:
    async with make("bybit") as gw:
        full = gw.limiter.capacity
        # 10006 "Too many visits" with X-Bapi-Limit-Status 0: this endpoint's second is spent.
        sim.inject("bybit", FaultKind.RATE_LIMIT, path="tickers")
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        # The IP's 600 requests / 5 s are another limit: only the requests made (5 units each) left it.
        assert gw.limiter.tokens >= full - 5 * len(sim.requests("bybit"))


# -- Bybit 403 is an IP ban (finding 6) ----------------------------------------------------------------------


async def test_bybit_403_pauses_ten_minutes_each_time_as_documented_and_survives_a_restart(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock, store: Store
) -> None:
    async with make("bybit") as gw:
        sim.inject("bybit", FaultKind.BAN)  # 403 "access too frequent", no Retry-After
        with pytest.raises(RateLimited) as first:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert first.value.banned and first.value.retry_after == 600
        assert store.get("ban:bybit")["until"] == clock.time() + 600
        sent = len(sim.requests("bybit"))
        clock.advance(599)
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        assert len(sim.requests("bybit")) == sent
        clock.advance(1)
        assert await gw.call("fetch_tickers", "fetch_tickers")

        # Again: Bybit documents "at least 10 minutes" and no longer wait (issue 19: no doubling to a day).
        sim.inject("bybit", FaultKind.BAN)
        with pytest.raises(RateLimited) as second:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert second.value.retry_after == 600

    clock.advance(300)  # the daemon restarts half-way through the second ban
    restarted = make("bybit")
    entering = asyncio.create_task(restarted.__aenter__())
    await clock.run_for(299, step=60)
    assert not entering.done() and len(sim.requests("bybit")) == sent + 2
    await clock.run_for(2, step=1)
    await asyncio.wait_for(entering, REAL_TIMEOUT)
    await restarted.__aexit__(None, None, None)


async def test_a_bybit_rest_ban_leaves_its_liquidation_stream_running_and_rest_resumes_after_ten_minutes(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    """Bybit's 403 bans its REST host; the public streams are another host (issue 19): liquidations keep
    arriving through the ban, and REST is asked again only after the documented 10 minutes."""

    async def one_print(base: str) -> str:
        watching = asyncio.create_task(
            gw.watch("watch_liquidations", "watch_liquidations", f"{base}/USDT:USDT")
        )
        await sim.wait_until(lambda: f"allLiquidation.{base}USDT" in sim.subscriptions("bybit"))
        sim.market.liquidate("bybit", base, Side.LONG, notional_usd=4e5)
        await sim.flush()
        return str((await asyncio.wait_for(watching, REAL_TIMEOUT))[0]["symbol"])

    async with make("bybit") as gw:
        sim.inject("bybit", FaultKind.BAN)
        with pytest.raises(RateLimited) as ban:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert ban.value.banned and ban.value.retry_after == 600
        sent = len(sim.requests("bybit"))

        assert await one_print("ETH") == "ETH/USDT:USDT"  # a stream watched during the ban
        clock.advance(599)
        assert await one_print("BTC") == "BTC/USDT:USDT"  # and another, a second before the end
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        assert len(sim.requests("bybit")) == sent  # REST stayed silent for the whole ban
        clock.advance(1)
        assert await gw.call("fetch_tickers", "fetch_tickers")


# -- one door: streams obey bans, not weight backoffs --------------------------------------------------------


async def test_a_rest_ban_stops_streams_but_a_rest_rate_limit_does_not(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    async with make("binanceusdm") as gw:
        sim.inject("binanceusdm", FaultKind.RATE_LIMIT, retry_after=30)  # 429: weight, not the IP
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        watching = asyncio.create_task(gw.watch("watch_liquidations", "watch_liquidations_for_symbols", []))
        await sim.wait_until(lambda: "!forceOrder@arr" in sim.subscriptions("binanceusdm"))
        sim.market.liquidate("binanceusdm", "ETH", Side.LONG, notional_usd=5e5)
        await sim.flush()
        assert (await asyncio.wait_for(watching, REAL_TIMEOUT))[0]["symbol"] == "ETH/USDT:USDT"

        clock.advance(30)
        sim.inject("binanceusdm", FaultKind.BAN, retry_after=120)  # 418: the IP is banned
        with pytest.raises(RateLimited):
            await gw.call("fetch_tickers", "fetch_tickers")
        with pytest.raises(RateLimited, match="banned") as refused:
            await gw.watch("watch_liquidations", "watch_liquidations_for_symbols", [])
        assert refused.value.retry_after == 120


# -- a stream that cannot connect is said at once (issue 10) -------------------------------------------------


async def test_a_refused_websocket_is_one_warning_and_degraded_at_once_then_recovers(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock, metrics: Metrics
) -> None:
    async with make("binanceusdm") as gw:
        bus = EventBus(metrics=metrics)
        sub = bus.subscribe("test")
        health = Health(clock=clock)
        feed = LiquidationFeed(gateway=gw, bus=bus, settings=gw.settings, clock=clock, metrics=metrics)
        th = health.task(feed.name, kind="feed")
        sim.refuse_ws("binanceusdm")  # every upgrade answered 503
        with capture_logs() as logs:
            task = asyncio.create_task(feed.run(th))
            try:
                await until(lambda: th.status is TaskStatus.DEGRADED)
                assert "stream down" in th.detail and "websocket refused: HTTP 503" in th.detail
                assert th.errors == 1 and "HTTP 503" in th.last_error
                await clock.run_for(120, step=1)  # two minutes of retries: still one line, one error
                assert th.errors == 1

                sim.refuse_ws("binanceusdm", False)
                await clock.run_for(60, step=1)
                await sim.wait_until(lambda: "!forceOrder@arr" in sim.subscriptions("binanceusdm"), within=20)
                sim.market.liquidate("binanceusdm", "BTC", Side.SHORT, notional_usd=2e6)
                await sim.flush()
                await until(lambda: any(isinstance(e, Liquidation) for e in sub.drain()))
                await until(lambda: th.status is TaskStatus.RUNNING)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        events = [entry["event"] for entry in logs]
        assert events.count("stream_down") == 1 and events.count("stream_recovered") == 1
        down = next(entry for entry in logs if entry["event"] == "stream_down")
        assert down["log_level"] == "warning" and down["exchange"] == "binanceusdm"


async def test_one_dropped_connection_carrying_many_topics_opens_no_breaker(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock, metrics: Metrics
) -> None:
    async with make("bybit") as gw:
        bus, liquidity, health = EventBus(metrics=metrics), Liquidity(), Health(clock=clock)
        sub = bus.subscribe("test")
        symbols = sorted(gw.markets)[:8]
        liquidity.update("bybit", {s: 1e9 - i for i, s in enumerate(symbols)})
        settings = gw.settings.model_copy(update={"liquidation_symbols": 8})
        feed = LiquidationFeed(
            gateway=gw, bus=bus, settings=settings, clock=clock, metrics=metrics, liquidity=liquidity
        )
        th = health.task(feed.name, kind="feed")
        with capture_logs() as logs:
            task = asyncio.create_task(feed.run(th))
            try:
                await sim.wait_until(lambda: len(sim.subscriptions("bybit")) == 8)
                assert await sim.drop_ws("bybit") >= 1  # eight topics' watchers fail at once
                await until(lambda: th.status is TaskStatus.DEGRADED)
                async with asyncio.timeout(REAL_TIMEOUT):  # quiet topics: up once reconnected for 5 s
                    while th.status is not TaskStatus.RUNNING:
                        await clock.run_for(1.0)
                        await asyncio.sleep(0.002)  # the reconnection's real I/O
                await sim.wait_until(lambda: len(sim.subscriptions("bybit")) == 8, within=REAL_TIMEOUT)
                assert gw._breakers.open_circuits() == []
                sim.market.liquidate("bybit", symbols[3].split("/")[0], Side.LONG, notional_usd=4e5)
                await sim.flush()
                await until(
                    lambda: any(isinstance(e, Liquidation) and e.symbol == symbols[3] for e in sub.drain())
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        events = [entry["event"] for entry in logs]
        assert events.count("stream_down") == 1 and events.count("stream_recovered") == 1
        assert th.errors == 1
