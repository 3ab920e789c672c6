"""/chart SYMBOL [timeframe]: a picture of the live data the daemon holds, drawn by the chart worker and
sent as a photo replying to the command (real aiogram Dispatcher, Bot API simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from signalbots.charts.history import MarketHistory
from signalbots.charts.illustrator import Illustrator
from signalbots.charts.renderer import ChartRenderer
from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import SentMessage, TelegramSim
from signalbots.telegram.commands import Commands
from tests.charts.conftest import history  # noqa: F401 - the fixture: a spike series, prints and funding
from tests.charts.png import decode

from .conftest import ALERT_CHAT
from .test_commands import USER, Texts, command_bot, command_settings, polling  # noqa: F401


@pytest.fixture
async def illustrator(history: MarketHistory) -> AsyncIterator[Illustrator]:  # noqa: F811
    async with ChartRenderer(timeout=60) as renderer:
        yield Illustrator(history=history, renderer=renderer, notifier=DryRunNotifier(), metrics=Metrics())


def _commands(bot: Bot, settings: TelegramSettings, controls: Controls, illustrator: Illustrator) -> Commands:
    texts = Texts()
    return Commands(
        bot=bot,
        settings=settings,
        controls=controls,
        status_text=texts.status,
        health_text=texts.health,
        signals_text=texts.signals,
        stats_text=texts.stats,
        strategies=lambda: ["volume"],
        chart=illustrator.market_chart,
        polling_timeout=1,
    )


async def _ask(sim: TelegramSim, clock: ManualClock, text: str) -> SentMessage:
    clock.advance(2.0)
    before = len(sim.sent_to(ALERT_CHAT))
    sim.push_command(ALERT_CHAT, USER, text)
    await sim.wait_for(lambda: len(sim.sent_to(ALERT_CHAT)) > before, within=60)
    return sim.sent_to(ALERT_CHAT)[-1]


async def test_chart_command_answers_with_a_picture_of_the_held_data(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,  # noqa: F811
    command_settings: TelegramSettings,  # noqa: F811
    health: Health,
    illustrator: Illustrator,
) -> None:
    async with polling(_commands(command_bot, command_settings, controls, illustrator), health):
        five = await _ask(sim, clock, "/chart xrp")
        fifteen = await _ask(sim, clock, "/chart XRPUSDT 15m")
        unknown = await _ask(sim, clock, "/chart DOGE")
        bad_tf = await _ask(sim, clock, "/chart XRP 7x")
        usage = await _ask(sim, clock, "/chart")
    assert five.photo is not None and five.reply_to_message_id is not None
    assert "binanceusdm XRP/USDT:USDT 5m" in five.text
    assert (decode(five.photo).width, decode(five.photo).height) == (1000, 640)
    assert fifteen.photo is not None and "15m" in fifteen.text and fifteen.photo != five.photo
    assert unknown.photo is None and "no live data held for DOGE" in unknown.text
    assert bad_tf.photo is None and "unknown timeframe 7x" in bad_tf.text
    assert usage.photo is None and usage.text.startswith("Usage: /chart SYMBOL")


async def test_chart_command_says_when_charts_are_off(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,  # noqa: F811
    command_settings: TelegramSettings,  # noqa: F811
    health: Health,
    illustrator: Illustrator,
) -> None:
    off = command_settings.model_copy(update={"charts": False})
    async with polling(_commands(command_bot, off, controls, illustrator), health):
        answer = await _ask(sim, clock, "/chart XRP")
    assert answer.photo is None and "Charts are off" in answer.text
