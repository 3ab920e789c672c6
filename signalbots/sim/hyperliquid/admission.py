"""Hyperliquid's admission: 1200 weight per minute per IP across every ``POST /info`` (weights by request
type, ``wire.weight``); past it HTTP 429 — Hyperliquid documents no ban, no ``Retry-After``, no usage header.
"""

from __future__ import annotations

import json

from signalbots.clock import Clock
from signalbots.events import timeframe_ms
from signalbots.sim.hyperliquid.wire import weight
from signalbots.sim.venue import Fault, FaultKind, Query, Reject

WEIGHT_PER_MINUTE = 1200
TOO_MANY = "Too Many Requests"  # no answer body is documented or recorded: the status is the fact


class HyperliquidAdmission:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self.weight_by_minute: dict[int, float] = {}  # minute start (s) → weight used

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        cost = weight(query, _candles_returned(query, int(self.clock.time() * 1000)))
        minute = int(self.clock.time() // 60 * 60)
        used = self.weight_by_minute.get(minute, 0.0)
        if used + cost > WEIGHT_PER_MINUTE:
            return 0.0, Reject(429, TOO_MANY)
        self.weight_by_minute[minute] = used + cost
        return cost, None

    def headers(self, path: str) -> dict[str, str]:
        return {}

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BAN):
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            return Reject(429, TOO_MANY, headers)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, [])  # a coin it does not list: no candles
        return Reject(fault.status, "<html><body>Service Unavailable</body></html>")


def _candles_returned(query: Query, now_ms: int) -> int:
    """How many candles a candle snapshot returns (its span, up to now), for its extra weight."""
    if query.get("type") != "candleSnapshot":
        return 0
    try:
        req = json.loads(query.get("req", "{}"))
        span = timeframe_ms(str(req["interval"]))
        start = -(-int(req["startTime"]) // span) * span
        return max(0, (min(int(req["endTime"]), now_ms) - start) // span + 1)
    except (ValueError, KeyError, TypeError):
        return 0
