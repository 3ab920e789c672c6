"""Exceptions named by what the caller should do.

Library errors (ccxt, aiohttp, aiogram) are translated into these at the edge, with ``raise ... from err``.
"""

from __future__ import annotations


class SignalbotsError(Exception):
    """Base of our own errors."""


class TransientError(SignalbotsError):
    """Retry later; counts toward the endpoint's circuit breaker (timeouts, 5xx, dropped connections)."""


class RateLimited(TransientError):
    """The exchange asked us to slow down (429/418). ``retry_after`` in seconds when it said."""

    def __init__(self, message: str, *, retry_after: float | None = None, banned: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.banned = banned


class CircuitOpen(TransientError):
    """The breaker for this endpoint is open: nothing was sent."""


class SymbolError(SignalbotsError):
    """The request failed for this symbol only (bad or delisted symbol); other symbols are fine."""


class BadPayload(TransientError):
    """The exchange answered something we cannot use (malformed JSON, missing fields, NaN)."""


class FatalError(SignalbotsError):
    """Stop the task and alert the admin: retrying will not help (bad credentials, unsupported exchange)."""
