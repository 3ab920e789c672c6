"""Acceptance: against the simulators, a volume spike and a liquidation cascade each produce their text
alert and then a valid PNG chart as a reply to it (a real daemon process, real aiogram, real ccxt); an
outcome reply carries a small chart of the path."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from signalbots.clock import SystemClock
from signalbots.events import Side
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.telegram import SentMessage, TelegramSim
from tests.charts.png import decode
from tests.config import daemon_config, sim_endpoints
from tests.daemon_process import WAIT, DaemonProcess

TOKEN = "123456789:AAHchartsTOKEN_for_the_simulator_only"
CHAT = 1001
EX = "binanceusdm"
FIVE_MINUTES_MS = 300_000


@pytest.fixture
async def exchange() -> AsyncIterator[ExchangeSim]:
    clock = SystemClock()
    market = Market(clock=clock, seed=11, symbols=4, exchanges=(EX,))  # BTC, ETH, SOL, XRP
    market.set_volume_24h(EX, "XRP", 600_000_000.0)
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        yield sim


def _alert(sent: list[SentMessage], base: str, title: str) -> SentMessage | None:
    return next(
        (m for m in sent if m.photo is None and title in m.text and f"{base}/USDT:USDT" in m.text), None
    )


def _chart_for(sent: list[SentMessage], alert: SentMessage | None) -> SentMessage | None:
    if alert is None:
        return None
    return next((m for m in sent if m.photo is not None and m.reply_to_message_id == alert.message_id), None)


async def test_spike_and_cascade_alerts_are_each_followed_by_their_chart(
    tmp_path: Path, exchange: ExchangeSim, launch_daemon: Callable[..., DaemonProcess]
) -> None:
    market = exchange.market
    xrp = market.listing(EX, "XRP")
    entry = market.last_price(xrp)
    spike_open = (market.now_ms() // FIVE_MINUTES_MS - 1) * FIVE_MINUTES_MS
    market.script_candle(
        EX,
        "XRP",
        "5m",
        spike_open,
        open=entry / 1.03,
        high=entry * 1.001,
        low=entry / 1.03 * 0.995,
        close=entry,
        quote_volume=60_000_000.0,
    )  # the newest closed candle: +3% on 30× the usual volume, read by the start-up backfill
    async with TelegramSim(token=TOKEN) as telegram:
        config = daemon_config(
            tmp_path,
            daemon={"heartbeat_interval": "1d", "daily_summary": False},
            telegram={
                "api_url": telegram.url,
                "alert_chat_id": CHAT,
                "commands": False,
                "request_timeout": "60s",
            },
            exchanges={EX: sim_endpoints(exchange, EX, ticker_poll="3s")},
            strategies={"liquidation": {"min_prints": 1}, "volume": {}},
        )
        daemon = launch_daemon(config, "run", env={"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN})
        await daemon.await_log("ready")
        spike = "📊 Volume spike"
        await telegram.wait_for(
            lambda: _chart_for(telegram.sent, _alert(telegram.sent, "XRP", spike)) is not None,
            within=WAIT,
        )
        await exchange.wait_until(lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=WAIT)
        market.liquidate(EX, "SOL", Side.LONG, notional_usd=6e6)
        cascade = "💥 Liquidation cascade"
        await telegram.wait_for(
            lambda: _chart_for(telegram.sent, _alert(telegram.sent, "SOL", cascade)) is not None,
            within=WAIT,
        )
        # SOL runs far past target 2: the outcome reply follows, and a chart of the path replies to it
        market.set_price(EX, "SOL", market.last_price(market.listing(EX, "SOL")) * 1.5)

        def outcome_chart() -> SentMessage | None:
            sol = _alert(telegram.sent, "SOL", cascade)
            outcome = next(
                (
                    m
                    for m in telegram.sent
                    if sol and m.photo is None and m.reply_to_message_id == sol.message_id
                ),
                None,
            )
            return _chart_for(telegram.sent, outcome)

        await telegram.wait_for(lambda: outcome_chart() is not None, within=WAIT)
        daemon.signal(signal.SIGTERM)
        assert await daemon.await_exit() == 0
    sent = telegram.sent
    for base, title in (("XRP", spike), ("SOL", cascade)):
        text = _alert(sent, base, title)
        picture = _chart_for(sent, text)
        assert text is not None and picture is not None and picture.photo is not None
        png = decode(picture.photo)
        assert (png.width, png.height) == (1000, 640)
        assert 20_000 < len(picture.photo) < 500_000  # a drawn chart, not an empty canvas
        assert sent.index(picture) > sent.index(text) and picture.time >= text.time  # the text went first
        assert base in picture.text and picture.disable_notification
    path = outcome_chart()
    assert path is not None and path.photo is not None and "target2" in path.text
    assert (decode(path.photo).width, decode(path.photo).height) == (800, 480)
    assert len([m for m in sent if m.photo is not None]) == 3  # one per signal and outcome, none repeated
    assert not any(e.get("event") in ("chart_failed", "chart_abandoned") for e in daemon.logs)
