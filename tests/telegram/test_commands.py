"""Operator commands: the real aiogram Dispatcher polling the Bot API simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.utils.backoff import BackoffConfig
from structlog.testing import capture_logs

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.errors import TransientError
from signalbots.health import Health
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import TelegramSim
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.commands import Commands

from .conftest import ADMIN_CHAT, ALERT_CHAT

USER = 501
FOREIGN_CHAT = 666777


@pytest.fixture
def command_settings(settings: TelegramSettings) -> TelegramSettings:
    # Long polling waits 1 s on the simulator; the client's timeout must be longer than that.
    return settings.model_copy(update={"request_timeout": 2.0, "allowed_chat_ids": [-100200]})


@pytest.fixture
async def command_bot(command_settings: TelegramSettings) -> AsyncIterator[Bot]:
    async with open_bot(command_settings) as b:
        yield b


class Texts:
    """What the daemon would answer; records what was asked."""

    def __init__(self) -> None:
        self.stats_days: list[int] = []

    def status(self) -> str:
        return "💚 signalbots — health check\n✅ volume  RUNNING"

    def health(self) -> str:
        return "📨 outbox: 0 pending"

    def signals(self) -> str:
        return "No open signals"

    def stats(self, days: int) -> str:
        self.stats_days.append(days)
        return f"📊 last {days} days"


def make_commands(bot: Bot, settings: TelegramSettings, controls: Controls, texts: Texts) -> Commands:
    return Commands(
        bot=bot,
        settings=settings,
        controls=controls,
        status_text=texts.status,
        health_text=texts.health,
        signals_text=texts.signals,
        stats_text=texts.stats,
        strategies=lambda: ["volume", "funding"],
        polling_timeout=1,
        backoff=BackoffConfig(min_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.1),
    )


@asynccontextmanager
async def polling(commands: Commands, health: Health) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(commands.run(health.task("commands")))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def ask(sim: TelegramSim, clock: ManualClock, chat: int, text: str, *, user: int = USER) -> str:
    """Send a command and return the reply (the clock moves on, as a person types)."""
    clock.advance(2.0)
    before = len(sim.sent_to(chat))
    sim.push_command(chat, user, text)
    await sim.wait_for(lambda: len(sim.sent_to(chat)) > before)
    return sim.sent_to(chat)[-1].text


# Acceptance 5 ----------------------------------------------------------------------------------------------
async def test_allowed_chat_gets_status_and_pause_which_survives_a_restart(
    sim: TelegramSim,
    clock: ManualClock,
    store_path: Path,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    texts = Texts()
    async with Store(path=store_path) as store:
        controls = Controls(store=store, clock=clock)
        async with polling(make_commands(command_bot, command_settings, controls, texts), health):
            assert "health check" in await ask(sim, clock, ALERT_CHAT, "/status")
            assert "volume</b> paused" in await ask(sim, clock, ALERT_CHAT, "/pause volume")
        assert controls.is_paused("volume")

    async with Store(path=store_path) as store:  # a new process: new store connection, new controls
        controls = Controls(store=store, clock=clock)
        assert controls.is_paused("volume")
        assert controls.paused() == ["volume"]
        async with polling(make_commands(command_bot, command_settings, controls, texts), health):
            assert "already paused" in await ask(sim, clock, ADMIN_CHAT, "/pause volume")
            assert "resumed" in await ask(sim, clock, ADMIN_CHAT, "/resume volume")
        assert not controls.is_paused("volume")


async def test_foreign_chat_gets_nothing_and_one_warning_naming_it(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    with capture_logs() as logs:
        async with polling(make_commands(command_bot, command_settings, controls, Texts()), health):
            sim.push_command(FOREIGN_CHAT, USER, "/status")
            sim.push_command(FOREIGN_CHAT, USER, "/pause volume")
            # A later allowed command is answered, so the foreign ones were already handled (and ignored).
            await ask(sim, clock, ALERT_CHAT, "/help")
            sim.push_command(FOREIGN_CHAT, 999, "/mute 1h")
            await ask(sim, clock, ALERT_CHAT, "/signals")
    assert sim.sent_to(FOREIGN_CHAT) == []
    assert not controls.is_paused("volume") and not controls.is_muted()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["chat_id"] == FOREIGN_CHAT


async def test_allowed_users_only_when_a_user_list_is_set(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    restricted = command_settings.model_copy(update={"allowed_user_ids": [USER]})
    with capture_logs() as logs:
        async with polling(make_commands(command_bot, restricted, controls, Texts()), health):
            sim.push_command(ALERT_CHAT, 12345, "/pause volume")
            assert "health check" in await ask(sim, clock, ALERT_CHAT, "/status", user=USER)
    assert not controls.is_paused("volume")
    assert len(sim.sent_to(ALERT_CHAT)) == 1
    assert [e.get("user_id") for e in logs if e["log_level"] == "warning"] == [12345]


async def test_group_in_allowed_chat_ids_is_answered(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    async with polling(make_commands(command_bot, command_settings, controls, Texts()), health):
        reply = await ask(sim, clock, -100200, "/health@signalbots_sim_bot")
    assert reply == "📨 outbox: 0 pending"
    assert sim.sent_to(-100200)[0].reply_to_message_id is not None  # answers the command in the thread


# The other commands -----------------------------------------------------------------------------------------
async def test_unknown_strategy_is_not_running(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    async with polling(make_commands(command_bot, command_settings, controls, Texts()), health):
        reply = await ask(sim, clock, ALERT_CHAT, "/pause liquidation")
        usage = await ask(sim, clock, ALERT_CHAT, "/resume")
        hostile = await ask(sim, clock, ALERT_CHAT, "/pause <b>x")
    assert "liquidation is not running" in reply and "volume, funding" in reply
    assert "Usage: /resume" in usage
    assert "&lt;b&gt;x is not running" in hostile
    assert controls.paused() == []


async def test_mute_for_a_duration_and_off(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    async with polling(make_commands(command_bot, command_settings, controls, Texts()), health):
        muted = await ask(sim, clock, ALERT_CHAT, "/mute 2h")
        assert controls.muted_until() == pytest.approx(clock.time() + 7200)
        assert "muted for 2h" in muted
        assert "muted until" in await ask(sim, clock, ALERT_CHAT, "/mute")
        assert "Usage" in await ask(sim, clock, ALERT_CHAT, "/mute soon")
        assert "Mute ended" in await ask(sim, clock, ALERT_CHAT, "/mute off")
    assert not controls.is_muted()


async def test_stats_takes_days(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    texts = Texts()
    async with polling(make_commands(command_bot, command_settings, controls, texts), health):
        assert await ask(sim, clock, ALERT_CHAT, "/stats") == "📊 last 7 days"
        assert await ask(sim, clock, ALERT_CHAT, "/stats 30") == "📊 last 30 days"
        assert "Usage" in await ask(sim, clock, ALERT_CHAT, "/stats forever")
    assert texts.stats_days == [7, 30]


async def test_commands_are_registered_with_telegram(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    async with polling(make_commands(command_bot, command_settings, controls, Texts()), health):
        await ask(sim, clock, ALERT_CHAT, "/help")
    assert [c["command"] for c in sim.my_commands] == [
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


async def test_unreachable_telegram_at_start_raises_for_the_supervisor(
    sim: TelegramSim,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    await sim.stop_listening()
    commands = make_commands(command_bot, command_settings, controls, Texts())
    with pytest.raises(TransientError, match="telegram commands"):
        await commands.run(health.task("commands"))


async def test_cancelling_stops_polling_completely(
    sim: TelegramSim,
    clock: ManualClock,
    controls: Controls,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> None:
    async with polling(make_commands(command_bot, command_settings, controls, Texts()), health) as task:
        await ask(sim, clock, ALERT_CHAT, "/help")
    assert task.cancelled()
    leftovers = [t for t in asyncio.all_tasks() if _coro_name(t).startswith("Dispatcher.")]
    assert leftovers == []


def _coro_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") or ""
