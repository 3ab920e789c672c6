"""Charts through the outbox: sendPhoto as a multipart upload, a reply to the alert it illustrates, paced
and retried like every message; the simulator checks the upload as Telegram does."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from signalbots.charts.draw import draw
from signalbots.charts.spec import ChartSpec
from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message
from signalbots.sim.telegram import Fault, FaultKind, TelegramSim
from signalbots.store import Store
from tests.charts.png import decode

from .conftest import ALERT_CHAT, GROUP_CHAT, Drive, OutboxFactory
from .test_coalesce import burst_signal
from .test_outbox import running, sample


@pytest.fixture(scope="module")
def png() -> bytes:
    return draw(ChartSpec(kind="market", title="a chart", width=640, height=400))


def alert(key: str) -> Message:
    return Message(
        kind=Kind.SIGNAL, text=f"📊 <b>signal {key}</b>", dedupe_key=f"signal:{key}", strategy="volume"
    )


def chart(key: str, png: bytes) -> Message:
    return Message(
        kind=Kind.CHART,
        text=f"📈 chart of <b>{key}</b>",
        dedupe_key=f"chart:{key}",
        strategy="volume",
        reply_to_key=f"signal:{key}",
        silent=True,
        photo=png,
    )


async def test_a_chart_is_sent_as_a_photo_replying_to_its_alert(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, store: Store, drive: Drive, png: bytes
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        assert outbox.submit(alert("k1"))
        assert outbox.submit(chart("k1", png))
        assert not outbox.submit(chart("k1", png))  # deduplicated like every message
        await drive(outbox, lambda: len(sim.sent) == 2)

    text, photo = sim.sent_to(ALERT_CHAT)
    assert text.photo is None and "signal k1" in text.text
    assert photo.photo == png and photo.reply_to_message_id == text.message_id
    assert photo.text == "📈 chart of <b>k1</b>" and photo.parse_mode == "HTML" and photo.disable_notification
    assert photo.time > text.time
    assert (decode(photo.photo).width, decode(photo.photo).height) == (640, 400)
    assert [r.method for r in sim.requests_to(ALERT_CHAT, "sendphoto")] == ["sendphoto"]
    # the picture is not kept once delivered: the outbox stays small
    row = store.db.execute("SELECT state, photo FROM outbox WHERE dedupe_key = 'chart:k1'").fetchone()
    assert row["state"] == "sent" and row["photo"] is None


async def test_retry_after_and_server_errors_on_a_photo_are_waited_out(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, metrics: Metrics, drive: Drive, png: bytes
) -> None:
    sim.inject(Fault.flood(6), method="sendPhoto", chat_id=ALERT_CHAT)
    sim.inject(Fault(FaultKind.SERVER_ERROR), method="sendPhoto", chat_id=ALERT_CHAT)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(alert("k2"))
        outbox.submit(chart("k2", png))
        await drive(outbox, lambda: any(m.photo for m in sim.sent))

    flood, error, ok = sim.requests_to(ALERT_CHAT, "sendphoto")
    assert (flood.status, error.status, ok.status) == (429, 500, 200)
    assert error.time - flood.time >= 6.0
    assert sample(metrics, "signalbots_telegram_retry_after_seconds_total") == 6.0
    assert [m.photo is not None for m in sim.sent] == [False, True]


async def test_while_muted_the_alert_is_held_and_its_chart_is_not_stored(
    make_outbox: OutboxFactory, health: Health, controls: Controls, store: Store, png: bytes
) -> None:
    outbox = make_outbox()
    async with outbox:
        controls.mute(3600)
        assert outbox.submit(alert("k3"))
        assert not outbox.submit(chart("k3", png))
    states = dict(store.db.execute("SELECT dedupe_key, state FROM outbox").fetchall())
    assert states == {"signal:k3": "held"}


async def test_the_simulator_checks_uploads_as_telegram_does(sim: TelegramSim, bot: Bot, png: bytes) -> None:
    sent = await bot.send_photo(ALERT_CHAT, BufferedInputFile(png, filename="c.png"), caption="<b>ok</b>")
    assert sent.photo is not None and (sent.photo[-1].width, sent.photo[-1].height) == (640, 400)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ALERT_CHAT, BufferedInputFile(b"not a png", filename="x.png"))
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(ALERT_CHAT, BufferedInputFile(png, filename="c.png"), caption="x" * 1025)
    wide = draw(ChartSpec(kind="market", title="x", width=9000, height=1200))
    with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
        await bot.send_photo(ALERT_CHAT, BufferedInputFile(wide, filename="w.png"))
    assert [m.photo for m in sim.sent] == [png]


async def test_in_a_burst_only_the_strongest_coalesced_signals_get_their_chart(
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    clock: ManualClock,
    health: Health,
    store: Store,
    drive: Drive,
    png: bytes,
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(1, 7):  # six signals at once to a group: they go out coalesced, strongest first
            outbox.submit(burst_signal(i, clock.time()))
        await drive(outbox, lambda: outbox.stats().pending == 0)
        for i in range(1, 7):  # their charts, drawn afterwards, each replying to its signal
            outbox.submit(replace(chart(str(i), png), chat_id=GROUP_CHAT, strategy="liquidation"))
        await drive(outbox, lambda: outbox.stats().pending == 0, step=1.0)

    photos = [m for m in sim.sent_to(GROUP_CHAT) if m.photo is not None]
    assert sorted(m.text for m in photos) == [
        f"📈 chart of <b>{i}</b>" for i in (4, 5, 6)
    ]  # coalesce_charts = 3
    (carrier_id,) = {m.reply_to_message_id for m in photos}
    assert carrier_id in {m.message_id for m in sim.sent_to(GROUP_CHAT) if m.photo is None}
    skipped = store.db.execute(
        "SELECT dedupe_key, state, photo FROM outbox WHERE kind = 'chart' AND state != 'sent' ORDER BY id"
    ).fetchall()
    assert [(r["dedupe_key"], r["state"], r["photo"]) for r in skipped] == [
        (f"chart:{i}", "superseded", None) for i in (1, 2, 3)
    ]
