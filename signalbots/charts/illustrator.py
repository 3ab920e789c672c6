"""Charts for signals (a reply right after the alert) and for ``/chart``.

``illustrate(signal)`` is called on the event loop when the desk has accepted a signal — after its text
alert is committed to the outbox. It only builds the spec (a copy of the recent data, cheap) and queues
it; ``run`` renders in the worker process and submits the PNG as a reply to the alert. So the text never
waits for a picture, and a render that fails or hangs costs the chart only: it is logged, counted in
``signalbots_charts_total{result}``, and the queue moves on. The queue is bounded: in a burst the oldest
pending charts are dropped (their alerts went out regardless).
"""

from __future__ import annotations

import asyncio
import html
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import structlog

from signalbots.charts.history import MarketHistory
from signalbots.charts.renderer import Renderer
from signalbots.charts.signal_chart import for_signal
from signalbots.charts.spec import ChartSpec, for_market, for_outcome
from signalbots.events import timeframe_ms
from signalbots.health import TaskHealth
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, Notifier
from signalbots.signals import keys
from signalbots.signals.model import Direction, Signal

_log = structlog.get_logger(__name__)


def chart_key(signal_key: str) -> str:
    return keys.chart(signal_key)


class Illustrator:
    def __init__(
        self,
        *,
        history: MarketHistory,
        renderer: Renderer,
        notifier: Notifier,
        metrics: Metrics,
        enabled: Callable[[], bool] = lambda: True,
        timeout: float = 35.0,
        queue_size: int = 16,
    ) -> None:
        self._history = history
        self._renderer = renderer
        self._notifier = notifier
        self._metrics = metrics
        self._enabled = enabled
        self._timeout = timeout
        self._queue: deque[tuple[ChartSpec, Message]] = deque()  # the message waits for its photo
        self._queue_size = queue_size
        self._wake = asyncio.Event()

    def illustrate(self, signal: Signal) -> None:
        """Queue the signal's chart; never blocks, never raises for a chart's sake."""
        if not self._enabled():
            return
        c = signal.candidate
        what = f"{c.strategy} {c.kind} · {c.exchange} {c.symbol}"
        if c.kind == "spread":  # its "symbol" names both legs, already in the alert it replies to
            what = f"{c.strategy} spread · {c.symbol.split(' ', 1)[0]} · {c.exchange}"
        caption = f"📈 {html.escape(what)}"
        self._enqueue(
            for_signal(c, self._history),
            Message(
                kind=Kind.CHART,
                text=caption,
                dedupe_key=chart_key(c.dedupe_key),
                strategy=c.strategy,
                reply_to_key=keys.signal(c.dedupe_key),  # the desk's key for the alert
                silent=True,  # the alert itself already rang
            ),
        )

    def illustrate_outcome(self, signal: Signal) -> None:
        """Queue a small chart of the path to target or stop, replying to the outcome message."""
        c = signal.candidate
        if not self._enabled() or c.direction is Direction.NONE or signal.resolved_ms is None:
            return
        self._enqueue(
            for_outcome(signal, self._history),
            Message(
                kind=Kind.CHART,
                text=f"📉 path of {html.escape(c.symbol)} from signal to {html.escape(signal.status.value)}",
                dedupe_key=chart_key(keys.outcome(c.dedupe_key)),
                strategy=c.strategy,
                reply_to_key=keys.outcome(c.dedupe_key),  # the tracker's key for the outcome reply
                silent=True,
            ),
        )

    def _enqueue(self, spec: ChartSpec, message: Message) -> None:
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self._count("dropped")
        self._queue.append((spec, message))
        self._wake.set()

    async def run(self, health: TaskHealth) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            spec, message = self._queue.popleft()
            health.event()
            png = await self._draw(spec, key=message.dedupe_key)
            if png is not None:
                self._notifier.submit(replace(message, photo=png))

    async def _draw(self, spec: ChartSpec, *, key: str) -> bytes | None:
        try:
            async with asyncio.timeout(self._timeout):
                png = await self._renderer.render(spec)
        except TimeoutError:
            self._count("timeout")
            _log.warning("chart_abandoned", key=key, reason=f"not drawn within {self._timeout:g}s")
            return None
        except Exception as err:  # a chart is optional: whatever breaks it costs the chart, nothing else
            self._count("failed")
            _log.warning("chart_failed", key=key, error=f"{type(err).__name__}: {err}"[:300])
            return None
        self._count("ok")
        return png

    def _count(self, result: str) -> None:
        self._metrics.charts.labels(result=result).inc()

    async def market_chart(self, query: str, timeframe: str | None) -> tuple[bytes | None, str]:
        """``/chart``: the PNG and its caption, or None and the reason in words."""
        if timeframe is not None:
            try:
                timeframe_ms(timeframe)
            except ValueError:
                return None, f"⚠️ unknown timeframe {html.escape(timeframe)} (e.g. 5m, 15m, 1h, 4h)"
        found = self._history.find(query)
        if not found:
            return None, f"⚠️ no live data held for {html.escape(query)} (try e.g. BTC or BTC/USDT:USDT)"
        exchange, symbol = found[0]
        try:
            spec = for_market(self._history, exchange, symbol, timeframe)
        except ValueError as err:
            return None, f"⚠️ {html.escape(str(err))}"
        if spec is None:
            return None, f"⚠️ no candles or funding held yet for {html.escape(symbol)} on {exchange}"
        png = await self._draw(spec, key=f"/chart {symbol}")
        if png is None:
            return None, "⚠️ the chart could not be drawn right now; try again in a minute"
        what = spec.candles[0].timeframe if spec.candles else "funding"
        return png, f"📈 {html.escape(exchange)} {html.escape(symbol)} {html.escape(what)}"
