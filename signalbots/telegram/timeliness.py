"""What a message says about its own timing when it could not be delivered on time.

A signal is a trade for minutes: one delivered more than ``LATE_AFTER`` seconds after it was decided says how
late it is (and how far the price moved since, when the price is known); one delivered after its expiry is
no longer a trade and says it expired undelivered instead of presenting entry, stop and targets. A heartbeat
that collapsed older ones (superseded while Telegram was unreachable) says how many were skipped.

Pure functions of the row's facts and the time; the texts are Telegram HTML with every value escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

LATE_AFTER = 60.0  # seconds after the decision: below this, delivery is on time
_MINUS = "\u2212"


@dataclass(frozen=True, slots=True)
class Timing:
    """The facts of one outbox row that lateness is judged on (epoch seconds)."""

    kind: str
    decided: float  # when the message was committed (the signal decided)
    expires: float | None = None
    symbol: str | None = None
    price: float | None = None  # the signal's entry
    price_now: float | None = None  # the last price known now, if any


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def how_long(seconds: float) -> str:
    """65 → ``1 min``; 1260 → ``21 min``; 7500 → ``2 h 5 min``; 90000 → ``1 d 1 h``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def expired(t: Timing, now: float) -> bool:
    return t.kind == "signal" and t.expires is not None and now >= t.expires


def late_note(t: Timing, now: float) -> str | None:
    """The line that opens a late alert, or None when it is on time (or not an alert)."""
    if t.kind not in ("signal", "outcome"):
        return None
    late = now - t.decided
    if late <= LATE_AFTER:
        return None
    note = (
        f"⏱ <b>Delivered {how_long(late)} late</b> (decided {_hhmm(t.decided)} UTC; Telegram was unreachable)"
    )
    if t.kind == "signal" and t.price and t.price_now and t.symbol:
        move = (t.price_now / t.price - 1.0) * 100.0
        sign = "+" if move > 0 else _MINUS if move < 0 else ""
        arrow = "📈" if move > 0 else "📉"
        note += f"\n{arrow} {escape(t.symbol)} moved {sign}{abs(move):.2f}% since: now {t.price_now:.6g}"
    return note


def expired_text(t: Timing, headline: str, now: float) -> str:
    """Replaces a signal delivered after its expiry: what it was, when, and that it is not a trade."""
    expires = t.expires if t.expires is not None else now
    return (
        f"⌛ <b>Expired undelivered</b> — not a live trade\n"
        f"{headline}\n"
        f"Decided {_hhmm(t.decided)} UTC, expired {_hhmm(expires)} UTC "
        f"({how_long(now - expires)} ago) while Telegram was unreachable."
    )


def skipped_note(skipped: int) -> str:
    """The line a heartbeat carries for the older heartbeats it replaced."""
    return f"⏭ {skipped} health check{'s' if skipped != 1 else ''} skipped during the outage"
