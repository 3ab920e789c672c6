"""One ccxt.pro instance per exchange, shared by every feed: the only door to the exchange, REST and streams.

Every REST request the instance makes — whether a feed called ``Gateway.call`` or ccxt made it on its own
(``load_markets`` from inside a ``watch_*``) — passes the instance's hooks, which the gateway gives to its
``Admission`` (``admission.py``): costs corrected by the profile, the exchange's ``Budgets`` spent in
``throttle(cost)``, usage headers lowering the weight bucket, and a rate-limit answer (the profile's table:
Binance 429/418, Bybit 403 = IP ban and retCode 10006, OKX 429/50011, MEXC 510) pausing the whole exchange
through ``Pauses`` (kept in the store under ``ban:<exchange>`` so that a restart inside a ban sends nothing
until it ends). The instance never holds the gateway: it knows only the ``Hooks`` protocol (``_ccxt.py``).

``call`` (REST) and ``watch`` (websocket) add the circuit breakers and translate ccxt's exceptions into ours
(``signalbots.errors``) through one table; a ban stops the streams too, unless the profile says they are
served by a host apart (Bybit). The feeds read ccxt's stream caches (liquidations, OHLCV rows, connections)
through the typed methods here, never by name, and are told of each kline frame (``on_klines``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import aiohttp
import structlog

from signalbots.clock import Clock
from signalbots.errors import BadPayload, FatalError, RateLimited, SymbolError, TransientError
from signalbots.exchange._ccxt import gated_class
from signalbots.exchange.admission import Admission
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.ccxt_modules import ccxt
from signalbots.exchange.pauses import Pauses
from signalbots.exchange.ratelimit import Budgets, WeightLimiter
from signalbots.exchange.venues import venue
from signalbots.health import TaskHealth, TaskStatus
from signalbots.logs import shorten
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings
from signalbots.store import Store

_log = structlog.get_logger(__name__)

_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+")


def rehost(urls: Any, origin: str) -> Any:
    """Replace ``scheme://host[:port]`` of every URL in ``urls`` (nested dicts too) with ``origin``."""
    if isinstance(urls, dict):
        return {k: rehost(v, origin) for k, v in urls.items()}
    if isinstance(urls, str) and _ORIGIN.match(urls):
        return _ORIGIN.sub(origin.rstrip("/"), urls, count=1)
    return urls


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
        self._budgets = Budgets(
            exchange_id=exchange_id, weight=limiter, budget_fraction=settings.budget_fraction, clock=clock
        )
        self._breakers = breakers
        self._clock = clock
        self._metrics = metrics
        self._store = store
        self._log = _log.bind(exchange=exchange_id)
        self._pauses = Pauses(
            exchange_id=exchange_id,
            limiters=self._budgets.limiters,
            clock=clock,
            store=store,
            log=self._log,
        )
        self._admission = Admission(
            exchange_id=exchange_id,
            venue=self.venue,
            budgets=self._budgets,
            pauses=self._pauses,
            clock=clock,
            metrics=metrics,
        )
        self.markets: dict[str, Any] = {}
        self._kline_listeners: list[Callable[[str], None]] = []
        self.exchange: Any = gated_class(base, self.venue, self._admission, clock=clock)(self._ccxt_config())
        self._rehost()

    @property
    def limiter(self) -> WeightLimiter:
        """The exchange's request-weight bucket, shared by every strategy."""
        return self._budgets.weight

    @property
    def funding_limiter(self) -> WeightLimiter | None:
        """The separate budget of the funding endpoints (Binance), else None."""
        return self._budgets.funding

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
            "enableLastHttpResponse": False,  # ccxt would keep the last body and headers (~1 MB): unread
            "enableLastResponseHeaders": False,
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

    async def refresh_markets(self) -> None:
        """Reload markets: new listings appear, delisted (inactive or gone) ones leave."""
        loaded = await self.call("load_markets", "load_markets", bool(self.markets))
        # ccxt holds every market twice, as parsed by id and extended by symbol: the id index shares (4 MB)
        by_id, by_symbol = self.exchange.markets_by_id or {}, self.exchange.markets or {}
        by_id.update({i: [by_symbol.get(m.get("symbol"), m) for m in ms] for i, ms in by_id.items()})
        fresh = {s: m for s, m in loaded.items() if m.get("swap") and m.get("linear")}
        fresh = {s: m for s, m in fresh.items() if m.get("active") is not False}
        added = sorted(fresh.keys() - self.markets.keys())
        removed = sorted(self.markets.keys() - fresh.keys())
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
        try:
            with self._admission.priced(cost):
                result = await fn(*args, **kwargs)
        except Exception as err:
            translated = self._translate(err, endpoint, symbol)
            self._record_failure(translated, endpoint, symbol)
            raise translated from err
        self._succeeded(endpoint, symbol)
        return result

    async def watch(
        self, endpoint: str, method: str, *args: Any, key: str | None = None, **kwargs: Any
    ) -> Any:
        """A websocket ``watch_*`` call through the same door: a ban stops it (the exchange blocks the IP, not
        one protocol) unless the streams are on a host apart (``streams_banned_for``), its breaker applies,
        and its errors are translated by the same table as REST.

        ``key`` names one stream among many of the endpoint (a symbol's topic): its failures count against
        its own breaker, so that one dropped connection carrying thirty topics does not open the endpoint's.
        A REST rate limit does not stop streams: they carry no request weight, and what arrives meanwhile
        is what the feeds would miss.
        """
        remaining = self.streams_banned_for()
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
        """Seconds until a ban ends (0 when not banned)."""
        return self._pauses.banned_for()

    def streams_banned_for(self) -> float:
        """Seconds until the streams may be watched again: a ban stops them too, unless the profile says they
        are on a host apart (Bybit: a REST ban leaves the liquidation stream running)."""
        return 0.0 if self.venue.streams_apart else self._pauses.banned_for()

    def _translate(self, err: Exception, endpoint: str, symbol: str | None) -> Exception:
        where = f"{self.exchange_id} {endpoint}" + (f" {symbol}" if symbol else "")
        refused = _handshake_status(err)
        if refused is not None:
            rule = None if self.venue.streams_apart else self.venue.rate_limit(refused, None)
            if rule is not None:
                return self._pauses.pause(None, rule, where=where)
            return TransientError(f"{where}: websocket refused: HTTP {refused}")
        if isinstance(err, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            # A rate-limit answer of the profile's table has already paused the exchange (admission's hook).
            in_force = self._pauses.refusal(where)
            return in_force or self._pauses.pause(None, None, where=where, reason=_short(err))
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

    def on_klines(self, listener: Callable[[str], None]) -> None:
        """``listener(symbol)`` after every kline frame ccxt has stored a row of: every candle feed's (one per
        timeframe), so that a second one does not silence the first."""
        self._kline_listeners.append(listener)
        self.exchange.kline_listener = self._tell_klines

    def _tell_klines(self, symbol: str) -> None:
        for listener in self._kline_listeners:
            listener(symbol)

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
    return shorten(text) or type(err).__name__  # at a word, with an ellipsis: "[Name o" read as a bug
