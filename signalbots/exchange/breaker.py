"""Circuit breakers per (exchange, endpoint) and, for symbol-specific failures, per symbol too.

closed ──N consecutive failures──▶ open ──cool-down──▶ half-open (exactly one probe passes)
   ▲                                  ▲                     │
   └────────── probe succeeds ────────┼─────────────────────┤
                                      └── probe fails: cool-down doubles (up to cooldown_max)

A request for a symbol must pass both its endpoint's breaker and its symbol's breaker. A failure reported
with a symbol counts only against that symbol's breaker, so one delisted symbol never silences an endpoint
for the others. A probe that never reports (its caller was cancelled) is given up after one cool-down, so a
breaker cannot stay half-open forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from signalbots.clock import Clock
from signalbots.errors import CircuitOpen
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings

_log = structlog.get_logger(__name__)

Key = tuple[str, str, str | None]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Breaker:
    cooldown: float
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    retry_at: float = 0.0  # monotonic: when an open breaker lets its probe through
    probe_until: float | None = None  # monotonic: the probe in flight is given up after this


def _label(key: Key) -> str:
    exchange, endpoint, symbol = key
    return f"{exchange} {endpoint}" + (f" {symbol}" if symbol else "")


class BreakerRegistry:
    def __init__(self, *, settings: BreakerSettings, clock: Clock, metrics: Metrics) -> None:
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._breakers: dict[Key, _Breaker] = {}

    # -- the request path ---------------------------------------------------------------------------------

    def check(self, exchange: str, endpoint: str, symbol: str | None = None) -> None:
        """Raise ``CircuitOpen`` unless a request may leave now (a half-open breaker admits one probe)."""
        keys: list[Key] = [(exchange, endpoint, None)]
        if symbol is not None:
            keys.append((exchange, endpoint, symbol))
        now = self._clock.monotonic()
        probes: list[tuple[Key, _Breaker]] = []
        # Decide for every breaker before changing any, so a refused request never spends a probe.
        for key in keys:
            b = self._breakers.get(key)
            if b is None or b.state is BreakerState.CLOSED:
                continue
            if b.state is BreakerState.OPEN and now < b.retry_at:
                raise CircuitOpen(f"circuit open: {_label(key)} (retry in {b.retry_at - now:.0f}s)")
            if b.state is BreakerState.HALF_OPEN and b.probe_until is not None and now < b.probe_until:
                raise CircuitOpen(f"circuit half-open: {_label(key)} (probe in flight)")
            probes.append((key, b))
        for key, b in probes:
            if b.state is BreakerState.OPEN:
                self._transition(key, b, BreakerState.HALF_OPEN)
            b.probe_until = now + b.cooldown

    def record_success(self, exchange: str, endpoint: str, symbol: str | None = None) -> None:
        """The request worked: its endpoint (and symbol) breaker closes and the cool-down resets."""
        keys: list[Key] = [(exchange, endpoint, None)]
        if symbol is not None:
            keys.append((exchange, endpoint, symbol))
        for key in keys:
            b = self._breakers.get(key)
            if b is None:
                continue
            if b.state is not BreakerState.CLOSED:
                self._transition(key, b, BreakerState.CLOSED)
            # A closed breaker with no failures carries no information; forgetting it keeps memory flat.
            del self._breakers[key]

    def record_failure(self, exchange: str, endpoint: str, symbol: str | None = None) -> None:
        """One failure; with ``symbol``, it counts only against that symbol's breaker."""
        key: Key = (exchange, endpoint, symbol)
        b = self._breakers.get(key)
        if b is None:
            b = self._breakers[key] = _Breaker(cooldown=self._settings.cooldown)
        b.failures += 1
        now = self._clock.monotonic()
        if b.state is BreakerState.HALF_OPEN:
            b.cooldown = min(b.cooldown * 2, self._settings.cooldown_max)
            b.retry_at, b.probe_until = now + b.cooldown, None
            self._transition(key, b, BreakerState.OPEN)
        elif b.state is BreakerState.CLOSED and b.failures >= self._settings.failures:
            b.retry_at, b.probe_until = now + b.cooldown, None
            self._transition(key, b, BreakerState.OPEN)
        # Already open: a late answer from a request sent before it opened changes nothing.

    # -- reporting -------------------------------------------------------------------------------------------

    def state(self, exchange: str, endpoint: str, symbol: str | None = None) -> BreakerState:
        b = self._breakers.get((exchange, endpoint, symbol))
        return BreakerState.CLOSED if b is None else b.state

    def snapshot(self) -> list[dict[str, Any]]:
        """Every breaker that is not closed (for /healthz and the heartbeat)."""
        now = self._clock.monotonic()
        out: list[dict[str, Any]] = []
        for (exchange, endpoint, symbol), b in sorted(self._breakers.items(), key=lambda kv: _label(kv[0])):
            if b.state is BreakerState.CLOSED:
                continue
            out.append(
                {
                    "exchange": exchange,
                    "endpoint": endpoint,
                    "symbol": symbol,
                    "state": b.state.value,
                    "failures": b.failures,
                    "cooldown": b.cooldown,
                    "retry_in": round(max(0.0, b.retry_at - now), 1) if b.state is BreakerState.OPEN else 0.0,
                }
            )
        return out

    def open_circuits(self) -> list[str]:
        """``"mexc fetch_ohlcv"``, ``"binanceusdm fetch_ohlcv FOO/USDT:USDT"``: every non-closed breaker."""
        return sorted(_label(k) for k, b in self._breakers.items() if b.state is not BreakerState.CLOSED)

    def _transition(self, key: Key, b: _Breaker, state: BreakerState) -> None:
        previous, b.state = b.state, state
        exchange, endpoint, symbol = key
        self._metrics.breaker_transitions.labels(
            exchange=exchange, endpoint=endpoint, state=state.value
        ).inc()
        log = _log.bind(exchange=exchange, endpoint=endpoint, symbol=symbol)
        if state is BreakerState.OPEN and previous is BreakerState.CLOSED:
            log.warning("breaker_opened", failures=b.failures, retry_in=b.cooldown)
        elif state is BreakerState.OPEN:
            log.info("breaker_reopened", failures=b.failures, retry_in=b.cooldown)
        elif state is BreakerState.HALF_OPEN:
            log.info("breaker_half_open")
        else:
            log.info("breaker_recovered", failures=b.failures)
