"""Messages for Telegram, and the notifier that takes them.

``Notifier.submit`` is the one way out: the outbox (``telegram/outbox.py``) with a token, the
``DryRunNotifier`` (log) without one. Submitting is synchronous and durable once it returns: a message is
committed before anything is sent, and the same ``dedupe_key`` is stored and delivered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog


class Kind(StrEnum):
    SIGNAL = "signal"
    OUTCOME = "outcome"
    HEARTBEAT = "heartbeat"
    NOTICE = "notice"
    ERROR = "error"
    DIGEST = "digest"
    CHART = "chart"  # a PNG replying to the signal it illustrates


# to the alert chat; the rest to the admin chat
ALERT_KINDS = frozenset({Kind.SIGNAL, Kind.OUTCOME, Kind.CHART})


@dataclass(frozen=True, slots=True)
class SignalRef:
    """What the outbox knows of the trade signal a message carries.

    It lets a late delivery say how late it is and how far the price moved, an expired one say so instead
    of presenting a live trade, a backlog be coalesced strongest first (``compact`` is the signal as one
    block of such a message), and the alert latency be measured from the market event (``event_time``).
    """

    exchange: str
    symbol: str
    price: float  # the entry at the decision
    event_time: float  # exchange time of the triggering market event, epoch seconds
    expires_at: float  # epoch seconds
    strength: float = 0.0
    compact: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One message. ``text`` is Telegram HTML with every dynamic value escaped.

    ``chat_id`` None: routed by kind (alert chat for signals/outcomes, admin chat otherwise; a
    strategy's own chat when ``strategy`` has one). ``reply_to_key``: the dedupe key of an earlier
    message this one answers (outcome → its signal).
    """

    kind: Kind
    text: str
    dedupe_key: str
    chat_id: int | None = None
    strategy: str | None = None
    reply_to_key: str | None = None
    silent: bool | None = None  # None: the per-kind setting
    signal: SignalRef | None = None  # for a signal message: its market, timing and strength
    photo: bytes | None = None  # a PNG sent with sendPhoto; ``text`` is then its caption


class Notifier(Protocol):
    def submit(self, message: Message) -> bool:
        """Commit the message for delivery; False when its dedupe key was already taken."""
        ...


class DryRunNotifier:
    """No token: every message goes to the log, once per dedupe key (in this process)."""

    def __init__(self, *, logger: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self._log = logger or structlog.get_logger("notifier")
        self._seen: set[str] = set()
        self.messages: list[Message] = []

    def submit(self, message: Message) -> bool:
        if message.dedupe_key in self._seen:
            return False
        self._seen.add(message.dedupe_key)
        self.messages.append(message)
        self._log.info(
            "telegram_dry_run",
            kind=str(message.kind),
            chat=message.chat_id,
            strategy=message.strategy,
            text=message.text,
            **({"photo_bytes": len(message.photo)} if message.photo is not None else {}),
        )
        return True
