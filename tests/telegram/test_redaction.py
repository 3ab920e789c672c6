"""Acceptance 6: the bot token appears in no log line, even when every fault fires."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from aiogram import Bot
from structlog.testing import capture_logs

from signalbots.controls import Controls
from signalbots.errors import TransientError
from signalbots.health import Health
from signalbots.notifier import Kind, Message
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import Fault, FaultKind, TelegramSim
from signalbots.telegram.commands import Commands

from .conftest import ALERT_CHAT, TOKEN, Drive, OutboxFactory

_SECRET = TOKEN.split(":", 1)[1]


def _clean(text: str) -> bool:
    return TOKEN not in text and _SECRET not in text


async def test_no_log_line_carries_the_token_through_every_fault(
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    health: Health,
    drive: Drive,
    bot: Bot,
    settings: TelegramSettings,
    controls: Controls,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = [
        Fault(FaultKind.BAD_GATEWAY),
        Fault(FaultKind.SERVER_ERROR),
        Fault(FaultKind.HANG),
        Fault.flood(3),
        Fault(FaultKind.PARSE_ERROR),
        Fault(FaultKind.TOO_LONG),
    ]
    outbox = make_outbox()
    with capture_logs() as logs:
        async with outbox:
            task = asyncio.create_task(outbox.run(health.task("outbox")))
            outbox.submit(Message(kind=Kind.NOTICE, text="🚀 started", dedupe_key="warm", chat_id=ALERT_CHAT))
            await drive(outbox, lambda: len(sim.sent) == 1)
            await sim.stop_listening()  # refused, with a pooled connection in aiohttp's hands
            outbox.submit(Message(kind=Kind.NOTICE, text="outage", dedupe_key="out", chat_id=ALERT_CHAT))
            await drive(outbox, seconds=20.0)
            await sim.start_listening()
            await drive(outbox, lambda: len(sim.sent) == 2)
            for i, fault in enumerate(faults):
                sim.inject(fault, chat_id=ALERT_CHAT)
                text = "\n".join(["line " + "z" * 300] * 3)
                outbox.submit(Message(kind=Kind.NOTICE, text=text, dedupe_key=f"f{i}", chat_id=ALERT_CHAT))
            sim.inject(Fault(FaultKind.CHAT_NOT_FOUND), chat_id=-1, times=None)
            sim.inject(Fault(FaultKind.BLOCKED), chat_id=7, times=None)
            outbox.submit(Message(kind=Kind.NOTICE, text="lost", dedupe_key="lost", chat_id=-1))
            outbox.submit(Message(kind=Kind.NOTICE, text="blocked", dedupe_key="blocked", chat_id=7))
            await drive(outbox, lambda: outbox.stats().pending == 0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        await sim.stop_listening()
        commands = Commands(
            bot=bot,
            settings=settings,
            controls=controls,
            status_text=str,
            health_text=str,
            signals_text=str,
            stats_text=str,
            strategies=list,
        )
        with pytest.raises(TransientError) as info:
            await commands.run(health.task("commands"))

    assert outbox.stats().dead == 2
    assert {e["event"] for e in logs} >= {
        "telegram_unreachable",
        "telegram_reachable",
        "telegram_flood_wait",
        "telegram_plain_fallback",
        "outbox_dead_letter",
    }
    assert all(_clean(repr(entry)) for entry in logs)
    assert _clean(str(info.value))
    assert all(_clean(e["reason"]) for e in health.snapshot()["recent_errors"])
    assert all(_clean(p) for p in health.snapshot()["problems"])
    ours = [r for r in caplog.records if r.name.startswith("signalbots")]
    assert all(_clean(r.getMessage()) for r in ours)
