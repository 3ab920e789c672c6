"""Shared pieces for the Telegram tests: the real aiogram Bot against the local Bot API simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from pydantic import SecretStr

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import TelegramSim
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.outbox import Outbox

TOKEN = "123456789:AAHsecretTOKENvalue_abcdefghijklmnopq"
ALERT_CHAT = 1001
ADMIN_CHAT = 1002
GROUP_CHAT = -100555


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
