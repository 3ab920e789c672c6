"""Signal charts are queued behind the alert; a renderer that raises or hangs costs the chart only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from signalbots.charts.history import MarketHistory
from signalbots.charts.illustrator import Illustrator
from signalbots.charts.spec import ChartSpec
from signalbots.clock import ManualClock
from signalbots.health import Health
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind
from signalbots.signals.model import Signal

from .conftest import SPIKE_FACTS, candidate


class FakeRenderer:
    """Draws b'PNG:<title>' unless told to fail or hang for a given title."""

    def __init__(self) -> None:
        self.raise_for: set[str] = set()
        self.hang_for: set[str] = set()
        self.seen: list[str] = []

    async def render(self, spec: ChartSpec) -> bytes:
        self.seen.append(spec.title)
        if any(k in spec.title for k in self.raise_for):
            raise RuntimeError("matplotlib blew up")
        if any(k in spec.title for k in self.hang_for):
            await asyncio.Event().wait()
        return f"PNG:{spec.title}".encode()


def _signal(i: int, symbol: str) -> Signal:
    return Signal(id=i, candidate=candidate("spike", symbol=symbol, dedupe_key=f"k{i}", facts=SPIKE_FACTS))


@asynccontextmanager
async def _running(ill: Illustrator) -> AsyncIterator[None]:
    task = asyncio.create_task(ill.run(Health(clock=ManualClock()).task("charts")))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):  # a real-time safety net; the condition is what we wait for
        while not cond():  # noqa: ASYNC110 - the worker task's progress is the event
            await asyncio.sleep(0.005)


async def test_charts_reply_to_their_signal_and_failures_or_hangs_cost_only_their_chart() -> None:
    renderer, notifier, metrics = FakeRenderer(), DryRunNotifier(), Metrics()
    renderer.raise_for.add("BAD/")
    renderer.hang_for.add("SLOW/")
    ill = Illustrator(
        history=MarketHistory(), renderer=renderer, notifier=notifier, metrics=metrics, timeout=0.3
    )
    async with _running(ill):
        for i, sym in enumerate(("BAD/USDT:USDT", "SLOW/USDT:USDT", "GOOD/USDT:USDT")):
            ill.illustrate(_signal(i, sym))
        await _until(lambda: len(notifier.messages) == 1)
    (chart,) = notifier.messages
    assert chart.kind is Kind.CHART and chart.reply_to_key == "signal:k2" and chart.dedupe_key == "chart:k2"
    assert chart.photo is not None and b"GOOD/USDT:USDT" in chart.photo
    assert chart.silent is True
    assert len(renderer.seen) == 3
    counts = {
        s.labels["result"]: s.value
        for m in metrics.registry.collect()
        if m.name == "signalbots_charts"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert counts == {"failed": 1.0, "timeout": 1.0, "ok": 1.0}


async def test_charts_off_queues_nothing_and_a_burst_keeps_the_newest() -> None:
    renderer, notifier = FakeRenderer(), DryRunNotifier()
    on = [False]
    ill = Illustrator(
        history=MarketHistory(),
        renderer=renderer,
        notifier=notifier,
        metrics=Metrics(),
        enabled=lambda: on[0],
        queue_size=2,
    )
    ill.illustrate(_signal(0, "A/USDT:USDT"))
    on[0] = True
    for i in range(1, 5):
        ill.illustrate(_signal(i, f"S{i}/USDT:USDT"))
    async with _running(ill):
        await _until(lambda: len(notifier.messages) == 2)
    assert [m.reply_to_key for m in notifier.messages] == ["signal:k3", "signal:k4"]


async def test_an_outcome_chart_replies_to_the_outcome_message() -> None:
    from signalbots.signals.model import Status

    renderer, notifier = FakeRenderer(), DryRunNotifier()
    ill = Illustrator(history=MarketHistory(), renderer=renderer, notifier=notifier, metrics=Metrics())
    sig = _signal(7, "X/USDT:USDT")
    ill.illustrate_outcome(sig)  # not resolved yet: nothing to draw
    sig.status, sig.resolved_ms, sig.exit_price, sig.r_multiple = (
        Status.TARGET2,
        sig.candidate.time_ms + 1,
        1.0,
        2.0,
    )
    ill.illustrate_outcome(sig)
    async with _running(ill):
        await _until(lambda: len(notifier.messages) == 1)
    (chart,) = notifier.messages
    assert chart.reply_to_key == "outcome:k7" and chart.dedupe_key == "chart:outcome:k7"
    assert chart.photo is not None and b"target2 +2.00R" in chart.photo
