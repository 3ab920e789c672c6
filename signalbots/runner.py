"""The live signal path: bus → strategy → desk, and bus → tracker.

Strategies stay pure; these tasks do the bookkeeping around them (health and metrics counters, the pause
switch, persisting the small strategy state that must survive a restart, feeding prices to the tracker and
the desk's correlation history). Time is event time, as in the backtest, so both paths behave alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from signalbots.clock import Clock
from signalbots.controls import Controls
from signalbots.events import Candle, FundingSnapshot, MarketEvent, OpenInterest, Ticker
from signalbots.exchange.bus import EventBus, Subscription
from signalbots.health import TaskHealth, TaskStatus
from signalbots.metrics import Metrics
from signalbots.notifier import Notifier
from signalbots.signals.desk import DAY_MS, Desk
from signalbots.signals.market_move import MarketMoves
from signalbots.signals.model import Candidate, Signal
from signalbots.signals.tracker import Tracker
from signalbots.store import Store
from signalbots.strategies.base import Stateful, Strategy

_EXPIRE_EVERY_MS = 60_000
_log = structlog.get_logger(__name__)


class StrategyRunner:
    """Runs one strategy over the live event stream; its candidates go to the desk."""

    def __init__(
        self,
        *,
        strategy: Strategy,
        desk: Desk,
        bus: EventBus,
        controls: Controls,
        store: Store,
        metrics: Metrics,
        clock: Clock,
        max_age: float,
        illustrate: Callable[[Signal], None] | None = None,
    ) -> None:
        self.strategy = strategy
        self._illustrate = illustrate
        self._max_age_ms = max_age * 1000
        self._desk = desk
        self._moves = MarketMoves(desk=desk, clock=clock)  # one candle close's candidates ranked together
        self._bus = bus
        self._controls = controls
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._state_key = f"strategy_state:{strategy.name}"

    async def run(self, health: TaskHealth) -> None:
        name = self.strategy.name
        log = _log.bind(strategy=name)
        saved: dict[str, Any] | None = None
        if isinstance(self.strategy, Stateful):
            saved = self._store.get(self._state_key) or {}
            self.strategy.restore(saved)
        events = self._metrics.events.labels(strategy=name)
        sub = self._bus.subscribe(f"strategy:{name}")
        health.inputs = tuple(getattr(self.strategy, "inputs", ()))  # health: "no data" when all are down
        log.info("strategy_started")
        # Per event, only what must be per event (profiled: the pause switch is a SQLite read and the
        # Stateful check a Protocol isinstance; together a quarter of a print's cost at thousands a second).
        stateful = self.strategy if isinstance(self.strategy, Stateful) else None
        shown_at = -1.0

        def controls_changed() -> None:  # a /pause or /resume shows at the next event, not a second later
            nonlocal shown_at
            shown_at = -1.0

        self._controls.add_listener(controls_changed)
        try:
            while True:
                event = await self._next(sub)
                self._send(health, self._moves.release())
                if event is None:
                    continue  # a moment's grace ended before the next event came
                health.event()
                events.inc()
                candidates = self.strategy.on_event(event)
                if stateful is not None:
                    state = stateful.state()
                    if state != saved:
                        self._store.put(self._state_key, state, now=self._clock.time())
                        saved = state
                now = self._clock.monotonic()
                if not candidates and shown_at >= 0 and now - shown_at < 1.0:
                    continue
                shown_at = now
                paused = self._controls.is_paused(name)
                if health.status in (TaskStatus.RUNNING, TaskStatus.PAUSED):
                    health.set(TaskStatus.PAUSED if paused else TaskStatus.RUNNING)
                if not candidates:
                    continue
                health.candidates += len(candidates)
                self._metrics.candidates.labels(strategy=name).inc(len(candidates))
                if paused:
                    self._drop(health, candidates, "paused")
                    continue
                # A spike that happened while the daemon was down (the backfill replays it) is news no more.
                now_ms = self._clock.time() * 1000
                stale = [c for c in candidates if now_ms - c.time_ms > self._max_age_ms]
                if stale:
                    self._drop(health, stale, "stale")
                    candidates = [c for c in candidates if c not in stale]
                self._send(health, self._moves.hold(candidates))
        except asyncio.CancelledError:
            self._send(health, self._moves.release(everything=True))  # a stop never loses a held alert
            raise
        finally:
            self._controls.remove_listener(controls_changed)
            sub.close()

    async def _next(self, sub: Subscription) -> MarketEvent | None:
        """The next event, or None when a held moment's grace ends first."""
        due = self._moves.due()
        if due is None:
            return await sub.get()
        event = sub.get_nowait()
        if event is not None:
            return event
        getter = asyncio.ensure_future(sub.get())
        timer = asyncio.ensure_future(self._clock.sleep(due - self._clock.monotonic()))
        try:
            await asyncio.wait((getter, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not getter.done():
                getter.cancel()  # cancelled before it takes the event: the event stays queued
                await asyncio.wait((getter,))  # gone before the next get: one waiter per subscription
        return getter.result() if getter.done() and not getter.cancelled() else None

    def _send(self, health: TaskHealth, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        signals = self._moves.consider(candidates)
        if self._illustrate is not None:
            for accepted in signals:  # each alert is committed already; its chart follows
                self._illustrate(accepted)
        health.signals += len(signals)
        health.suppressed += len(candidates) - len(signals)

    def _drop(self, health: TaskHealth, candidates: list[Candidate], gate: str) -> None:
        health.suppressed += len(candidates)
        self._metrics.suppressed.labels(strategy=self.strategy.name, gate=gate).inc(len(candidates))
        for c in candidates:
            _log.debug(
                "candidate_suppressed",
                gate=gate,
                strategy=c.strategy,
                exchange=c.exchange,
                symbol=c.symbol,
                key=c.dedupe_key,
            )


class TrackerRunner:
    """Feeds prices to the tracker (outcomes) and the desk (correlation history); expires old signals;
    posts the daily summary once the event stream crosses 00:00 UTC."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        desk: Desk,
        bus: EventBus,
        notifier: Notifier,
        daily_summary: bool,
        illustrate: Callable[[Signal], None] | None = None,
    ) -> None:
        self._illustrate = illustrate
        self._tracker = tracker
        self._desk = desk
        self._bus = bus
        self._notifier = notifier
        self._daily_summary = daily_summary
        self._now_ms = 0
        self._next_expire_ms = 0

    def on_event(self, event: MarketEvent) -> None:
        if isinstance(event, Candle):
            resolved = self._tracker.on_price(
                event.exchange,
                event.symbol,
                event.time_ms,
                event.high,
                event.low,
                last=event.close,
                end_ms=event.close_time_ms,
                open_price=event.open,
            )
            self._desk.observe_price(event.exchange, event.symbol, event.close_time_ms - 1, event.close)
            now = event.close_time_ms
        elif isinstance(event, Ticker):
            resolved = self._tracker.on_price(
                event.exchange, event.symbol, event.time_ms, event.last, event.last, last=event.last
            )
            self._desk.observe_price(event.exchange, event.symbol, event.time_ms, event.last)
            now = event.time_ms
        elif isinstance(event, FundingSnapshot):
            resolved = self._tracker.on_funding(event)
            now = event.time_ms
        elif isinstance(event, OpenInterest):
            self._desk.observe_open_interest(event)  # every alert's context
            return
        else:
            return
        if resolved:
            self._note(resolved)
        previous, self._now_ms = self._now_ms, max(self._now_ms, now)
        if self._now_ms >= self._next_expire_ms:
            self._note(self._tracker.expire(self._now_ms))
            self._next_expire_ms = self._now_ms + _EXPIRE_EVERY_MS
        if self._daily_summary and previous and previous // DAY_MS < self._now_ms // DAY_MS:
            summary = self._tracker.daily_summary(previous)
            if summary is not None:
                self._notifier.submit(summary)

    def _note(self, resolved: list[Signal]) -> None:
        self._desk.note_outcomes(resolved)
        if self._illustrate is not None:
            for sig in resolved:  # each outcome reply is committed already; its chart follows
                self._illustrate(sig)

    async def run(self, health: TaskHealth) -> None:
        sub = self._bus.subscribe("tracker")
        try:
            while True:
                event = await sub.get()
                health.event()
                self.on_event(event)
        finally:
            sub.close()
