"""The live signal path around a pure strategy: pause switch, stale candidates, counters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.events import Candle, FundingSnapshot, Liquidation, Side
from signalbots.exchange.bus import EventBus
from signalbots.health import Health, TaskHealth, TaskStatus
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind
from signalbots.runner import StrategyRunner, TrackerRunner
from signalbots.settings import Settings
from signalbots.signals.desk import Desk
from signalbots.signals.model import Candidate, Direction
from signalbots.signals.tracker import Tracker
from signalbots.store import Store
from signalbots.strategies.liquidation import LiquidationStrategy


@dataclass
class Rig:
    clock: ManualClock
    bus: EventBus
    notifier: DryRunNotifier
    controls: Controls
    health: TaskHealth

    async def cascade(self, *, age_s: float, symbol: str = "ABC/USDT:USDT") -> None:
        t = int((self.clock.time() - age_s) * 1000)
        for i in range(2):  # $300k of long liquidations: over the $250k tier of a small symbol
            self.bus.publish(
                Liquidation("binanceusdm", symbol, t + i * 1000, Side.LONG, 1.0, 150_000.0, 150_000.0)
            )
        for _ in range(10):
            await asyncio.sleep(0)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = ManualClock()
    settings = Settings()
    metrics = Metrics()
    notifier = DryRunNotifier()
    async with Store(path=tmp_path / "s.db") as store:
        bus = EventBus(metrics=metrics)
        controls = Controls(store=store, clock=clock)
        desk = Desk(store=store, settings=settings, clock=clock, metrics=metrics, notifier=notifier)
        runner = StrategyRunner(
            strategy=LiquidationStrategy(settings=settings.strategies.liquidation),
            desk=desk,
            bus=bus,
            controls=controls,
            store=store,
            metrics=metrics,
            clock=clock,
            max_age=settings.risk.max_signal_age,
        )
        health = Health(clock=clock).task("strategy:liquidation", kind="strategy")
        health.set(TaskStatus.RUNNING)
        task = asyncio.create_task(runner.run(health))
        await asyncio.sleep(0)
        yield Rig(clock, bus, notifier, controls, health)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_fresh_cascade_is_sent(rig: Rig) -> None:
    await rig.cascade(age_s=10)
    [message] = rig.notifier.messages
    assert message.kind is Kind.SIGNAL and "ABC/USDT:USDT" in message.text
    assert (rig.health.events, rig.health.candidates, rig.health.signals) == (2, 1, 1)


async def test_a_cascade_older_than_max_signal_age_is_not_sent(rig: Rig) -> None:
    await rig.cascade(age_s=3600)  # e.g. replayed by a feed's backfill after a restart
    assert rig.notifier.messages == []
    assert (rig.health.candidates, rig.health.suppressed, rig.health.signals) == (1, 1, 0)


async def test_a_paused_strategy_sends_nothing_until_resumed(rig: Rig) -> None:
    rig.controls.pause("liquidation")
    await rig.cascade(age_s=10)
    assert rig.notifier.messages == []
    assert rig.health.status is TaskStatus.PAUSED and rig.health.suppressed == 1
    rig.controls.resume("liquidation")
    await rig.cascade(age_s=5, symbol="XYZ/USDT:USDT")
    assert [m.kind for m in rig.notifier.messages] == [Kind.SIGNAL]
    assert rig.health.status is TaskStatus.RUNNING


async def test_the_tracker_runner_hands_candle_opens_and_funding_to_the_tracker(tmp_path: Path) -> None:
    clock, metrics, notifier = ManualClock(), Metrics(), DryRunNotifier()
    settings = Settings(_env_file=None)
    async with Store(path=tmp_path / "t.db") as store:
        tracker = Tracker(store=store, settings=settings, clock=clock, metrics=metrics, notifier=notifier)
        desk = Desk(
            store=store,
            settings=settings,
            clock=clock,
            metrics=metrics,
            notifier=notifier,
            on_signal=tracker.follow,  # the desk tells the tracker; nothing polls the table
        )
        runner = TrackerRunner(
            tracker=tracker, desk=desk, bus=EventBus(metrics=metrics), notifier=notifier, daily_summary=False
        )
        t0, ex, sym = 1_700_000_100_000, "binanceusdm", "ABC/USDT:USDT"
        [sig] = desk.consider(
            [
                Candidate(
                    "volume",
                    "spike",
                    ex,
                    sym,
                    Direction.LONG,
                    100.0,
                    98.0,
                    (102.0, 104.0),
                    t0,
                    t0 + 86_400_000,
                    "k",
                )
            ]
        )
        runner.on_event(FundingSnapshot(ex, sym, t0 + 60_000, 0.001, 8.0, t0 + 60_000, 100.0))  # long pays
        runner.on_event(Candle(ex, sym, t0 + 300_000, "5m", 96.0, 97.0, 95.0, 96.5, 1.0))  # gaps below
        [row] = store.db.execute("SELECT exit_price, gross_r, funding_r FROM signals").fetchall()
        assert (row["exit_price"], row["gross_r"], row["funding_r"]) == (96.0, -2.0, pytest.approx(-0.05))
        assert sig.id == 1 and [m.kind for m in notifier.messages] == [Kind.SIGNAL, Kind.OUTCOME]


# a market-wide move, live: candidates of one candle close arrive one symbol at a time --------------------
_FIVE_MIN = 300_000
_MOVE = {"AAVE": 7.0, "ADA": 7.5, "ALGO": 8.0, "ALICE": 8.5, "XLM": 15.0, "ZEC": 20.0}  # spike ÷ baseline


@dataclass
class VolumeRig:
    clock: ManualClock
    bus: EventBus
    notifier: DryRunNotifier
    health: TaskHealth
    spikes: list[Candle]  # one per symbol, the same close, all down 2 %
    task: asyncio.Task[None]  # the runner

    def sent(self, prefix: str) -> list[str]:
        return [m.text for m in self.notifier.messages if m.dedupe_key.startswith(prefix)]


async def _settle() -> None:
    for _ in range(20):  # lets the runner take what was published (no time passes)
        await asyncio.sleep(0)


@pytest.fixture
async def volume_rig(tmp_path: Path) -> AsyncIterator[VolumeRig]:
    """The volume strategy's runner, each symbol with its 48-candle baseline of $1.0–1.4M seen."""
    from signalbots.strategies.volume import VolumeStrategy

    clock = ManualClock()
    settings = Settings()
    metrics = Metrics()
    notifier = DryRunNotifier()
    spike_open = int(clock.time() * 1000) // _FIVE_MIN * _FIVE_MIN - _FIVE_MIN

    def candle(base: str, open_ms: int, quote: float, close: float) -> Candle:
        return Candle(
            "binanceusdm", f"{base}/USDT:USDT", open_ms, "5m", 100.0, 100.5, close - 0.5, close, 0, quote
        )

    async with Store(path=tmp_path / "s.db") as store:
        bus = EventBus(metrics=metrics)
        runner = StrategyRunner(
            strategy=VolumeStrategy(settings=settings.strategies.volume),
            desk=Desk(store=store, settings=settings, clock=clock, metrics=metrics, notifier=notifier),
            bus=bus,
            controls=Controls(store=store, clock=clock),
            store=store,
            metrics=metrics,
            clock=clock,
            max_age=settings.risk.max_signal_age,
        )
        health = Health(clock=clock).task("strategy:volume", kind="strategy")
        task = asyncio.create_task(runner.run(health))
        await _settle()  # subscribed
        for i in range(48):
            for base in _MOVE:
                bus.publish(candle(base, spike_open - (48 - i) * _FIVE_MIN, 1e6 * (1 + 0.1 * (i % 5)), 100.0))
        await _settle()
        spikes = [candle(base, spike_open, 1.2e6 * x, 98.0) for base, x in _MOVE.items()]
        yield VolumeRig(clock, bus, notifier, health, spikes, task)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_market_wide_move_arriving_per_symbol_is_ranked_after_the_grace(
    volume_rig: VolumeRig,
) -> None:
    rig = volume_rig
    for candle in rig.spikes[:3]:  # alphabetical: the weakest first
        rig.bus.publish(candle)
    await _settle()
    rig.clock.advance(0.6)
    for candle in rig.spikes[3:]:
        rig.bus.publish(candle)
    await _settle()
    assert rig.notifier.messages == []  # still inside the grace (1 s) of the moment's first candidate
    rig.clock.advance(0.4)
    await _settle()
    trades = [m for m in rig.notifier.messages if m.dedupe_key.startswith("signal:")]
    assert [m.signal.symbol for m in trades if m.signal] == ["ZEC/USDT:USDT", "XLM/USDT:USDT"]
    [alert] = rig.sent("market:")
    assert "Also fired: ALICE (C), ALGO (C), ADA (C), AAVE (C)" in alert
    assert (rig.health.candidates, rig.health.signals, rig.health.suppressed) == (6, 2, 4)


async def test_a_stop_inside_the_grace_still_sends_the_held_move(volume_rig: VolumeRig) -> None:
    for candle in volume_rig.spikes:
        volume_rig.bus.publish(candle)
    await _settle()
    assert volume_rig.notifier.messages == []
    volume_rig.task.cancel()  # a stop (or a reload restarting the strategy) inside the grace
    await _settle()
    assert len(volume_rig.sent("signal:")) == 2 and len(volume_rig.sent("market:")) == 1
