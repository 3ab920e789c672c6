"""The exchange simulator speaks each exchange's wire format: the real ccxt client and raw HTTP/websocket
clients see what they would see from Binance, Bybit and OKX, including their rate limits and faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import ccxt.pro
import pytest

from signalbots.clock import ManualClock
from signalbots.events import Side
from signalbots.exchange.gateway import rehost
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.venue import FaultKind

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
MARKET_TYPES = {"binanceusdm": ["linear"], "bybit": ["linear"], "okx": ["swap"]}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ExchangeSim]:
    async with ExchangeSim(market=Market(clock=clock, seed=7, symbols=20), clock=clock) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(sim: ExchangeSim, exchange_id: str, *, timeout_ms: int = 3000) -> Any:
    """A plain ccxt.pro instance pointed at the simulator (what the Gateway does, minus the limiter)."""
    ex = getattr(ccxt.pro, exchange_id)(
        {
            "timeout": timeout_ms,
            "options": {"defaultType": "swap", "fetchMarkets": {"types": MARKET_TYPES[exchange_id]}},
        }
    )
    api = ex.urls["api"]
    for key, value in list(api.items()):
        api[key] = rehost(value, sim.ws_url(exchange_id) if key == "ws" else sim.rest_url(exchange_id))
    return ex


async def get(
    http: aiohttp.ClientSession, sim: ExchangeSim, path: str, **params: Any
) -> aiohttp.ClientResponse:
    async with http.get(sim.rest_url("binanceusdm") + path, params=params) as resp:
        await resp.read()
        return resp


# -- REST through the real ccxt client ---------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
async def test_ccxt_loads_markets_and_reads_funding_tickers_and_candles(
    sim: ExchangeSim, exchange_id: str
) -> None:
    sim.market.set_funding(exchange_id, "ETH", 0.0025, interval_hours=4)
    sim.market.set_price(exchange_id, "ETH", 3000.0)
    sim.market.set_volume_24h(exchange_id, "ETH", 7.5e9)
    ex = client(sim, exchange_id)
    try:
        markets = await ex.load_markets()
        perpetuals = {s for s, m in markets.items() if m["swap"] and m["linear"]}
        # the rest is what the exchanges list besides: Binance's quarterlies, OKX's coin-margined swaps
        assert perpetuals == set(sim.market.symbols(exchange_id))

        funding = (await ex.fetch_funding_rates())["ETH/USDT:USDT"]
        assert funding["fundingRate"] == pytest.approx(0.0025)
        assert funding["fundingTimestamp"] == sim.market.next_funding_ms(
            sim.market.listing(exchange_id, "ETH")
        )
        if exchange_id != "binanceusdm":  # Binance needs fundingInfo for the interval (below)
            assert funding["interval"] == "4h"

        ticker = (await ex.fetch_tickers())["ETH/USDT:USDT"]
        assert ticker["last"] == pytest.approx(3000.0, rel=1e-6)
        if exchange_id == "okx":  # ccxt leaves OKX swap quote volume empty; volCcy24h is base units
            assert float(ticker["info"]["volCcy24h"]) * ticker["last"] == pytest.approx(7.5e9, rel=1e-3)
        else:
            assert ticker["quoteVolume"] == pytest.approx(7.5e9, rel=1e-6)

        candles = await ex.fetch_ohlcv("ETH/USDT:USDT", "5m", limit=30)
        assert len(candles) == 30
        assert [c[0] for c in candles] == sorted(c[0] for c in candles)
        assert candles[-1][0] == int(START * 1000) // 300_000 * 300_000  # the open candle comes last
    finally:
        await ex.close()
    assert not sim.venue(exchange_id).unknown_paths


async def test_binance_funding_intervals_come_from_funding_info(sim: ExchangeSim) -> None:
    sim.market.set_funding("binanceusdm", "SOL", 0.001, interval_hours=1)
    ex = client(sim, "binanceusdm")
    try:
        await ex.load_markets()
        intervals = await ex.fetch_funding_intervals()
    finally:
        await ex.close()
    assert intervals["SOL/USDT:USDT"]["interval"] == "1h"
    assert "BTC/USDT:USDT" not in intervals  # Binance lists only adjusted symbols; the rest are 8h


async def test_bad_symbol_is_answered_like_binance(sim: ExchangeSim) -> None:
    sim.market.add_listing("binanceusdm", "NEWCOIN", price=1.5)
    ex = client(sim, "binanceusdm")
    try:
        await ex.load_markets()
        sim.market.delist("binanceusdm", "NEWCOIN", remove=True)
        with pytest.raises(ccxt.BadSymbol):
            await ex.fetch_ohlcv("NEWCOIN/USDT:USDT", "5m", limit=10)
    finally:
        await ex.close()


async def test_delisting_and_new_listings_show_in_exchange_info(sim: ExchangeSim) -> None:
    ex = client(sim, "binanceusdm")
    try:
        await ex.load_markets()
        sim.market.delist("binanceusdm", "XRP")
        sim.market.add_listing("binanceusdm", "FRESH", price=0.02)
        markets = await ex.load_markets(reload=True)
    finally:
        await ex.close()
    assert markets["XRP/USDT:USDT"]["active"] is False
    assert markets["FRESH/USDT:USDT"]["active"] is True


def test_the_market_is_deterministic_from_its_seed(clock: ManualClock) -> None:
    a, b = Market(clock=clock, seed=3, symbols=30), Market(clock=clock, seed=3, symbols=30)
    c = Market(clock=clock, seed=4, symbols=30)
    assert a.symbols("bybit") == b.symbols("bybit")
    bars_a = a.bars(a.listing("okx", "SOL"), "5m", start_ms=None, end_ms=None, limit=50)
    bars_b = b.bars(b.listing("okx", "SOL"), "5m", start_ms=None, end_ms=None, limit=50)
    assert bars_a == bars_b
    assert bars_a != c.bars(c.listing("okx", "SOL"), "5m", start_ms=None, end_ms=None, limit=50)


# -- Binance weights, 429 and 418 ----------------------------------------------------------------------------


async def test_every_binance_answer_carries_the_used_weight_by_binance_rules(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    steps = [
        ("/fapi/v1/premiumIndex", {}, 10),
        ("/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/ticker/24hr", {}, 40),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": 99}, 1),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": 100}, 2),
        ("/fapi/v1/exchangeInfo", {}, 1),
    ]
    used = 0
    for path, params, weight in steps:
        resp = await get(http, sim, path, **params)
        used += weight
        assert resp.status == 200
        assert resp.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
    sim.clock.advance(60)  # a new minute starts from zero
    resp = await get(http, sim, "/fapi/v1/exchangeInfo")
    assert resp.headers["X-MBX-USED-WEIGHT-1M"] == "1"


async def test_binance_answers_429_past_the_budget_and_bans_a_client_that_keeps_calling(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    sim.clock.advance(60 - START % 60)  # start of a minute
    for _ in range(60):  # 60 × 40 = 2400: exactly the budget
        assert (await get(http, sim, "/fapi/v1/ticker/24hr")).status == 200
    limited = await get(http, sim, "/fapi/v1/ticker/24hr")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "60"

    sim.clock.advance(10)
    banned = await get(http, sim, "/fapi/v1/exchangeInfo")
    assert banned.status == 418
    assert banned.headers["Retry-After"] == "120"

    sim.clock.advance(119)
    assert (await get(http, sim, "/fapi/v1/exchangeInfo")).status == 418
    sim.clock.advance(1)
    assert (await get(http, sim, "/fapi/v1/exchangeInfo")).status == 200
    assert [r.status for r in sim.requests("binanceusdm")][-4:] == [429, 418, 418, 200]


async def test_a_client_that_waits_out_a_429_is_not_banned(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    sim.inject("binanceusdm", FaultKind.RATE_LIMIT, retry_after=30)
    assert (await get(http, sim, "/fapi/v1/premiumIndex")).status == 429
    sim.clock.advance(30)
    assert (await get(http, sim, "/fapi/v1/premiumIndex")).status == 200


async def test_bybit_bans_an_ip_past_its_limit_for_ten_minutes(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    url = sim.rest_url("bybit") + "/v5/market/time"

    async def status() -> int:
        async with http.get(url) as resp:
            await resp.read()
            return resp.status

    statuses = [await status() for _ in range(601)]
    assert statuses[:600] == [200] * 600 and statuses[600] == 403  # 600 requests per 5 s
    sim.clock.advance(5)
    assert await status() == 403  # not a window that reopens: the IP is banned
    sim.clock.advance(600)
    assert await status() == 200


async def test_bybit_answers_its_api_rate_limit_with_10006_and_a_ban_with_403(sim: ExchangeSim) -> None:
    ex = client(sim, "bybit")
    try:
        await ex.load_markets()
        sim.inject("bybit", FaultKind.RATE_LIMIT, path="tickers")
        with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
            await ex.fetch_tickers()
        sim.inject("bybit", FaultKind.BAN, path="tickers")
        for _ in range(2):  # the ban outlasts the fault that started it
            with pytest.raises(ccxt.RateLimitExceeded, match="403"):
                await ex.fetch_funding_rates()
        sim.clock.advance(600)
        assert await ex.fetch_tickers()
    finally:
        await ex.close()


# -- faults --------------------------------------------------------------------------------------------------


async def test_faults_hit_matching_requests_the_given_number_of_times(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    sim.inject("binanceusdm", FaultKind.ERROR, path="klines", symbol="ETH/USDT:USDT", times=2, status=502)
    eth = {"symbol": "ETHUSDT", "interval": "1m", "limit": 5}
    assert (await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=5)).status == 200
    assert [(await get(http, sim, "/fapi/v1/klines", **eth)).status for _ in range(3)] == [502, 502, 200]


async def test_malformed_nan_and_negative_payloads(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.inject("binanceusdm", FaultKind.MALFORMED)
    sim.inject("binanceusdm", FaultKind.NAN)
    sim.inject("binanceusdm", FaultKind.NEGATIVE)
    url = sim.rest_url("binanceusdm") + "/fapi/v1/premiumIndex"
    bodies = []
    for _ in range(3):
        async with http.get(url, params={"symbol": "BTCUSDT"}) as resp:
            bodies.append(await resp.text())
    with pytest.raises(ValueError):
        json.loads(bodies[0])
    assert json.loads(bodies[1])["markPrice"] == "NaN"
    assert float(json.loads(bodies[2])["markPrice"]) < 0
    assert json.loads(bodies[2])["nextFundingTime"] > 0  # times are left alone


async def test_a_hung_request_times_the_client_out(sim: ExchangeSim) -> None:
    ex = client(sim, "okx", timeout_ms=200)
    sim.inject("okx", FaultKind.HANG)
    try:
        with pytest.raises(ccxt.RequestTimeout):
            await ex.load_markets()
    finally:
        await ex.close()


# -- websockets ----------------------------------------------------------------------------------------------


async def test_binance_raw_stream_protocol(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url("binanceusdm") + "/market/ws/0") as ws:
        await ws.send_json(
            {"method": "SUBSCRIBE", "params": ["!forceOrder@arr", "btcusdt@kline_1m"], "id": 7}
        )
        assert await ws.receive_json(timeout=5) == {"result": None, "id": 7}
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        assert await ws.receive_json(timeout=5) == {
            "result": ["!forceOrder@arr", "btcusdt@kline_1m"],
            "id": 8,
        }

        sim.market.liquidate("binanceusdm", "BTC", Side.LONG, notional_usd=50_000)
        sim.market.liquidate("binanceusdm", "BTC", Side.SHORT, notional_usd=900_000)
        sim.market.liquidate("binanceusdm", "BTC", Side.LONG, notional_usd=100_000)
        sim.clock.advance(40 - START % 60 + 20)  # to the next minute: the 1m candle closes
        frames = [await ws.receive_json(timeout=5) for _ in range(3)]
    force = [f for f in frames if f["e"] == "forceOrder"]
    klines = [f for f in frames if f["e"] == "kline"]
    assert len(force) == 1  # the largest print per symbol per second
    assert force[0]["o"]["S"] == "BUY" and force[0]["o"]["s"] == "BTCUSDT"  # a short was liquidated
    assert float(force[0]["o"]["q"]) * float(force[0]["o"]["ap"]) == pytest.approx(900_000, rel=1e-3)
    assert [k["k"]["x"] for k in klines] == [True, False]
    assert klines[1]["k"]["t"] - klines[0]["k"]["t"] == 60_000


async def test_binance_klines_carry_the_quote_asset_volume(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    minute = int(START // 60 * 60_000)  # open now; closes in 40 s
    for open_ms, quote in ((minute - 60_000, 1_234_567.5), (minute, 7_654_321.25)):
        sim.market.script_candle(
            "binanceusdm", "BTC", "1m", open_ms, open=10.0, high=11.0, low=9.0, close=10.5, quote_volume=quote
        )
    resp = await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=2)
    rows = await resp.json()
    assert [len(row) for row in rows] == [12, 12]  # Binance's row: quote asset volume at index 7
    assert [row[0] for row in rows] == [minute - 60_000, minute]
    assert float(rows[0][7]) == 1_234_567.5

    async with http.ws_connect(sim.ws_url("binanceusdm") + "/market/ws/0") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        assert await ws.receive_json(timeout=5) == {"result": None, "id": 1}
        sim.clock.advance(40)
        frames = [await ws.receive_json(timeout=5) for _ in range(2)]
    closed = [f["k"] for f in frames if f["k"]["t"] == minute and f["k"]["x"]]
    assert len(closed) == 1 and float(closed[0]["q"]) == 7_654_321.25


async def test_binance_combined_stream_wraps_payloads(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url("binanceusdm") + "/stream") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["!markPrice@arr@1s"], "id": 1})
        assert (await ws.receive_json(timeout=5))["id"] == 1
        sim.clock.advance(1)
        frame = await ws.receive_json(timeout=5)
    assert frame["stream"] == "!markPrice@arr@1s"
    assert {d["s"] for d in frame["data"]} == {
        s.replace("/USDT:USDT", "USDT") for s in sim.market.symbols("binanceusdm")
    }


async def test_ccxt_watches_liquidations_on_every_exchange(sim: ExchangeSim) -> None:
    clients = {ex: client(sim, ex) for ex in ("binanceusdm", "bybit", "okx")}
    try:
        for ex in clients.values():
            await ex.load_markets()
        watches = {
            "binanceusdm": asyncio.create_task(clients["binanceusdm"].watch_liquidations_for_symbols([])),
            "bybit": asyncio.create_task(clients["bybit"].watch_liquidations("ETH/USDT:USDT")),
            "okx": asyncio.create_task(clients["okx"].watch_liquidations_for_symbols(None)),
        }
        await sim.wait_until(lambda: all(sim.subscriptions(ex) for ex in clients))
        for ex in clients:
            sim.market.liquidate(ex, "ETH", Side.LONG, notional_usd=250_000, price=3000.0)
        sim.clock.advance(1)
        got = {ex: (await asyncio.wait_for(task, 5))[0] for ex, task in watches.items()}
    finally:
        for ex in clients.values():
            await ex.close()
    assert got["binanceusdm"]["side"] == "sell"  # Binance: the liquidation order SELLs a long
    assert got["bybit"]["info"]["S"] == "Buy"  # Bybit: S=Buy marks a liquidated long
    okx = got["okx"]["info"]["details"][0]
    assert okx["posSide"] == "long"
    contract_size = sim.market.listing("okx", "ETH").contract_size
    assert float(okx["sz"]) * contract_size * 3000.0 == pytest.approx(250_000, rel=1e-3)
    assert all(g["symbol"] == "ETH/USDT:USDT" for g in got.values())


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
async def test_ccxt_watches_candles_for_many_symbols(sim: ExchangeSim, exchange_id: str) -> None:
    ex = client(sim, exchange_id)
    minute = int(START // 60 * 60 * 1000)
    sim.market.script_candle(
        exchange_id, "SOL", "1m", minute, open=100.0, high=112.0, low=99.0, close=111.0, quote_volume=9e7
    )
    try:
        await ex.load_markets()
        pairs = [["BTC/USDT:USDT", "1m"], ["SOL/USDT:USDT", "1m"]]
        first = asyncio.create_task(ex.watch_ohlcv_for_symbols(pairs))
        await sim.wait_until(lambda: len(sim.subscriptions(exchange_id)) == 2)
        sim.clock.advance(1)
        await asyncio.wait_for(first, 5)
        sim.clock.advance(60)  # the scripted candle closes and is pushed
        for _ in range(10):  # every watch returns one symbol's update; ccxt's cache holds them all
            closed = [c for c in ex.ohlcvs.get("SOL/USDT:USDT", {}).get("1m", []) if c[0] == minute]
            if closed and closed[0][4] == 111.0:
                break
            update = asyncio.create_task(ex.watch_ohlcv_for_symbols(pairs))
            sim.clock.advance(10)  # the open candles are pushed every 10 s
            await asyncio.wait_for(update, 5)
    finally:
        await ex.close()
    assert closed[0][1:5] == [100.0, 112.0, 99.0, 111.0]


async def test_a_silent_websocket_stays_connected_and_answers_pings(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "1", "args": ["allLiquidation.BTCUSDT"]})
        assert (await ws.receive_json(timeout=5))["success"] is True
        assert sim.silence_ws("bybit") == 1
        sim.market.liquidate("bybit", "BTC", Side.SHORT, notional_usd=1e6)
        sim.clock.advance(1)
        await ws.send_json({"op": "ping", "req_id": "2"})
        pong = await ws.receive_json(timeout=5)  # the print was never sent: the next frame is the pong
    assert pong["ret_msg"] == "pong" and pong["req_id"] == "2"


async def test_a_dropped_websocket_fails_the_watch_and_the_next_watch_redials(sim: ExchangeSim) -> None:
    ex = client(sim, "okx")
    try:
        await ex.load_markets()
        watch = asyncio.create_task(ex.watch_liquidations_for_symbols(None))
        await sim.wait_until(lambda: bool(sim.subscriptions("okx")))
        assert await sim.drop_ws("okx") == 1
        with pytest.raises(ccxt.NetworkError):
            await asyncio.wait_for(watch, 5)
        again = asyncio.create_task(ex.watch_liquidations_for_symbols(None))
        await sim.wait_until(lambda: bool(sim.subscriptions("okx")))
        sim.market.liquidate("okx", "BTC", Side.SHORT, notional_usd=1e5)
        sim.clock.advance(1)
        prints = await asyncio.wait_for(again, 5)
    finally:
        await ex.close()
    assert prints[0]["info"]["details"][0]["posSide"] == "short"
