"""A burst of signals for one chat as one message (or as few as the 4096-character limit needs).

When more signals wait for a chat than its pacing sends within a few seconds (``telegram.coalesce_group``
for a group, ``coalesce_private`` for a private chat), the outbox replaces the waiting rows by *carrier*
rows: one compact block per signal, strongest first, packed into as few messages as the limit allows. Each
signal keeps its own row (state ``carried``, ``carrier`` = the message that delivers it, ``rank`` = its place
strongest-first); when the carrier is sent, its signals become ``sent`` with the carrier's ``message_id``,
so an outcome reply answers the message that carried its signal. The swap is one transaction: a crash
leaves either the single rows or the carriers, never both and never neither.

Outcome replies coalesce the same way where it makes sense: replies whose signals went out in the same
message (a coalesced one) become one reply to that message, so every outcome still answers the message that
carried its signal.

Charts under a burst: only the strongest ``coalesce_charts`` of a coalesced message get their chart
(``Outbox.wants_chart``), and they wait until the burst is over (``Outbox``), so charts never crowd out
signals.

``coalesce_backlog`` does the swap; the rest are pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from signalbots.settings import TelegramSettings
from signalbots.store import Store
from signalbots.telegram.text import MAX_LENGTH, length
from signalbots.telegram.timeliness import LATE_AFTER, how_long

_BUDGET = 3900  # HTML source length of a carrier's blocks (its header fits in the rest of 4096)
_MEMBER = "id, text, compact, strength, created, expires, silent"


@dataclass(frozen=True, slots=True)
class Member:
    """A waiting signal row."""

    id: int
    text: str  # the full message (its first line is the headline)
    compact: str  # the signal as one block
    strength: float
    created: float  # when it was decided
    expires: float | None
    silent: bool


def threshold(chat: int, settings: TelegramSettings) -> int:
    """Signals waiting for ``chat`` from which they go out coalesced (0: never)."""
    return settings.coalesce_group if chat < 0 else settings.coalesce_private


def strongest_first(members: list[Member]) -> list[Member]:
    return sorted(members, key=lambda m: (-m.strength, m.id))


def block(m: Member, now: float) -> str:
    """One signal's block as it goes out now: late said, expired ones reduced to their headline."""
    if m.expires is not None and now >= m.expires:
        return f"⌛ <i>expired undelivered</i> · {m.text.split(chr(10), 1)[0]}"
    if now - m.created > LATE_AFTER:
        return f"{m.compact}\n⏱ <i>{how_long(now - m.created)} late</i>"
    return m.compact


def pack(blocks: list[str], budget: int = _BUDGET) -> list[list[int]]:
    """Indexes of ``blocks`` per message, in order, each message within ``budget`` (a block never splits)."""
    parts: list[list[int]] = []
    size = budget + 1
    for i, b in enumerate(blocks):
        n = length(b) + 2  # the blank line between blocks
        if size + n > budget and (not parts or parts[-1]):
            parts.append([])
            size = 0
        parts[-1].append(i)
        size += n
    return parts


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def compose(blocks: list[str], *, total: int, first: float, last: float, part: int, parts: int) -> str:
    """A carrier's text: a header for the burst, then its blocks."""
    span = _hhmm(first) if _hhmm(first) == _hhmm(last) else f"{_hhmm(first)}–{_hhmm(last)}"
    header = f"⚡ <b>{total} signals at once</b> · {span} UTC · strongest first"
    if parts > 1:
        header += f" · part {part}/{parts}"
    return "\n\n".join([header, *blocks])


def coalesce_backlog(store: Store, *, chat: int, limit: int, now: float) -> tuple[int, int] | None:
    """When at least ``limit`` signals wait for ``chat``, swap them for carrier messages in one transaction;
    returns (signals, messages), or None below the threshold.

    Signals already packed into a carrier that has not gone out yet (it waited for its slot, a
    ``retry_after`` or an outage) are packed again with the newcomers, so every message is as full as the
    limit allows instead of one small message per wave of the burst."""
    if limit <= 0:
        return None
    db = store.db
    singles = db.execute(
        f"SELECT {_MEMBER} FROM outbox WHERE chat_id = ? "
        "AND state = 'pending' AND kind = 'signal' AND carrier IS NULL AND compact IS NOT NULL "
        "AND sent_upto = 0 AND plain = 0 ORDER BY id",
        (chat,),
    ).fetchall()
    if not singles:
        return None
    waiting = db.execute(  # carriers not yet (partly) sent, and untouched by a fallback
        "SELECT id, not_before FROM outbox WHERE chat_id = ? AND state = 'pending' AND kind = 'signal' "
        "AND dedupe_key LIKE 'coalesced:%' AND sent_upto = 0 AND plain = 0 AND part_limit >= ?",
        (chat, MAX_LENGTH),
    ).fetchall()
    carried = []
    if waiting:
        carried = db.execute(
            f"SELECT {_MEMBER} FROM outbox WHERE state = 'carried' AND carrier IN "
            f"({', '.join('?' * len(waiting))})",
            [w["id"] for w in waiting],
        ).fetchall()
    rows = sorted([*singles, *carried], key=lambda r: r["id"])
    if len(rows) < limit:
        return None
    members = strongest_first([_member(r) for r in rows])
    blocks = [block(m, now) for m in members]
    parts = pack(blocks)
    first_id = rows[0]["id"]
    first, last = min(m.created for m in members), max(m.created for m in members)
    not_before = max((w["not_before"] for w in waiting), default=0.0)  # a retry_after still holds
    with store.transaction() as db:
        db.executemany("DELETE FROM outbox WHERE id = ?", [(w["id"],) for w in waiting])
        rank = 0
        for n, part in enumerate(parts, 1):
            text = compose(
                [blocks[i] for i in part],
                total=len(members),
                first=first,
                last=last,
                part=n,
                parts=len(parts),
            )
            cur = db.execute(
                "INSERT INTO outbox (dedupe_key, kind, chat_id, text, silent, state, created, seq, "
                "not_before) VALUES (?, 'signal', ?, ?, ?, 'pending', ?, ?, ?)",
                (
                    f"coalesced:{chat}:{first_id}:{rows[-1]['id']}:{n}",
                    chat,
                    text,
                    int(all(members[i].silent for i in part)),
                    last,
                    first_id - 1 + n / (len(parts) + 1),  # where the first signal stood, parts in order
                    not_before,
                ),
            )
            for i in part:
                db.execute(
                    "UPDATE outbox SET state = 'carried', carrier = ?, rank = ? WHERE id = ?",
                    (cur.lastrowid, rank, members[i].id),
                )
                rank += 1
    return len(members), len(parts)


def refresh(store: Store, *, carrier: int, text: str, now: float) -> str | None:
    """A coalesced message's text as it goes out now (its blocks say late or expired as of ``now``: it may
    have waited out an outage); None when ``carrier`` carries no signals."""
    rows = store.db.execute(
        f"SELECT {_MEMBER} FROM outbox WHERE carrier = ? AND kind = 'signal' ORDER BY rank",
        (carrier,),
    ).fetchall()
    if not rows:
        return None
    header = text.split("\n", 1)[0]
    return "\n\n".join([header, *(block(_member(r), now) for r in rows)])


def _member(r: Any) -> Member:
    return Member(
        r["id"], r["text"], r["compact"], r["strength"] or 0.0, r["created"], r["expires"], bool(r["silent"])
    )


def coalesce_replies(store: Store, *, chat: int, limit: int) -> tuple[int, int] | None:
    """When at least ``limit`` outcome replies wait for ``chat``, those answering the same message become one
    reply to it (one transaction); returns (replies, messages), or None when nothing was merged."""
    if limit <= 0:
        return None
    rows = store.db.execute(
        "SELECT o.id, o.text, o.created, o.silent, o.reply_to_key, s.message_id AS target FROM outbox o "
        "JOIN outbox s ON s.dedupe_key = o.reply_to_key AND s.chat_id = o.chat_id "
        "WHERE o.chat_id = ? AND o.state = 'pending' AND o.kind = 'outcome' AND o.carrier IS NULL "
        "AND o.sent_upto = 0 AND o.plain = 0 AND s.message_id IS NOT NULL ORDER BY o.id",
        (chat,),
    ).fetchall()
    if len(rows) < limit:
        return None
    by_target: dict[int, list[Any]] = {}
    for r in rows:
        by_target.setdefault(r["target"], []).append(r)
    groups = [g for g in by_target.values() if len(g) > 1]
    if not groups:
        return None
    with store.transaction() as db:
        for group in groups:
            texts = [r["text"] for r in group]
            for n, part in enumerate(pack(texts), 1):
                members = [group[i] for i in part]
                text = "\n\n".join([f"📬 <b>{len(members)} updates</b>", *(texts[i] for i in part)])
                cur = db.execute(
                    "INSERT INTO outbox (dedupe_key, kind, chat_id, text, silent, reply_to_key, state, "
                    "created, seq) VALUES (?, 'outcome', ?, ?, ?, ?, 'pending', ?, ?)",
                    (
                        f"coalesced:{chat}:{members[0]['id']}:{n}",
                        chat,
                        text,
                        int(all(m["silent"] for m in members)),
                        members[0]["reply_to_key"],
                        max(m["created"] for m in members),
                        members[0]["id"] - 1 + n / 100,  # where its first reply stood
                    ),
                )
                db.executemany(
                    "UPDATE outbox SET state = 'carried', carrier = ? WHERE id = ?",
                    [(cur.lastrowid, m["id"]) for m in members],
                )
    return sum(len(g) for g in groups), len(groups)
