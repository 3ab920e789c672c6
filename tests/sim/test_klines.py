"""Kline streams on every venue share one cursor: a stream that fell behind sends the last few closed windows,
not a flood, then the window open now."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from signalbots.clock import ManualClock
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
MINUTE = 60_000


@pytest.fixture
async def sim() -> AsyncIterator[ExchangeSim]:
    clock = ManualClock(start=START)
    market = Market(clock=clock, seed=7, symbols=20, exchanges=("binanceusdm", "bybit", "mexc"))
    async with ExchangeSim(market=market, clock=clock, exchanges=("binanceusdm", "bybit", "mexc")) as s:
        yield s


async def test_a_stream_ten_minutes_behind_sends_three_closed_windows_then_the_open_one(
    sim: ExchangeSim,
) -> None:
    now_window = int(START + 600) * 1000 // MINUTE * MINUTE
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws,
    ):
        await ws.send_json({"op": "subscribe", "args": ["kline.1.BTCUSDT"], "req_id": "k"})
        assert (await ws.receive_json(timeout=5))["success"] is True
        sim.clock.advance(600)  # one tick ten minutes later (a stalled pusher, a paused demo)
        frame = await ws.receive_json(timeout=5)
    assert frame["topic"] == "kline.1.BTCUSDT"
    assert [(k["start"], k["confirm"]) for k in frame["data"]] == [
        (now_window - 3 * MINUTE, True),
        (now_window - 2 * MINUTE, True),
        (now_window - MINUTE, True),
        (now_window, False),
    ]


async def test_mexc_sends_the_final_state_of_each_window_as_its_own_push(sim: ExchangeSim) -> None:
    now_window = int(START + 600) * 1000 // MINUTE * MINUTE
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_url("mexc") + "/edge") as ws:
        await ws.send_json({"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}})
        assert (await ws.receive_json(timeout=5))["data"] == "success"
        sim.clock.advance(600)
        frames = [await ws.receive_json(timeout=5) for _ in range(4)]
    assert [f["data"]["t"] * 1000 for f in frames] == [
        now_window - 3 * MINUTE,
        now_window - 2 * MINUTE,
        now_window - MINUTE,
        now_window,
    ]


async def test_hyperliquid_pushes_the_open_candle_at_the_venues_cadence() -> None:
    # The benchmark sets each venue's cadence (``kline_every_ms``: Hyperliquid at 1 s); the default is 10 s.
    clock = ManualClock(start=START)
    market = Market(clock=clock, seed=7, symbols=5, exchanges=("hyperliquid",))
    async with ExchangeSim(market=market, clock=clock, exchanges=("hyperliquid",)) as sim:
        sim.venue("hyperliquid").kline_every_ms = 1000
        subscription = {"type": "candle", "coin": "BTC", "interval": "1m"}
        async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_url("hyperliquid") + "/ws") as ws:
            await ws.send_json({"method": "subscribe", "subscription": subscription})
            assert (await ws.receive_json(timeout=5))["channel"] == "subscriptionResponse"
            opens = []
            for _ in range(3):
                clock.advance(1.0)
                opens.append((await ws.receive_json(timeout=5))["data"]["t"])
    now_window = int(START + 3) * 1000 // MINUTE * MINUTE
    assert opens == [now_window] * 3  # the open candle, once a second
