"""Live market data → normalised ``MarketEvent``s on one internal stream (the ``EventBus``).

Four feeds per exchange, each a supervised task (``async def run(health)``):

* ``LiquidationFeed`` — websocket: Binance ``!forceOrder@arr`` (every symbol), Bybit
  ``allLiquidation.<symbol>`` for the ``liquidation_symbols`` most liquid, OKX ``liquidation-orders`` (SWAP).
  Raw payloads (ccxt's ``info``) are parsed by ``signalbots.exchange.normalize``.
* ``FundingFeed`` — bulk REST every ``funding_poll`` (Binance ``premiumIndex``, Bybit linear tickers, OKX
  ``funding-rate``), MEXC per symbol for ``funding_symbols``; intervals from the exchange (Binance
  ``fundingInfo`` hourly).
* ``CandleFeed`` — closed candles for every symbol above the liquidity floor: Binance kline streams
  (``candle_batch`` symbols per subscription), elsewhere batched REST after each close with ``limit`` < 100.
* ``TickerFeed`` — bulk 24h tickers every ``ticker_poll``; also fills ``Liquidity``, which the candle feed
  (liquidity floor) and the Bybit liquidation feed (most liquid N) read.

ccxt resolves a ``watch_*`` call with one message and keeps the rest in its caches (``liquidations``,
``ohlcvs``), so the websocket feeds read what is new in those caches after every wake-up rather than the
return value: nothing received between two calls is lost.

Every feed has a staleness watchdog: no data for ``stale_after`` → log ``feed_stale`` once, count it, mark
the task DEGRADED, and (websockets) close the feed's connections and subscribe again; the first data after
that logs ``feed_recovered`` and the task is RUNNING again. A payload we cannot use is counted in
``metrics.bad_payloads`` (exchange, endpoint) and skipped; the task carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import ccxt
import structlog

from signalbots.clock import Clock
from signalbots.errors import BadPayload, FatalError, RateLimited, SymbolError, TransientError
from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, Ticker, timeframe_ms
from signalbots.exchange import normalize
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.gateway import Gateway
from signalbots.health import TaskHealth, TaskStatus
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings

_log = structlog.get_logger(__name__)

_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 60.0
# Binance's fundingInfo lists only symbols whose interval or cap was adjusted; the rest settle every 8 h
# (Binance USDⓈ-M docs, "Get Funding Rate Info"). Other exchanges state the interval on every symbol.
_BINANCE_DEFAULT_INTERVAL_H = 8.0
_KLINE_STREAMS = frozenset({"binanceusdm"})  # many symbols per kline subscription, served by the simulator


def _finite(value: Any, *, positive: bool = False, allow_zero: bool = True) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or (positive and (number < 0 or (number == 0 and not allow_zero))):
        return None
    return number


class _Feed:
    """Staleness watchdog, bad-payload accounting and retry backoff around a feed's ``_work``."""

    kind = "feed"

    def __init__(
        self, *, gateway: Gateway, bus: EventBus, settings: ExchangeSettings, clock: Clock, metrics: Metrics
    ) -> None:
        self.gateway = gateway
        self.exchange_id = gateway.exchange_id
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.name = f"{self.exchange_id} {self.kind}"
        self.stale = False
        self.stale_episodes = 0
        self.bad_payloads = 0
        self._last_data = clock.monotonic()
        self._health: TaskHealth | None = None
        self._log = _log.bind(exchange=self.exchange_id, feed=self.kind)
        self._symbol_ids: tuple[int, dict[str, str]] = (0, {})

    # A feed's data may legitimately pause (no liquidation for a while): ``stale_after`` is its limit.
    @property
    def stale_after(self) -> float:
        return self.settings.stale_after

    async def run(self, health: TaskHealth) -> None:
        self._health = health
        self._last_data = self.clock.monotonic()
        health.set(TaskStatus.RUNNING, "")
        worker = asyncio.create_task(self._work(), name=f"feed {self.name}")
        try:
            while True:
                deadline = self._last_data + self.stale_after
                sleeper = asyncio.create_task(self.clock.sleep(max(0.0, deadline - self.clock.monotonic())))
                try:
                    await asyncio.wait({worker, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                if worker.done():
                    worker.result()  # the work loop only ends by raising (fatal): let the supervisor see it
                    return
                silent = self.clock.monotonic() - self._last_data
                if silent >= self.stale_after:
                    worker = await self._on_stale(worker, silent)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker

    async def _on_stale(self, worker: asyncio.Task[None], silent: float) -> asyncio.Task[None]:
        if not self.stale:
            self.stale = True
            self.stale_episodes += 1
            self._log.warning("feed_stale", silent_for=round(silent, 1))
            self.metrics.feed_stale.labels(feed=self.name).inc()
            if self._health is not None:
                self._health.error(f"{self.name}: no data for {silent:.0f}s, resubscribing")
                self._health.set(TaskStatus.DEGRADED, f"stale: no data for {silent:.0f}s")
        # Give the fresh subscription a whole ``stale_after`` before trying again.
        self._last_data = self.clock.monotonic()
        if not self._resubscribes:
            return worker
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
        await self._close_connections()
        return asyncio.create_task(self._work(), name=f"feed {self.name}")

    _resubscribes = False

    async def _close_connections(self) -> None:
        """Websocket feeds: close the connections carrying this feed's subscriptions."""

    def _data(self, n: int = 1) -> None:
        """Data arrived: reset the watchdog, and report the recovery after a stale episode."""
        self._last_data = self.clock.monotonic()
        if self._health is not None:
            self._health.event(n)
        if self.stale:
            self.stale = False
            self._log.info("feed_recovered")
            if self._health is not None:
                self._health.set(TaskStatus.RUNNING, "")

    def _bad(self, endpoint: str, reason: str) -> None:
        self.bad_payloads += 1
        self.metrics.bad_payloads.labels(exchange=self.exchange_id, endpoint=endpoint).inc()
        self._log.debug("bad_payload", endpoint=endpoint, reason=reason)

    def _report_bad(self, endpoint: str, count: int, example: str) -> None:
        """One error line per cycle, however many items in it were bad."""
        if count and self._health is not None:
            self._health.error(f"{self.exchange_id} {endpoint}: {count} bad item(s), e.g. {example}")

    def _publish(self, events: Iterable[MarketEvent]) -> int:
        n = 0
        for event in events:
            self.bus.publish(event)
            n += 1
        if n:
            self._data(n)
        return n

    def _symbol_of(self, market_id: str) -> str | None:
        markets = self.gateway.markets
        if self._symbol_ids[0] != id(markets):
            self._symbol_ids = (id(markets), {m["id"]: s for s, m in markets.items() if "id" in m})
        return self._symbol_ids[1].get(market_id)

    async def _pause_for(self, err: Exception, backoff: float) -> float:
        """Wait after a failed call; returns the next backoff."""
        if isinstance(err, RateLimited):
            await self.clock.sleep(max(err.retry_after or backoff, self.gateway.paused_for(), 1.0))
            return backoff
        if isinstance(err, TransientError) and self._health is not None:
            self._health.error(str(err)[:200])
        await self.clock.sleep(backoff)
        return min(backoff * 2, _BACKOFF_MAX)

    async def _work(self) -> None:
        raise NotImplementedError


class _PollingFeed(_Feed):
    """REST: ``_poll_once`` every ``interval``; a run of failures shows up as staleness."""

    interval = 60.0

    async def _work(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            started = self.clock.monotonic()
            try:
                await self._poll_once()
            except (TransientError, SymbolError) as err:
                backoff = await self._pause_for(err, backoff)
                continue
            backoff = _BACKOFF_FIRST
            if self._health is not None:
                self._health.cycle()
            await self.clock.sleep(max(0.0, started + self.interval - self.clock.monotonic()))

    async def _poll_once(self) -> None:
        raise NotImplementedError


class _StreamFeed(_Feed):
    """Websocket: one loop per subscription unit, each waking on data and reading ccxt's caches."""

    _resubscribes = True
    _client_marks: tuple[str, ...] = ()

    async def _close_connections(self) -> None:
        exchange = self.gateway.exchange
        clients = dict(getattr(exchange, "clients", {}) or {})
        mine = {url: c for url, c in clients.items() if self._carries_mine(c)}
        for url, client in (mine or clients).items():
            # Reject first so watchers see a network error, not a cancellation, then forget the client so the
            # next watch dials a fresh connection and subscribes again.
            client.reject(ccxt.NetworkError(f"{self.name}: stale, resubscribing"))
            with contextlib.suppress(Exception):
                await client.close()
            exchange.clients.pop(url, None)
        self._log.info("feed_resubscribing", connections=len(mine or clients))

    def _carries_mine(self, client: Any) -> bool:
        keys = [str(k) for k in getattr(client, "subscriptions", {})]
        return any(mark in key for key in keys for mark in self._client_marks)

    async def _watch_loop(self, watch: Callable[[], Awaitable[Any]], endpoint: str) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            try:
                await watch()
            except ccxt.BadSymbol as err:
                raise SymbolError(f"{self.exchange_id} {endpoint}: {err}") from err
            except (ccxt.AuthenticationError, ccxt.NotSupported) as err:
                raise FatalError(f"{self.exchange_id} {endpoint}: {err}") from err
            except ccxt.BaseError as err:
                self._log.debug("watch_failed", endpoint=endpoint, error=str(err)[:200])
                failure = TransientError(f"{self.exchange_id} {endpoint}: {err}")
                backoff = await self._pause_for(failure, backoff)
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # ccxt cancelled the future (its connection closed): subscribe again.
                failure = TransientError(f"{self.exchange_id} {endpoint}: connection closed")
                backoff = await self._pause_for(failure, backoff)
                continue
            backoff = _BACKOFF_FIRST
            self._drain()

    def _drain(self) -> None:
        raise NotImplementedError


# -- liquidations --------------------------------------------------------------------------------------------


class LiquidationFeed(_StreamFeed):
    kind = "liquidations"
    _client_marks = ("forceOrder", "Liquidation", "liquidation")

    def __init__(self, *, liquidity: Liquidity | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.exchange_id not in ("binanceusdm", "bybit", "okx"):
            raise FatalError(f"{self.exchange_id} has no public liquidation stream")
        self.liquidity = liquidity
        self._seen: Any = None  # the newest cache entry already published

    # Liquidations stop for minutes in a calm market: only a much longer silence means a dead stream.
    @property
    def stale_after(self) -> float:
        return self.settings.liquidation_stale_after

    async def _work(self) -> None:
        ex = self.gateway.exchange
        endpoint = "watch_liquidations"
        if self.exchange_id == "binanceusdm":
            await self._watch_loop(lambda: ex.watch_liquidations_for_symbols([]), endpoint)
            return
        if self.exchange_id == "okx":
            # OKX's channel covers every SWAP; ccxt wants the symbols to route its messages.
            await self._watch_loop(
                lambda: ex.watch_liquidations_for_symbols(list(self.gateway.markets)), endpoint
            )
            return
        # Bybit: one topic per symbol, for the most liquid N (from the ticker feed).
        if self.liquidity is None:
            raise FatalError("bybit liquidations need the ticker feed's liquidity ranking")
        await self.liquidity.wait_ready(self.exchange_id)
        symbols = self.liquidity.most_liquid(self.exchange_id, self.settings.liquidation_symbols)
        loops = [self._symbol_loop(symbol, endpoint) for symbol in symbols]
        await asyncio.gather(*loops)

    async def _symbol_loop(self, symbol: str, endpoint: str) -> None:
        ex = self.gateway.exchange
        try:
            await self._watch_loop(lambda: ex.watch_liquidations(symbol), endpoint)
        except SymbolError as err:  # delisted since the ranking: the other symbols carry on
            self._log.info("liquidation_symbol_dropped", symbol=symbol, reason=str(err)[:200])

    def _new_entries(self) -> list[Any]:
        cache = getattr(self.gateway.exchange, "liquidations", None)
        if not cache:
            return []
        fresh: list[Any] = []
        for entry in reversed(cache):
            if entry is self._seen:
                break
            fresh.append(entry)
        self._seen = cache[-1]
        fresh.reverse()
        return fresh

    def _drain(self) -> None:
        received = self.clock.monotonic()
        events: list[Liquidation] = []
        bad, example = 0, ""
        for entry in self._new_entries():
            info = entry.get("info") if isinstance(entry, dict) else None
            try:
                events.extend(self._parse(info, received))
            except normalize.UnknownSymbol:
                continue  # a listing newer than our markets: the next markets refresh knows it
            except BadPayload as err:
                bad, example = bad + 1, str(err)
                self._bad("watch_liquidations", str(err))
        if not self._publish(events):
            self._data(0)  # a message arrived even if nothing in it was new: the connection is alive
        self._report_bad("watch_liquidations", bad, example)

    def _parse(self, info: Any, received: float) -> list[Liquidation]:
        if self.exchange_id == "binanceusdm":
            return [normalize.binance_force_order({"o": info}, self._symbol_of, received=received)]
        if self.exchange_id == "bybit":
            return [normalize.bybit_liquidation(info, self._symbol_of, received=received)]
        return normalize.okx_liquidations(info, self._symbol_of, self._contract_size, received=received)

    def _contract_size(self, market_id: str) -> float | None:
        symbol = self._symbol_of(market_id)
        market = self.gateway.markets.get(symbol) if symbol else None
        size = market.get("contractSize") if market else None
        return float(size) if isinstance(size, int | float) else None


# -- funding -------------------------------------------------------------------------------------------------


def _interval_hours(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return timeframe_ms(text) / 3_600_000
    except ValueError:
        return None


class FundingFeed(_PollingFeed):
    kind = "funding"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = self.settings.funding_poll
        self._intervals: dict[str, float] = {}
        self._intervals_at: float | None = None

    async def _poll_once(self) -> None:
        if self.exchange_id == "mexc":
            rates = await self._mexc_rates()
            endpoint = "fetch_funding_rate"
        else:
            if self.exchange_id == "binanceusdm":
                await self._refresh_binance_intervals()
            rates = await self.gateway.call("fetch_funding_rates", "fetch_funding_rates")
            endpoint = "fetch_funding_rates"
        received = self.clock.monotonic()
        now_ms = int(self.clock.time() * 1000)
        events, bad, example = [], 0, ""
        for symbol, raw in (rates or {}).items():
            event = self._snapshot(symbol, raw, received, now_ms)
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad(endpoint, event)
            else:
                events.append(event)
        self._publish(events)
        self._report_bad(endpoint, bad, example)

    async def _mexc_rates(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for symbol in self.settings.funding_symbols:
            try:
                out[symbol] = await self.gateway.call(
                    "fetch_funding_rate", "fetch_funding_rate", symbol, symbol=symbol
                )
            except SymbolError as err:
                self._log.info("funding_symbol_skipped", symbol=symbol, reason=str(err)[:200])
        return out

    async def _refresh_binance_intervals(self) -> None:
        now = self.clock.monotonic()
        if self._intervals_at is not None and now - self._intervals_at < self.settings.markets_refresh:
            return
        try:
            info = await self.gateway.call("fetch_funding_intervals", "fetch_funding_intervals")
        except TransientError as err:
            if self._intervals_at is None:
                raise
            self._log.info("funding_intervals_kept", reason=str(err)[:200])  # the old ones are still good
            return
        intervals = {}
        for symbol, row in (info or {}).items():
            hours = _interval_hours(row.get("interval") if isinstance(row, dict) else None)
            if hours is not None and hours > 0:
                intervals[symbol] = hours
        self._intervals, self._intervals_at = intervals, now

    def _snapshot(self, symbol: str, raw: Any, received: float, now_ms: int) -> FundingSnapshot | str:
        if not isinstance(raw, dict):
            return f"{symbol}: not an object"
        rate = _finite(raw.get("fundingRate"))
        if rate is None or abs(rate) >= 1.0:
            return f"{symbol}: funding rate {raw.get('fundingRate')!r}"
        hours = _interval_hours(raw.get("interval"))
        if hours is None:
            hours = self._intervals.get(symbol)
        if hours is None and self.exchange_id == "binanceusdm":
            hours = _BINANCE_DEFAULT_INTERVAL_H
        if hours is None or hours <= 0:
            return f"{symbol}: no funding interval"
        mark_raw = raw.get("markPrice")
        mark = None if mark_raw is None else _finite(mark_raw, positive=True, allow_zero=False)
        if mark_raw is not None and mark is None:
            return f"{symbol}: mark price {mark_raw!r}"
        next_ms = raw.get("fundingTimestamp") or raw.get("nextFundingTimestamp")
        stamp = raw.get("timestamp")
        return FundingSnapshot(
            exchange=self.exchange_id,
            symbol=symbol,
            time_ms=int(stamp) if isinstance(stamp, int | float) and stamp > 0 else now_ms,
            rate=rate,
            interval_hours=hours,
            next_funding_ms=int(next_ms) if isinstance(next_ms, int | float) and next_ms > 0 else None,
            mark_price=mark,
            received=received,
        )


# -- tickers -------------------------------------------------------------------------------------------------


class TickerFeed(_PollingFeed):
    kind = "tickers"

    def __init__(self, *, liquidity: Liquidity, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = self.settings.ticker_poll
        self.liquidity = liquidity

    async def _poll_once(self) -> None:
        tickers = await self.gateway.call("fetch_tickers", "fetch_tickers")
        received = self.clock.monotonic()
        now_ms = int(self.clock.time() * 1000)
        events, volumes, bad, example = [], {}, 0, ""
        for symbol, raw in (tickers or {}).items():
            if symbol not in self.gateway.markets:
                continue  # spot or another market type the exchange returned in bulk
            event = self._ticker(symbol, raw, received, now_ms)
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad("fetch_tickers", event)
                continue
            events.append(event)
            if event.quote_volume_24h is not None:
                volumes[symbol] = event.quote_volume_24h
        if volumes:
            self.liquidity.update(self.exchange_id, volumes)
        self._publish(events)
        self._report_bad("fetch_tickers", bad, example)

    def _ticker(self, symbol: str, raw: Any, received: float, now_ms: int) -> Ticker | str:
        if not isinstance(raw, dict):
            return f"{symbol}: not an object"
        last = _finite(raw.get("last"), positive=True, allow_zero=False)
        if last is None:
            return f"{symbol}: last price {raw.get('last')!r}"
        quote = raw.get("quoteVolume")
        volume = _finite(quote, positive=True) if quote is not None else None
        if quote is not None and volume is None:
            return f"{symbol}: quote volume {quote!r}"
        if volume is None:  # OKX swaps report base volume only
            base = _finite(raw.get("baseVolume"), positive=True)
            contract = self.gateway.markets.get(symbol, {}).get("contractSize") or 1.0
            volume = None if base is None else base * last * (1.0 if raw.get("baseVolume") else contract)
        stamp = raw.get("timestamp")
        return Ticker(
            exchange=self.exchange_id,
            symbol=symbol,
            time_ms=int(stamp) if isinstance(stamp, int | float) and stamp > 0 else now_ms,
            last=last,
            quote_volume_24h=volume,
            received=received,
        )


# -- candles -------------------------------------------------------------------------------------------------


class CandleFeed(_StreamFeed):
    """Closed candles of ``timeframe`` for every symbol whose 24h quote volume is at least ``floor_usd``."""

    kind = "candles"
    _client_marks = ("kline", "ohlcv", "candle")

    def __init__(self, *, liquidity: Liquidity, timeframe: str, floor_usd: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.liquidity = liquidity
        self.timeframe = timeframe
        self.span_ms = timeframe_ms(timeframe)
        self.floor_usd = floor_usd
        self.streaming = self.exchange_id in _KLINE_STREAMS
        self._resubscribes = self.streaming
        self.symbols: list[str] = []
        self._last_open: dict[str, int] = {}  # newest closed candle published, per symbol

    # REST polling runs once per candle; with a 5m timeframe that is quieter than ``stale_after``.
    @property
    def stale_after(self) -> float:
        extra = 0.0 if self.streaming else self.span_ms / 1000
        return self.settings.stale_after + extra

    async def _work(self) -> None:
        await self.liquidity.wait_ready(self.exchange_id)
        while True:
            self.symbols = self.liquidity.above(self.exchange_id, self.floor_usd)
            await self._backfill([s for s in self.symbols if s not in self._last_open])
            if self.streaming:
                loops = [asyncio.create_task(self._watch_batch(batch)) for batch in self._batches()]
                try:
                    # Re-evaluate the liquidity floor now and then; the streams run meanwhile.
                    await self._sleep_or_fail(loops, self.settings.markets_refresh)
                finally:
                    for task in loops:
                        task.cancel()
                    await asyncio.gather(*loops, return_exceptions=True)
            else:
                await self._poll_until_refresh()

    async def _sleep_or_fail(self, loops: list[asyncio.Task[None]], seconds: float) -> None:
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        try:
            done, _ = await asyncio.wait({sleeper, *loops}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        for task in done:
            if task is not sleeper:
                task.result()

    def _batches(self) -> list[list[str]]:
        size = self.settings.candle_batch
        return [self.symbols[i : i + size] for i in range(0, len(self.symbols), size)]

    async def _watch_batch(self, batch: list[str]) -> None:
        ex = self.gateway.exchange
        pairs = [[symbol, self.timeframe] for symbol in batch]
        await self._watch_loop(lambda: ex.watch_ohlcv_for_symbols(pairs), "watch_ohlcv")

    def _drain(self) -> None:
        caches = getattr(self.gateway.exchange, "ohlcvs", None) or {}
        events: list[Candle] = []
        for symbol in self.symbols:
            rows = caches.get(symbol, {}).get(self.timeframe)
            if rows and len(rows) >= 2:
                # ccxt's rows carry no "closed" flag: a candle is closed once the next one has begun.
                events.extend(self._closed(symbol, rows[:-1], "watch_ohlcv"))
        if not self._publish(events):
            self._data(0)  # a message arrived even if nothing in it was new: the connection is alive

    async def _backfill(self, symbols: list[str]) -> None:
        limit = self.settings.candle_backfill
        for symbol in symbols:
            rows = await self._fetch(symbol, limit + 1 if limit else 2)
            if rows is None:
                continue
            self._publish(self._closed(symbol, rows, "fetch_ohlcv"))

    async def _fetch(self, symbol: str, limit: int) -> list[Any] | None:
        backoff = _BACKOFF_FIRST
        while True:
            try:
                rows = await self.gateway.call(
                    "fetch_ohlcv", "fetch_ohlcv", symbol, self.timeframe, limit=min(limit, 99), symbol=symbol
                )
                return rows if isinstance(rows, list) else None
            except SymbolError:
                return None
            except BadPayload as err:
                if self._health is not None:
                    self._health.error(str(err)[:200])
                return None
            except TransientError as err:
                backoff = await self._pause_for(err, backoff)

    def _now_open(self) -> int:
        return int(self.clock.time() * 1000) // self.span_ms * self.span_ms

    async def _poll_until_refresh(self) -> None:
        """REST: after each candle closes, fetch the last two candles of every symbol."""
        refresh_at = self.clock.monotonic() + self.settings.markets_refresh
        while self.clock.monotonic() < refresh_at:
            now_ms = int(self.clock.time() * 1000)
            next_close = (now_ms // self.span_ms + 1) * self.span_ms
            # A second's grace for the exchange to close the candle.
            await self.clock.sleep((next_close - now_ms) / 1000 + 1.0)
            events: list[Candle] = []
            for symbol in self.symbols:
                rows = await self._fetch(symbol, 3)
                if rows:
                    events.extend(self._closed(symbol, rows, "fetch_ohlcv"))
            if self._health is not None:
                self._health.cycle()
            if not self._publish(events):
                self._data(0)

    def _closed(self, symbol: str, rows: Iterable[Any], endpoint: str) -> list[Candle]:
        now_open = self._now_open()
        last = self._last_open.get(symbol, -1)
        received = self.clock.monotonic()
        out: list[Candle] = []
        for row in rows:
            try:
                open_ms = int(row[0])
                o, h, low, c, v = (float(x) for x in row[1:6])
            except (TypeError, ValueError, IndexError):
                self._bad(endpoint, f"{symbol}: candle row {row!r:.80}")
                continue
            if open_ms <= last or open_ms >= now_open:
                continue  # already published, or still open
            prices_ok = all(math.isfinite(x) and x > 0 for x in (o, h, low, c)) and h >= low
            if not prices_ok or not (math.isfinite(v) and v >= 0):
                self._bad(endpoint, f"{symbol}: candle {open_ms} has bad numbers")
                last = open_ms  # do not re-read a bad closed candle every wake-up
                continue
            last = open_ms
            out.append(
                Candle(
                    exchange=self.exchange_id,
                    symbol=symbol,
                    time_ms=open_ms,
                    timeframe=self.timeframe,
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=v,
                    received=received,
                )
            )
        if last >= 0:
            self._last_open[symbol] = last
        return out


# -- wiring --------------------------------------------------------------------------------------------------


def feeds_for(
    *,
    gateway: Gateway,
    bus: EventBus,
    liquidity: Liquidity,
    settings: ExchangeSettings,
    clock: Clock,
    metrics: Metrics,
    timeframe: str,
    floor_usd: float,
) -> list[_Feed]:
    """Every feed an exchange supports (MEXC: no public liquidation stream; candles: REST but on Binance)."""
    common: dict[str, Any] = {
        "gateway": gateway,
        "bus": bus,
        "settings": settings,
        "clock": clock,
        "metrics": metrics,
    }
    feeds: list[_Feed] = [TickerFeed(liquidity=liquidity, **common), FundingFeed(**common)]
    if gateway.exchange_id in ("binanceusdm", "bybit", "okx"):
        feeds.append(LiquidationFeed(liquidity=liquidity, **common))
    feeds.append(CandleFeed(liquidity=liquidity, timeframe=timeframe, floor_usd=floor_usd, **common))
    return feeds
