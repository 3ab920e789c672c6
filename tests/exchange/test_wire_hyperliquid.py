"""Hyperliquid's real payloads (``tests/fixtures/wire/hyperliquid``, see PROVENANCE.md) through real ccxt and
the daemon's own gateway and feeds — the fifth venue's section of the wire conformance (``rig`` and the
stand-in are ``test_wire_conformance``'s). Every number checked is computed by hand from the fixture, written
out, and commented with how.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from signalbots.errors import RateLimited
from signalbots.events import Candle, FundingSnapshot, Ticker
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.funding import FundingFeed
from signalbots.exchange.tickers import TickerFeed
from signalbots.exchange.venues import hyperliquid, venue
from signalbots.strategies.funding import apr, rate_per_8h
from tests.exchange.test_wire_conformance import by_symbol, rig
from tests.exchange.wire_server import ROUTES, fixture, fixture_json

EX = "hyperliquid"
MARKETS = {"BTC/USDC:USDC", "ETH/USDC:USDC", "HPOS/USDC:USDC"}  # the documented universe


def types(requests: list[tuple[str, dict[str, str]]]) -> list[str]:
    return [query.get("type", "") for path, query in requests if path == "/info"]


async def test_markets_are_the_perpetuals_of_one_metaandassetctxs_named_in_usdc() -> None:
    async with rig(EX) as r:
        # ccxt reads currencies (spotMeta), then the perps; spot and HIP-3 dexes are not asked for.
        assert types(r.server.requests) == ["spotMeta", "metaAndAssetCtxs"] and r.server.unknown == []
        assert set(r.gateway.markets) == MARKETS
        btc = r.gateway.markets["BTC/USDC:USDC"]
        assert (btc["quote"], btc["settle"], btc["linear"], btc["contractSize"]) == ("USDC", "USDC", True, 1)


async def test_ticker_volume_is_day_notional_volume_and_last_the_mid_price() -> None:
    async with rig(EX) as r:
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(Ticker)) == 3)
        tickers = by_symbol(r.events(Ticker))
        # dayNtlVlm is the 24h notional in USDC: taken as it is, not × a price
        assert tickers["BTC/USDC:USDC"].quote_volume_24h == 1_169_046.29406
        assert tickers["ETH/USDC:USDC"].quote_volume_24h == 1_426_126.295175
        assert tickers["HPOS/USDC:USDC"].quote_volume_24h == 809_774.565507
        assert (tickers["BTC/USDC:USDC"].last, tickers["ETH/USDC:USDC"].last) == (14.314, 6.0431)  # midPx


async def test_funding_is_hourly_and_normalised_to_8h_and_apr_like_the_others() -> None:
    async with rig(EX) as r:
        th = r.start(FundingFeed(**r.common()))
        await r.until(lambda: th.cycles >= 1)
        funding = by_symbol(r.events(FundingSnapshot))
        assert set(funding) == MARKETS
        btc = funding["BTC/USDC:USDC"]
        # funding 0.0000125 per hour (the interval from the profile: every perp, every hour); mark = markPx
        assert (btc.rate, btc.interval_hours, btc.mark_price) == (0.0000125, 1.0, 14.3161)
        # The answer carries no settlement time: ccxt dates it at the next whole hour of its clock, the
        # daemon's (2026-08-27 16:39:30 UTC → 17:00), which a simulated market shares; not the wall clock.
        assert btc.next_funding_ms == 1_787_850_000_000
        # × 8 / 1 h = 0.0001 per 8 h (the documentation's "0.01% every 8 hours … 0.00125% every hour");
        # APR 0.0001 × 3 × 365 = 10.95 % (simple; the page's 11.6 % compounds 8760 hourly payments)
        assert rate_per_8h(btc.rate, btc.interval_hours) == pytest.approx(0.0001)
        assert apr(rate_per_8h(btc.rate, btc.interval_hours)) == pytest.approx(0.1095)
        assert r.bad_payloads("fetch_funding_rates") == 0 and th.errors == 0


async def test_open_interest_is_in_coins_in_the_same_answer() -> None:
    async with rig(EX) as r:
        ois = await r.gateway.call("fetch_open_interests", "fetch_open_interests")
        assert ois["BTC/USDC:USDC"]["openInterestAmount"] == 688.11  # coins, not USD
        # In USD, openInterest × markPx: BTC 688.11 × 14.3161 = 9,851.051571;
        # ETH 1882.55 × 6.0436 = 11,377.37918
        ctxs = {s: oi["info"] for s, oi in ois.items()}
        usd = {
            s: hyperliquid.OPEN_INTEREST.quote(info, price=float(info["markPx"]), contract_size=1.0)
            for s, info in ctxs.items()
        }
        assert usd["BTC/USDC:USDC"] == pytest.approx(9_851.051571)
        assert usd["ETH/USDC:USDC"] == pytest.approx(11_377.37918)
        # One request for every perp's funding, open interest, mark price and volume.
        assert types(r.server.requests)[2:] == ["metaAndAssetCtxs"]


async def test_candles_are_asked_from_a_start_time_and_carry_base_volume_only() -> None:
    now = 1_684_710_000.0  # 2023-05-21 23:00 UTC: the recorded 20:00, 21:00 and 22:00 candles are closed
    async with rig(EX, now=now, candle_backfill=60) as r:
        r.server.overrides["/info"] = _with_kpepe()
        await r.gateway.refresh_markets()
        r.liquidity.update(EX, {"KPEPE/USDC:USDC": 1e9})
        assert "KPEPE/USDC:USDC" in r.gateway.markets  # ccxt upper-cases the coin "kPEPE"
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="1h", floor_usd=5e6, **r.common()))
        await r.until(lambda: len(r.events(Candle)) == 3)
        candles = sorted(r.events(Candle), key=lambda c: c.time_ms)
        assert [c.time_ms for c in candles] == [1_684_699_200_000, 1_684_702_800_000, 1_684_706_400_000]
        assert [c.close for c in candles] == [0.001604, 0.001591, 0.001605]
        # v counts the coin; Hyperliquid sends no quote volume (estimated downstream: base × typical price,
        # e.g. 520,665,683 × (0.001616 + 0.001601 + 0.001604) / 3 = 836,709.75)
        assert [c.volume for c in candles] == [520_665_683.0, 682_593_287.0, 316_205_596.0]
        assert [c.quote_volume for c in candles] == [None, None, None]
        # startTime is required: given from the daemon's clock, 61 hours (60 backfilled + 1) before 23:00
        [req] = [json.loads(q["req"]) for p, q in r.server.requests if q.get("type") == "candleSnapshot"]
        assert (req["coin"], req["interval"], req["startTime"]) == ("kPEPE", "1h", 1_684_490_400_000)


async def test_a_streamed_candle_is_published_with_the_next_candles_first_frame() -> None:
    """ws/candle.json (the frame ccxt.pro's handler documents): no closed flag, so the candle is published
    when the next minute's first frame arrives; ccxt files the row under ``coin_to_market_id("BTC")``, where
    the feed finds it (the frame's ``s`` is the coin, not ccxt's market id, the asset index "0")."""
    now = 1_710_146_341.0  # 2024-03-11 08:39:01 UTC: a second after the frame's T (1710146339999)
    async with rig(EX, now=now, websocket=True) as r:
        r.liquidity.update(EX, {"BTC/USDC:USDC": 1e9})
        assert r.gateway.markets["BTC/USDC:USDC"]["id"] == "0"
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="1m", floor_usd=5e6, **r.common()))
        await r.until(lambda: "candle:BTC" in r.server.streams)
        frame = fixture_json(EX, "ws/candle.json")
        await r.server.push(frame)
        await r.until(lambda: bool(r.gateway.candle_rows("BTC/USDC:USDC", "1m")))
        # Stored and read (the feed is told of the frame as it is stored): the candle is not closed yet,
        # though the local clock is past its T.
        assert r.events(Candle) == []
        following = json.loads(json.dumps(frame))
        following["data"].update(t=1_710_146_340_000, T=1_710_146_399_999, o="71411.0", v="0.1", n=1)
        await r.server.push(following)
        await r.until(lambda: len(r.events(Candle)) == 1)
        [candle] = r.events(Candle)
        # t 1710146280000 (08:38 UTC), c "71411.0", v "1.20407" BTC; no quote volume in the frame
        assert (candle.symbol, candle.time_ms, candle.close, candle.volume) == (
            "BTC/USDC:USDC",
            1_710_146_280_000,
            71_411.0,
            1.20407,
        )
        assert (candle.open, candle.high, candle.low, candle.quote_volume) == (
            71_400.0,
            71_422.0,
            71_389.0,
            None,
        )


async def test_a_candle_span_ends_at_the_daemons_clock_not_ccxts() -> None:
    """ccxt ends a candle snapshot's span at "now" (``endTime``): the daemon's clock, which a simulated market
    shares, not the wall clock ccxt would read (years after the recorded candles here)."""
    now = 1_684_710_000.0  # 2023-05-21 23:00 UTC
    async with rig(EX, now=now) as r:
        await r.gateway.call("fetch_ohlcv", "fetch_ohlcv", "BTC/USDC:USDC", "1h", 1_684_699_200_000, 3)
        [req] = [json.loads(q["req"]) for p, q in r.server.requests if q.get("type") == "candleSnapshot"]
        assert (req["startTime"], req["endTime"]) == (1_684_699_200_000, 1_684_710_000_000)
        # Outside those calls ccxt keeps its own clock: its websocket keep-alive compares the time of the last
        # pong with it, and a pong dated in 2023 would close every stream as timed out.
        assert abs(r.gateway.exchange.milliseconds() - time.time() * 1000) < 60_000


def test_request_weights_are_hyperliquids_own_per_request_type() -> None:
    profile = venue(EX)
    # ccxt charges 10 for most info requests, 2 for l2Book, 4 for a candle snapshot; Hyperliquid counts:
    assert profile.cost("info", {"type": "metaAndAssetCtxs"}, 10.0) == 20.0
    assert profile.cost("info", {"type": "spotMeta"}, 10.0) == 20.0
    assert profile.cost("info", {"type": "l2Book", "coin": "BTC"}, 2.0) == 2.0
    assert profile.cost("info", {"type": "userRole", "user": "0x0"}, 10.0) == 60.0
    # 62 candles of 5 m (a 60-candle backfill + 1, and the open one): 20 + ⌈62 / 60⌉ = 22
    span = 300_000
    req = {"coin": "BTC", "interval": "5m", "startTime": 0, "endTime": 61 * span}
    assert profile.cost("info", {"type": "candleSnapshot", "req": req}, 4.0) == 22.0
    # Three candles: 20 + 1 = 21; the budget: 1200 a minute per IP
    req3 = {**req, "endTime": 2 * span}
    assert profile.cost("info", {"type": "candleSnapshot", "req": req3}, 4.0) == 21.0
    # A span ending far ahead (ccxt ends it at its own clock) is counted up to 120 candles: 20 + 2
    far = {**req, "endTime": 10**13}
    assert profile.cost("info", {"type": "candleSnapshot", "req": far}, 4.0) == 22.0
    assert (profile.budget.units, profile.budget.window) == (1200.0, 60.0)


async def test_a_429_pauses_the_exchange() -> None:
    async with rig(EX) as r:
        # No real answer body is documented or recorded (PROVENANCE.md): the status is the fact.
        r.server.overrides["/info"] = lambda q, p: (429, "Too Many Requests")
        with pytest.raises(RateLimited) as err:
            await r.gateway.call("fetch_tickers", "fetch_tickers")
        assert err.value.banned is False and (err.value.retry_after or 0) >= 1.0
        assert r.gateway.paused_for() >= 1.0


def test_the_profile_says_there_is_no_liquidation_feed() -> None:
    profile = venue(EX)
    assert profile.liquidation_stream is None and profile.liquidation_parser is None
    assert "no public liquidation feed" in (hyperliquid.__doc__ or "")
    assert profile.name == "Hyperliquid"


def _with_kpepe() -> Any:
    """The documented universe plus the recorded candles' coin (HPOS's entry and context, renamed)."""
    answer = fixture_json(EX, "rest/metaAndAssetCtxs.json")
    meta, ctxs = answer
    meta["universe"].append({**meta["universe"][2], "name": "kPEPE"})
    ctxs.append(dict(ctxs[2]))
    text = json.dumps(answer)
    real = ROUTES[EX]["/info"]

    def route(query: dict[str, str], path: str) -> tuple[int, str]:
        return (200, text) if query.get("type") == "metaAndAssetCtxs" else real(query, path)

    assert fixture(EX, "rest/candleSnapshot.json").count('"s":"kPEPE"') == 3
    return route
