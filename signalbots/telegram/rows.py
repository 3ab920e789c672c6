"""The outbox table: a message committed as a row, a row as the delivery loop reads it, the backlog counts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from signalbots.notifier import Kind, Message


def insert(
    db: sqlite3.Connection, message: Message, *, chat: int, silent: bool, held: bool, now: float
) -> bool:
    """Commit ``message`` for ``chat``; False when its dedupe key is taken.

    A heartbeat replaces the older heartbeats to the chat not yet sent (state, not history): they become
    ``superseded`` and the new one counts them in ``skipped``, to say so when it goes out.
    """
    ref = message.signal
    # A savepoint, not BEGIN: the desk submits inside its own transaction.
    db.execute("SAVEPOINT outbox_submit")
    try:
        older = []
        if message.kind == Kind.HEARTBEAT:
            older = db.execute(
                "SELECT id, skipped FROM outbox WHERE kind = 'heartbeat' AND chat_id = ? "
                "AND state = 'pending' AND sent_upto = 0",
                (chat,),
            ).fetchall()
        cur = db.execute(
            "INSERT INTO outbox (dedupe_key, kind, chat_id, text, silent, reply_to_key, state, created, "
            "strategy, exchange, symbol, ref_price, event_time, expires, strength, compact, skipped, photo) "
            f"VALUES ({', '.join('?' * 18)}) ON CONFLICT(dedupe_key) DO NOTHING",
            (
                message.dedupe_key,
                str(message.kind),
                chat,
                message.text,
                int(silent),
                message.reply_to_key,
                "held" if held else "pending",
                now,
                message.strategy,
                ref and ref.exchange,
                ref and ref.symbol,
                ref and ref.price,
                ref and ref.event_time,
                ref and ref.expires_at,
                ref and ref.strength,
                ref and ref.compact,
                sum(1 + r["skipped"] for r in older),
                message.photo,
            ),
        )
        if cur.rowcount == 1 and older:
            db.executemany(
                "UPDATE outbox SET state = 'superseded' WHERE id = ? AND state = 'pending'",
                [(r["id"],) for r in older],
            )
    except BaseException:
        db.execute("ROLLBACK TO outbox_submit")
        db.execute("RELEASE outbox_submit")
        raise
    db.execute("RELEASE outbox_submit")
    return cur.rowcount == 1


def photo(db: sqlite3.Connection, row_id: int) -> bytes | None:
    """A chart row's PNG, read only when it is sent (the delivery loop's rows do not carry it)."""
    r = db.execute("SELECT photo FROM outbox WHERE id = ?", (row_id,)).fetchone()
    return bytes(r["photo"]) if r is not None and r["photo"] is not None else None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int  # pending or sending
    oldest_age: float | None  # seconds since the oldest pending message was committed
    dead: int
    held: int  # alerts held while muted


COLUMNS = (
    "id, dedupe_key, kind, chat_id, text, silent, reply_to_key, attempts, not_before, sent_upto, part_limit, "
    "plain, created, exchange, symbol, ref_price, expires, skipped, strategy, event_time"
)


@dataclass(frozen=True, slots=True)
class Row:
    """An outbox row as the delivery loop reads it."""

    id: int
    dedupe_key: str
    kind: str
    chat_id: int
    text: str
    silent: bool
    reply_to_key: str | None
    attempts: int
    not_before: float
    sent_upto: int
    part_limit: int
    plain: bool
    created: float
    exchange: str | None
    symbol: str | None
    ref_price: float | None
    expires: float | None
    skipped: int
    strategy: str | None
    event_time: float | None

    @classmethod
    def of(cls, r: Any) -> Row:
        return cls(
            r["id"],
            r["dedupe_key"],
            r["kind"],
            r["chat_id"],
            r["text"],
            bool(r["silent"]),
            r["reply_to_key"],
            r["attempts"],
            r["not_before"],
            r["sent_upto"],
            r["part_limit"],
            bool(r["plain"]),
            r["created"],
            r["exchange"],
            r["symbol"],
            r["ref_price"],
            r["expires"],
            r["skipped"],
            r["strategy"],
            r["event_time"],
        )
