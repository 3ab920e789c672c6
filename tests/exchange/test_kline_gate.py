"""``KlineGate`` (issue 19, CPU): a connection's updates of a still-open candle are held back from ccxt — only
the first frame of each candle, the exchange's closing frame, and the last update before the next candle
(where no flag closes it) reach ccxt's handler. Real frames (``tests/fixtures/wire/<exchange>/ws/``, see each
PROVENANCE.md); then through real ccxt and ``CandleFeed`` against the wire stand-in: the published candle is
the one the exchange's last frame describes, a stream of open-candle updates alone keeps the feed healthy,
and a reconnection starts afresh. Every number checked is written out from the frames the test sends.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from signalbots.events import Candle
from signalbots.exchange._kline_gate import KlineGate
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.venues import venue
from signalbots.health import TaskStatus
from tests.exchange.test_wire_conformance import REAL_TIMEOUT, Rig, rig
from tests.exchange.wire_server import fixture_json

Frame = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One exchange's kline frame (its fixture) on a candle of the stand-in's market, and how to change it."""

    exchange: str
    now: float  # the rig's clock: inside the frame's candle
    timeframe: str
    symbol: str
    stream: str  # the subscription the stand-in records
    first: Callable[[], Frame]
    # (frame, open, high, low, close, base volume, quote volume) → the frame carrying those numbers
    numbers: Callable[[Frame, str, str, str, str, str, str], Frame]
    shift: Callable[[Frame, int], Frame]  # the frame moved by n candles
    close: Callable[[Frame], Frame] | None  # the frame with the exchange's closed flag (None: it has none)


def _binance_first() -> Frame:
    # ws/kline.json's keys, set on BTCUSDT's 19:25 UTC 5m candle (rest/klines.json's second row)
    frame: Frame = fixture_json("binanceusdm", "ws/kline.json")
    frame["s"] = "BTCUSDT"
    frame["k"].update(s="BTCUSDT", i="5m", t=1_616_339_100_000, T=1_616_339_399_999, x=False)
    return frame


def _binance_numbers(f: Frame, o: str, h: str, lo: str, c: str, v: str, q: str) -> Frame:
    f = copy.deepcopy(f)
    f["k"].update(o=o, h=h, l=lo, c=c, v=v, q=q)
    return f


def _binance_shift(f: Frame, n: int) -> Frame:
    f = copy.deepcopy(f)
    f["k"]["t"] += n * 300_000
    f["k"]["T"] += n * 300_000
    return f


def _binance_close(f: Frame) -> Frame:
    f = copy.deepcopy(f)
    f["k"]["x"] = True
    return f


def _bybit_numbers(f: Frame, o: str, h: str, lo: str, c: str, v: str, q: str) -> Frame:
    f = copy.deepcopy(f)
    f["data"][0].update(open=o, high=h, low=lo, close=c, volume=v, turnover=q)
    return f


def _bybit_shift(f: Frame, n: int) -> Frame:
    f = copy.deepcopy(f)
    f["data"][0]["start"] += n * 300_000
    f["data"][0]["end"] += n * 300_000
    return f


def _bybit_close(f: Frame) -> Frame:
    f = copy.deepcopy(f)
    f["data"][0]["confirm"] = True
    return f


def _okx_first() -> Frame:
    frame: Frame = fixture_json("okx", "ws/candle.json")
    frame["arg"] = {"channel": "candle5m", "instId": "BTC-USDT-SWAP"}  # the swap the stand-in lists, 5m
    return frame


def _okx_numbers(f: Frame, o: str, h: str, lo: str, c: str, v: str, q: str) -> Frame:
    # [ts, o, h, l, c, vol (contracts: volCcy × 1000, as in the fixture), volCcy, volCcyQuote, confirm]
    f = copy.deepcopy(f)
    f["data"][0][1:8] = [o, h, lo, c, str(round(float(v) * 1000)), v, q]
    return f


def _okx_shift(f: Frame, n: int) -> Frame:
    f = copy.deepcopy(f)
    f["data"][0][0] = str(int(f["data"][0][0]) + n * 300_000)
    return f


def _okx_close(f: Frame) -> Frame:
    f = copy.deepcopy(f)
    f["data"][0][8] = "1"
    return f


def _mexc_numbers(f: Frame, o: str, h: str, lo: str, c: str, v: str, q: str) -> Frame:
    # ``q`` counts contracts of 0.0001 BTC (rest/contract_detail.json); ``a`` is the turnover
    f = copy.deepcopy(f)
    f["data"].update(o=float(o), h=float(h), l=float(lo), c=float(c), q=round(float(v) * 10_000), a=float(q))
    return f


def _mexc_shift(f: Frame, n: int) -> Frame:
    f = copy.deepcopy(f)
    f["data"]["t"] += n * 60  # seconds
    return f


def _data_numbers(f: Frame, o: str, h: str, lo: str, c: str, v: str, q: str) -> Frame:
    f = copy.deepcopy(f)
    f["data"].update(o=o, h=h, l=lo, c=c, v=v)  # Hyperliquid: no quote volume in the frame
    return f


def _hyperliquid_shift(f: Frame, n: int) -> Frame:
    f = copy.deepcopy(f)
    f["data"]["t"] += n * 60_000
    f["data"]["T"] += n * 60_000
    return f


CASES = {
    "binanceusdm": Case(
        "binanceusdm",
        1_616_339_110.0,  # 19:25:10 UTC
        "5m",
        "BTC/USDT:USDT",
        "btcusdt@kline_5m",
        _binance_first,
        _binance_numbers,
        _binance_shift,
        _binance_close,
    ),
    "bybit": Case(
        "bybit",
        1_672_324_810.0,  # 10 s into the frame's candle (start 1672324800000)
        "5m",
        "BTC/USDT:USDT",
        "kline.5.BTCUSDT",
        lambda: fixture_json("bybit", "ws/kline_linear.json"),
        _bybit_numbers,
        _bybit_shift,
        _bybit_close,
    ),
    "okx": Case(
        "okx",
        1_696_636_810.0,  # 10 s into the frame's candle (ts 1696636800000)
        "5m",
        "BTC/USDT:USDT",
        "candle5m:BTC-USDT-SWAP",
        _okx_first,
        _okx_numbers,
        _okx_shift,
        _okx_close,
    ),
    "mexc": Case(
        "mexc",
        1_651_230_661.0,  # a second into the frame's minute (t 1651230660 s)
        "1m",
        "BTC/USDT:USDT",
        "kline:BTC_USDT",
        lambda: fixture_json("mexc", "ws/push_kline.json"),
        _mexc_numbers,
        _mexc_shift,
        None,
    ),
    "hyperliquid": Case(
        "hyperliquid",
        1_710_146_281.0,  # a second into the frame's minute (t 1710146280000)
        "1m",
        "BTC/USDC:USDC",
        "candle:BTC",
        lambda: fixture_json("hyperliquid", "ws/candle.json"),
        _data_numbers,
        _hyperliquid_shift,
        None,
    ),
}
# How each frame names its market (the profile's ``market_id``), as JSON text.
MARKET_IDS = {
    "binanceusdm": "BTCUSDT",
    "bybit": "BTCUSDT",
    "okx": "BTC-USDT-SWAP",
    "mexc": "BTC_USDT",
    "hyperliquid": '"s": "BTC"',
}
FLAGGED = ["binanceusdm", "bybit", "okx"]
UNFLAGGED = ["mexc", "hyperliquid"]


def gate(exchange: str) -> KlineGate:
    made = KlineGate.of(venue(exchange).candle_stream)
    assert made is not None
    return made


def burst(case: Case, first: Frame, n: int) -> list[Frame]:
    """``n`` updates of ``first``'s candle, numbered from 1: update i has open 100, high 101 + i, low 99.5,
    close 100.5 + i, base volume 0.5 × i, quote volume 100 × i."""
    return [
        case.numbers(first, "100", str(101 + i), "99.5", str(100.5 + i), str(0.5 * i), str(100 * i))
        for i in range(1, n + 1)
    ]


# -- the gate alone, on the real frames ----------------------------------------------------------------------


@pytest.mark.parametrize("exchange", FLAGGED)
def test_updates_of_an_open_candle_are_held_and_the_closing_frame_goes_at_once(exchange: str) -> None:
    case, g = CASES[exchange], gate(exchange)
    first = case.first()
    assert g.admit(first) == (first,)  # the candle's first frame: ccxt stores the row
    for update in burst(case, first, 4):
        assert g.admit(update) == ()  # held back: nothing ccxt or the feed would use
    assert case.close is not None
    closing = case.close(burst(case, first, 4)[-1])
    assert g.admit(closing) == (closing,)  # the final state, at once
    following = case.shift(first, 1)
    assert g.admit(following) == (following,)  # nothing held is replayed after the close
    assert g.held() == []


@pytest.mark.parametrize("exchange", UNFLAGGED)
def test_without_a_closed_flag_the_last_update_goes_just_before_the_next_candle(exchange: str) -> None:
    case, g = CASES[exchange], gate(exchange)
    first = case.first()
    assert g.admit(first) == (first,)
    updates = burst(case, first, 4)
    assert [g.admit(u) for u in updates] == [(), (), (), ()]
    following = case.shift(first, 1)
    # The previous candle's last state first (the feed publishes it on the next one's first frame), then that.
    assert g.admit(following) == (updates[-1], following)
    assert g.admit(case.shift(first, 2)) == (case.shift(first, 2),)  # the next candle sent only one frame


@pytest.mark.parametrize("exchange", FLAGGED + UNFLAGGED)
def test_each_series_is_held_apart_and_an_older_candles_frame_goes_through(exchange: str) -> None:
    case, g = CASES[exchange], gate(exchange)
    first = case.first()
    g.admit(first)
    update = burst(case, first, 1)[0]
    assert g.admit(update) == ()
    # The previous candle's frame (late or repeated): ccxt decides about it as before, nothing is held.
    older = case.shift(first, -1)
    assert g.admit(older) == (older,)
    # Another market's (subscribed or not: ccxt's handler decides what to keep) is a series of its own.
    named = MARKET_IDS[exchange]
    other = json.loads(json.dumps(first).replace(named, named.replace("BTC", "ETH")))
    assert g.admit(other) == (other,)
    assert g.admit(burst(case, other, 1)[0]) == ()
    assert g.held() == [update, burst(case, other, 1)[0]]


def test_frames_that_are_not_one_kline_go_to_ccxt_unchanged() -> None:
    bybit, okx, binance = gate("bybit"), gate("okx"), gate("binanceusdm")
    liquidation = fixture_json("binanceusdm", "ws/forceOrder.json")
    assert binance.admit(liquidation) == (liquidation,)
    ticker = fixture_json("bybit", "ws/ticker_linear.json")
    assert bybit.admit(ticker) == (ticker,) and bybit.admit(ticker) == (ticker,)
    two = fixture_json("bybit", "ws/kline_linear.json")
    two["data"] = two["data"] * 2  # two klines in one frame: no single candle to hold
    assert bybit.admit(two) == (two,) and bybit.admit(two) == (two,)
    broken = _okx_first()
    broken["data"][0][0] = "soon"  # no open time: ccxt's own handling reports it
    assert okx.admit(broken) == (broken,) and okx.admit(broken) == (broken,)
    ack = {"event": "subscribe", "arg": {"channel": "candle5m", "instId": "BTC-USDT-SWAP"}}
    assert okx.admit(ack) == (ack,)
    for exchange in ("mexc", "hyperliquid"):
        pong = fixture_json(exchange, "ws/pong.json")
        assert gate(exchange).admit(pong) == (pong,)


def test_a_frame_of_several_candles_goes_after_what_was_held_and_the_series_starts_afresh() -> None:
    case, g = CASES["bybit"], gate("bybit")
    first = case.first()
    g.admit(first)
    [update] = burst(case, first, 1)
    assert g.admit(update) == ()
    # A catch-up after a stall (the simulator's, as Bybit's ``data`` list allows): this candle closed and the
    # next one open, in one frame — ccxt sees the held update first, as it would have without the gate.
    catch_up = copy.deepcopy(first)
    catch_up["data"] = [case.close(update)["data"][0], case.shift(first, 1)["data"][0]]
    assert g.admit(catch_up) == (update, catch_up)
    following = burst(case, case.shift(first, 1), 1)[0]
    assert g.admit(following) == (following,)  # nothing held of the old candle comes after it
    assert g.held() == []


def test_a_new_connection_holds_nothing_of_the_one_before() -> None:
    case = CASES["mexc"]
    before, after = gate("mexc"), gate("mexc")  # one gate per connection
    first = case.first()
    before.admit(first)
    [update] = burst(case, first, 1)
    assert before.admit(update) == ()
    # On the new connection the same candle's frame is its first: ccxt gets it at once, and the next candle
    # does not bring the old connection's frame along.
    again = case.numbers(first, "100", "104", "99", "103", "3", "300")
    assert after.admit(again) == (again,)
    following = case.shift(first, 1)
    assert after.admit(following) == (following,)
    assert before.held() == [update]  # what the old one held goes to ccxt as it closes, and is gone
    assert before.held() == []


# -- through ccxt and the feed -------------------------------------------------------------------------------


async def start(case: Case, r: Rig) -> CandleFeed:
    r.liquidity.update(case.exchange, {case.symbol: 1e9})
    feed = CandleFeed(liquidity=r.liquidity, timeframe=case.timeframe, floor_usd=5e6, **r.common())
    r.start(feed)
    await r.until(lambda: case.stream in r.server.streams)
    return feed


def streamed(r: Rig, case: Case, first: Frame) -> list[Candle]:
    """The candles published from ``first``'s on (not the REST backfill's older ones)."""
    return [c for c in r.events(Candle) if c.time_ms >= _open_ms(case, first)]


def _open_ms(case: Case, frame: Frame) -> int:
    frames = venue(case.exchange).candle_stream
    assert frames is not None and frames.frames is not None
    opened = frames.frames.open_ms(frames.frames.kline_of(frame))
    assert opened is not None
    return opened * 1000 if case.exchange == "mexc" else opened  # MEXC writes seconds


@pytest.mark.parametrize("exchange", FLAGGED + UNFLAGGED)
async def test_a_burst_of_updates_then_the_close_publishes_the_last_frames_candle_once(exchange: str) -> None:
    case = CASES[exchange]
    async with rig(exchange, now=case.now, websocket=True) as r:
        await start(case, r)
        first = case.numbers(case.first(), "100", "100.5", "100", "100.2", "0.1", "10")
        await r.server.push(first)
        for update in burst(case, first, 20):  # the last: o 100, h 121, l 99.5, c 120.5, v 10, q 2000
            await r.server.push(update)
        last = burst(case, first, 20)[-1]
        await r.server.push(case.close(last) if case.close is not None else case.shift(first, 1))
        await r.until(lambda: len(streamed(r, case, first)) == 1)
        [candle] = streamed(r, case, first)
        assert candle.time_ms == _open_ms(case, first)
        assert (candle.open, candle.high, candle.low, candle.close) == (100.0, 121.0, 99.5, 120.5)
        assert candle.volume == pytest.approx(10.0)  # MEXC: 100,000 contracts × 0.0001 BTC
        assert candle.quote_volume == (None if exchange == "hyperliquid" else 2000.0)
        # The next candle, one update and no flag: the one after begins, and the update (held back until
        # then) is that candle's last state — o 100, h 102, l 99.5, c 101.5, v 0.5, q 100.
        following = case.shift(first, 1)
        await r.server.push(following)
        await r.server.push(burst(case, following, 1)[0])
        await r.server.push(case.shift(first, 2))
        await r.until(lambda: len(streamed(r, case, first)) == 2)
        assert streamed(r, case, first)[0] == candle  # published once
        nxt = streamed(r, case, first)[1]
        assert (nxt.time_ms, nxt.high, nxt.close) == (_open_ms(case, following), 102.0, 101.5)


@pytest.mark.parametrize("exchange", FLAGGED + UNFLAGGED)
async def test_a_minute_of_open_candle_updates_alone_keeps_the_feed_healthy(exchange: str) -> None:
    case = CASES[exchange]
    async with rig(exchange, now=case.now, websocket=True, stale_after=20.0) as r:
        feed = await start(case, r)
        labels = {"exchange": exchange, "feed": "candles"}

        def marked_now() -> bool:
            at = r.metrics.registry.get_sample_value("signalbots_feed_last_data_timestamp_seconds", labels)
            return at == r.clock.time()

        first = case.first()
        await r.server.push(first)
        for update in burst(case, first, 60):  # one a second, three times the silence limit
            r.clock.advance(1.0)
            await r.server.push(update)
            await r.until(marked_now)  # held back from ccxt, yet the feed heard the stream is alive
        th = r.health.task(feed.name, kind="feed")
        assert not feed.stale and feed.stale_episodes == 0
        assert th.status is TaskStatus.RUNNING


@pytest.mark.parametrize("exchange", ["binanceusdm", "mexc"])
async def test_after_a_reconnection_the_candle_is_the_last_state_before_the_drop_then_fresh_frames(
    exchange: str,
) -> None:
    case = CASES[exchange]
    async with rig(exchange, now=case.now, websocket=True) as r:
        await start(case, r)
        first = case.numbers(case.first(), "100", "100.5", "100", "100.2", "0.1", "10")
        await r.server.push(first)
        [update] = burst(case, first, 1)  # o 100, h 102, l 99.5, c 101.5, v 0.5, q 100: held back
        await r.server.push(update)
        subscribed = len(r.server.streams)
        for ws in list(r.server.sockets):
            await ws.close()  # the exchange drops the connection
        async with asyncio.timeout(REAL_TIMEOUT):
            while len(r.server.streams) == subscribed:  # the feed dials again after its back-off
                await r.clock.run_for(1.0)
                await asyncio.sleep(0.002)  # the reconnection's real I/O; the clock moves only when told
        await r.until(lambda: len([ws for ws in r.server.sockets if not ws.closed]) == 1)
        following = case.numbers(case.shift(first, 1), "101.5", "101.5", "101.5", "101.5", "0.2", "20")
        await r.server.push(following)  # the new connection's first frame: the next candle
        await r.until(lambda: len(streamed(r, case, first)) == 1)
        [candle] = streamed(r, case, first)
        # The candle as the old connection last described it (the update held when it dropped), not its
        # first frame, and not mixed with the new connection's frame.
        assert (candle.time_ms, candle.high, candle.close, candle.quote_volume) == (
            _open_ms(case, first),
            102.0,
            101.5,
            100.0,
        )
        # The new connection's next candle: its own frames only (a held frame of the old one would be older).
        closing = case.numbers(following, "101.5", "103", "101", "102.5", "0.7", "70")
        await r.server.push(case.close(closing) if case.close is not None else closing)
        if case.close is None:
            await r.server.push(case.shift(first, 2))
        await r.until(lambda: len(streamed(r, case, first)) == 2)
        nxt = streamed(r, case, first)[1]
        assert (nxt.open, nxt.high, nxt.close, nxt.quote_volume) == (101.5, 103.0, 102.5, 70.0)


async def test_a_second_candle_feed_on_the_exchange_does_not_silence_the_first() -> None:
    """Each candle feed (one per timeframe a plan asks for) is told of every kline frame: the listener one
    registers is kept beside the other's, not replaced by it."""
    case = CASES["binanceusdm"]
    async with rig("binanceusdm", now=case.now, websocket=True) as r:
        heard: list[str] = []
        r.gateway.on_klines(heard.append)  # the other timeframe's feed, registered first
        await start(case, r)
        first = case.numbers(case.first(), "100", "100.5", "100", "100.2", "0.1", "10")
        await r.server.push(first)
        assert case.close is not None
        await r.server.push(case.close(first))
        await r.until(lambda: len(streamed(r, case, first)) == 1 and len(heard) >= 2)
        assert set(heard) == {case.symbol}
