"""Message keys: the one place that spells the dedupe and reply-to keys of every signal message.

The strings are a contract with the outbox table (UNIQUE dedupe key, replies found by key): a signal's
alert, its target-1 progress, its outcome and their charts must agree on them, across restarts and
versions. Their values never change; only this module builds them.
"""

from __future__ import annotations


def signal(dedupe_key: str) -> str:
    """The alert of the signal whose candidate has ``dedupe_key``."""
    return f"signal:{dedupe_key}"


def target1(dedupe_key: str) -> str:
    """The progress reply "target 1 reached"."""
    return f"target1:{dedupe_key}"


def outcome(dedupe_key: str) -> str:
    """The final outcome reply."""
    return f"outcome:{dedupe_key}"


def chart(message_key: str) -> str:
    """The chart that replies to the message whose key is ``message_key`` (an alert or an outcome)."""
    return f"chart:{message_key}"


def summary(day: str) -> str:
    """The daily summary of the UTC day ``day`` (``YYYY-MM-DD``)."""
    return f"summary:{day}"


def paused(strategy: str, day: str) -> str:
    """The notice that ``strategy`` hit its daily loss limit on ``day``."""
    return f"paused:{strategy}:{day}"


def market_move(strategy: str, kind: str, direction: str, time_ms: int) -> str:
    """The one alert of a market-wide move: ``strategy``'s ``kind`` fired on many symbols at ``time_ms``."""
    return f"market:{strategy}:{kind}:{direction}:{time_ms}"
