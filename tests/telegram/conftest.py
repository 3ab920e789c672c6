"""Shared pieces for the Telegram tests: the real aiogram Bot against the local Bot API simulator."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.utils.backoff import BackoffConfig
from pydantic import SecretStr

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import SentMessage, TelegramSim
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.commands import Commands
from signalbots.telegram.outbox import Outbox

TOKEN = "123456789:AAHsecretTOKENvalue_abcdefghijklmnopq"
ALERT_CHAT = 1001
ADMIN_CHAT = 1002
GROUP_CHAT = -100555
COMMAND_GROUP = -100200  # a group in allowed_chat_ids of the command settings
USER = 501


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "signalbots.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    s = Store(path=store_path)
    s.open()
    yield s
    s.close()


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[TelegramSim]:
    async with TelegramSim(token=TOKEN, clock=clock) as s:
        yield s


@pytest.fixture
def settings(sim: TelegramSim) -> TelegramSettings:
    # A tiny request timeout keeps the hung-request cases short; nothing asserts on real time.
    return TelegramSettings(
        bot_token=SecretStr(TOKEN),
        api_url=sim.url,
        alert_chat_id=ALERT_CHAT,
        admin_chat_id=ADMIN_CHAT,
        request_timeout=0.2,
    )


@pytest.fixture
async def bot(settings: TelegramSettings) -> AsyncIterator[Bot]:
    async with open_bot(settings) as b:
        yield b


@pytest.fixture
def health(clock: ManualClock) -> Health:
    return Health(clock=clock)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def controls(store: Store, clock: ManualClock) -> Controls:
    return Controls(store=store, clock=clock)


OutboxFactory = Callable[..., Outbox]


@pytest.fixture
def make_outbox(
    store: Store,
    bot: Bot,
    settings: TelegramSettings,
    clock: ManualClock,
    health: Health,
    metrics: Metrics,
    controls: Controls,
) -> OutboxFactory:
    def make(**overrides: Any) -> Outbox:
        kwargs: dict[str, Any] = dict(
            store=store,
            bot=bot,
            settings=settings,
            clock=clock,
            health=health,
            metrics=metrics,
            controls=controls,
        )
        kwargs.update(overrides)
        return Outbox(**kwargs)

    return make


async def _settle(outbox: Outbox) -> None:
    """Let every task run until it waits on the clock (no request to the simulator in flight)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    for _ in range(3):
        for _ in range(50):
            await asyncio.sleep(0)
        while outbox.in_flight:
            assert loop.time() < deadline, "a request to the simulator never finished"
            await asyncio.sleep(0)


Drive = Callable[..., Awaitable[float]]


@pytest.fixture
def drive(clock: ManualClock) -> Drive:
    """Move the clock in small steps, letting the outbox and the simulator work between steps.

    ``await drive(outbox, until)`` stops as soon as ``until()`` holds (failing after ``limit`` simulated
    seconds); ``await drive(outbox, seconds=s)`` moves exactly ``s``. Returns the simulated seconds moved.
    """

    async def run(
        outbox: Outbox,
        until: Callable[[], bool] | None = None,
        *,
        seconds: float | None = None,
        step: float = 0.25,
        limit: float = 3600.0,
    ) -> float:
        moved = 0.0
        while True:
            await _settle(outbox)
            if until is not None and until():
                return moved
            if seconds is not None and moved >= seconds - 1e-9:
                return moved
            assert moved < limit, f"not done after {limit}s of simulated time"
            clock.advance(step)
            moved += step

    return run


# Operator commands -----------------------------------------------------------------------------------------
@pytest.fixture
def command_settings(settings: TelegramSettings) -> TelegramSettings:
    # Long polling waits 1 s on the simulator; the client's timeout must be longer than that.
    return settings.model_copy(update={"request_timeout": 2.0, "allowed_chat_ids": [COMMAND_GROUP]})


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


class Operator:
    """A person writing commands to the bot: the real ``Commands`` polling the Bot API simulator.

    ``async with operator.polling(**overrides):`` runs the commands (any ``Commands`` argument overridden),
    ``await operator.ask(chat, "/status")`` writes one and returns the reply's text.
    """

    def __init__(
        self,
        *,
        sim: TelegramSim,
        clock: ManualClock,
        bot: Bot,
        settings: TelegramSettings,
        health: Health,
        controls: Callable[[], Controls],
    ) -> None:
        self.sim = sim
        self.clock = clock
        self.bot = bot
        self.settings = settings
        self.health = health
        self.texts = Texts()
        self._controls = controls

    @functools.cached_property
    def controls(self) -> Controls:
        # Made on first use, so a test that brings its own store (a restart) opens no other on the file.
        return self._controls()

    def commands(self, **overrides: Any) -> Commands:
        kwargs: dict[str, Any] = dict(
            bot=self.bot,
            settings=self.settings,
            status_text=self.texts.status,
            health_text=self.texts.health,
            signals_text=self.texts.signals,
            stats_text=self.texts.stats,
            strategies=lambda: ["volume", "funding"],
            polling_timeout=1,
            backoff=BackoffConfig(min_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.1),
        )
        kwargs.update(overrides)
        kwargs.setdefault("controls", self.controls)
        return Commands(**kwargs)

    @contextlib.asynccontextmanager
    async def polling(self, **overrides: Any) -> AsyncIterator[asyncio.Task[None]]:
        task = asyncio.create_task(self.commands(**overrides).run(self.health.task("commands")))
        try:
            yield task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reply(self, chat: int, text: str, *, user: int = USER, within: float = 10.0) -> SentMessage:
        """Send a command and return the bot's answer (the clock moves on, as a person types)."""
        self.clock.advance(2.0)
        before = len(self.sim.sent_to(chat))
        self.sim.push_command(chat, user, text)
        await self.sim.wait_for(lambda: len(self.sim.sent_to(chat)) > before, within=within)
        return self.sim.sent_to(chat)[-1]

    async def ask(self, chat: int, text: str, *, user: int = USER) -> str:
        return (await self.reply(chat, text, user=user)).text


@pytest.fixture
def operator(
    request: pytest.FixtureRequest,
    sim: TelegramSim,
    clock: ManualClock,
    command_bot: Bot,
    command_settings: TelegramSettings,
    health: Health,
) -> Operator:
    return Operator(
        sim=sim,
        clock=clock,
        bot=command_bot,
        settings=command_settings,
        health=health,
        controls=lambda: request.getfixturevalue("controls"),
    )
