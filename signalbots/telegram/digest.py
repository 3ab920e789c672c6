"""Alerts held while muted, released as one digest message per chat when the mute ends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from signalbots.notifier import Kind
from signalbots.store import Store


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def release_held(store: Store, *, now: float, silent: bool) -> tuple[int, int]:
    """Replace the held rows by one pending digest per chat, in one transaction; (chats, rows) released."""
    rows = store.db.execute(
        "SELECT id, chat_id, text, created FROM outbox WHERE state = 'held' ORDER BY id"
    ).fetchall()
    if not rows:
        return 0, 0
    by_chat: dict[int, list[Any]] = {}
    for r in rows:
        by_chat.setdefault(r["chat_id"], []).append(r)
    with store.transaction() as db:
        for chat, held in by_chat.items():
            header = (
                f"🔕 <b>While muted</b> — {len(held)} alert(s), "
                f"{_hhmm(held[0]['created'])}–{_hhmm(held[-1]['created'])} UTC"
            )
            entries = [f"<i>⏰ {_hhmm(r['created'])} UTC</i>\n{r['text']}" for r in held]
            db.execute(
                "INSERT INTO outbox (dedupe_key, kind, chat_id, text, silent, state, created) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT(dedupe_key) DO NOTHING",
                (
                    f"digest:{chat}:{held[0]['id']}-{held[-1]['id']}",
                    str(Kind.DIGEST),
                    chat,
                    "\n\n".join([header, *entries]),
                    int(silent),
                    now,
                ),
            )
            db.executemany(
                "UPDATE outbox SET state = 'sent', sent = ? WHERE id = ?", [(now, r["id"]) for r in held]
            )
            db.executemany(  # the signals a held coalesced message carried
                "UPDATE outbox SET state = 'sent', sent = ? WHERE carrier = ? AND state = 'carried'",
                [(now, r["id"]) for r in held],
            )
    return len(by_chat), len(rows)
