"""The outbox table as the delivery loop reads it: a row, and the backlog counts health shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
