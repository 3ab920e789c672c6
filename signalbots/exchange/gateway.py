"""One ccxt.pro instance per exchange, shared by every feed: the only door to the exchange, REST and streams.

Every REST request the instance makes — whether a feed called ``Gateway.call`` or ccxt made it on its own
(``load_markets`` from inside a ``watch_*``) — goes through ``throttle(cost)``, which this module routes into
the shared ``WeightLimiter`` (with the profile's corrected weights, its separate funding budget and, where the
exchange limits per endpoint, that endpoint's own bucket), and every answer passes ``on_rest_response``, where
the usage headers lower the limiter and a rate-limit answer (the profile's table: Binance 429/418, Bybit 403 =
IP ban and retCode 10006, OKX 429/50011, MEXC 510) pauses the whole exchange for ``Retry-After``, the
profile's minimum (escalating on repeats) or a doubling backoff. The pause is kept in the store under
``ban:<exchange>`` so that a restart inside a ban sends nothing until it ends.

``call`` (REST) and ``watch`` (websocket) add the circuit breakers and translate ccxt's exceptions into ours
(``signalbots.errors``) through one table; a ban stops the streams of the host too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp
import ccxt
import ccxt.pro
import structlog

from signalbots.clock import Clock
from signalbots.errors import BadPayload, FatalError, RateLimited, SymbolError, TransientError
from signalbots.exchange._ccxt import gated_class
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.pauses import Pauses
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.venues import RateLimitRule, venue
from signalbots.health import TaskHealth, TaskStatus
from signalbots.logs import shorten
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings
from signalbots.store import Store

_log = structlog.get_logger(__name__)

_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+")
# The cost a caller of ``Gateway.call`` states for its requests (when it knows better than ccxt).
_COST_OVERRIDE: contextvars.ContextVar[float | None] = contextvars.ContextVar("signalbots_cost", default=None)


class _RateLimitAnswer(ccxt.DDoSProtection):  # type: ignore[misc]
    """A rate-limit answer seen in ``on_rest_response``, carrying what ccxt's own exception drops."""

    def __init__(self, message: str, *, retry_after: float | None, rule: RateLimitRule) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rule = rule


class _Cost(float):
    """ccxt's cost for one request, remembering its path until ``throttle`` spends it."""

    path: str

    def __new__(cls, value: float, path: str) -> _Cost:
        obj = super().__new__(cls, value)
        obj.path = path
        return obj


def rehost(urls: Any, origin: str) -> Any:
    """Replace ``scheme://host[:port]`` of every URL in ``urls`` (nested dicts too) with ``origin``."""
    if isinstance(urls, dict):
        return {k: rehost(v, origin) for k, v in urls.items()}
    if isinstance(urls, str) and _ORIGIN.match(urls):
        return _ORIGIN.sub(origin.rstrip("/"), urls, count=1)
    return urls


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: rare enough to fall back to the backoff
    return seconds if seconds is not None and seconds >= 0 else None


class Gateway:
    """Async context manager: creates the ccxt.pro instance, loads markets once, closes it cleanly."""

    def __init__(
        self,
        *,
        exchange_id: str,
        settings: ExchangeSettings,
        limiter: WeightLimiter,
        breakers: BreakerRegistry,
        clock: Clock,
        metrics: Metrics,
        store: Store | None = None,
    ) -> None:
        base = getattr(ccxt.pro, exchange_id, None)
        if base is None:
            raise FatalError(f"ccxt has no exchange {exchange_id!r}")
        self.exchange_id = exchange_id
        self.venue = venue(exchange_id)
        self.settings = settings
        self.limiter = limiter
        self.funding_limiter = WeightLimiter.funding_budget(
            exchange_id, budget_fraction=settings.budget_fraction, clock=clock
        )
        self._breakers = breakers
        self._clock = clock
        self._metrics = metrics
        self._store = store
        self._endpoint_limiters: dict[str, WeightLimiter] = {}
        self._log = _log.bind(exchange=exchange_id)
        self._pauses = Pauses(
            exchange_id=exchange_id,
            limiters=[limiter] + ([self.funding_limiter] if self.funding_limiter is not None else []),
            clock=clock,
            store=store,
            log=self._log,
        )
        self.markets: dict[str, Any] = {}
        self.exchange: Any = gated_class(base, self.venue)(self._ccxt_config())
        self.exchange.signalbots_gateway = self
        self._rehost()

    # -- construction ---------------------------------------------------------------------------------------

    def _ccxt_config(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "defaultType": "swap",
            "maxRetriesOnFailure": 0,
            "OHLCVLimit": self.settings.ohlcv_limit,
            "adjustForTimeDifference": False,
            # ccxt's market loaders fetch every market type unless told otherwise; we trade linear perpetuals.
            "fetchMarkets": self.venue.market_types,
        }
        return {
            "enableRateLimit": True,  # so that ccxt calls throttle(cost), which is ours
            "timeout": int(self.settings.request_timeout * 1000),
            "options": options,
        }

    def _rehost(self) -> None:
        api = self.exchange.urls["api"]
        rest, ws = self.settings.rest_url, self.settings.ws_url
        for key, value in list(api.items()):
            if key == "ws" and ws:
                api[key] = rehost(value, ws)
            elif key != "ws" and rest:
                api[key] = rehost(value, rest)

    async def __aenter__(self) -> Gateway:
        # A ban persisted by the previous run is waited out here, before anything is sent: enter gateways
        # concurrently (or in their own tasks) so one banned exchange does not hold up the others.
        try:
            self._pauses.restore()
            await self._pauses.wait_out()
            await self.refresh_markets()
        except BaseException:
            await self.exchange.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.exchange.close()

    # -- markets ---------------------------------------------------------------------------------------------

    async def refresh_markets(self) -> None:
        """Reload markets: new listings appear, delisted (inactive or gone) ones leave."""
        loaded = await self.call("load_markets", "load_markets", bool(self.markets))
        fresh = {
            s: m
            for s, m in loaded.items()
            if m.get("swap") and m.get("linear") and m.get("active") is not False
        }
        added, removed = (
            sorted(fresh.keys() - self.markets.keys()),
            sorted(self.markets.keys() - fresh.keys()),
        )
        if self.markets and (added or removed):
            self._log.info("markets_changed", added=added[:20], removed=removed[:20], total=len(fresh))
        elif not self.markets:
            self._log.info("markets_loaded", total=len(fresh))
        self.markets = fresh

    async def run_market_refresh(self, health: TaskHealth) -> None:
        """Refresh markets every ``markets_refresh`` seconds; a failed refresh keeps the old markets."""
        health.set(TaskStatus.RUNNING)
        while True:
            await self._clock.sleep(self.settings.markets_refresh)
            try:
                await self.refresh_markets()
            except (TransientError, SymbolError) as err:
                health.error(f"{self.exchange_id} load_markets: {err}")
                health.set(TaskStatus.DEGRADED, f"markets refresh failed: {err}")
                continue
            health.cycle()
            health.set(TaskStatus.RUNNING, "")

    # -- calls -----------------------------------------------------------------------------------------------

    async def call(
        self,
        endpoint: str,
        method: str,
        *args: Any,
        symbol: str | None = None,
        cost: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """``getattr(exchange, method)(*args, **kwargs)`` behind the pause, the breakers and our errors.

        ``endpoint`` names the breaker (e.g. ``"fetch_funding_rates"``); ``symbol`` adds the symbol's own
        breaker; ``cost`` replaces ccxt's cost for every request this call makes.
        """
        remaining = self.paused_for()
        if remaining > 0:
            what = "banned" if self.banned_for() > 0 else "rate limited"
            raise RateLimited(
                f"{self.exchange_id} paused: {what} (retry after {remaining:.0f} s)",
                retry_after=remaining,
                banned=self.banned_for() > 0,
            )
        fn = self._method(method)
        self._breakers.check(self.exchange_id, endpoint, symbol)
        token = _COST_OVERRIDE.set(cost) if cost is not None else None
        try:
            result = await fn(*args, **kwargs)
        except Exception as err:
            translated = self._translate(err, endpoint, symbol)
            self._record_failure(translated, endpoint, symbol)
            raise translated from err
        finally:
            if token is not None:
                _COST_OVERRIDE.reset(token)
        self._succeeded(endpoint, symbol)
        return result

    async def watch(
        self, endpoint: str, method: str, *args: Any, key: str | None = None, **kwargs: Any
    ) -> Any:
        """A websocket ``watch_*`` call through the same door: a ban stops it (the exchange blocks the IP, not
        one protocol), its breaker applies, and its errors are translated by the same table as REST.

        ``key`` names one stream among many of the endpoint (a symbol's topic): its failures count against
        its own breaker, so that one dropped connection carrying thirty topics does not open the endpoint's.
        A REST rate limit does not stop streams: they carry no request weight, and what arrives meanwhile
        is what the feeds would miss.
        """
        remaining = self.banned_for()
        if remaining > 0:
            raise RateLimited(
                f"{self.exchange_id} {endpoint}: banned (retry after {remaining:.0f} s)",
                retry_after=remaining,
                banned=True,
            )
        fn = self._method(method)
        self._breakers.check(self.exchange_id, endpoint, key)
        try:
            result = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # ccxt cancelled the future (its connection closed): a failure of the stream, not of our task.
            failure = TransientError(f"{self.exchange_id} {endpoint}: connection closed")
            self._breakers.record_failure(self.exchange_id, endpoint, key)
            raise failure from None
        except Exception as err:
            translated = self._translate(err, endpoint, None)
            self._breakers.record_failure(self.exchange_id, endpoint, key)
            raise translated from err
        self._breakers.record_success(self.exchange_id, endpoint, key)
        return result

    def _method(self, method: str) -> Any:
        fn = getattr(self.exchange, method, None)
        if fn is None:
            raise FatalError(f"{self.exchange_id} has no method {method}")
        return fn

    def _succeeded(self, endpoint: str, symbol: str | None) -> None:
        self._breakers.record_success(self.exchange_id, endpoint, symbol)
        self._pauses.answered()

    def paused_for(self) -> float:
        """Seconds until the exchange may be called again (0 when not paused)."""
        return self._pauses.paused_for()

    def banned_for(self) -> float:
        """Seconds until a ban ends (0 when not banned): streams wait too."""
        return self._pauses.banned_for()

    def _translate(self, err: Exception, endpoint: str, symbol: str | None) -> Exception:
        where = f"{self.exchange_id} {endpoint}" + (f" {symbol}" if symbol else "")
        if isinstance(err, _RateLimitAnswer):
            return self._pauses.pause(err.retry_after, err.rule, where=where)
        refused = _handshake_status(err)
        if refused is not None:
            rule = self.venue.rate_limit(refused, None)
            if rule is not None:
                return self._pauses.pause(None, rule, where=where)
            return TransientError(f"{where}: websocket refused: HTTP {refused}")
        if isinstance(err, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return self._pauses.pause(None, None, where=where, reason=_short(err))
        if isinstance(err, ccxt.BadSymbol) or (
            isinstance(err, ccxt.BadRequest) and symbol is not None and "symbol" in str(err).lower()
        ):
            return SymbolError(f"{where}: {_short(err)}")
        if isinstance(err, ccxt.BadResponse | TypeError | KeyError | ValueError | IndexError):
            self._metrics.bad_payloads.labels(exchange=self.exchange_id, endpoint=endpoint).inc()
            return BadPayload(f"{where}: bad payload: {_short(err)}")
        if isinstance(err, ccxt.RequestTimeout):
            return TransientError(f"{where}: request timeout")
        if isinstance(err, ccxt.NetworkError):
            return TransientError(f"{where}: {_short(err)}")
        if isinstance(
            err,
            ccxt.AuthenticationError
            | ccxt.PermissionDenied
            | ccxt.AccountSuspended
            | ccxt.NotSupported
            | ccxt.ArgumentsRequired
            | ccxt.BadRequest
            | ccxt.ExchangeClosedByUser,
        ):
            return FatalError(f"{where}: {_short(err)}")
        if isinstance(err, ccxt.BaseError):
            return TransientError(f"{where}: {_short(err)}")
        return FatalError(f"{where}: {type(err).__name__}: {err}")

    def _record_failure(self, err: Exception, endpoint: str, symbol: str | None) -> None:
        if isinstance(err, SymbolError):
            # The endpoint answered; only this symbol failed.
            self._breakers.record_success(self.exchange_id, endpoint)
            self._breakers.record_failure(self.exchange_id, endpoint, symbol)
        else:
            self._breakers.record_failure(self.exchange_id, endpoint)

    # -- ccxt's stream caches: what the feeds read, through this door only ---------------------------------

    def liquidations(self) -> Sequence[Any]:
        """ccxt's cache of liquidation prints, oldest first: a ``watch_*`` resolves with one message and keeps
        the rest here, so a feed reads what is new after every wake-up."""
        return self.exchange.liquidations or ()

    def candle_rows(self, symbol: str, timeframe: str) -> Sequence[Any]:
        """ccxt's cached OHLCV rows of a streamed symbol, oldest first (the last one may still be open)."""
        caches = self.exchange.ohlcvs or {}
        rows = caches.get(symbol, {}).get(timeframe)
        return rows if rows is not None else ()

    async def close_streams(self, marks: tuple[str, ...], reason: str) -> int:
        """Close the connections carrying a subscription named with one of ``marks`` (every connection when
        none does) so that the next watch dials afresh; returns how many were closed."""
        clients = dict(self.exchange.clients or {})
        mine = {url: c for url, c in clients.items() if _carries(c, marks)} or clients
        for url, client in mine.items():
            # Reject first so watchers see a network error, not a cancellation, then forget the client so the
            # next watch dials a fresh connection and subscribes again.
            client.reject(ccxt.NetworkError(reason))
            with contextlib.suppress(Exception):
                await client.close()
            self.exchange.clients.pop(url, None)
        return len(mine)

    def stream_connected(self, marks: tuple[str, ...]) -> bool:
        """A websocket carrying a subscription named with one of ``marks`` has completed its handshake."""
        for client in (self.exchange.clients or {}).values():
            done = client.connected
            if (
                isinstance(done, asyncio.Future)
                and done.done()
                and not done.cancelled()
                and done.exception() is None
                and _carries(client, marks)
            ):
                return True
        return False

    # -- hooks called by the ccxt instance -------------------------------------------------------------------

    def request_cost(self, path: str, params: Any, ccxt_cost: float) -> _Cost:
        override = _COST_OVERRIDE.get()
        cost = override if override is not None else self.venue.cost(path, params, ccxt_cost)
        return _Cost(cost, path)

    async def throttle(self, cost: float | None) -> None:
        value = float(cost) if cost is not None else 1.0
        path = getattr(cost, "path", "")
        started = self._clock.monotonic()
        if self.funding_limiter is not None and self.venue.uses_funding_budget(path):
            await self.funding_limiter.acquire(1.0)
        await self.limiter.acquire(value)
        endpoint = self._endpoint_limiter(path)
        if endpoint is not None:
            await endpoint.acquire(value)
        waited = self._clock.monotonic() - started
        if waited > 0:
            self._metrics.limiter_wait.labels(exchange=self.exchange_id).inc(waited)
        self._metrics.rest_weight.labels(exchange=self.exchange_id).inc(value)

    def _endpoint_limiter(self, path: str) -> WeightLimiter | None:
        if self.venue.endpoint_budget is None:
            return None
        limiter = self._endpoint_limiters.get(path)
        if limiter is None:
            limiter = WeightLimiter.endpoint_budget(
                self.exchange_id, path, budget_fraction=self.settings.budget_fraction, clock=self._clock
            )
            assert limiter is not None
            self._endpoint_limiters[path] = limiter
        return limiter

    def on_response(
        self, status: int, reason: str, url: str, headers: dict[str, str], body: str | None = None
    ) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        try:
            usage = self.venue.usage(h)
        except ValueError:
            usage = None  # a garbled header must not break the request it came with
        if usage is not None:
            self.limiter.sync_used(usage[0], window_capacity=usage[1])
        rule = self.venue.rate_limit(status, body)
        if rule is not None:
            raise _RateLimitAnswer(
                f"{self.exchange_id} {status} {reason}: {rule.meaning}",
                retry_after=_retry_after(h),
                rule=rule,
            )
        if status >= 500:
            raise ccxt.ExchangeNotAvailable(f"{self.exchange_id} {status} {reason}")


def _carries(client: Any, marks: tuple[str, ...]) -> bool:
    return any(mark in str(key) for key in (client.subscriptions or {}) for mark in marks)


def _handshake_status(err: BaseException) -> int | None:
    """The HTTP status of a refused websocket upgrade (ccxt wraps aiohttp's error in a NetworkError)."""
    for candidate in (err, *(err.args if isinstance(err, ccxt.NetworkError) else ()), err.__cause__):
        if isinstance(candidate, aiohttp.WSServerHandshakeError):
            return int(candidate.status)
    return None


def _short(err: BaseException) -> str:
    text = str(err).strip()
    # ccxt's network errors say only "<id> GET <url>"; what went wrong is in the aiohttp error beneath.
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause).strip() and str(cause).strip() not in text:
        text = f"{text}: {str(cause).strip()}" if text else str(cause).strip()
    return _short_text(text) or type(err).__name__


def _short_text(text: str) -> str:
    return shorten(text)  # at a word, with an ellipsis: "[Name o" read as a bug (issue 10)
