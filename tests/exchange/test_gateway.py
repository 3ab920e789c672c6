"""The Gateway: one ccxt.pro instance per exchange behind the shared limiter, the breakers and a persisted
ban, talking to the exchange simulator."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Callable

import pytest

from signalbots.clock import ManualClock
from signalbots.errors import BadPayload, CircuitOpen, RateLimited, SymbolError, TransientError
from signalbots.events import Side
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind
from signalbots.store import Store

EXCHANGES = ("binanceusdm", "bybit", "okx")
MakeGateway = Callable[..., Gateway]


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ExchangeSim]:
    async with ExchangeSim(market=Market(clock=clock, seed=11, symbols=20), clock=clock) as s:
        yield s


def weight_spent(metrics: Metrics, exchange_id: str) -> float:
    value = metrics.registry.get_sample_value("signalbots_rest_weight_total", {"exchange": exchange_id})
    return value or 0.0


# -- the happy path ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_gateway_serves_markets_funding_tickers_candles_and_streams(
    sim: ExchangeSim, make: MakeGateway, exchange_id: str
) -> None:
    sim.market.add_listing(exchange_id, "LATE", price=2.0)
    sim.market.delist(exchange_id, "LATE")  # Binance keeps it as SETTLING: not ours either way
    async with make(exchange_id, ohlcv_limit=40) as gw:
        assert set(gw.markets) == set(sim.market.symbols(exchange_id))
        assert "LATE/USDT:USDT" not in gw.markets
        funding = await gw.call("fetch_funding_rates", "fetch_funding_rates")
        tickers = await gw.call("fetch_tickers", "fetch_tickers")
        candles = await gw.call(
            "fetch_ohlcv", "fetch_ohlcv", "BTC/USDT:USDT", "5m", limit=60, symbol="BTC/USDT:USDT"
        )
        assert set(funding) >= set(gw.markets) and set(tickers) >= set(gw.markets)
        assert len(candles) == 60

        assert gw.exchange.options["OHLCVLimit"] == 40
        streams = (
            asyncio.create_task(gw.exchange.watch_ohlcv_for_symbols([["ETH/USDT:USDT", "1m"]]))
            if exchange_id != "okx"
            else None
        )
        watch_liquidations = {  # what each exchange supports in ccxt
            "binanceusdm": lambda: gw.exchange.watch_liquidations_for_symbols([]),  # !forceOrder@arr
            "bybit": lambda: gw.exchange.watch_liquidations("ETH/USDT:USDT"),  # allLiquidation.ETHUSDT
            "okx": lambda: gw.exchange.watch_liquidations_for_symbols(None),  # liquidation-orders SWAP
        }[exchange_id]
        liquidations = asyncio.create_task(watch_liquidations())
        await sim.wait_until(lambda: len(sim.subscriptions(exchange_id)) == (1 if streams is None else 2))
        sim.market.liquidate(exchange_id, "ETH", Side.SHORT, notional_usd=3e5)
        sim.clock.advance(1)
        prints = await asyncio.wait_for(liquidations, 5)
        assert prints[0]["symbol"] == "ETH/USDT:USDT"
        if streams is not None:
            assert "ETH/USDT:USDT" in await asyncio.wait_for(streams, 5)
    assert not sim.venue(exchange_id).unknown_paths


async def test_candle_rows_keep_the_exchange_quote_volume(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    minute = int(clock.time()) // 60 * 60_000 - 60_000  # the last closed 1m candle
    bar = {"open": 20.0, "high": 21.0, "low": 19.5, "close": 20.5}
    for exchange_id in ("binanceusdm", "bybit"):
        sim.market.script_candle(exchange_id, "SOL", "1m", minute, **bar, quote_volume=4_321_000.5)
    async with make("binanceusdm") as gw:
        rows = await gw.call(
            "fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "1m", since=minute, limit=2, symbol="SOL/USDT:USDT"
        )
        assert [row[0] for row in rows] == [minute, minute + 60_000]  # ccxt's since/limit still apply
        assert rows[0][1:5] == [20.0, 21.0, 19.5, 20.5] and rows[0][6] == 4_321_000.5
        assert all(len(row) == 7 for row in rows)
    async with make("bybit") as gw:  # Bybit's ``turnover`` likewise
        rows = await gw.call("fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "1m", since=minute, limit=2)
        assert rows[0][1:5] == [20.0, 21.0, 19.5, 20.5] and rows[0][6] == 4_321_000.5


async def test_closing_leaves_no_open_sessions(sim: ExchangeSim, make: MakeGateway) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with make("bybit") as gw:
            watch = asyncio.create_task(gw.exchange.watch_liquidations("BTC/USDT:USDT"))
            await sim.wait_until(lambda: sim.ws_connections("bybit") == 1)
        with pytest.raises(BaseException):  # noqa: B017 - closing rejects the pending watch
            await asyncio.wait_for(watch, 5)
        await sim.wait_until(lambda: sim.ws_connections("bybit") == 0)
        assert gw.exchange.session is None
        del gw, watch
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# -- the limiter hears the exchange --------------------------------------------------------------------------


async def test_binance_weights_are_charged_as_binance_counts_them(
    sim: ExchangeSim, make: MakeGateway, metrics: Metrics
) -> None:
    async with make("binanceusdm") as gw:
        before = weight_spent(metrics, "binanceusdm")
        await gw.call("fetch_funding_rates", "fetch_funding_rates")  # premiumIndex without symbol: 10, not 1
        await gw.call("fetch_tickers", "fetch_tickers")  # ticker/24hr without symbol: 40
        await gw.call("fetch_ohlcv", "fetch_ohlcv", "BTC/USDT:USDT", "5m", limit=99)  # 1
        assert weight_spent(metrics, "binanceusdm") - before == 51
        funding = gw.funding_limiter
        assert funding is not None
        left = funding.tokens
        await gw.call("fetch_funding_intervals", "fetch_funding_intervals")  # also spends the 500/5min budget
        assert funding.tokens == pytest.approx(left - 1)
    assert sum(r.weight for r in sim.requests("binanceusdm")) == weight_spent(metrics, "binanceusdm")


async def test_used_weight_header_lowers_the_limiter(sim: ExchangeSim, make: MakeGateway) -> None:
    async with make("binanceusdm") as gw:
        venue = sim.venue("binanceusdm")
        minute = int(sim.clock.time() // 60 * 60)
        venue.weight_by_minute[minute] = 2000.0  # another process on this IP spent most of the minute
        await gw.call("fetch_ohlcv", "fetch_ohlcv", "BTC/USDT:USDT", "1m", limit=10)
        # 2001 of 2400 used → at most 399/2400 of our half-budget (1200) is left.
        assert gw.limiter.tokens <= 1200 * 399 / 2400 + 1e-6


# -- bans ----------------------------------------------------------------------------------------------------


async def test_a_418_stops_every_request_for_retry_after_even_across_a_restart(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock, store: Store
) -> None:
    async with make("binanceusdm") as gw:
        sim.inject("binanceusdm", FaultKind.BAN, retry_after=120)
        with pytest.raises(RateLimited) as ban:
            await gw.call("fetch_funding_rates", "fetch_funding_rates")
        assert ban.value.retry_after == 120 and ban.value.banned
        assert store.get("ban:binanceusdm")["until"] == clock.time() + 120
        banned_at = clock.monotonic()
        clock.advance(30)
        with pytest.raises(RateLimited) as again:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert again.value.retry_after == pytest.approx(90)

    clock.advance(30)  # the daemon restarts 60 s into the ban
    restarted = make("binanceusdm")
    entering = asyncio.create_task(restarted.__aenter__())
    await clock.run_for(59, step=1)
    assert not entering.done()
    assert sim.requests("binanceusdm", since=banned_at + 0.001) == []
    await clock.run_for(2, step=1)
    await asyncio.wait_for(entering, 5)
    try:
        after = sim.requests("binanceusdm", since=banned_at + 0.001)
        assert after and all(r.monotonic >= banned_at + 120 and r.status == 200 for r in after)
        assert restarted.markets
        assert store.get("ban:binanceusdm") is None  # served again: the ban is forgotten
    finally:
        await restarted.__aexit__(None, None, None)


async def test_a_418_retry_after_is_authoritative_and_without_it_the_documented_minimum(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock, store: Store
) -> None:
    """Binance says how long a ban lasts: 41 s is 41 s, not the rule's 120 s (issue 20). Without a
    Retry-After, the documented minimum (Binance: bans start at 2 minutes)."""
    async with make("binanceusdm") as gw:
        sim.inject("binanceusdm", FaultKind.BAN, retry_after=41)
        with pytest.raises(RateLimited) as ban:
            await gw.call("fetch_funding_rates", "fetch_funding_rates")
        assert ban.value.banned and ban.value.retry_after == 41
        assert gw.paused_for() == 41 and gw.banned_for() == 41
        assert store.get("ban:binanceusdm")["until"] == clock.time() + 41
        clock.advance(41)
        assert gw.paused_for() == 0 and gw.banned_for() == 0
        assert await gw.call("fetch_tickers", "fetch_tickers")  # served again at 41 s, not 120 s

        sim.clear_faults("binanceusdm")
        sim.inject("binanceusdm", FaultKind.ERROR, status=418)  # a 418 without Retry-After
        with pytest.raises(RateLimited) as bare:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert bare.value.banned and bare.value.retry_after == 120
        clock.advance(119)
        assert gw.banned_for() == pytest.approx(1)


async def test_a_429_without_retry_after_backs_off_doubling(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    async with make("okx") as gw:
        sim.inject("okx", FaultKind.RATE_LIMIT, times=2)
        with pytest.raises(RateLimited) as first:
            await gw.call("fetch_tickers", "fetch_tickers")
        clock.advance(first.value.retry_after or 0)
        with pytest.raises(RateLimited) as second:
            await gw.call("fetch_tickers", "fetch_tickers")
        assert second.value.retry_after == 2 * (first.value.retry_after or 0)
        clock.advance(second.value.retry_after or 0)
        assert await gw.call("fetch_tickers", "fetch_tickers")


# -- errors and breakers -------------------------------------------------------------------------------------


async def test_library_errors_are_translated(sim: ExchangeSim, make: MakeGateway, metrics: Metrics) -> None:
    async with make("binanceusdm", timeout=0.2) as gw:
        sim.inject("binanceusdm", FaultKind.ERROR, status=503)
        with pytest.raises(TransientError) as server_error:
            await gw.call("fetch_funding_rates", "fetch_funding_rates")
        assert not isinstance(server_error.value, BadPayload | RateLimited)

        sim.inject("binanceusdm", FaultKind.HANG)
        with pytest.raises(TransientError, match="timeout"):
            await gw.call("fetch_funding_rates", "fetch_funding_rates")

        sim.inject("binanceusdm", FaultKind.MALFORMED)
        with pytest.raises(BadPayload, match="fetch_funding_rates"):
            await gw.call("fetch_funding_rates", "fetch_funding_rates")
        bad = metrics.registry.get_sample_value(
            "signalbots_bad_payloads_total", {"exchange": "binanceusdm", "endpoint": "fetch_funding_rates"}
        )
        assert bad == 1

        sim.market.delist("binanceusdm", "SOL", remove=True)  # gone from the exchange, still in our markets
        with pytest.raises(SymbolError, match="SOL"):
            await gw.call(
                "fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "5m", limit=10, symbol="SOL/USDT:USDT"
            )


@pytest.mark.parametrize("exchange_id", ["bybit", "okx"])
async def test_bad_symbols_are_symbol_errors_on_every_exchange(
    sim: ExchangeSim, make: MakeGateway, exchange_id: str
) -> None:
    async with make(exchange_id) as gw:
        sim.market.delist(exchange_id, "SOL")
        with pytest.raises(SymbolError):
            await gw.call(
                "fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "5m", limit=10, symbol="SOL/USDT:USDT"
            )


async def test_a_failing_symbol_opens_only_its_own_breaker(
    sim: ExchangeSim, make: MakeGateway, breakers: BreakerRegistry
) -> None:
    async with make("binanceusdm") as gw:
        sim.inject("binanceusdm", FaultKind.BAD_SYMBOL, path="klines", symbol="SOL/USDT:USDT", times=None)
        for _ in range(5):
            with pytest.raises(SymbolError):
                await gw.call(
                    "fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "5m", limit=10, symbol="SOL/USDT:USDT"
                )
        sent = len(sim.requests("binanceusdm"))
        with pytest.raises(CircuitOpen):
            await gw.call(
                "fetch_ohlcv", "fetch_ohlcv", "SOL/USDT:USDT", "5m", limit=10, symbol="SOL/USDT:USDT"
            )
        assert len(sim.requests("binanceusdm")) == sent  # nothing left while open
        assert await gw.call(
            "fetch_ohlcv", "fetch_ohlcv", "BTC/USDT:USDT", "5m", limit=10, symbol="BTC/USDT:USDT"
        )
    assert breakers.open_circuits() == ["binanceusdm fetch_ohlcv SOL/USDT:USDT"]


async def test_an_endpoint_failing_five_times_stops_sending(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    async with make("bybit") as gw:
        sim.inject("bybit", FaultKind.ERROR, path="tickers", status=502, times=5)
        for _ in range(5):
            with pytest.raises(TransientError):
                await gw.call("fetch_tickers", "fetch_tickers")
        with pytest.raises(CircuitOpen):
            await gw.call("fetch_tickers", "fetch_tickers")
        assert len(sim.requests("bybit", path="tickers")) == 5
        clock.advance(30)  # cool-down over: one probe goes out and closes the breaker
        assert await gw.call("fetch_tickers", "fetch_tickers")
        assert len(sim.requests("bybit", path="tickers")) == 6


# -- markets refresh -----------------------------------------------------------------------------------------


async def test_market_refresh_adds_listings_and_drops_delisted(sim: ExchangeSim, make: MakeGateway) -> None:
    async with make("binanceusdm") as gw:
        sim.market.add_listing("binanceusdm", "NEWCOIN", price=0.5)
        sim.market.delist("binanceusdm", "XRP")
        await gw.refresh_markets()
        assert "NEWCOIN/USDT:USDT" in gw.markets
        assert "XRP/USDT:USDT" not in gw.markets


async def test_markets_are_reloaded_on_schedule(
    sim: ExchangeSim, make: MakeGateway, clock: ManualClock
) -> None:
    health = Health(clock=clock).task("markets binanceusdm", kind="worker")
    async with make("binanceusdm", markets_refresh=3600.0) as gw:
        refresher = asyncio.create_task(gw.run_market_refresh(health))
        try:
            await clock.run_for(3599, step=600)
            assert len(sim.requests("binanceusdm", path="exchangeInfo")) == 1  # only the initial load
            await clock.run_for(1)
            await sim.wait_until(lambda: len(sim.requests("binanceusdm", path="exchangeInfo")) == 2)
        finally:
            refresher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await refresher


async def test_an_unreachable_exchange_says_why(
    clock: ManualClock, metrics: Metrics, breakers: BreakerRegistry
) -> None:
    # port 1 on loopback: the connection is refused, and the error must say so (not only "GET <url>")
    settings = ExchangeSettings(rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1", request_timeout=2.0)
    limiter = WeightLimiter.for_exchange("binanceusdm", budget_fraction=0.5, clock=clock)
    gateway = Gateway(
        exchange_id="binanceusdm",
        settings=settings,
        limiter=limiter,
        breakers=breakers,
        clock=clock,
        metrics=metrics,
    )
    with pytest.raises(TransientError) as err:
        async with gateway:
            pass
    assert "load_markets" in str(err.value) and "Cannot connect to host 127.0.0.1:1" in str(err.value)
