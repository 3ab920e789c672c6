"""Issue 20, item 1: what matters arrives first — signals before charts in a burst, messages packed full.

The real aiogram client against the Bot API simulator (which answers 429 to anything faster than
Telegram's group pacing), on a manual clock.
"""

from __future__ import annotations

import pytest

from signalbots.charts.draw import draw
from signalbots.charts.spec import ChartSpec
from signalbots.clock import ManualClock
from signalbots.health import Health
from signalbots.notifier import Kind, Message
from signalbots.sim.telegram import Fault, FaultKind, TelegramSim
from signalbots.telegram.text import length

from .conftest import ALERT_CHAT, GROUP_CHAT, Drive, OutboxFactory
from .test_coalesce import burst_signal, carrying
from .test_outbox import notice, running


@pytest.fixture(scope="module")
def png() -> bytes:
    return draw(ChartSpec(kind="market", title="a chart", width=640, height=400))


def chart_of(i: int, png: bytes, *, chat: int = GROUP_CHAT) -> Message:
    return Message(
        kind=Kind.CHART,
        text=f"📈 chart SYM{i:02d}",
        dedupe_key=f"chart:{i}",
        strategy="liquidation",
        chat_id=chat,
        reply_to_key=f"signal:{i}",
        silent=True,
        photo=png,
    )


async def test_25_signals_with_charts_to_a_group_all_visible_within_10_s_and_the_charts_after_them(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive, png: bytes
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(25):  # one every 0.6 s: the last at 14.4 s; each chart drawn by the next tick
            outbox.submit(burst_signal(i, clock.time()))
            if i:
                outbox.submit(chart_of(i - 1, png))
            await drive(outbox, seconds=0.6, step=0.2)
        last = clock.monotonic() - 0.6
        outbox.submit(chart_of(24, png))
        await drive(outbox, lambda: outbox.stats().pending == 0, step=0.2)

    visible = {i: min(m.time for m in carrying(sim, i)) for i in range(25)}
    assert max(visible.values()) - last <= 10.0
    assert all(len(carrying(sim, i)) == 1 for i in range(25))  # each signal once
    photos = [m for m in sim.sent if m.photo is not None]
    assert photos  # the strongest signals still got their picture
    signal_messages = [m for m in sim.sent if m.photo is None]
    assert min(p.time for p in photos) > max(m.time for m in signal_messages)  # charts after every signal
    ids = {m.message_id for m in signal_messages}
    assert all(p.reply_to_message_id in ids for p in photos)  # each answers the message with its signal
    requests = sim.requests_to(GROUP_CHAT) + sim.requests_to(GROUP_CHAT, "sendPhoto")
    assert [r.status for r in requests] == [200] * len(requests)  # no pacing violation, no 429


async def test_a_coalesced_message_holds_as_many_signals_as_fit_in_4096_characters(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    for i in range(30):  # a backlog of blocks of ~470 characters
        outbox.submit(burst_signal(i, clock.time(), pad=380))
    async with running(outbox, health):
        await drive(outbox, lambda: outbox.stats().pending == 0)
    signal = burst_signal(0, clock.time(), pad=380).signal
    assert signal is not None
    block = length(signal.compact) + 2  # the smallest block, with the blank line before it
    counts = [sum(f"SYM{i:02d}/USDT<" in m.text for i in range(30)) for m in sim.sent]
    assert sum(counts) == 30
    assert len(sim.sent) == 4  # 30 × ~470 characters: four messages under 4096, not one per handful
    for m in sim.sent[:-1]:  # each message but the last is full: one more block would not fit
        assert length(m.text) + block > 4096


async def test_signals_arriving_while_a_coalesced_message_waits_are_packed_into_it(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        sim.inject(Fault.flood(20), chat_id=GROUP_CHAT)
        for i in range(3):
            outbox.submit(burst_signal(i, clock.time()))
        await drive(outbox, lambda: len(sim.requests_to(GROUP_CHAT)) == 1)  # answered 429: wait 20 s
        for i in range(3, 8):
            outbox.submit(burst_signal(i, clock.time()))
            await drive(outbox, seconds=1.0)
        await drive(outbox, lambda: outbox.stats().pending == 0)
    [message] = sim.sent
    assert "8 signals at once" in message.text
    assert all(len(carrying(sim, i)) == 1 for i in range(8))
    assert message.time >= 20.0  # the retry_after was still honoured


async def test_per_chat_signals_go_before_outcomes_before_notices_before_charts(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive, png: bytes
) -> None:
    outbox = make_outbox()
    outbox.submit(notice("n1", ALERT_CHAT, "a notice"))
    outbox.submit(chart_of(0, png, chat=ALERT_CHAT))
    outbox.submit(Message(kind=Kind.OUTCOME, text="an outcome", dedupe_key="o1", chat_id=ALERT_CHAT))
    outbox.submit(burst_signal(0, clock.time(), chat=ALERT_CHAT))
    async with running(outbox, health):
        await drive(outbox, lambda: outbox.stats().pending == 0)
    first_lines = [m.text.splitlines()[0] for m in sim.sent]
    assert first_lines == ["🟢 LONG <b>SYM00/USDT</b> · Binance", "an outcome", "a notice", "📈 chart SYM00"]


async def test_a_chart_that_could_not_go_out_within_chart_stale_after_is_skipped(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive, png: bytes
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        sim.inject(Fault(FaultKind.DROP), times=None)  # Telegram unreachable for 11 minutes
        outbox.submit(burst_signal(0, clock.time(), chat=ALERT_CHAT))
        outbox.submit(chart_of(0, png, chat=ALERT_CHAT))
        await drive(outbox, seconds=660.0, step=2.0)
        sim.clear_faults()
        await drive(outbox, lambda: outbox.stats().pending == 0)
    assert [m.photo for m in sim.sent] == [None]  # the signal, said late; its 11-minute-old chart skipped
    assert "late" in sim.sent[0].text
