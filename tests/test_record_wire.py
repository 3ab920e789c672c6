"""Issue 9, acceptance 2: ``signalbots record`` against stand-ins serving REAL OKX and MEXC payloads (the
fixture files verbatim at the exchanges' REST paths) writes tickers whose 24h quote volume and closed candles
whose quote volume agree with the exchange's own turnover figures within 5%.

The expected figures are read from the fixture files here, field by field, independently of the code under
test: OKX tickers — ``vol24h`` (contracts) × ``ctVal`` × ``last`` (OKX publishes no quote turnover for swaps;
this is its contract count in dollars); OKX candles — ``volCcyQuote``; MEXC tickers — ``amount24``; MEXC
candles — ``amount``. The clock is the capture's: a candle is recorded only once it has closed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from signalbots.clock import ManualClock
from signalbots.events import Candle, Ticker
from signalbots.exchange.bus import EventBus
from signalbots.metrics import Metrics
from signalbots.record import record
from signalbots.recording import read_recording
from signalbots.settings import load_settings
from tests.config import STRATEGIES, daemon_config
from tests.exchange.wire_server import MEXC_KLINE_SYMBOL, OKX_CANDLE_INST, fixture_json, wire_server

REAL_TIMEOUT = 30.0  # a safety net in real seconds; nothing waits for it when the code works

# A 5-minute boundary after each exchange's real candle rows, so they are closed (see wire_server).
NOW = {"okx": 1_678_929_000.0, "mexc": 1_634_052_600.0}


def okx_expected() -> tuple[dict[str, float], dict[int, float]]:
    sizes = {i["instId"]: float(i["ctVal"]) for i in fixture_json("okx", "rest/instruments_swap.data.json")}
    linear = {
        i["instId"] for i in fixture_json("okx", "rest/instruments_swap.data.json") if i["ctType"] == "linear"
    }
    tickers = {
        t["instId"]: float(t["vol24h"]) * sizes[t["instId"]] * float(t["last"])
        for t in fixture_json("okx", "rest/tickers_swap.json")["data"]
        if t["instId"] in linear
    }
    candles = {int(row[0]): float(row[7]) for row in fixture_json("okx", "rest/candles.data.json")}
    return {_okx_symbol(k): v for k, v in tickers.items()}, candles


def mexc_expected() -> tuple[dict[str, float], dict[int, float]]:
    tickers = {
        _mexc_symbol(t["symbol"]): float(t["amount24"])
        for t in fixture_json("mexc", "rest/contract_ticker.json")["data"]
    }
    data = fixture_json("mexc", "rest/kline.json")["data"]
    candles = {int(t) * 1000: float(a) for t, a in zip(data["time"], data["amount"], strict=True)}
    return tickers, candles


def _okx_symbol(inst_id: str) -> str:
    base, quote, _ = inst_id.split("-")
    return f"{base}/{quote}:{quote}"


def _mexc_symbol(contract: str) -> str:
    base, quote = contract.split("_")
    return f"{base}/{quote}:{quote}"


EXPECTED = {"okx": okx_expected, "mexc": mexc_expected}
CANDLE_SYMBOL = {"okx": _okx_symbol(OKX_CANDLE_INST), "mexc": _mexc_symbol(MEXC_KLINE_SYMBOL)}


@pytest.mark.parametrize("exchange", ["okx", "mexc"])
async def test_record_on_real_payloads_writes_the_exchange_turnover(tmp_path: Path, exchange: str) -> None:
    tickers_expected, candles_expected = EXPECTED[exchange]()
    clock = ManualClock(start=NOW[exchange])
    async with wire_server(exchange) as server:
        cfg = daemon_config(
            tmp_path,
            exchanges={exchange: {"rest_url": server.url, "ws_url": "ws://127.0.0.1:1"}},
            strategies={name: {} for name in STRATEGIES},
        )
        settings = load_settings(cfg, env_file=None)
        bus, stop, out = EventBus(metrics=Metrics()), asyncio.Event(), tmp_path / "rec"
        seen = bus.subscribe("test")
        recorder = asyncio.create_task(
            record(
                settings=settings,
                out_dir=out,
                duration_s=None,
                exchanges=[exchange],
                clock=clock,
                stop=stop,
                bus=bus,
            )
        )
        events: list[Any] = []
        async with asyncio.timeout(REAL_TIMEOUT):
            while not (
                {e.symbol for e in events if isinstance(e, Ticker)} >= set(tickers_expected)
                and {e.time_ms for e in events if isinstance(e, Candle)} >= set(candles_expected)
            ):
                assert not recorder.done(), recorder
                events.append(await seen.get())
        stop.set()
        written = await asyncio.wait_for(recorder, REAL_TIMEOUT)

    problems: list[str] = []
    recorded = [e for f in sorted(out.iterdir()) for e in read_recording(f, on_problem=problems.append)]
    assert problems == [] and written == len(recorded)
    tickers = {e.symbol: e for e in recorded if isinstance(e, Ticker)}
    candles = {
        e.time_ms: e for e in recorded if isinstance(e, Candle) and e.symbol == CANDLE_SYMBOL[exchange]
    }
    assert set(tickers) == set(tickers_expected)  # and nothing else (OKX's inverse ADA-USD-SWAP is not ours)
    for symbol, turnover in tickers_expected.items():
        assert tickers[symbol].quote_volume_24h == pytest.approx(turnover, rel=0.05), symbol
    assert set(candles) == set(candles_expected)
    for open_ms, turnover in candles_expected.items():
        assert candles[open_ms].quote_volume == pytest.approx(turnover, rel=0.05), open_ms
