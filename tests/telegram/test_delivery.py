"""Issue 10: recovery in seconds after an outage of any length, nothing lost, late said, bounded disk.

The real aiogram client against the Bot API simulator, on a manual clock. An outage is the simulator
dropping every connection (each attempt reaches it and is counted, so the request rate is measurable).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from signalbots.clock import ManualClock
from signalbots.health import Health
from signalbots.notifier import Kind, Message, SignalRef
from signalbots.sim.telegram import Fault, FaultKind, SimRequest, TelegramSim
from signalbots.store import Store

from .conftest import ADMIN_CHAT, ALERT_CHAT, Drive, OutboxFactory
from .test_outbox import notice, outbox_store, running, texts

PROBE_EVERY = 5.0


def _outage_requests(requests: list[SimRequest], start: float, end: float) -> list[SimRequest]:
    return [r for r in requests if r.method == "sendmessage" and start <= r.time < end]


@pytest.mark.parametrize(("outage", "step"), [(20.0, 0.25), (600.0, 1.0), (6 * 3600.0, 5.0)])
async def test_after_an_outage_of_any_length_and_a_run_of_faults_delivery_resumes_within_seconds(
    outage: float,
    step: float,
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    clock: ManualClock,
    health: Health,
    drive: Drive,
) -> None:
    outbox = make_outbox()
    expected: dict[int, list[str]] = {ALERT_CHAT: [], ADMIN_CHAT: []}
    n = 0

    def compose() -> None:
        nonlocal n
        for chat in (ALERT_CHAT, ADMIN_CHAT):
            n += 1
            assert outbox.submit(notice(f"m{n}", chat, f"message {n}"))
            expected[chat].append(f"message {n}")
        outbox.submit(Message(kind=Kind.HEARTBEAT, text=f"💚 health check {n}", dedupe_key=f"hb{n}"))

    async with running(outbox, health):
        compose()
        await drive(outbox, lambda: outbox.stats().pending == 0)
        delivered_before = len(sim.sent)

        sim.inject(Fault(FaultKind.DROP), times=None)  # every connection dropped
        down_at = clock.monotonic()
        chunks = 12
        for _ in range(chunks):
            compose()
            await drive(outbox, seconds=outage / chunks, step=step)
        assert len(sim.sent) == delivered_before
        assert health.task("outbox").status.value == "degraded"
        assert outbox.stats().dead == 0

        # Telegram answers again, badly at first: 429 retry_after=3, a 502 HTML page, a 500, a dropped
        # connection; then it is healthy.
        sim.clear_faults()
        up_at, seen = clock.monotonic(), len(sim.requests)
        sim.inject(Fault.flood(3))
        for kind in (FaultKind.BAD_GATEWAY, FaultKind.SERVER_ERROR, FaultKind.DROP):
            sim.inject(Fault(kind))
        await drive(outbox, lambda: outbox.stats().pending == 0, step=0.25)
        await drive(outbox, seconds=30.0)  # nothing more arrives

    during = _outage_requests(sim.requests[:seen], down_at, up_at + 1)
    gaps = [b.time - a.time for a, b in itertools.pairwise(during)]
    assert len(during) <= outage / PROBE_EVERY + 3  # at most one request per 5 s, whatever the length
    # Both chats' heads fail together as the outage begins; then one probe after 1, 2, 4 s, then every 5 s.
    assert all(gap >= PROBE_EVERY - 1e-9 for gap in gaps[4:])

    after = [r for r in sim.requests[seen:] if r.method == "sendmessage"]
    assert after[0].time - up_at <= PROBE_EVERY  # Telegram is asked again within 5 s
    statuses = [r.status for r in after]
    last_fault = max(i for i, s in enumerate(statuses) if s != 200)
    assert sorted(s for s in statuses if s != 200) == [-1, 429, 500, 502]
    assert after[last_fault + 1].time - after[last_fault].time <= PROBE_EVERY  # then delivered within 5 s

    assert texts(sim, ALERT_CHAT) == expected[ALERT_CHAT]  # every message once, in order
    notices = [t for t in texts(sim, ADMIN_CHAT) if not t.startswith("💚")]
    assert notices == expected[ADMIN_CHAT]
    heartbeats = [t for t in texts(sim, ADMIN_CHAT) if t.startswith("💚")]
    assert heartbeats[0] == "💚 health check 2"  # the one before the outage
    assert heartbeats[1:] == [f"💚 health check {n}\n⏭ {chunks - 1} health checks skipped during the outage"]
    assert outbox.stats().dead == 0
    assert health.task("outbox").status.value == "running"


async def test_the_shutdown_flush_spends_its_deadline_delivering_not_waiting_out_a_backoff(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        sim.inject(Fault(FaultKind.DROP), times=None)
        outbox.submit(notice("last", ALERT_CHAT, "the last word"))
        await drive(outbox, seconds=600.0, step=1.0)
        probes = len(sim.requests)
        await drive(outbox, lambda: len(sim.requests) > probes, step=0.25)  # a probe just failed
        sim.clear_faults()  # Telegram is back; the next probe is 5 s away
        flush = asyncio.create_task(outbox.flush(3.0))
        moved = await drive(outbox, flush.done, step=0.25)
    assert flush.result() is True
    assert moved < 2.0
    assert texts(sim, ALERT_CHAT) == ["the last word"]


def _signal(key: str, *, decided: float, valid_for: float, price: float = 100.0) -> Message:
    return Message(
        kind=Kind.SIGNAL,
        text="🟢 LONG <b>BTC/USDT</b> · Binance\n💥 Liquidation cascade\nEntry <code>100.00</code>",
        dedupe_key=key,
        strategy="liquidation",
        signal=SignalRef(
            exchange="binanceusdm",
            symbol="BTC/USDT:USDT",
            price=price,
            event_time=decided - 0.5,
            expires_at=decided + valid_for,
        ),
    )


async def test_a_signal_delivered_twenty_minutes_late_says_how_late_and_how_far_the_price_moved(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox(prices=lambda exchange, symbol: 97.5 if symbol == "BTC/USDT:USDT" else None)
    async with running(outbox, health):
        sim.inject(Fault(FaultKind.DROP), times=None)
        outbox.submit(_signal("late", decided=clock.time(), valid_for=86400.0))
        await drive(outbox, seconds=1200.0, step=1.0)
        sim.clear_faults()
        await drive(outbox, lambda: len(sim.sent) == 1)
    [message] = sim.sent
    assert message.text.startswith("⏱ <b>Delivered 20 min late</b>")
    assert "BTC/USDT:USDT moved −2.50% since: now 97.5" in message.text
    assert "Entry <code>100.00</code>" in message.text  # still a live trade, said to be late


async def test_a_signal_on_time_says_nothing_about_timing(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(_signal("prompt", decided=clock.time(), valid_for=86400.0))
        await drive(outbox, lambda: len(sim.sent) == 1)
    assert sim.sent[0].text.startswith("🟢 LONG")


async def test_a_signal_delivered_after_its_expiry_says_it_expired_undelivered(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        sim.inject(Fault(FaultKind.DROP), times=None)
        outbox.submit(_signal("stale", decided=clock.time(), valid_for=600.0))
        await drive(outbox, seconds=1200.0, step=1.0)
        sim.clear_faults()
        await drive(outbox, lambda: len(sim.sent) == 1)
    [message] = sim.sent
    assert message.text.startswith("⌛ <b>Expired undelivered</b> — not a live trade")
    assert "🟢 LONG <b>BTC/USDT</b> · Binance" in message.text  # what it was
    assert "Entry" not in message.text  # no levels to trade on
    assert "(10 min ago)" in message.text


async def test_retention_prunes_delivered_rows_and_keeps_pending_ones_and_signals(
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    store: Store,
    clock: ManualClock,
    health: Health,
    drive: Drive,
) -> None:
    store.db.execute(
        "INSERT INTO signals (dedupe_key, strategy, exchange, symbol, direction, candidate, created_ms, "
        "expiry_ms) VALUES ('k', 'volume', 'binanceusdm', 'BTC/USDT:USDT', 'long', '{}', 0, 0)"
    )
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(notice("old", ALERT_CHAT, "old news"))
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="💚 1", dedupe_key="hb1"))
        outbox.submit(Message(kind=Kind.HEARTBEAT, text="💚 2", dedupe_key="hb2"))  # replaces hb1
        await drive(outbox, lambda: outbox.stats().pending == 0)
        await drive(outbox, seconds=29 * 86400.0, step=3600.0, limit=30 * 86400.0)
        assert {r[0] for r in store.db.execute("SELECT dedupe_key FROM outbox")} == {"old", "hb1", "hb2"}

        sim.inject(Fault(FaultKind.DROP), times=None)
        outbox.submit(notice("waiting", ALERT_CHAT, "still pending"))
        await drive(
            outbox, seconds=2 * 86400.0, step=3600.0, limit=3 * 86400.0
        )  # the hourly prune passes the 30 days

        keys = {r[0] for r in store.db.execute("SELECT dedupe_key FROM outbox")}
        assert keys == {"waiting"}
        assert store.db.execute("SELECT COUNT(*) FROM signals").fetchone()[0] == 1
    assert outbox_store(outbox) is store
