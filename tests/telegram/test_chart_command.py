"""/chart SYMBOL [timeframe]: a picture of the live data the daemon holds, drawn by the chart worker and
sent as a photo replying to the command (real aiogram Dispatcher, Bot API simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

from signalbots.charts.history import MarketHistory
from signalbots.charts.illustrator import Illustrator
from signalbots.charts.renderer import ChartRenderer
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier
from tests.charts.conftest import history  # noqa: F401 - the fixture: a spike series, prints and funding
from tests.charts.png import decode

from .conftest import ALERT_CHAT, Operator


@pytest.fixture
async def illustrator(history: MarketHistory) -> AsyncIterator[Illustrator]:  # noqa: F811
    async with ChartRenderer(timeout=60) as renderer:
        yield Illustrator(history=history, renderer=renderer, notifier=DryRunNotifier(), metrics=Metrics())


async def test_chart_command_answers_with_a_picture_of_the_held_data(
    operator: Operator, illustrator: Illustrator
) -> None:
    ask = partial(operator.reply, ALERT_CHAT, within=60)  # a picture is drawn in a worker process
    async with operator.polling(strategies=lambda: ["volume"], chart=illustrator.market_chart):
        five = await ask("/chart xrp")
        fifteen = await ask("/chart XRPUSDT 15m")
        unknown = await ask("/chart DOGE")
        bad_tf = await ask("/chart XRP 7x")
        usage = await ask("/chart")
    assert five.photo is not None and five.reply_to_message_id is not None
    assert "binanceusdm XRP/USDT:USDT 5m" in five.text
    assert (decode(five.photo).width, decode(five.photo).height) == (1000, 640)
    assert fifteen.photo is not None and "15m" in fifteen.text and fifteen.photo != five.photo
    assert unknown.photo is None and "no live data held for DOGE" in unknown.text
    assert bad_tf.photo is None and "unknown timeframe 7x" in bad_tf.text
    assert usage.photo is None and usage.text.startswith("Usage: /chart SYMBOL")


async def test_chart_command_says_when_charts_are_off(operator: Operator, illustrator: Illustrator) -> None:
    off = operator.settings.model_copy(update={"charts": False})
    async with operator.polling(settings=off, strategies=lambda: ["volume"], chart=illustrator.market_chart):
        answer = await operator.reply(ALERT_CHAT, "/chart XRP", within=60)
    assert answer.photo is None and "Charts are off" in answer.text
