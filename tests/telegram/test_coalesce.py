"""Issue 14: a burst of signals visible in seconds (coalesced per chat), and alert latency you can see.

The real aiogram client against the Bot API simulator, which enforces Telegram's group (20/min) and private
pacing with 429s; on a manual clock.
"""

from __future__ import annotations

from dataclasses import replace

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.heartbeat import compose_heartbeat
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, SignalRef
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import Fault, FaultKind, SentMessage, TelegramSim
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.outbox import Outbox

from .conftest import ALERT_CHAT, GROUP_CHAT, Drive, OutboxFactory
from .test_outbox import running


def burst_signal(i: int, now: float, *, chat: int = GROUP_CHAT, pad: int = 0, lag: float = 0.0) -> Message:
    symbol = f"SYM{i:02d}/USDT"
    compact = f"🟢 LONG <b>{symbol}</b> · Binance · 💥 Liquidation cascade\nEntry <code>{i}.00</code>"
    return Message(
        kind=Kind.SIGNAL,
        text=f"🟢 LONG <b>{symbol}</b> · Binance\n💥 Liquidation cascade\nEntry <code>{i}.00</code>",
        dedupe_key=f"signal:{i}",
        strategy="liquidation",
        chat_id=chat,
        signal=SignalRef(
            exchange="binanceusdm",
            symbol=f"SYM{i:02d}/USDT:USDT",
            price=float(i),
            event_time=now - lag,
            expires_at=now + 86400,
            strength=float(i % 7),  # not in submit order
            compact=compact + ("\n" + "x" * pad if pad else ""),
        ),
    )


def carrying(sim: TelegramSim, i: int) -> list[SentMessage]:
    return [m for m in sim.sent if f"SYM{i:02d}/USDT<" in m.text]


async def test_25_signals_in_15_s_to_a_group_are_all_visible_within_10_s_of_the_last_without_a_429(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(25):  # one every 0.6 s: the last at 14.4 s
            outbox.submit(burst_signal(i, clock.time()))
            await drive(outbox, seconds=0.6, step=0.2)
        last = clock.monotonic() - 0.6
        await drive(outbox, lambda: outbox.stats().pending == 0, step=0.2)
        visible = {i: min(m.time for m in carrying(sim, i)) for i in range(25)}

        for i in range(25):
            outbox.submit(
                Message(
                    kind=Kind.OUTCOME,
                    text=f"✅ Target 1 · SYM{i:02d}",
                    dedupe_key=f"out:{i}",
                    reply_to_key=f"signal:{i}",
                    chat_id=GROUP_CHAT,
                )
            )
        await drive(outbox, lambda: outbox.stats().pending == 0, step=1.0)

    assert max(visible.values()) - last <= 10.0
    assert all(len(carrying(sim, i)) == 1 for i in range(25))  # each signal once
    statuses = [r.status for r in sim.requests_to(GROUP_CHAT)]
    assert statuses == [200] * len(statuses)  # no pacing violation: Telegram never answered 429
    signal_messages = [m for m in sim.sent if "SYM" in m.text and "Target" not in m.text]
    assert len(signal_messages) < 25  # the backlog went out coalesced
    coalesced = [m for m in signal_messages if "signals at once" in m.text]
    for m in coalesced:  # strongest first inside each message
        order = [
            i
            for i in sorted(range(25), key=lambda i: m.text.find(f"SYM{i:02d}/"))
            if f"SYM{i:02d}/" in m.text
        ]
        assert [i % 7 for i in order] == sorted((i % 7 for i in order), reverse=True)
    reply_messages = [m for m in sim.sent if "✅ Target 1" in m.text]
    for i in range(25):  # each outcome once, answering the message that carried its signal
        [reply] = [m for m in reply_messages if f"✅ Target 1 · SYM{i:02d}" in m.text]
        assert reply.reply_to_message_id == carrying(sim, i)[0].message_id
    assert len(reply_messages) <= len(signal_messages)  # replies to one message went out as one


async def test_below_the_threshold_signals_go_one_by_one(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        for i in range(4):  # one every 4 s: the group's pacing (one per ~3.2 s) keeps up
            outbox.submit(burst_signal(i, clock.time()))
            await drive(outbox, seconds=4.0, step=0.5)
        await drive(outbox, lambda: outbox.stats().pending == 0)
    assert len(sim.sent) == 4
    assert all("signals at once" not in m.text for m in sim.sent)
    assert [m.text.splitlines()[0] for m in sim.sent] == [
        f"🟢 LONG <b>SYM{i:02d}/USDT</b> · Binance" for i in range(4)
    ]


async def test_a_crash_in_the_middle_of_a_coalesced_send_neither_loses_nor_repeats_a_signal(
    sim: TelegramSim,
    settings: TelegramSettings,
    store_path: object,
    clock: ManualClock,
    health: Health,
    metrics: Metrics,
    drive: Drive,
) -> None:
    patient = settings.model_copy(update={"request_timeout": 30.0})  # the crash comes before any timeout

    def outbox_on(store: Store, bot: object, s: TelegramSettings) -> Outbox:
        return Outbox(
            store=store,
            bot=bot,  # type: ignore[arg-type]
            settings=s,
            clock=clock,
            health=health,
            metrics=metrics,
            controls=Controls(store=store, clock=clock),
        )

    store = Store(path=store_path)  # type: ignore[arg-type]
    store.open()
    async with open_bot(patient) as bot:
        outbox = outbox_on(store, bot, patient)
        for i in range(25):  # a backlog big enough for three messages (blocks of ~470 characters)
            outbox.submit(burst_signal(i, clock.time(), pad=380))
        async with running(outbox, health):
            await drive(outbox, lambda: len(sim.sent) == 1)
            sim.inject(Fault(FaultKind.HANG), chat_id=GROUP_CHAT)
            clock.advance(3.5)  # the group's pacing lets the second message go
            await sim.wait_for(lambda: sim.hanging == 1)
        store.close()  # killed while Telegram holds the second message

    first_part = {i for i in range(25) if carrying(sim, i)}
    assert 0 < len(first_part) < 25
    store = Store(path=store_path)  # type: ignore[arg-type]
    store.open()
    async with open_bot(settings) as bot:
        outbox = outbox_on(store, bot, settings)
        async with running(outbox, health):
            await drive(outbox, lambda: outbox.stats().pending == 0, step=0.5)
            await drive(outbox, seconds=30.0)
    states = {r[0] for r in store.db.execute("SELECT state FROM outbox WHERE dedupe_key LIKE 'signal:%'")}
    store.close()
    assert [len(carrying(sim, i)) for i in range(25)] == [1] * 25  # every signal once
    assert len(sim.sent) == 4  # 25 blocks of ~470 characters: four messages under 4096
    assert states == {"sent"}


async def test_alert_latency_is_exported_per_strategy_and_kind_and_its_p99_shown_in_the_heartbeat(
    sim: TelegramSim,
    make_outbox: OutboxFactory,
    clock: ManualClock,
    health: Health,
    metrics: Metrics,
    drive: Drive,
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(
            burst_signal(1, clock.time(), chat=ALERT_CHAT, lag=2.0)
        )  # event 2 s before the decision
        await drive(outbox, lambda: len(sim.sent) == 1)
        for i in range(10, 13):  # three at once for a group: coalesced
            outbox.submit(burst_signal(i, clock.time(), lag=7.5))
        await drive(outbox, lambda: outbox.stats().pending == 0)

    def sample(name: str, kind: str) -> float:
        value = metrics.registry.get_sample_value(name, {"strategy": "liquidation", "kind": kind})
        return value or 0.0

    assert sample("signalbots_alert_latency_seconds_count", "single") == 1
    assert sample("signalbots_alert_latency_seconds_sum", "single") == 2.0
    assert sample("signalbots_alert_latency_seconds_count", "coalesced") == 3
    assert sample("signalbots_alert_latency_seconds_sum", "coalesced") == 3 * 7.5
    assert b"signalbots_alert_latency_seconds_bucket" in metrics.render()
    assert health.snapshot()["outbox"]["latency_1h"] == {"p50": 7.5, "p99": 7.5, "alerts": 4}
    assert "alert latency p50 7.5s · p99 7.5s (1h)" in compose_heartbeat(health)

    clock.advance(3601.0)  # an hour later the window is empty again
    assert "latency_1h" not in health.snapshot()["outbox"]
    assert "alert latency" not in compose_heartbeat(health)


async def test_only_the_strongest_signals_of_a_coalesced_message_want_their_chart(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        outbox.submit(burst_signal(0, clock.time(), chat=ALERT_CHAT))
        await drive(outbox, lambda: len(sim.sent) == 1)
        for i in range(1, 7):  # strengths 1..6
            outbox.submit(burst_signal(i, clock.time()))
        await drive(outbox, lambda: outbox.stats().pending == 0)
    assert outbox.wants_chart("signal:0")  # sent alone
    assert [i for i in range(1, 7) if outbox.wants_chart(f"signal:{i}")] == [4, 5, 6]  # coalesce_charts = 3


async def test_a_coalesced_message_that_waited_out_an_outage_says_which_signals_expired(
    sim: TelegramSim, make_outbox: OutboxFactory, clock: ManualClock, health: Health, drive: Drive
) -> None:
    outbox = make_outbox()
    async with running(outbox, health):
        sim.inject(Fault(FaultKind.DROP), times=None)
        decided = clock.time()
        for i in range(3):
            outbox.submit(burst_signal(i, decided))
        short = burst_signal(3, decided)
        assert short.signal is not None
        outbox.submit(replace(short, signal=replace(short.signal, expires_at=decided + 600)))  # valid 10 min
        await drive(outbox, seconds=1200.0, step=1.0)  # Telegram is down for 20 minutes
        sim.clear_faults()
        await drive(outbox, lambda: outbox.stats().pending == 0)
    [message] = sim.sent
    assert "4 signals at once" in message.text
    assert message.text.count("⏱ <i>20 min late</i>") == 3  # still valid, said late
    assert "⌛ <i>expired undelivered</i> · 🟢 LONG <b>SYM03/USDT</b>" in message.text
    assert "Entry <code>3.00</code>" not in message.text  # the expired one shows no levels
