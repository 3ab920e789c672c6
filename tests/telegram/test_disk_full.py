"""Issue 20, item 3: a full state disk delays durability, never an alert.

The disk is a sqlite3 connection class handed to the store (its constructor's ``connection``) that answers
SQLITE_FULL to new rows while "full" — as a full disk does once SQLite needs a new page; the rest is real
SQLite in tmp_path, the real aiogram client and the Bot API simulator on a manual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.notifier import Kind, Message
from signalbots.sim.telegram import TelegramSim
from signalbots.store import Store
from tests.filling_disk import FillingDisk

from .conftest import ADMIN_CHAT, ALERT_CHAT, Drive, OutboxFactory
from .test_coalesce import burst_signal, carrying
from .test_outbox import running


@pytest.fixture
def disk_store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    s = Store(path=tmp_path / "state" / "signalbots.db", clock=clock, connection=FillingDisk)
    s.open()
    yield s
    s.close()


def disk(store: Store) -> FillingDisk:
    assert isinstance(store.db, FillingDisk)
    return store.db


async def test_signals_decided_while_the_disk_is_full_are_delivered_once_and_recorded_when_space_returns(
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    disk_store: Store,
    clock: ManualClock,
    health: Health,
    drive: Drive,
) -> None:
    outbox = make_outbox(store=disk_store, controls=Controls(store=disk_store, clock=clock))
    async with running(outbox, health):
        assert outbox.submit(burst_signal(0, clock.time(), chat=ALERT_CHAT))
        await drive(outbox, lambda: len(carrying(sim, 0)) == 1)

        disk(disk_store).full = True
        for i in (1, 2, 3):
            assert outbox.submit(burst_signal(i, clock.time(), chat=ALERT_CHAT))
            await drive(outbox, seconds=1.0)
        assert not outbox.submit(burst_signal(2, clock.time(), chat=ALERT_CHAT))  # the same key: once
        outcome = Message(
            kind=Kind.OUTCOME, text="✅ Target 1 · SYM02", dedupe_key="out:2", reply_to_key="signal:2"
        )
        assert outbox.submit(outcome)
        await drive(outbox, lambda: all(carrying(sim, i) for i in (1, 2, 3)) and len(sim.sent) >= 6)
        assert any(
            "state disk full or damaged" in p for p in health.snapshot()["problems"]
        )  # /healthz degraded

        disk(disk_store).full = False
        await drive(outbox, lambda: any("takes writes again" in m.text for m in sim.sent))
        assert not any("state disk full or damaged" in p for p in health.snapshot()["problems"])
        await drive(outbox, seconds=60.0)

    assert [len(carrying(sim, i)) for i in range(4)] == [1, 1, 1, 1]  # each signal exactly once
    admin = [m.text for m in sim.sent if m.chat_id == ADMIN_CHAT]
    assert sum("State disk full" in t for t in admin) == 1
    assert sum("takes writes again" in t for t in admin) == 1
    [reply] = [m for m in sim.sent if "Target 1" in m.text]
    assert reply.reply_to_message_id == carrying(sim, 2)[0].message_id
    recorded = dict(
        disk_store.db.execute(
            "SELECT dedupe_key, state FROM outbox WHERE dedupe_key IN ('signal:1', 'signal:2', 'signal:3', "
            "'out:2')"
        ).fetchall()
    )
    assert recorded == {"signal:1": "sent", "signal:2": "sent", "signal:3": "sent", "out:2": "sent"}

    # a restart after space returned sends nothing again
    before = len(sim.sent)
    again = make_outbox(store=disk_store, controls=Controls(store=disk_store, clock=clock))
    async with running(again, health):
        assert not again.submit(burst_signal(3, clock.time(), chat=ALERT_CHAT))
        await drive(again, seconds=30.0)
    assert len(sim.sent) == before
