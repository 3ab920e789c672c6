"""A burst of signals for one chat as one message (or as few as the 4096-character limit needs).

When more signals wait for a chat than its pacing sends within a few seconds (``telegram.coalesce_group``
for a group, ``coalesce_private`` for a private chat), the outbox replaces the waiting rows by *carrier*
rows: one compact block per signal, strongest first, packed into as few messages as the limit allows. Each
signal keeps its own row (state ``carried``, ``carrier`` = the message that delivers it, ``rank`` = its place
strongest-first); when the carrier is sent, its signals become ``sent`` with the carrier's ``message_id``,
so an outcome reply answers the message that carried its signal. The swap is one transaction: a crash
leaves either the single rows or the carriers, never both and never neither.

Charts under a burst: only the strongest ``coalesce_charts`` of a coalesced message get their chart
(``Outbox.wants_chart``), so charts never crowd out signals.

Pure functions here; the outbox does the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from signalbots.settings import TelegramSettings
from signalbots.telegram.text import length
from signalbots.telegram.timeliness import LATE_AFTER, how_long

_BUDGET = 3900  # HTML source length of a carrier's blocks (its header fits in the rest of 4096)


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
