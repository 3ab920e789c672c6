"""Bybit v5's admission: 600 requests per 5 s per IP, past which the IP is banned (HTTP 403) for 10 minutes.

Bybit says only "your IP has been either temporarily or permanently banned", wait at least 10 minutes: no
Retry-After, and the body is not documented (no capture of it exists). The per-UID API limit answers HTTP
200 ``retCode 10006 "Too many visits"`` (a captured body). ``X-Bapi-Limit``/``X-Bapi-Limit-Status``/
``X-Bapi-Limit-Reset-Timestamp`` describe that API limit — "your remaining requests for current endpoint", a
rolling window "per second per UID" — so they count this endpoint's requests of the last second, not the IP's
window. Bybit lists no API limit for the market endpoints ("no limit for other endpoints"); the simulator
reports ``ENDPOINT_PER_SECOND`` for them and refuses nothing on it (the IP limit bans).
"""

from __future__ import annotations

from signalbots.clock import Clock
from signalbots.sim.bybit.wire import error
from signalbots.sim.market import Market
from signalbots.sim.venue import Fault, FaultKind, Query, Reject

REQUESTS_PER_WINDOW = 600
WINDOW_SECONDS = 5.0
BAN_SECONDS = 600.0  # Bybit: an IP ban lasts at least 10 minutes
ENDPOINT_PER_SECOND = 120  # what the usage headers report per endpoint (the IP's 600 / 5 s, spread)


class BybitAdmission:
    def __init__(self, *, market: Market, clock: Clock) -> None:
        self.market = market
        self.clock = clock
        self._window: list[float] = []  # the IP's requests of the last 5 s
        self._by_path: dict[str, list[float]] = {}  # each endpoint's requests of the last second
        self.banned_until: float | None = None  # sim wall clock

    def _prune(self) -> float:
        now = self.clock.time()
        self._window = [t for t in self._window if t > now - WINDOW_SECONDS]
        return now

    def headers(self, path: str) -> dict[str, str]:
        now = self._prune()
        recent = [t for t in self._by_path.get(path, []) if t > now - 1.0]
        self._by_path[path] = recent
        return {
            "X-Bapi-Limit": str(ENDPOINT_PER_SECOND),
            "X-Bapi-Limit-Status": str(max(0, ENDPOINT_PER_SECOND - len(recent))),
            "X-Bapi-Limit-Reset-Timestamp": str(int(now * 1000)),  # "just the current timestamp"
        }

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        now = self._prune()
        if self.banned_until is not None and now < self.banned_until:
            return 0.0, self._banned()
        if len(self._window) >= REQUESTS_PER_WINDOW:
            self.banned_until = now + BAN_SECONDS  # Bybit: past the IP limit the IP is banned
            return 0.0, self._banned()
        self._window.append(now)
        self._by_path.setdefault(path, []).append(now)
        return 1.0, None

    def _banned(self) -> Reject:
        # HTTP 403 with no Retry-After: Bybit says only to wait (at least 10 minutes)
        return Reject(403, "access too frequent")

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind is FaultKind.BAN:
            seconds = fault.retry_after if fault.retry_after is not None else BAN_SECONDS
            self.banned_until = self.clock.time() + seconds  # every request is refused until it expires
            return self._banned()
        if fault.kind is FaultKind.RATE_LIMIT:
            # the per-UID API limit: HTTP 200, retCode 10006, the window's reset in the usual headers
            headers = {"X-Bapi-Limit-Status": "0"}
            return Reject(200, error(self.market, 10006, "Too many visits"), headers)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, error(self.market, 10001, "params error: symbol invalid"))
        return Reject(
            fault.status,
            "<html><body><h1>502 Bad Gateway</h1></body></html>"
            if fault.status >= 500
            else error(self.market, 10016, "System error. Please try again later."),
        )
