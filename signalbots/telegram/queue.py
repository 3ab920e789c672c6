"""The outbox table as the delivery loop sees it: every statement the worker runs, in one place.

Rows move ``pending`` → ``sending`` → ``sent`` (or ``dead``); ``held`` while muted, ``carried`` inside a
coalesced message, ``superseded`` when replaced before sending. Committing a new message is ``rows.insert``;
coalescing, the mute digest and retention keep their own statements beside their logic
(``coalesce``, ``digest``, ``retention``). Nothing here decides; it reads and writes rows.
"""

from __future__ import annotations

from typing import Any

from signalbots.notifier import Kind, Message
from signalbots.store import Store
from signalbots.telegram import rows
from signalbots.telegram.rows import COLUMNS, OutboxStats, Row

# Per chat, what matters goes first: signals, then outcome replies, then admin messages, then charts.
# Within one class, commit order (a coalesced row stands where its first signal stood).
_PRIORITY = (
    f"CASE kind WHEN '{Kind.SIGNAL}' THEN 0 WHEN '{Kind.OUTCOME}' THEN 1 "
    f"WHEN '{Kind.CHART}' THEN 3 ELSE 2 END"
)


class Queue:
    """The ``outbox`` table of ``store``."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        return self._store

    def resend_interrupted(self) -> int:
        """Rows caught mid-send by the last stop go out again; returns how many."""
        return self._store.db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'").rowcount

    def insert(self, message: Message, *, chat: int, silent: bool, held: bool, now: float) -> bool:
        return rows.insert(self._store.db, message, chat=chat, silent=silent, held=held, now=now)

    def exists(self, dedupe_key: str) -> bool:
        r = self._store.db.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)).fetchone()
        return r is not None

    def write_back(
        self,
        message: Message,
        *,
        chat: int,
        silent: bool,
        created: float,
        message_id: int | None,
        sent: float | None,
    ) -> None:
        """A message kept in memory while the disk was full, now committed: ``sent`` when it went out
        meanwhile (with its message id), else ``pending``. One transaction."""
        with self._store.transaction() as db:
            rows.insert(db, message, chat=chat, silent=silent, held=False, now=created)
            if message_id is not None:
                db.execute(
                    "UPDATE outbox SET state = 'sent', message_id = ?, sent = ?, sent_upto = LENGTH(text), "
                    "photo = NULL WHERE dedupe_key = ?",
                    (message_id, sent, message.dedupe_key),
                )

    def stats(self, now: float) -> OutboxStats:
        counts = {"pending": 0, "sending": 0, "dead": 0, "held": 0}
        oldest: float | None = None
        for r in self._store.db.execute(
            "SELECT state, COUNT(*) AS n, MIN(created) AS oldest FROM outbox "
            "WHERE state IN ('pending', 'sending', 'dead', 'held') GROUP BY state"
        ):
            counts[r["state"]] = r["n"]
            if r["state"] in ("pending", "sending") and (oldest is None or r["oldest"] < oldest):
                oldest = r["oldest"]
        age = None if oldest is None else max(0.0, now - oldest)
        return OutboxStats(counts["pending"] + counts["sending"], age, counts["dead"], counts["held"])

    def rank(self, dedupe_key: str) -> int | None:
        """A signal's place (strongest first) in the coalesced message that carried it; None otherwise."""
        r = self._store.db.execute("SELECT rank FROM outbox WHERE dedupe_key = ?", (dedupe_key,)).fetchone()
        return None if r is None or r["rank"] is None else int(r["rank"])

    def created(self, dedupe_key: str) -> float | None:
        r = self._store.db.execute(
            "SELECT created FROM outbox WHERE dedupe_key = ?", (dedupe_key,)
        ).fetchone()
        return None if r is None else float(r["created"])

    def dead_since(self, since: float) -> tuple[int, int, str] | None:
        """(dead letters since ``since``, the last one's chat, its error), or None when there are none."""
        r = self._store.db.execute(
            "SELECT COUNT(*) AS n, MAX(id) AS last FROM outbox WHERE state = 'dead' AND failed >= ?",
            (since,),
        ).fetchone()
        if not r["n"]:
            return None
        last = self._store.db.execute(
            "SELECT chat_id, error FROM outbox WHERE id = ?", (r["last"],)
        ).fetchone()
        return int(r["n"]), int(last["chat_id"]), str(last["error"])

    def active_chats(self) -> list[int]:
        return [
            r["chat_id"]
            for r in self._store.db.execute(
                "SELECT DISTINCT chat_id FROM outbox WHERE state IN ('pending', 'sending')"
            )
        ]

    def head(self, chat: int) -> Row | None:
        """The row ``chat`` gets next: the most important kind first, then commit order."""
        r = self._store.db.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending') "
            f"ORDER BY {_PRIORITY}, COALESCE(seq, id) LIMIT 1",
            (chat,),
        ).fetchone()
        return None if r is None else Row.of(r)

    def last_signal(self, chat: int) -> float | None:
        """When the newest signal for ``chat`` was committed (sent or not)."""
        r = self._store.db.execute(
            "SELECT MAX(created) AS t FROM outbox WHERE chat_id = ? AND kind = 'signal' "
            "AND dedupe_key NOT LIKE 'coalesced:%'",
            (chat,),
        ).fetchone()
        return None if r is None or r["t"] is None else float(r["t"])

    def update(self, row_id: int, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self._store.db.execute(f"UPDATE outbox SET {assignments} WHERE id = ?", (*columns.values(), row_id))

    def claim(self, row_id: int) -> bool:
        """``pending`` → ``sending``; False when the row was superseded meanwhile."""
        return bool(
            self._store.db.execute(
                "UPDATE outbox SET state = 'sending' WHERE id = ? AND state = 'pending'", (row_id,)
            ).rowcount
        )

    def photo(self, row_id: int) -> bytes | None:
        return rows.photo(self._store.db, row_id)

    def reply_target(self, dedupe_key: str) -> tuple[int, int] | None:
        """(chat, Telegram message id) of the message ``dedupe_key``, once it was sent."""
        r = self._store.db.execute(
            "SELECT chat_id, message_id FROM outbox WHERE dedupe_key = ?", (dedupe_key,)
        ).fetchone()
        if r is None or r["message_id"] is None:
            return None
        return int(r["chat_id"]), int(r["message_id"])

    def record_sent(
        self, row_id: int, *, done: bool, text: str, upto: int, message_id: int, now: float
    ) -> None:
        self._store.db.execute(
            "UPDATE outbox SET state = ?, text = ?, sent_upto = ?, message_id = COALESCE(message_id, ?), "
            "sent = ?, error = NULL, photo = NULL WHERE id = ?",  # a chart's picture is not kept
            ("sent" if done else "pending", text, upto, message_id, now, row_id),
        )

    def deliver_carried(self, carrier: int, *, now: float) -> list[tuple[str | None, float | None]]:
        """The signals ``carrier`` carried become sent with it; returns their (strategy, event time)."""
        db = self._store.db
        members = db.execute(
            "SELECT strategy, event_time FROM outbox WHERE carrier = ? AND state = 'carried'", (carrier,)
        ).fetchall()
        if members:
            db.execute(
                "UPDATE outbox SET state = 'sent', sent = ?, message_id = (SELECT message_id FROM outbox "
                "WHERE id = ?) WHERE carrier = ? AND state = 'carried'",
                (now, carrier, carrier),
            )
        return [(m["strategy"], m["event_time"]) for m in members]

    def kill_carried(self, carrier: int, *, reason: str, now: float) -> None:
        self._store.db.execute(
            "UPDATE outbox SET state = 'dead', error = ?, failed = ? WHERE carrier = ? AND state = 'carried'",
            (reason, now, carrier),
        )

    def migrate(self, old_chat: int, new_chat: int) -> None:
        """Every undelivered row of ``old_chat`` now goes to ``new_chat`` (a group became a supergroup)."""
        self._store.db.execute(
            "UPDATE outbox SET chat_id = ?, state = CASE state WHEN 'sending' THEN 'pending' ELSE state END "
            "WHERE chat_id = ? AND state IN ('pending', 'sending', 'held')",
            (new_chat, old_chat),
        )
