"""What every feed shares: the staleness watchdog, bad-payload accounting and retry backoff.

``Feed.run(health)`` is the supervised task: it runs the feed's ``_work`` and watches it. No data for
``stale_after`` → log ``feed_stale`` once, count it, mark the task DEGRADED, and (websockets) close the
feed's connections and subscribe again; the first data after that logs ``feed_recovered`` and the task is
RUNNING again. A payload we cannot use is counted in ``metrics.bad_payloads`` (exchange, endpoint) and
skipped; the task carries on.

``PollingFeed`` (REST, ``_poll_once`` every ``interval``) and ``StreamFeed`` (websocket: one loop per
subscription, reading ccxt's caches through the gateway after every wake-up) are the two shapes of feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from signalbots.clock import Clock
from signalbots.errors import RateLimited, SymbolError, TransientError
from signalbots.events import MarketEvent
from signalbots.exchange.bus import EventBus
from signalbots.exchange.gateway import Gateway
from signalbots.health import TaskHealth, TaskStatus
from signalbots.logs import shorten
from signalbots.metrics import Metrics
from signalbots.settings import ExchangeSettings

# The feeds' log lines keep the one logger name they had before the feeds got a module each.
_log = structlog.get_logger("signalbots.exchange.feeds")

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
STREAM_UP_AFTER = 5.0  # seconds a re-issued watch must stand without failing to count as connected


def finite(value: Any, *, positive: bool = False, allow_zero: bool = True) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or (positive and (number < 0 or (number == 0 and not allow_zero))):
        return None
    return number


class Feed:
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
        self._events: Any = None  # prometheus children, bound in run()
        self._data_time: Any = None
        self._log = _log.bind(exchange=self.exchange_id, feed=self.kind)
        self._symbol_ids: tuple[int, dict[str, str]] = (0, {})
        self._down: dict[str, str] = {}  # streams that cannot connect (or were cut), with the reason

    # A feed's data may legitimately pause (no liquidation for a while): ``stale_after`` is its limit.
    @property
    def stale_after(self) -> float:
        return self.settings.stale_after

    async def run(self, health: TaskHealth) -> None:
        self._health = health
        self._last_data = self.clock.monotonic()
        labels = {"exchange": self.exchange_id, "feed": self.kind}
        self._events = self.metrics.feed_events.labels(**labels)
        self._data_time = self.metrics.feed_last_data.labels(**labels)
        self._data_time.set(self.clock.time())  # a feed that never delivers ages from its start
        self.metrics.feed_stale_after.labels(**labels).set(self.stale_after)
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
            self._events.inc(n)
            self._data_time.set(self.clock.time())
        if self.stale:
            self.stale = False
            self._log.info("feed_recovered")
            self._show_status()

    def _show_status(self) -> None:
        """RUNNING, or DEGRADED with the first reason: a stream that cannot connect, else staleness."""
        if self._health is None:
            return
        note = self._status_note()
        if self._down:
            first = next(iter(self._down.values()))
            more = f" (+{len(self._down) - 1} more)" if len(self._down) > 1 else ""
            self._health.set(
                TaskStatus.DEGRADED, f"stream down: {first}{more}" + (f" · {note}" if note else "")
            )
        elif not self.stale:
            self._health.set(TaskStatus.RUNNING, note)

    def _status_note(self) -> str:
        """What the health detail says besides trouble (the candle feed: streamed or polled)."""
        return ""

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
            self._health.error(str(err))  # health cuts it at a word
        await self.clock.sleep(backoff)
        return min(backoff * 2, BACKOFF_MAX)

    async def _work(self) -> None:
        raise NotImplementedError


class PollingFeed(Feed):
    """REST: ``_poll_once`` every ``interval``; a run of failures shows up as staleness."""

    interval = 60.0

    async def _work(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            started = self.clock.monotonic()
            try:
                await self._poll_once()
            except (TransientError, SymbolError) as err:
                backoff = await self._pause_for(err, backoff)
                continue
            backoff = BACKOFF_FIRST
            if self._health is not None:
                self._health.cycle()
            await self.clock.sleep(max(0.0, started + self.interval - self.clock.monotonic()))

    async def _poll_once(self) -> None:
        raise NotImplementedError


class StreamFeed(Feed):
    """Websocket: one loop per subscription unit, each waking on data and reading ccxt's stream caches."""

    _resubscribes = True
    _client_marks: tuple[str, ...] = ()

    async def _close_connections(self) -> None:
        closed = await self.gateway.close_streams(self._client_marks, f"{self.name}: stale, resubscribing")
        self._log.info("feed_resubscribing", connections=closed)

    async def _watch_loop(
        self,
        endpoint: str,
        method: str,
        args: Callable[[], tuple[Any, ...]] = tuple,
        *,
        stream: str | None = None,
        key: str | None = None,
        drain: Callable[[Any], None] | None = None,
        pace: float = 0.0,
    ) -> None:
        """Call ``gateway.watch(endpoint, method, *args())`` forever; drain ccxt's cache after each wake-up
        (``drain``, given what the watch returned, else ``_drain``: a subscription may drain only what it
        carries); ``pace``: seconds to wait between calls where the data is read as it arrives anyway.

        A stream that fails (refused upgrade, dropped connection, ban, open circuit) is a state change of the
        feed: one warning and the feed DEGRADED in health at once, then quiet retries. A stream counts as up
        again when data arrives or its watch has stood ``STREAM_UP_AFTER`` seconds without failing (a quiet
        topic sends nothing for minutes); when every stream is up, one ``stream_recovered`` line.
        """
        name = stream or endpoint
        backoff = BACKOFF_FIRST
        while True:
            try:
                result = await self._watch_once(
                    name, lambda: self.gateway.watch(endpoint, method, *args(), key=key)
                )
            except TransientError as err:
                self._stream_failed(name, err)
                backoff = await self._stream_pause(err, backoff)
                continue
            backoff = BACKOFF_FIRST
            self._stream_ok(name)
            if drain is not None:
                drain(result)
            else:
                self._drain()
            if pace > 0:
                await self.clock.sleep(pace)  # the data is read elsewhere; this watch keeps the subscription

    async def _watch_once(self, name: str, watch: Callable[[], Awaitable[Any]]) -> Any:
        if name not in self._down:
            return await watch()
        pending = asyncio.ensure_future(watch())
        try:
            while not pending.done():
                grace = asyncio.ensure_future(self.clock.sleep(STREAM_UP_AFTER))
                try:
                    await asyncio.wait({pending, grace}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    grace.cancel()
                if not pending.done() and self._connected():
                    self._stream_ok(name)  # connected and not failing: the topic is merely quiet
                    break
            return await pending
        finally:
            pending.cancel()

    def _connected(self) -> bool:
        """A websocket carrying this feed's subscriptions has completed its handshake."""
        return self.gateway.stream_connected(self._client_marks)

    async def _stream_pause(self, err: TransientError, backoff: float) -> float:
        if isinstance(err, RateLimited):
            await self.clock.sleep(max(err.retry_after or backoff, self.gateway.streams_banned_for(), 1.0))
            return backoff
        await self.clock.sleep(backoff)
        return min(backoff * 2, BACKOFF_MAX)

    def _stream_failed(self, name: str, err: Exception) -> None:
        if name in self._down:
            return
        reason = shorten(str(err))
        first = not self._down
        self._down[name] = reason
        if not first:
            return  # the feed is already down (one dropped connection fails all its topics at once)
        self._log.warning("stream_down", stream=name, error=reason)
        if self._health is not None:
            self._health.error(f"{self.name}: {reason}")
        self._show_status()

    def _stream_ok(self, name: str) -> None:
        if self._down.pop(name, None) is None:
            return
        if not self._down:
            self._log.info("stream_recovered", stream=name)
        self._show_status()

    def _drain(self) -> None:
        raise NotImplementedError
