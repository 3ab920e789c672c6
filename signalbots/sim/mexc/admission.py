"""MEXC futures' admission (MEXC's documentation): every endpoint 20 requests per 2 s, ``detail`` 1 per 5 s.

Over the limit the answer is HTTP 200 ``{"code": 510, "msg": "Requests are too frequent"}`` (captured from
the live exchange), no headers, no ``Retry-After``; MEXC documents no IP ban. The spot endpoints ccxt's
market loading reads have their own budget and are never refused.
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.mexc.wire import CONTRACT, FUNDING, KLINE, NO_CONTRACT, PARAMETER_ERROR, TOO_FREQUENT
from signalbots.sim.venue import Fault, FaultKind, Query, Reject

REQUESTS_PER_WINDOW = 20
WINDOW_SECONDS = 2.0
DETAIL_REQUESTS_PER_WINDOW = 1
DETAIL_WINDOW_SECONDS = 5.0


def endpoint(path: str) -> str:
    """The rate-limited endpoint: the path without its symbol (all klines share one budget)."""
    for prefix in (KLINE, FUNDING):
        if path.startswith(prefix) and path != FUNDING + "history":
            return prefix + "{symbol}"
    return path


class MexcAdmission:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self._calls: dict[str, list[float]] = {}

    def headers(self, path: str) -> dict[str, str]:
        return {}

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        if path.startswith("/api/v3/"):
            return (10.0 if path == "/api/v3/exchangeInfo" else 1.0), None  # spot: its own budget
        key = endpoint(path)
        limit, window = (
            (DETAIL_REQUESTS_PER_WINDOW, DETAIL_WINDOW_SECONDS)
            if key == CONTRACT + "detail"
            else (REQUESTS_PER_WINDOW, WINDOW_SECONDS)
        )
        now = self.clock.time()
        calls = [t for t in self._calls.get(key, []) if t > now - window]
        if len(calls) >= limit:
            self._calls[key] = calls
            return 0.0, Reject(200, TOO_FREQUENT)
        calls.append(now)
        self._calls[key] = calls
        return 1.0, None

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BAN):
            # MEXC documents no ban and sends no Retry-After: a ban looks like the rate-limit answer.
            return Reject(200, TOO_FREQUENT)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, NO_CONTRACT)
        if fault.status >= 500:
            return Reject(fault.status, {"success": False, "code": 501, "message": "System busy"})
        return Reject(fault.status, PARAMETER_ERROR)
