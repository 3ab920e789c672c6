"""Operator commands: the real aiogram Dispatcher polling the Bot API simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from signalbots.controls import Controls
from signalbots.errors import TransientError
from signalbots.store import Store

from .conftest import ADMIN_CHAT, ALERT_CHAT, COMMAND_GROUP, USER, Operator

FOREIGN_CHAT = 666777


# Acceptance 5 ----------------------------------------------------------------------------------------------
async def test_allowed_chat_gets_status_and_pause_which_survives_a_restart(
    operator: Operator, store_path: Path
) -> None:
    async with Store(path=store_path) as store:
        controls = Controls(store=store, clock=operator.clock)
        async with operator.polling(controls=controls):
            assert "health check" in await operator.ask(ALERT_CHAT, "/status")
            assert "volume</b> paused" in await operator.ask(ALERT_CHAT, "/pause volume")
        assert controls.is_paused("volume")

    async with Store(path=store_path) as store:  # a new process: new store connection, new controls
        controls = Controls(store=store, clock=operator.clock)
        assert controls.is_paused("volume")
        assert controls.paused() == ["volume"]
        async with operator.polling(controls=controls):
            assert "already paused" in await operator.ask(ADMIN_CHAT, "/pause volume")
            assert "resumed" in await operator.ask(ADMIN_CHAT, "/resume volume")
        assert not controls.is_paused("volume")


async def test_foreign_chat_gets_nothing_and_one_warning_naming_it(operator: Operator) -> None:
    sim = operator.sim
    with capture_logs() as logs:
        async with operator.polling():
            sim.push_command(FOREIGN_CHAT, USER, "/status")
            sim.push_command(FOREIGN_CHAT, USER, "/pause volume")
            # A later allowed command is answered, so the foreign ones were already handled (and ignored).
            await operator.ask(ALERT_CHAT, "/help")
            sim.push_command(FOREIGN_CHAT, 999, "/mute 1h")
            await operator.ask(ALERT_CHAT, "/signals")
    assert sim.sent_to(FOREIGN_CHAT) == []
    assert not operator.controls.is_paused("volume") and not operator.controls.is_muted()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["chat_id"] == FOREIGN_CHAT


async def test_allowed_users_only_when_a_user_list_is_set(operator: Operator) -> None:
    restricted = operator.settings.model_copy(update={"allowed_user_ids": [USER]})
    with capture_logs() as logs:
        async with operator.polling(settings=restricted):
            operator.sim.push_command(ALERT_CHAT, 12345, "/pause volume")
            assert "health check" in await operator.ask(ALERT_CHAT, "/status", user=USER)
    assert not operator.controls.is_paused("volume")
    assert len(operator.sim.sent_to(ALERT_CHAT)) == 1
    assert [e.get("user_id") for e in logs if e["log_level"] == "warning"] == [12345]


async def test_group_in_allowed_chat_ids_is_answered(operator: Operator) -> None:
    async with operator.polling():
        reply = await operator.ask(COMMAND_GROUP, "/health@signalbots_sim_bot")
    assert reply == "📨 outbox: 0 pending"
    # answers the command in the thread
    assert operator.sim.sent_to(COMMAND_GROUP)[0].reply_to_message_id is not None


# The other commands -----------------------------------------------------------------------------------------
async def test_unknown_strategy_is_not_running(operator: Operator) -> None:
    async with operator.polling():
        reply = await operator.ask(ALERT_CHAT, "/pause liquidation")
        usage = await operator.ask(ALERT_CHAT, "/resume")
        hostile = await operator.ask(ALERT_CHAT, "/pause <b>x")
    assert "liquidation is not running" in reply and "volume, funding" in reply
    assert "Usage: /resume" in usage
    assert "&lt;b&gt;x is not running" in hostile
    assert operator.controls.paused() == []


async def test_mute_for_a_duration_and_off(operator: Operator) -> None:
    controls = operator.controls
    async with operator.polling():
        muted = await operator.ask(ALERT_CHAT, "/mute 2h")
        assert controls.muted_until() == pytest.approx(operator.clock.time() + 7200)
        assert "muted for 2h" in muted
        assert "muted until" in await operator.ask(ALERT_CHAT, "/mute")
        assert "Usage" in await operator.ask(ALERT_CHAT, "/mute soon")
        assert "Mute ended" in await operator.ask(ALERT_CHAT, "/mute off")
    assert not controls.is_muted()


async def test_stats_takes_days(operator: Operator) -> None:
    async with operator.polling():
        assert await operator.ask(ALERT_CHAT, "/stats") == "📊 last 7 days"
        assert await operator.ask(ALERT_CHAT, "/stats 30") == "📊 last 30 days"
        assert "Usage" in await operator.ask(ALERT_CHAT, "/stats forever")
    assert operator.texts.stats_days == [7, 30]


async def test_commands_are_registered_with_telegram(operator: Operator) -> None:
    async with operator.polling():
        await operator.ask(ALERT_CHAT, "/help")
    assert [c["command"] for c in operator.sim.my_commands] == [
        "help",
        "status",
        "signals",
        "stats",
        "pause",
        "resume",
        "mute",
        "health",
        "chart",
    ]


async def test_unreachable_telegram_at_start_raises_for_the_supervisor(operator: Operator) -> None:
    await operator.sim.stop_listening()
    commands = operator.commands()
    with pytest.raises(TransientError, match="telegram commands"):
        await commands.run(operator.health.task("commands"))


async def test_cancelling_stops_polling_completely(operator: Operator) -> None:
    async with operator.polling() as task:
        await operator.ask(ALERT_CHAT, "/help")
    assert task.cancelled()
    leftovers = [t for t in asyncio.all_tasks() if _coro_name(t).startswith("Dispatcher.")]
    assert leftovers == []


def _coro_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") or ""
