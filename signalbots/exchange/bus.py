"""The internal stream of market events, and the liquidity table the feeds keep.

Feeds publish; strategies and the tracker each read from their own bounded subscription, so a slow reader
never blocks a feed (it loses its oldest events instead, counted in ``signalbots_bus_dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping

from signalbots.events import MarketEvent
from signalbots.metrics import Metrics


class Subscription:
    """One consumer's bounded queue. When it falls behind, the oldest events are dropped and counted."""

    def __init__(self, *, name: str, maxsize: int, bus: EventBus) -> None:
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[MarketEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._bus = bus

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: MarketEvent) -> None:
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            self._bus.metrics.bus_dropped.labels(subscriber=self.name).inc()
        self._items.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> MarketEvent:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def get_nowait(self) -> MarketEvent | None:
        return self._items.popleft() if self._items else None

    def drain(self) -> list[MarketEvent]:
        out = list(self._items)
        self._items.clear()
        return out

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> MarketEvent:
        return await self.get()


class EventBus:
    """Fan-out of market events to every subscriber (strategies, tracker); publishing never blocks."""

    def __init__(self, *, metrics: Metrics, maxsize: int = 20_000) -> None:
        self.metrics = metrics
        self.maxsize = maxsize
        self.published = 0
        self._subs: list[Subscription] = []
        self._taps: list[Callable[[MarketEvent], None]] = []

    def subscribe(self, name: str, *, maxsize: int | None = None) -> Subscription:
        sub = Subscription(name=name, maxsize=maxsize or self.maxsize, bus=self)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)

    def tap(self, listener: Callable[[MarketEvent], None]) -> None:
        """Call ``listener`` with every event as it is published, before any subscriber can see it (the
        market history for charts: a signal's picture must hold the event that fired it). It must be
        cheap and must not raise."""
        self._taps.append(listener)

    def publish(self, event: MarketEvent) -> None:
        self.published += 1
        for listener in self._taps:
            listener(event)
        for sub in self._subs:
            sub.put(event)


class Liquidity:
    """The latest 24h quote volume and last price per (exchange, symbol), from the ticker feed."""

    def __init__(self) -> None:
        self._volume: dict[str, dict[str, float]] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._last: dict[str, dict[str, float]] = {}

    def update(
        self, exchange: str, volumes: Mapping[str, float], prices: Mapping[str, float] | None = None
    ) -> None:
        self._volume[exchange] = dict(volumes)
        if prices is not None:
            self._last[exchange] = dict(prices)
        self._event(exchange).set()

    def last_price(self, exchange: str, symbol: str) -> float | None:
        """The latest ticker price: what a venue's open interest in coins is valued at (Binance)."""
        return self._last.get(exchange, {}).get(symbol)

    def _event(self, exchange: str) -> asyncio.Event:
        return self._ready.setdefault(exchange, asyncio.Event())

    async def wait_ready(self, exchange: str) -> None:
        await self._event(exchange).wait()

    def quote_volume(self, exchange: str, symbol: str) -> float | None:
        return self._volume.get(exchange, {}).get(symbol)

    def above(self, exchange: str, floor: float) -> list[str]:
        return sorted(s for s, v in self._volume.get(exchange, {}).items() if v >= floor)

    def most_liquid(self, exchange: str, n: int) -> list[str]:
        ranked = sorted(self._volume.get(exchange, {}).items(), key=lambda kv: -kv[1])
        return [s for s, _ in ranked[:n]]
