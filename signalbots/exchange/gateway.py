"""One ccxt.pro instance per exchange, shared by every feed: the only door to the exchange.

Every REST request the instance makes — whether a feed called ``Gateway.call`` or ccxt made it on its own
(``load_markets`` from inside a ``watch_*``) — goes through ``throttle(cost)``, which this module routes into
the shared ``WeightLimiter`` (with Binance's corrected weights and its separate funding budget), and every
answer passes ``on_rest_response``, where the exchange's used-weight headers lower the limiter and a 429/418
pauses the whole exchange for ``Retry-After`` (or a doubling backoff). The pause is kept in the store under
``ban:<exchange>`` so that a restart inside a ban sends nothing until it ends.

``call`` adds the circuit breakers and translates ccxt's exceptions into ours (``signalbots.errors``).
"""

from __future__ import annotations

import contextvars
import json
import re
from types import TracebackType
from typing import Any

import ccxt
import ccxt.pro
import structlog

from signalbots.clock import Clock
from signalbots.errors import BadPayload, FatalError, RateLimited, SymbolError, TransientError
from signalbots.exchange import _klines
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.ratelimit import BUDGETS, WeightLimiter, request_cost, uses_funding_budget
from signalbots.health import TaskHealth, TaskStatus
from signalbots.logs import shorten
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings
from signalbots.store import Store

_log = structlog.get_logger(__name__)

# ccxt's market loaders fetch every market type unless told otherwise; we trade only linear perpetuals.
_MARKET_TYPES: dict[str, Any] = {
    "binanceusdm": {"types": ["linear"]},
    "bybit": {"types": ["linear"]},
    "okx": {"types": ["swap"]},
    "mexc": {"types": {"spot": False, "swap": {"linear": True, "inverse": False}}},
}
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+")
_BACKOFF_FIRST = 10.0  # seconds of pause after a rate-limit answer without Retry-After, doubling
_BACKOFF_MAX = 300.0
# The cost a caller of ``Gateway.call`` states for its requests (when it knows better than ccxt).
_COST_OVERRIDE: contextvars.ContextVar[float | None] = contextvars.ContextVar("signalbots_cost", default=None)


class _RateLimitAnswer(ccxt.DDoSProtection):  # type: ignore[misc]
    """A 429/418 (Bybit: 403) seen in ``on_rest_response``, carrying what ccxt's own exception drops."""

    def __init__(self, message: str, *, retry_after: float | None, banned: bool) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.banned = banned


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
        self.settings = settings
        self.limiter = limiter
        self.funding_limiter = WeightLimiter.funding_budget(
            exchange_id, budget_fraction=settings.budget_fraction, clock=clock
        )
        self._breakers = breakers
        self._clock = clock
        self._metrics = metrics
        self._store = store
        self._backoff = _BACKOFF_FIRST
        self._pause_saved = False
        self._log = _log.bind(exchange=exchange_id)
        self.markets: dict[str, Any] = {}
        self.exchange: Any = _gated_class(base)(self._ccxt_config())
        self.exchange.signalbots_gateway = self
        self._rehost()

    # -- construction ---------------------------------------------------------------------------------------

    def _ccxt_config(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "defaultType": "swap",
            "maxRetriesOnFailure": 0,
            "OHLCVLimit": self.settings.ohlcv_limit,
            "adjustForTimeDifference": False,
        }
        if self.exchange_id in _MARKET_TYPES:
            options["fetchMarkets"] = _MARKET_TYPES[self.exchange_id]
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
            self._restore_pause()
            await self._wait_out_pause()
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
            raise RateLimited(
                f"{self.exchange_id} paused: rate limited (retry after {remaining:.0f} s)",
                retry_after=remaining,
            )
        fn = getattr(self.exchange, method, None)
        if fn is None:
            raise FatalError(f"{self.exchange_id} has no method {method}")
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
        self._breakers.record_success(self.exchange_id, endpoint, symbol)
        self._backoff = _BACKOFF_FIRST
        if self._pause_saved and self._store is not None:
            self._store.delete(f"ban:{self.exchange_id}")  # the exchange answers again: nothing to remember
            self._pause_saved = False
        return result

    def paused_for(self) -> float:
        """Seconds until the exchange may be called again (0 when not paused)."""
        until = self.limiter.paused_until
        return 0.0 if until is None else max(0.0, until - self._clock.monotonic())

    def _translate(self, err: Exception, endpoint: str, symbol: str | None) -> Exception:
        where = f"{self.exchange_id} {endpoint}" + (f" {symbol}" if symbol else "")
        if isinstance(err, _RateLimitAnswer):
            return self._pause(err.retry_after, banned=err.banned, reason=str(err), where=where)
        if isinstance(err, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return self._pause(None, banned=False, reason=str(err), where=where)
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

    # -- pauses (429 / 418) ----------------------------------------------------------------------------------

    def _pause(self, retry_after: float | None, *, banned: bool, reason: str, where: str) -> RateLimited:
        seconds = retry_after
        if seconds is None:
            seconds, self._backoff = self._backoff, min(self._backoff * 2, _BACKOFF_MAX)
        deadline = self._clock.monotonic() + seconds
        self._pause_limiters(deadline)
        if self._store is not None:
            self._store.put(
                f"ban:{self.exchange_id}",
                {"until": self._clock.time() + seconds, "banned": banned, "reason": _short_text(reason)},
                now=self._clock.time(),
            )
            self._pause_saved = True
        self._log.warning("exchange_paused", seconds=round(seconds, 1), banned=banned, where=where)
        what = "banned (418)" if banned else "rate limited"
        return RateLimited(
            f"{where}: {what} (retry after {seconds:.0f} s)", retry_after=seconds, banned=banned
        )

    def _pause_limiters(self, deadline: float) -> None:
        self.limiter.pause_until(deadline)
        if self.funding_limiter is not None:
            self.funding_limiter.pause_until(deadline)

    def _restore_pause(self) -> None:
        if self._store is None:
            return
        saved = self._store.get(f"ban:{self.exchange_id}")
        if not isinstance(saved, dict):
            return
        left = float(saved.get("until", 0.0)) - self._clock.time()
        if left <= 0:
            self._store.delete(f"ban:{self.exchange_id}")
            return
        self._pause_limiters(self._clock.monotonic() + left)
        self._pause_saved = True
        self._log.warning("exchange_pause_restored", seconds=round(left, 1), reason=saved.get("reason", ""))

    async def _wait_out_pause(self) -> None:
        while (left := self.paused_for()) > 0:
            await self._clock.sleep(left)

    # -- hooks called by the ccxt instance -------------------------------------------------------------------

    def request_cost(self, path: str, params: Any, ccxt_cost: float) -> _Cost:
        override = _COST_OVERRIDE.get()
        cost = override if override is not None else request_cost(self.exchange_id, path, params, ccxt_cost)
        return _Cost(cost, path)

    async def throttle(self, cost: float | None) -> None:
        value = float(cost) if cost is not None else 1.0
        path = getattr(cost, "path", "")
        started = self._clock.monotonic()
        if self.funding_limiter is not None and uses_funding_budget(self.exchange_id, path):
            await self.funding_limiter.acquire(1.0)
        await self.limiter.acquire(value)
        waited = self._clock.monotonic() - started
        if waited > 0:
            self._metrics.limiter_wait.labels(exchange=self.exchange_id).inc(waited)
        self._metrics.rest_weight.labels(exchange=self.exchange_id).inc(value)

    def on_response(self, status: int, reason: str, url: str, headers: dict[str, str]) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        self._sync_used(h)
        bybit_limit = self.exchange_id == "bybit" and status == 403
        if status in (418, 429) or bybit_limit:
            raise _RateLimitAnswer(
                f"{self.exchange_id} {status} {reason}", retry_after=_retry_after(h), banned=status == 418
            )
        if status >= 500:
            raise ccxt.ExchangeNotAvailable(f"{self.exchange_id} {status} {reason}")

    def _sync_used(self, h: dict[str, str]) -> None:
        try:
            if "x-mbx-used-weight-1m" in h:
                capacity = BUDGETS["binanceusdm"].units
                self.limiter.sync_used(float(h["x-mbx-used-weight-1m"]), window_capacity=capacity)
            elif "x-bapi-limit-status" in h and "x-bapi-limit" in h:
                limit = float(h["x-bapi-limit"])
                self.limiter.sync_used(limit - float(h["x-bapi-limit-status"]), window_capacity=limit)
        except ValueError:
            return  # a garbled header must not break the request it came with


def _short(err: BaseException) -> str:
    text = str(err).strip()
    # ccxt's network errors say only "<id> GET <url>"; what went wrong is in the aiohttp error beneath.
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause).strip() and str(cause).strip() not in text:
        text = f"{text}: {str(cause).strip()}" if text else str(cause).strip()
    return _short_text(text) or type(err).__name__


def _short_text(text: str) -> str:
    return shorten(text)  # at a word, with an ellipsis: "[Name o" read as a bug (issue 10)


def _gated_class(base: type[Any]) -> type[Any]:
    """``base`` (a ccxt.pro exchange class) with its throttle, cost and response hooks routed to a Gateway.

    Binance's class also keeps the kline quote volume that ccxt's OHLCV rows drop (``_klines``).
    """

    class Gated(base):  # type: ignore[misc]
        signalbots_gateway: Gateway | None = None

        async def throttle(self, cost: Any = None) -> Any:
            gateway = self.signalbots_gateway
            if gateway is None:
                return await super().throttle(cost)
            await gateway.throttle(cost)
            return None

        def calculate_rate_limiter_cost(
            self, api: Any, method: Any, path: Any, params: Any, config: Any = None
        ) -> Any:
            cost = super().calculate_rate_limiter_cost(api, method, path, params, config or {})
            gateway = self.signalbots_gateway
            return cost if gateway is None else gateway.request_cost(str(path), params, float(cost))

        def on_rest_response(
            self,
            code: Any,
            reason: Any,
            url: Any,
            method: Any,
            response_headers: Any,
            response_body: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            body = super().on_rest_response(
                code, reason, url, method, response_headers, response_body, request_headers, request_body
            )
            gateway = self.signalbots_gateway
            if gateway is not None:
                gateway.on_response(int(code), str(reason), str(url), dict(response_headers or {}))
            return body

        def parse_json(self, http_response: Any) -> Any:
            parsed = super().parse_json(http_response)
            if parsed is None and isinstance(http_response, str) and http_response.lstrip()[:1] in ("{", "["):
                # ccxt would hand the raw text to its parsers and return garbage; say it is malformed instead.
                try:
                    json.loads(http_response)
                except ValueError as err:
                    raise ccxt.BadResponse(f"{self.id} malformed JSON: {err}") from err
            return parsed

    if not issubclass(base, ccxt.pro.binanceusdm):
        Gated.__name__ = Gated.__qualname__ = f"Gated{base.__name__}"
        return Gated

    class GatedKlines(Gated):
        """Binance: OHLCV rows keep the exchange's quote volume as a seventh element (see ``_klines``)."""

        def parse_ohlcv(self, ohlcv: Any, market: Any = None) -> Any:
            row = super().parse_ohlcv(ohlcv, market)
            quote = _klines.rest_quote_volume(ohlcv, market)
            return row if quote is None or not isinstance(row, list) else [*row, quote]

        def handle_ohlcv(self, client: Any, message: Any) -> Any:
            result = super().handle_ohlcv(client, message)
            _klines.attach_ws_quote_volume(self, message)
            return result

    GatedKlines.__name__ = GatedKlines.__qualname__ = f"Gated{base.__name__}"
    return GatedKlines
