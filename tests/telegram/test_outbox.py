"""The outbox against the real aiogram client and the Bot API simulator, on a manual clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.errors import FatalError
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import Fault, FaultKind, TelegramSim
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.outbox import Outbox

from .conftest import ADMIN_CHAT, ALERT_CHAT, GROUP_CHAT, Drive, OutboxFactory


@asynccontextmanager
async def running(outbox: Outbox, health: Health) -> AsyncIterator[Outbox]:
    async with outbox:
        task = asyncio.create_task(outbox.run(health.task("outbox")))
        try:
            yield outbox
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def notice(key: str, chat: int, text: str | None = None, **kw: Any) -> Message:
    return Message(kind=Kind.NOTICE, text=text or f"notice <b>{key}</b>", dedupe_key=key, chat_id=chat, **kw)


def texts(sim: TelegramSim, chat: int) -> list[str]:
    return [m.text for m in sim.sent_to(chat)]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def row_states(store: Store) -> dict[str, str]:
    return {r["dedupe_key"]: r["state"] for r in store.db.execute("SELECT dedupe_key, state FROM outbox")}


# Acceptance 1: an outage loses nothing and repeats nothing ---------------------------------------------
async def test_outage_delivers_every_message_once_in_commit_order(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        await sim.stop_listening()
        expected: dict[int, list[str]] = {ALERT_CHAT: [], ADMIN_CHAT: []}
        for i in range(50):
            chat = ALERT_CHAT if i % 3 else ADMIN_CHAT
            assert outbox.submit(notice(f"m{i}", chat, f"message {i}"))
            expected[chat].append(f"message {i}")
        await drive(outbox, seconds=120.0)  # two minutes of refused connections
        assert sim.sent == []
        assert health.task("outbox").status.value == "degraded"
        assert outbox.stats().pending == 50

        await sim.start_listening()
        await drive(outbox, lambda: len(sim.sent) >= 50)
        await drive(outbox, seconds=30.0)  # nothing more arrives

    assert texts(sim, ALERT_CHAT) == expected[ALERT_CHAT]
    assert texts(sim, ADMIN_CHAT) == expected[ADMIN_CHAT]
    assert len(sim.sent) == 50
    assert outbox.stats().pending == 0
    assert health.task("outbox").status.value == "running"


# Acceptance 2: pacing and retry_after ------------------------------------------------------------------
async def test_burst_to_a_group_never_hits_telegram_flood_control(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(100):
            outbox.submit(notice(f"g{i}", GROUP_CHAT, f"burst {i}"))
        await drive(outbox, lambda: len(sim.sent) >= 100, step=1.0)

    assert [r.status for r in sim.requests_to(GROUP_CHAT)] == [200] * 100
    assert texts(sim, GROUP_CHAT) == [f"burst {i}" for i in range(100)]


async def test_retry_after_is_honoured_for_that_chat_while_others_flow(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, metrics: Metrics, drive: Drive
) -> None:
    sim.inject(Fault.flood(7), chat_id=GROUP_CHAT)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("group", GROUP_CHAT, "to the group"))
        await drive(outbox, lambda: len(sim.requests_to(GROUP_CHAT)) >= 1)
        outbox.submit(notice("private", ALERT_CHAT, "to a private chat"))
        await drive(outbox, lambda: len(sim.sent_to(ALERT_CHAT)) == 1)
        assert sim.sent_to(GROUP_CHAT) == []  # the private chat did not wait for the group
        await drive(outbox, lambda: len(sim.sent_to(GROUP_CHAT)) == 1)

    first, second = sim.requests_to(GROUP_CHAT)
    assert first.status == 429
    assert second.status == 200
    assert second.time - first.time >= 7.0
    assert texts(sim, GROUP_CHAT) == ["to the group"]
    assert sample(metrics, "signalbots_telegram_retry_after_seconds_total") == 7.0


# Acceptance 4: bad answers -----------------------------------------------------------------------------
async def test_bad_gateway_server_error_and_timeout_are_retried_then_delivered(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    for kind in (FaultKind.BAD_GATEWAY, FaultKind.SERVER_ERROR, FaultKind.HANG):
        sim.inject(Fault(kind), chat_id=ALERT_CHAT)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("n1", ALERT_CHAT, "survives bad answers"))
        await drive(outbox, lambda: len(sim.sent) == 1)

    assert [r.status for r in sim.requests_to(ALERT_CHAT)][:2] == [502, 500]
    assert len(sim.requests_to(ALERT_CHAT)) == 4  # 502, 500, the hung one, then success
    assert texts(sim, ALERT_CHAT) == ["survives bad answers"]
    assert outbox.stats().dead == 0


async def test_chat_not_found_is_dead_lettered_and_reported_while_other_chats_flow(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    lost = -100999
    sim.inject(Fault(FaultKind.CHAT_NOT_FOUND), chat_id=lost, times=None)
    outbox = make_outbox()
    with capture_errors() as errors:
        async with running(outbox, health):
            outbox.submit(notice("lost1", lost))
            outbox.submit(notice("ok1", ALERT_CHAT, "first"))
            outbox.submit(notice("lost2", lost))
            outbox.submit(notice("ok2", ALERT_CHAT, "second"))
            await drive(outbox, lambda: len(sim.sent) == 2 and outbox.stats().dead == 2)

    assert texts(sim, ALERT_CHAT) == ["first", "second"]
    assert row_states(outbox_store(outbox))["lost1"] == "dead"
    snapshot = health.snapshot()
    assert snapshot["outbox"]["dead"] == 2
    assert snapshot["status"] == "unhealthy"
    assert any("dead letter" in p and "chat not found" in p for p in snapshot["problems"])
    assert any("chat not found" in e["reason"] for e in snapshot["recent_errors"])
    assert [e["dedupe_key"] for e in errors if e["event"] == "outbox_dead_letter"] == ["lost1", "lost2"]
    assert len(sim.requests_to(lost)) == 2  # never retried


async def test_blocked_bot_is_dead_lettered(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    sim.inject(Fault(FaultKind.BLOCKED), chat_id=ALERT_CHAT)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("blocked", ALERT_CHAT))
        await drive(outbox, lambda: outbox.stats().dead == 1)
    assert sim.sent == []
    assert "blocked" in health.snapshot()["problems"][-1]


async def test_unparseable_html_is_delivered_as_plain_text(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("raw", ALERT_CHAT, "BTC <5% move in <b>5m</b> &amp; rising"))
        await drive(outbox, lambda: len(sim.sent) == 1)

    [message] = sim.sent
    assert message.parse_mode is None
    assert message.text == "BTC <5% move in 5m & rising"
    assert [r.status for r in sim.requests_to(ALERT_CHAT)] == [400, 200]


async def test_long_message_is_split_on_line_boundaries(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    lines = [f"<b>line {i:04d}</b> " + "x" * 80 for i in range(100)]  # ~10,000 characters
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("long", ALERT_CHAT, "\n".join(lines)))
        await drive(outbox, lambda: outbox.stats().pending == 0)

    parts = texts(sim, ALERT_CHAT)
    assert len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines
    assert outbox_store(outbox).db.execute("SELECT message_id FROM outbox").fetchone()[0] == 1  # the head


async def test_too_long_answer_is_resent_in_smaller_parts(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    lines = [f"row {i:03d} " + "y" * 50 for i in range(50)]  # ~3,000 characters: fits, Telegram says no
    sim.inject(Fault(FaultKind.TOO_LONG), chat_id=ALERT_CHAT)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("long", ALERT_CHAT, "\n".join(lines)))
        await drive(outbox, lambda: outbox.stats().pending == 0)

    parts = texts(sim, ALERT_CHAT)
    assert len(parts) == 2
    assert "\n".join(parts).split("\n") == lines


async def test_a_server_error_that_never_ends_never_dead_letters_the_message(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    sim.inject(Fault(FaultKind.SERVER_ERROR), chat_id=ALERT_CHAT, times=None)
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("patient", ALERT_CHAT, "waits as long as it takes"))
        await drive(outbox, lambda: len(sim.requests_to(ALERT_CHAT)) >= 60, step=5.0, limit=7200.0)
        assert outbox.stats().dead == 0
        assert outbox.stats().pending == 1
        sim.clear_faults()
        await drive(outbox, lambda: len(sim.sent_to(ALERT_CHAT)) == 1, step=1.0)
    assert texts(sim, ALERT_CHAT) == ["waits as long as it takes"]
    assert health.snapshot()["problems"] == []


async def test_rejected_token_stops_the_worker_and_keeps_messages(
    sim: TelegramSim,
    settings: TelegramSettings,
    store: Store,
    clock: ManualClock,
    health: Health,
    metrics: Metrics,
    controls: Controls,
) -> None:
    other_token = SecretStr("987654321:AAHwrongTOKENvalue_abcdefghijklmnopq")
    wrong = settings.model_copy(update={"bot_token": other_token})
    async with open_bot(wrong) as bot:
        outbox = Outbox(
            store=store,
            bot=bot,
            settings=wrong,
            clock=clock,
            health=health,
            metrics=metrics,
            controls=controls,
        )
        async with outbox:
            outbox.submit(notice("kept", ALERT_CHAT))
            with pytest.raises(FatalError, match="bot_token"):
                await outbox.run(health.task("outbox"))
    assert row_states(store) == {"kept": "pending"}


# Durability --------------------------------------------------------------------------------------------
async def test_same_dedupe_key_is_stored_and_sent_once_even_after_restart(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        assert outbox.submit(notice("same", ALERT_CHAT, "once"))
        assert not outbox.submit(notice("same", ALERT_CHAT, "twice"))
        await drive(outbox, lambda: len(sim.sent) == 1)
    again = make_outbox()
    async with running(again, health):
        assert not again.submit(notice("same", ALERT_CHAT, "after restart"))
        await drive(again, seconds=10.0)
    assert texts(sim, ALERT_CHAT) == ["once"]


async def test_restart_resends_interrupted_and_pending_messages_but_never_sent_ones(
    sim: TelegramSim,
    settings: TelegramSettings,
    store_path: Any,
    clock: ManualClock,
    health: Health,
    metrics: Metrics,
    drive: Drive,
) -> None:
    patient = settings.model_copy(update={"request_timeout": 30.0})  # the crash comes before any timeout
    sim.inject(Fault(FaultKind.HANG), chat_id=ALERT_CHAT)
    async with open_bot(patient) as bot:
        store = Store(path=store_path)
        store.open()
        outbox = Outbox(
            store=store,
            bot=bot,
            settings=patient,
            clock=clock,
            health=health,
            metrics=metrics,
            controls=Controls(store=store, clock=clock),
        )
        async with running(outbox, health):
            outbox.submit(notice("delivered", ADMIN_CHAT, "delivered before the crash"))
            await drive(outbox, lambda: row_states(store)["delivered"] == "sent")
            outbox.submit(notice("interrupted", ALERT_CHAT, "in flight at the crash"))
            outbox.submit(notice("waiting", ALERT_CHAT, "queued behind it"))
            await sim.wait_for(lambda: sim.hanging == 1)
            assert row_states(store) == {"delivered": "sent", "interrupted": "sending", "waiting": "pending"}
        store.close()  # the worker is gone mid-request; Telegram never answered

    store = Store(path=store_path)
    store.open()
    async with open_bot(settings) as bot:
        outbox = Outbox(
            store=store,
            bot=bot,
            settings=settings,
            clock=clock,
            health=health,
            metrics=metrics,
            controls=Controls(store=store, clock=clock),
        )
        async with running(outbox, health):
            await drive(outbox, lambda: len(sim.sent) == 3)
            await drive(outbox, seconds=10.0)
    store.close()
    assert texts(sim, ADMIN_CHAT) == ["delivered before the crash"]
    assert texts(sim, ALERT_CHAT) == ["in flight at the crash", "queued behind it"]


async def test_flush_delivers_what_is_pending_and_is_bounded(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, drive: Drive
) -> None:
    outbox = make_outbox()
    async with outbox:
        for i in range(3):
            outbox.submit(notice(f"f{i}", ALERT_CHAT, f"flushed {i}"))
        flush = asyncio.create_task(outbox.flush(10.0))
        await drive(outbox, flush.done)
        assert flush.result() is True
        assert texts(sim, ALERT_CHAT) == ["flushed 0", "flushed 1", "flushed 2"]

        await sim.stop_listening()
        outbox.submit(notice("stuck", ALERT_CHAT))
        flush = asyncio.create_task(outbox.flush(5.0))
        moved = await drive(outbox, flush.done)
        assert flush.result() is False
        assert 5.0 <= moved <= 6.0


async def test_flush_while_the_worker_runs_sends_each_message_once(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(4):
            outbox.submit(notice(f"f{i}", ALERT_CHAT, f"flushed {i}"))
        flush = asyncio.create_task(outbox.flush(30.0))
        await drive(outbox, flush.done)
        assert flush.result() is True
    assert texts(sim, ALERT_CHAT) == [f"flushed {i}" for i in range(4)]


# Routing, silence, replies -----------------------------------------------------------------------------
async def test_routing_by_kind_and_strategy(
    sim: TelegramSim, make_outbox: OutboxFactory, settings: TelegramSettings, health: Health, drive: Drive
) -> None:
    routed = settings.model_copy(update={"strategy_chat_ids": {"funding": GROUP_CHAT}})
    outbox = make_outbox(settings=routed)
    async with running(outbox, health):
        outbox.submit(Message(kind=Kind.SIGNAL, text="volume signal", dedupe_key="s1", strategy="volume"))
        outbox.submit(Message(kind=Kind.OUTCOME, text="funding outcome", dedupe_key="o1", strategy="funding"))
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="heartbeat", dedupe_key="h1"))
        outbox.submit(Message(kind=Kind.ERROR, text="error", dedupe_key="e1"))
        outbox.submit(Message(kind=Kind.NOTICE, text="explicit", dedupe_key="x1", chat_id=4242))
        await drive(outbox, lambda: len(sim.sent) == 5)
    assert texts(sim, ALERT_CHAT) == ["volume signal"]
    assert texts(sim, GROUP_CHAT) == ["funding outcome"]
    assert texts(sim, ADMIN_CHAT) == ["heartbeat", "error"]
    assert texts(sim, 4242) == ["explicit"]


async def test_admin_chat_defaults_to_the_alert_chat(
    sim: TelegramSim, make_outbox: OutboxFactory, settings: TelegramSettings, health: Health, drive: Drive
) -> None:
    outbox = make_outbox(settings=settings.model_copy(update={"admin_chat_id": None}))
    async with running(outbox, health):
        outbox.submit(Message(kind=Kind.NOTICE, text="🚀 started", dedupe_key="start"))
        await drive(outbox, lambda: len(sim.sent) == 1)
    assert texts(sim, ALERT_CHAT) == ["🚀 started"]


async def test_silent_by_kind_unless_the_message_says(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="💚 health check", dedupe_key="h"))
        outbox.submit(Message(kind=Kind.NOTICE, text="🚀 started", dedupe_key="n"))
        outbox.submit(Message(kind=Kind.NOTICE, text="quiet notice", dedupe_key="q", silent=True))
        await drive(outbox, lambda: len(sim.sent) == 3)  # a newer heartbeat would replace a pending one
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="loud heartbeat", dedupe_key="l", silent=False))
        await drive(outbox, lambda: len(sim.sent) == 4)
    assert {m.text: m.disable_notification for m in sim.sent} == {
        "💚 health check": True,
        "🚀 started": False,
        "quiet notice": True,
        "loud heartbeat": False,
    }


async def test_outcome_replies_to_its_signal(
    sim: TelegramSim, make_outbox: OutboxFactory, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("other", ALERT_CHAT, "an earlier message"))
        await drive(outbox, lambda: len(sim.sent) == 1)  # out before the signal (signals go first)
        outbox.submit(Message(kind=Kind.SIGNAL, text="🚀 LONG BTC", dedupe_key="sig"))
        outbox.submit(Message(kind=Kind.OUTCOME, text="✅ target 1", dedupe_key="out", reply_to_key="sig"))
        outbox.submit(Message(kind=Kind.OUTCOME, text="orphan", dedupe_key="orphan", reply_to_key="unknown"))
        await drive(outbox, lambda: len(sim.sent) == 4)
    by_text = {m.text: m for m in sim.sent}
    assert by_text["✅ target 1"].reply_to_message_id == by_text["🚀 LONG BTC"].message_id == 2
    assert by_text["orphan"].reply_to_message_id is None


# Mute ----------------------------------------------------------------------------------------------------
async def test_mute_holds_alerts_and_delivers_them_as_one_digest_when_it_ends(
    sim: TelegramSim, make_outbox: OutboxFactory, controls: Controls, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(Message(kind=Kind.SIGNAL, text="🚀 before the mute", dedupe_key="s0"))
        await drive(outbox, lambda: len(sim.sent) == 1)
        controls.mute(3600)
        for i in range(1, 4):
            outbox.submit(Message(kind=Kind.SIGNAL, text=f"🚀 <b>signal {i}</b>", dedupe_key=f"s{i}"))
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="💚 health check", dedupe_key="h"))
        await drive(outbox, seconds=1800.0, step=5.0)
        assert texts(sim, ALERT_CHAT) == ["🚀 before the mute"]
        assert texts(sim, ADMIN_CHAT) == ["💚 health check"]  # only alerts are held
        assert outbox.stats().held == 3
        await drive(outbox, lambda: len(sim.sent) == 3, step=5.0)

    digest = sim.sent_to(ALERT_CHAT)[-1]
    assert "While muted" in digest.text
    assert [digest.text.index(f"signal {i}") for i in (1, 2, 3)] == sorted(
        digest.text.index(f"signal {i}") for i in (1, 2, 3)
    )
    assert digest.disable_notification  # digests are silent by default
    assert outbox.stats().held == 0
    assert {k: v for k, v in row_states(outbox_store(outbox)).items() if k.startswith("s")} == {
        "s0": "sent",
        "s1": "sent",
        "s2": "sent",
        "s3": "sent",
    }


async def test_ending_the_mute_early_releases_the_digest_at_once(
    sim: TelegramSim, make_outbox: OutboxFactory, controls: Controls, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        controls.mute(86400)
        outbox.submit(Message(kind=Kind.SIGNAL, text="held signal", dedupe_key="s1"))
        await drive(outbox, seconds=5.0)
        assert sim.sent == []
        controls.unmute()
        moved = await drive(outbox, lambda: len(sim.sent) == 1)
    assert moved < 5.0
    assert "held signal" in sim.sent[0].text


# Metrics -------------------------------------------------------------------------------------------------
async def test_metrics_show_depth_age_and_results(
    sim: TelegramSim, make_outbox: OutboxFactory, metrics: Metrics, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with outbox:
        outbox.submit(notice("a", ALERT_CHAT))
        outbox.submit(notice("b", ALERT_CHAT))
        await drive(outbox, seconds=30.0)  # nobody delivers yet
        assert sample(metrics, "signalbots_outbox_depth") == 2
        assert health.snapshot()["outbox"] == {"pending": 2, "oldest_age": 30.0, "dead": 0, "held": 0}
    async with running(outbox, health):
        await drive(outbox, lambda: len(sim.sent) == 2)
    assert sample(metrics, "signalbots_outbox_depth") == 0
    assert sample(metrics, "signalbots_telegram_sends_total", result="ok") == 2


def outbox_store(outbox: Outbox) -> Store:
    return outbox._store  # the test's own store, reached for inspection only


@contextlib.contextmanager
def capture_errors() -> Any:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        yield logs
