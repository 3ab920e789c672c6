"""The MEXC venue speaks MEXC's contract API: the real ccxt client loads markets, reads tickers, candles and
funding from it and watches its streams; raw clients see MEXC's rate limit (20 per 2 s per endpoint, code 510)
and websocket protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import ccxt.pro
import pytest

from signalbots.clock import ManualClock
from signalbots.exchange.gateway import rehost
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
ALL = ("binanceusdm", "bybit", "okx", "mexc")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ExchangeSim]:
    market = Market(clock=clock, seed=7, symbols=20, exchanges=ALL)
    async with ExchangeSim(market=market, clock=clock, exchanges=("mexc",)) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(sim: ExchangeSim) -> Any:
    ex = ccxt.pro.mexc({"timeout": 3000, "options": {"defaultType": "swap"}})
    api = ex.urls["api"]
    for key, value in list(api.items()):
        api[key] = rehost(value, sim.ws_url("mexc") if key == "ws" else sim.rest_url("mexc"))
    return ex


async def get(http: aiohttp.ClientSession, sim: ExchangeSim, path: str, **params: Any) -> Any:
    async with http.get(sim.rest_url("mexc") + path, params=params) as resp:
        assert resp.status == 200  # MEXC answers errors, 510 included, with HTTP 200
        return await resp.json()


async def test_ccxt_reads_markets_tickers_candles_and_funding(sim: ExchangeSim) -> None:
    sim.market.set_price("mexc", "ETH", 3000.0)
    sim.market.set_volume_24h("mexc", "ETH", 2.4e9)
    sim.market.set_funding("mexc", "ETH", 0.0007, interval_hours=4)
    eth = sim.market.listing("mexc", "ETH")
    ex = client(sim)
    try:
        markets = await ex.load_markets()
        ticker = (await ex.fetch_tickers())["ETH/USDT:USDT"]
        candles = await ex.fetch_ohlcv("ETH/USDT:USDT", "5m", limit=30)
        funding = await ex.fetch_funding_rate("ETH/USDT:USDT")
    finally:
        await ex.close()
    assert set(sim.market.symbols("mexc")) <= set(markets)
    assert markets["ETH/USDT:USDT"]["contractSize"] == eth.contract_size != 1.0
    assert ticker["last"] == pytest.approx(3000.0, rel=1e-6)
    assert ticker["quoteVolume"] == pytest.approx(2.4e9)  # amount24: USDT
    contracts = float(ticker["info"]["volume24"])  # volume24: contracts
    assert contracts * eth.contract_size * 3000.0 == pytest.approx(2.4e9, rel=1e-3)
    assert float(ticker["info"]["fundingRate"]) == pytest.approx(0.0007)
    assert len(candles) == 30 and candles[-1][0] == int(START * 1000) // 300_000 * 300_000
    assert funding["fundingRate"] == pytest.approx(0.0007)
    assert funding["interval"] == "4h"
    assert funding["fundingTimestamp"] == sim.market.next_funding_ms(eth)
    paths = [r.path for r in sim.requests("mexc")]
    assert "/api/v3/exchangeInfo" in paths  # ccxt loads spot markets too, whatever the market type
    assert not sim.venue("mexc").unknown_paths


async def test_candles_count_contracts_in_vol_and_usdt_in_amount(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    minute = int(START // 300 * 300 * 1000) - 300_000
    sim.market.script_candle(
        "mexc",
        "BTC",
        "5m",
        minute,
        open=64_000.0,
        high=64_500.0,
        low=63_900.0,
        close=64_400.0,
        quote_volume=3e7,
    )
    btc = sim.market.listing("mexc", "BTC")
    body = await get(http, sim, "/api/v1/contract/kline/BTC_USDT", interval="Min5", start=str(minute // 1000))
    data = body["data"]
    i = data["time"].index(minute // 1000)  # seconds, not milliseconds
    assert data["amount"][i] == pytest.approx(3e7)
    typical = (64_500.0 + 63_900.0 + 64_400.0) / 3
    assert data["vol"][i] * btc.contract_size * typical == pytest.approx(3e7, rel=1e-3)
    assert btc.contract_size < 0.01  # so vol and base volume differ by orders of magnitude


async def test_without_a_range_a_kline_answer_holds_2000_candles(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    body = await get(http, sim, "/api/v1/contract/kline/ETH_USDT", interval="Min1")
    assert len(body["data"]["time"]) == 2000


async def test_the_bulk_ticker_carries_funding_for_every_contract(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    body = await get(http, sim, "/api/v1/contract/ticker")
    rates = {row["symbol"]: row["fundingRate"] for row in body["data"]}
    assert set(rates) == {s.replace("/USDT:USDT", "_USDT") for s in sim.market.symbols("mexc")}
    assert rates["SOL_USDT"] == pytest.approx(sim.market.listing("mexc", "SOL").funding_rate, abs=5e-7)
    one = await get(http, sim, "/api/v1/contract/ticker", symbol="SOL_USDT")
    assert one["data"]["symbol"] == "SOL_USDT"  # one symbol: an object, not a list


async def test_each_endpoint_allows_20_requests_per_2_seconds_then_answers_510(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    for _ in range(20):
        assert (await get(http, sim, "/api/v1/contract/kline/BTC_USDT", interval="Min1"))["success"] is True
    refused = await get(http, sim, "/api/v1/contract/kline/ETH_USDT", interval="Min1")
    assert refused == {"code": 510, "msg": "Requests are too frequent"}  # all klines share one budget
    assert (await get(http, sim, "/api/v1/contract/funding_rate/BTC_USDT"))["success"] is True
    sim.clock.advance(2.1)
    assert (await get(http, sim, "/api/v1/contract/kline/ETH_USDT", interval="Min1"))["success"] is True


async def test_contract_detail_allows_one_request_per_5_seconds(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    assert (await get(http, sim, "/api/v1/contract/detail"))["success"] is True
    assert (await get(http, sim, "/api/v1/contract/detail"))["code"] == 510
    sim.clock.advance(5.1)
    assert (await get(http, sim, "/api/v1/contract/detail"))["success"] is True


async def test_ccxt_translates_the_510_answer_and_unknown_contracts(sim: ExchangeSim) -> None:
    ex = client(sim)
    try:
        await ex.load_markets()
        sim.inject("mexc", FaultKind.RATE_LIMIT, path="/ticker")
        with pytest.raises(ccxt.RateLimitExceeded):
            await ex.fetch_tickers()
        sim.inject("mexc", FaultKind.BAD_SYMBOL, path="/funding_rate/")
        with pytest.raises(ccxt.BadSymbol):
            await ex.fetch_funding_rate("BTC/USDT:USDT")
    finally:
        await ex.close()


async def test_a_negative_fault_reaches_json_numbers_but_not_timestamps(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    sim.inject("mexc", FaultKind.NEGATIVE, path="/funding_rate/")
    body = await get(http, sim, "/api/v1/contract/funding_rate/BTC_USDT")
    assert body["data"]["fairPrice"] < 0
    assert body["data"]["nextSettleTime"] > 0  # timestamps are left alone


async def test_ccxt_watches_candles_and_tickers(sim: ExchangeSim) -> None:
    minute = int(START // 60 * 60 * 1000)
    sim.market.script_candle(
        "mexc", "SOL", "1m", minute, open=100.0, high=112.0, low=99.0, close=111.0, quote_volume=9e7
    )
    ex = client(sim)
    try:
        await ex.load_markets()
        first = asyncio.create_task(ex.watch_ohlcv("SOL/USDT:USDT", "1m"))
        await sim.wait_until(lambda: bool(sim.subscriptions("mexc")))
        sim.clock.advance(1)
        await asyncio.wait_for(first, 5)
        after = asyncio.create_task(ex.watch_ohlcv("SOL/USDT:USDT", "1m"))
        sim.clock.advance(60)  # the window closes: its final state is pushed, then the next window
        await asyncio.wait_for(after, 5)
        closed = [c for c in ex.ohlcvs["SOL/USDT:USDT"]["1m"] if c[0] == minute]
        ticker_task = asyncio.create_task(ex.watch_ticker("SOL/USDT:USDT"))
        await sim.wait_until(lambda: len(sim.subscriptions("mexc")) == 2)
        sim.clock.advance(1)
        ticker = await asyncio.wait_for(ticker_task, 5)
    finally:
        await ex.close()
    assert closed[0][1:5] == [100.0, 112.0, 99.0, 111.0]
    assert ticker["last"] == pytest.approx(sim.market.last_price(sim.market.listing("mexc", "SOL")))


async def test_websocket_protocol(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url("mexc") + "/edge") as ws:
        await ws.send_json({"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min5"}})
        assert (await ws.receive_json(timeout=5))["channel"] == "rs.sub.kline"
        await ws.send_json({"method": "sub.ticker", "param": {"symbol": "NOPE_USDT"}})
        assert (await ws.receive_json(timeout=5))["channel"] == "rs.error"
        await ws.send_json({"method": "sub.tickers", "param": {}})
        assert (await ws.receive_json(timeout=5))["data"] == "success"
        sim.clock.advance(1)
        pushes = {(await ws.receive_json(timeout=5))["channel"] for _ in range(2)}
        assert pushes == {"push.kline", "push.tickers"}
        assert sim.silence_ws("mexc") == 1
        sim.clock.advance(1)
        await ws.send_json({"method": "ping"})
        pong = await ws.receive_json(timeout=5)  # a silent connection still answers pings
    assert pong == {"channel": "pong", "data": int((START + 2) * 1000)}


def test_adding_mexc_leaves_the_other_exchanges_listings_unchanged(clock: ManualClock) -> None:
    without = Market(clock=clock, seed=3, symbols=30)
    with_mexc = Market(clock=clock, seed=3, symbols=30, exchanges=ALL)
    for ex in ("binanceusdm", "bybit", "okx"):
        assert without.listings[ex] == with_mexc.listings[ex]
    assert with_mexc.listings["mexc"]


def test_a_simulator_refuses_an_exchange_the_market_does_not_list(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="mexc"):
        ExchangeSim(market=Market(clock=clock, seed=1), clock=clock, exchanges=("okx", "mexc"))
