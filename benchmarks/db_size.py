"""The state database after a simulated year of default traffic, with the outbox's retention prune.

Traffic per day (default settings, a busy market): 24 hourly heartbeats, ``SIGNALS_PER_DAY`` signals each with
a target-1 reply and an outcome reply, one daily summary, and a start/stop notice pair a week. Messages go
through the real ``Outbox.submit`` (same columns as in production; no Telegram: each is marked sent as
Telegram would), signals are stored as the desk stores them, and the outbox prunes once a day on a manual
clock. Prints the file size at the end of each quarter and the rows kept.

Run: ``.venv/bin/python benchmarks/db_size.py``
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

import structlog
from pydantic import SecretStr

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, SignalRef
from signalbots.settings import TelegramSettings
from signalbots.signals import render
from signalbots.signals.desk import candidate_json
from signalbots.signals.model import Candidate, Direction, Signal
from signalbots.store import Store
from signalbots.telegram.bot import open_bot
from signalbots.telegram.outbox import Outbox

SIGNALS_PER_DAY = int(sys.argv[1]) if len(sys.argv) > 1 else 20  # busy: 20 a day across three strategies
DAYS = 365
_HEARTBEAT = (
    "💚 signalbots — health check\n⏱ Uptime 12d 4h · ⏰ 2026-01-01 00:00 UTC\n"
    "✅ liquidation  RUNNING · 🔄 events 1,241,220 · signals 2 · ⚠️ errors 0\n"
    "✅ funding      RUNNING · 🔄 cycles 13,500 · signals 1 · ⚠️ errors 2\n"
    "✅ volume       RUNNING · 🔄 cycles 2,700 · signals 0 · ⚠️ errors 3\n"
    "🏦 binanceusdm markets 412 · feeds 4 · last data 1s\n🏦 bybit markets 380 · feeds 3 · last data 2s\n"
    "🏦 okx markets 240 · feeds 3 · last data 1s\n📨 outbox: 0 pending\nRecent errors:\n"
    "• [14:20:15] funding · binanceusdm fetch_funding_rates: request timeout\n"
    "• [14:35:22] volume · mexc: rate limited (retry after 30 s)"
)


def _candidate(day: int, i: int, now: float) -> Candidate:
    entry = 100.0 + i
    return Candidate(
        strategy=("liquidation", "funding", "volume")[i % 3],
        kind=("cascade", "extreme", "spike")[i % 3],
        exchange="binanceusdm",
        symbol=f"SYM{i}/USDT:USDT",
        direction=Direction.LONG,
        entry=entry,
        stop=entry * 0.98,
        targets=(entry * 1.02, entry * 1.04),
        time_ms=int(now * 1000),
        expiry_ms=int((now + 86400) * 1000),
        dedupe_key=f"d{day}:{i}",
        facts={"window_notional_usd": 5.2e6, "prints": 14, "window_s": 240, "largest_print_usd": 1.1e6},
        notes=("Binance sends at most one liquidation per symbol per second: sums are a lower bound",),
        strength=float(i),
    )


def _store_signal(store: Store, c: Candidate) -> int:
    """As the desk stores it, already resolved at target 2 (a year of signals are mostly resolved)."""
    cur = store.db.execute(
        "INSERT INTO signals (dedupe_key, strategy, exchange, symbol, direction, candidate, created_ms, "
        "expiry_ms, status, resolved_ms, exit_price, r_multiple, t1_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'target2', ?, ?, 2.0, ?)",
        (
            c.dedupe_key,
            c.strategy,
            c.exchange,
            c.symbol,
            c.direction.value,
            candidate_json(c),
            c.time_ms,
            c.expiry_ms,
            c.time_ms + 3_600_000,
            c.targets[1],
            c.time_ms + 1_800_000,
        ),
    )
    return cur.lastrowid or 0


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    clock = ManualClock(start=1_767_225_600.0)  # 2026-01-01
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signalbots.db"
        settings = TelegramSettings(
            bot_token=SecretStr("123456789:AAHdbSIZEbenchmark_token_abcdefghij"),
            api_url="http://127.0.0.1:9",  # never contacted
            alert_chat_id=1,
            admin_chat_id=2,
        )
        async with Store(path=path) as store, open_bot(settings) as bot:
            outbox = Outbox(
                store=store,
                bot=bot,
                settings=settings,
                clock=clock,
                health=Health(clock=clock),
                metrics=Metrics(),
                controls=Controls(store=store, clock=clock),
            )
            message_id = 0

            def deliver() -> None:
                nonlocal message_id
                for (row_id,) in store.db.execute("SELECT id FROM outbox WHERE state = 'pending'").fetchall():
                    message_id += 1
                    store.db.execute(
                        "UPDATE outbox SET state = 'sent', sent = ?, message_id = ?, "
                        "sent_upto = length(text) WHERE id = ?",
                        (clock.time(), message_id, row_id),
                    )

            async with outbox:
                for day in range(DAYS):
                    for hour in range(24):
                        now = clock.time()
                        outbox.submit(
                            Message(kind=Kind.HEARTBEAT, text=_HEARTBEAT, dedupe_key=f"heartbeat:{int(now)}")
                        )
                        if hour < SIGNALS_PER_DAY:
                            for c in (_candidate(day, hour, now),):
                                sig = Signal(id=_store_signal(store, c), candidate=c)
                                key = f"signal:{c.dedupe_key}"
                                outbox.submit(
                                    Message(
                                        kind=Kind.SIGNAL,
                                        text=render.signal(sig),
                                        dedupe_key=key,
                                        strategy=c.strategy,
                                        signal=SignalRef(
                                            exchange=c.exchange,
                                            symbol=c.symbol,
                                            price=c.entry,
                                            event_time=now,
                                            expires_at=now + 86400,
                                            strength=c.strength,
                                            compact=render.compact(sig),
                                        ),
                                    )
                                )
                                for reply in ("target1", "outcome"):
                                    outbox.submit(
                                        Message(
                                            kind=Kind.OUTCOME,
                                            text=render.target1(sig, c.time_ms + 1_800_000),
                                            dedupe_key=f"{reply}:{c.dedupe_key}",
                                            reply_to_key=key,
                                        )
                                    )
                        if hour == 0:
                            outbox.submit(
                                Message(kind=Kind.DIGEST, text=_HEARTBEAT, dedupe_key=f"summary:{day}")
                            )
                            if day % 7 == 0:
                                for what in ("startup", "shutdown"):
                                    outbox.submit(
                                        Message(
                                            kind=Kind.NOTICE,
                                            text="🚀 signalbots started",
                                            dedupe_key=f"{what}:{day}",
                                        )
                                    )
                        deliver()
                        clock.advance(3600.0)
                    outbox.prune()
                    if (day + 1) % 91 == 0 or day + 1 == DAYS:
                        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                        rows = store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                        signals = store.db.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
                        size = path.stat().st_size
                        print(
                            f"day {day + 1:3d}: {size / 1e6:6.2f} MB  "
                            f"outbox rows {rows:5d}  signals {signals:5d}"
                        )
                store.db.execute("VACUUM")
                print(f"after VACUUM: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    asyncio.run(main())
