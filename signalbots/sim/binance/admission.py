"""Binance USDⓈ-M's admission: request weights, the used-weight header, 429 and the doubling 418 ban.

2400 weight per minute (``X-MBX-USED-WEIGHT-1M`` on every answer); past it 429 with Retry-After, and a client
that keeps calling before it runs out earns a 418 ban (2 minutes, doubling up to 3 days). ``fundingRate`` and
``fundingInfo`` also share a budget of 500 requests per 5 minutes.
"""

from __future__ import annotations

import math

from signalbots.clock import Clock
from signalbots.sim.binance.wire import INVALID_SYMBOL
from signalbots.sim.venue import Fault, FaultKind, Query, Reject

WEIGHT_PER_MINUTE = 2400
FUNDING_REQUESTS_PER_5MIN = 500
FIRST_BAN_SECONDS = 120.0
MAX_BAN_SECONDS = 3 * 86400.0
_NO_SYMBOL_WEIGHT = {"/fapi/v1/premiumIndex": 10, "/fapi/v1/ticker/24hr": 40, "/fapi/v1/ticker/price": 2}
_FUNDING_PATHS = ("/fapi/v1/fundingRate", "/fapi/v1/fundingInfo")


def kline_weight(limit: int) -> int:
    """Binance: [1,100) → 1, [100,500) → 2, [500,1000] → 5, > 1000 → 10."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class BinanceAdmission:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self.weight_limit = WEIGHT_PER_MINUTE
        self.weight_by_minute: dict[int, float] = {}  # minute start (s) → weight used
        self.banned_until: float | None = None  # sim wall clock
        self.limited_until: float | None = None  # after a 429: calling again before this earns a ban
        self.ban_seconds = FIRST_BAN_SECONDS
        self._funding_calls: list[float] = []

    @property
    def used_weight(self) -> float:
        return self.weight_by_minute.get(self._minute(), 0.0)

    def _minute(self) -> int:
        return int(self.clock.time() // 60 * 60)

    def headers(self, path: str) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(int(self.used_weight))}

    def weight(self, path: str, query: Query) -> float:
        if path == "/fapi/v1/klines":
            return kline_weight(int(query.get("limit", "500")))
        if "symbol" not in query and path in _NO_SYMBOL_WEIGHT:
            return _NO_SYMBOL_WEIGHT[path]
        return 1.0

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        now = self.clock.time()
        if self.banned_until is not None and now < self.banned_until:
            return 0.0, self._banned(now)
        if self.limited_until is not None and now < self.limited_until:
            self._ban(now)  # kept calling after a 429: that is what gets an IP banned
            return 0.0, self._banned(now)
        weight = self.weight(path, query)
        minute = self._minute()
        if self.used_weight + weight > self.weight_limit:
            self.limited_until = minute + 60.0
            return 0.0, self._too_many(math.ceil(self.limited_until - now))
        if path in _FUNDING_PATHS:
            self._funding_calls = [t for t in self._funding_calls if t > now - 300.0]
            if len(self._funding_calls) >= FUNDING_REQUESTS_PER_5MIN:
                self.limited_until = self._funding_calls[0] + 300.0
                return 0.0, self._too_many(math.ceil(self.limited_until - now))
            self._funding_calls.append(now)
        self.weight_by_minute[minute] = self.used_weight + weight
        return weight, None

    def _ban(self, now: float, seconds: float | None = None) -> None:
        duration = seconds if seconds is not None else self.ban_seconds
        self.banned_until = now + duration
        self.limited_until = None
        if seconds is None:
            self.ban_seconds = min(self.ban_seconds * 2, MAX_BAN_SECONDS)

    def _banned(self, now: float) -> Reject:
        until = self.banned_until or now
        body = {
            "code": -1003,
            "msg": f"Way too many requests; IP(127.0.0.1) banned until {int(until * 1000)}. "
            "Please use the websocket for live updates to avoid bans.",
        }
        return Reject(418, body, {"Retry-After": str(max(1, math.ceil(until - now)))})

    def _too_many(self, retry_after: int) -> Reject:
        body = {
            "code": -1003,
            "msg": f"Too many requests; current limit of IP(127.0.0.1) is {self.weight_limit} "
            "requests per minute. Please use the websocket for live updates to avoid polling the API.",
        }
        return Reject(429, body, {"Retry-After": str(max(1, retry_after))})

    def fault_answer(self, fault: Fault) -> Reject:
        now = self.clock.time()
        if fault.kind is FaultKind.BAN:
            self._ban(now, fault.retry_after if fault.retry_after is not None else None)
            return self._banned(now)
        if fault.kind is FaultKind.RATE_LIMIT:
            wait = fault.retry_after if fault.retry_after is not None else 60 - now % 60
            self.limited_until = now + wait
            return self._too_many(math.ceil(wait))
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(400, INVALID_SYMBOL)
        if fault.status >= 500:
            return Reject(
                fault.status,
                {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
            )
        return Reject(
            fault.status, {"code": -1000, "msg": "An unknown error occurred while processing the request."}
        )
