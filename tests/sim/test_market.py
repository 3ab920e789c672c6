"""Funding-history endpoints answer one page of the market's settlements: the newest ``limit`` up to the
requested end (never past now), from the requested start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from signalbots.clock import ManualClock
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
HOUR = 3_600_000


@pytest.fixture
async def sim() -> AsyncIterator[ExchangeSim]:
    clock = ManualClock(start=START)
    market = Market(clock=clock, seed=7, symbols=20, exchanges=("bybit", "okx"))
    market.set_funding("bybit", "ETH", 0.0001, interval_hours=8)
    market.set_funding("okx", "ETH", 0.0001, interval_hours=4)
    async with ExchangeSim(market=market, clock=clock, exchanges=("bybit", "okx")) as s:
        yield s


async def get(sim: ExchangeSim, exchange_id: str, path: str, **params: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(sim.rest_url(exchange_id) + path, params=params) as r,
    ):
        return await r.json()


async def test_bybit_pages_end_at_now_and_hold_the_newest_settlements(sim: ExchangeSim) -> None:
    last = int(START * 1000) // (8 * HOUR) * (8 * HOUR)  # the latest 8h settlement before now
    body = await get(
        sim,
        "bybit",
        "/v5/market/funding/history",
        category="linear",
        symbol="ETHUSDT",
        limit="3",
        endTime=str(int(START * 1000) + 100 * HOUR),  # in the future: the page still ends now
    )
    times = [int(row["fundingRateTimestamp"]) for row in body["result"]["list"]]
    assert times == [last, last - 8 * HOUR, last - 16 * HOUR]  # newest first


async def test_bybit_pages_cover_the_range_asked(sim: ExchangeSim) -> None:
    last = int(START * 1000) // (8 * HOUR) * (8 * HOUR)
    body = await get(
        sim,
        "bybit",
        "/v5/market/funding/history",
        category="linear",
        symbol="ETHUSDT",
        startTime=str(last - 24 * HOUR),
        endTime=str(last - 8 * HOUR),
    )
    times = [int(r["fundingRateTimestamp"]) for r in body["result"]["list"]]
    assert times == [last - 8 * HOUR, last - 16 * HOUR, last - 24 * HOUR]


async def test_okx_pages_use_after_and_before_as_the_range(sim: ExchangeSim) -> None:
    last = int(START * 1000) // (4 * HOUR) * (4 * HOUR)
    body = await get(
        sim,
        "okx",
        "/api/v5/public/funding-rate-history",
        instId="ETH-USDT-SWAP",
        after=str(last - 3 * HOUR),  # between settlements: the page does not depend on the bounds' inclusion
        before=str(last - 13 * HOUR),
    )
    times = [int(row["fundingTime"]) for row in body["data"]]
    assert times == [last - 4 * HOUR, last - 8 * HOUR, last - 12 * HOUR]
