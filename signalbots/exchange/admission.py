"""Admission: what a request to the exchange costs, when it may leave, and what its answer says.

The gateway's ccxt instance calls these hooks (``_ccxt.Hooks``) for every REST request, whoever made it — a
feed through ``Gateway.call`` or ccxt on its own (``load_markets`` from inside a ``watch_*``):

* ``cost`` — ccxt's cost corrected by the profile (Binance's undercounted bulk weights, MEXC's one per
  request), or the cost the caller stated (``priced``);
* ``throttle`` — spends it from the exchange's ``Budgets`` (weight, funding, per-endpoint buckets);
* ``answered`` — the usage headers lower the bucket they describe (the IP's weight, or one endpoint's
  window: Bybit), and a rate-limit answer (the profile's table)
  pauses the whole exchange at once through ``Pauses``: ``Retry-After`` when the exchange sends it, else the
  rule's minimum, else a doubling backoff. The hook returns a ``Refusal`` so that ccxt stops there; the pause
  itself is already in force, and the gateway reads it back from ``Pauses``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from signalbots.clock import Clock
from signalbots.exchange._ccxt import Refusal
from signalbots.exchange.pauses import Pauses
from signalbots.exchange.ratelimit import Budgets
from signalbots.exchange.venues import Venue
from signalbots.metrics import Metrics

# The cost a caller of ``Gateway.call`` states for its requests (when it knows better than ccxt).
_COST_OVERRIDE: contextvars.ContextVar[float | None] = contextvars.ContextVar("signalbots_cost", default=None)


class _Cost(float):
    """ccxt's cost for one request, remembering its path until ``throttle`` spends it."""

    path: str

    def __new__(cls, value: float, path: str) -> _Cost:
        obj = super().__new__(cls, value)
        obj.path = path
        return obj


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds of a ``Retry-After`` header (lower-cased keys); None when absent or an HTTP-date."""
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: rare enough to fall back to the rule's minimum or the backoff
    return seconds if seconds is not None and seconds >= 0 else None


class Admission:
    """The hooks of one exchange's ccxt instance: costs, the shared buckets and the answers' verdicts."""

    def __init__(
        self,
        *,
        exchange_id: str,
        venue: Venue,
        budgets: Budgets,
        pauses: Pauses,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._exchange_id = exchange_id
        self._venue = venue
        self._budgets = budgets
        self._pauses = pauses
        self._clock = clock
        self._metrics = metrics

    @contextmanager
    def priced(self, cost: float | None) -> Iterator[None]:
        """Every request made inside costs ``cost`` (None: ccxt's cost, corrected by the profile)."""
        token = _COST_OVERRIDE.set(cost) if cost is not None else None
        try:
            yield
        finally:
            if token is not None:
                _COST_OVERRIDE.reset(token)

    def cost(self, path: str, params: Any, ccxt_cost: float) -> float:
        override = _COST_OVERRIDE.get()
        cost = override if override is not None else self._venue.cost(path, params, ccxt_cost)
        return _Cost(cost, path)

    async def throttle(self, cost: float) -> None:
        path = cost.path if isinstance(cost, _Cost) else ""
        started = self._clock.monotonic()
        await self._budgets.acquire(path, float(cost))
        waited = self._clock.monotonic() - started
        if waited > 0:
            self._metrics.limiter_wait.labels(exchange=self._exchange_id).inc(waited)
        self._metrics.rest_weight.labels(exchange=self._exchange_id).inc(float(cost))

    def answered(
        self, status: int, reason: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> Refusal | None:
        h = {k.lower(): v for k, v in headers.items()}
        try:
            usage = self._venue.usage(h)
        except ValueError:
            usage = None  # a garbled header must not break the request it came with
        window = self._venue.usage_endpoint_window
        if usage is not None and window is not None:
            # Bybit's X-Bapi-Limit* describe this endpoint's per-second window, not the IP's weight.
            path = urlsplit(url).path.lstrip("/")  # as ccxt names it in ``throttle``: v5/market/kline
            self._budgets.sync_endpoint(path, usage[0], window_capacity=usage[1], window=window)
        elif usage is not None:
            self._budgets.weight.sync_used(usage[0], window_capacity=usage[1])
        rule = self._venue.rate_limit(status, body)
        if rule is not None:
            where = f"{self._exchange_id} {urlsplit(url).path or url}"
            self._pauses.pause(retry_after(h), rule, where=where)
            return Refusal.RATE_LIMITED
        if status >= 500:
            return Refusal.UNAVAILABLE
        return None
