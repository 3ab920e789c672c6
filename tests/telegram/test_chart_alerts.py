"""Acceptance 2: a chart render that raises or hangs neither delays nor loses the text alert (the real
outbox and aiogram against the Bot API simulator, with an injected renderer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from signalbots.charts.history import MarketHistory
from signalbots.charts.illustrator import Illustrator
from signalbots.charts.spec import ChartSpec
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message
from signalbots.signals.model import Signal
from signalbots.sim.telegram import TelegramSim
from tests.charts.conftest import SPIKE_FACTS, candidate

from .conftest import ALERT_CHAT, Drive, OutboxFactory
from .test_outbox import running


class ScriptedRenderer:
    """Per symbol: raise, hang until released, or draw a tiny valid PNG."""

    def __init__(self) -> None:
        self.raising: set[str] = set()
        self.hanging: set[str] = set()
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def render(self, spec: ChartSpec) -> bytes:
        symbol = spec.title.split(" · ")[1].split()[1]
        self.started.append(symbol)
        if symbol in self.raising:
            raise ValueError("no such colormap")
        if symbol in self.hanging:
            await self.release.wait()
        from signalbots.charts.draw import draw

        return draw(ChartSpec(kind="market", title=symbol, width=320, height=200))


def _signal(i: int, symbol: str) -> Signal:
    return Signal(id=i, candidate=candidate("spike", symbol=symbol, dedupe_key=f"k{i}", facts=SPIKE_FACTS))


def _alert(sig: Signal) -> Message:
    c = sig.candidate
    return Message(
        kind=Kind.SIGNAL, text=f"📊 {c.symbol}", dedupe_key=f"signal:{c.dedupe_key}", strategy="volume"
    )


async def _until(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):  # real-time safety net; the chart worker's timeout is real time
        while not cond():  # noqa: ASYNC110 - progress of other tasks is what we wait for
            await asyncio.sleep(0.005)


async def test_a_hanging_or_raising_render_costs_the_chart_never_the_alert(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    renderer = ScriptedRenderer()
    renderer.hanging.add("HANG/USDT:USDT")
    renderer.raising.add("BOOM/USDT:USDT")
    outbox = make_outbox()
    illustrator = Illustrator(
        history=MarketHistory(), renderer=renderer, notifier=outbox, metrics=Metrics(), timeout=0.5
    )
    signals = [_signal(1, "HANG/USDT:USDT"), _signal(2, "BOOM/USDT:USDT"), _signal(3, "GOOD/USDT:USDT")]
    async with running(outbox, health):
        charts = asyncio.create_task(illustrator.run(health.task("charts")))
        try:
            for (
                sig
            ) in signals:  # what the strategy runner does: the alert is committed, then its chart queued
                assert outbox.submit(_alert(sig))
                illustrator.illustrate(sig)
            await _until(lambda: renderer.started == ["HANG/USDT:USDT"])
            # The first render hangs; every alert is delivered meanwhile.
            await drive(outbox, lambda: len(sim.sent) == 3)
            assert renderer.started == ["HANG/USDT:USDT"] and not renderer.release.is_set()
            assert [m.text for m in sim.sent] == [
                "📊 HANG/USDT:USDT",
                "📊 BOOM/USDT:USDT",
                "📊 GOOD/USDT:USDT",
            ]
            # The hang is abandoned after the timeout, the raise is logged; the good chart follows.
            await _until(lambda: len(renderer.started) == 3 and outbox.stats().pending == 1)
            await drive(outbox, lambda: len(sim.sent) == 4)
        finally:
            charts.cancel()
            await asyncio.gather(charts, return_exceptions=True)

    alerts = {m.text: m for m in sim.sent_to(ALERT_CHAT) if m.photo is None}
    (picture,) = [m for m in sim.sent_to(ALERT_CHAT) if m.photo is not None]
    assert picture.reply_to_message_id == alerts["📊 GOOD/USDT:USDT"].message_id
    assert len(alerts) == 3
