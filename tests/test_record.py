"""``signalbots record`` against the exchange simulator, and its recording replayed by ``backtest``.

Acceptance 3: the live daemon's signal path and the recorder run side by side against one simulated market,
each with its own ccxt client, as two processes on one server would; the recording, replayed through
``backtest``, gives the very signals the live path sent. Time is a ManualClock: the test moves it and then
waits for the I/O that follows (a bounded real-time safety net, never a sleep for time to pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from io import StringIO
from pathlib import Path
from typing import Any

from signalbots.backtest import run_backtest
from signalbots.clock import Clock, ManualClock, SystemClock
from signalbots.controls import Controls
from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, OpenInterest, Side, Ticker
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity, Subscription
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.service import ExchangeService
from signalbots.health import Health, TaskHealth
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind
from signalbots.plan import feed_plan
from signalbots.record import record
from signalbots.recording import read_recording
from signalbots.report import signal_json
from signalbots.runner import StrategyRunner, TrackerRunner
from signalbots.settings import Settings, load_settings
from signalbots.signals.desk import Desk, signal_from_row
from signalbots.signals.tracker import Tracker
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.store import Store
from signalbots.strategies.base import Strategy
from signalbots.strategies.funding import FundingStrategy
from signalbots.strategies.liquidation import LiquidationStrategy
from signalbots.strategies.volume import VolumeStrategy
from signalbots.supervisor import Supervisor

EX = "binanceusdm"
FIVE_MIN = 300.0
T0 = 1_699_999_800.0 + 10  # 10 s into a 5-minute candle (2023-11-14 22:10:10 UTC)
REAL_TIMEOUT = 30.0  # real seconds; a safety net that nothing waits for when the code works

CONFIG = """
[daemon]
state_dir = "{state}"
[http]
listen = ""
[exchanges.binanceusdm]
rest_url = "{rest}"
ws_url = "{ws}"
stale_after = "1h"  # the scripted market is quiet for minutes at a time: no resubscribing meanwhile
{extra}
[exchanges.bybit]
enabled = false
[exchanges.okx]
enabled = false
[exchanges.mexc]
enabled = false
[exchanges.hyperliquid]
enabled = false
"""


def write_config(tmp_path: Path, sim: ExchangeSim, extra: str = "") -> Path:
    path = tmp_path / "signalbots.toml"
    path.write_text(
        CONFIG.format(state=tmp_path / "state", rest=sim.rest_url(EX), ws=sim.ws_url(EX), extra=extra)
    )
    return path


async def until(predicate: Callable[[], bool], what: str, tasks: list[asyncio.Task[Any]]) -> None:
    """Poll for what the real sockets deliver; fail at once if a task died."""
    try:
        async with asyncio.timeout(REAL_TIMEOUT):
            while not predicate():
                for task in tasks:
                    if task.done():
                        task.result()
                        raise AssertionError(f"{task.get_name()} ended while waiting for {what}")
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Seen:
    """Everything published on a bus, from a subscription of its own."""

    def __init__(self, bus: EventBus) -> None:
        self._sub: Subscription = bus.subscribe("test-probe")
        self.events: list[MarketEvent] = []

    def of(self, kind: type[Any], **fields: Any) -> list[Any]:
        self.events.extend(self._sub.drain())
        return [
            e
            for e in self.events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        ]


class LiveDaemon:
    """The daemon's signal path as ``Daemon.plan`` wires it — the exchange service, a StrategyRunner per
    enabled strategy, the TrackerRunner, the desk on a real store — with the dry-run notifier, which keeps
    every message it was given."""

    def __init__(self, *, settings: Settings, clock: Clock, store: Store) -> None:
        self.metrics = Metrics()
        self.health = Health(clock=clock)
        self.bus = EventBus(metrics=self.metrics)
        self.notifier = DryRunNotifier()
        self.supervisor = Supervisor(health=self.health, clock=clock, metrics=self.metrics)
        tracker = Tracker(
            store=store, settings=settings, clock=clock, metrics=self.metrics, notifier=self.notifier
        )
        desk = Desk(
            store=store,
            settings=settings,
            clock=clock,
            metrics=self.metrics,
            notifier=self.notifier,
            on_signal=tracker.follow,
        )
        (feeds,) = feed_plan(settings, [EX])
        service = ExchangeService(
            exchange_id=EX,
            settings=feeds.settings,
            bus=self.bus,
            liquidity=Liquidity(),
            store=store,
            clock=clock,
            limiter=WeightLimiter.for_exchange(
                EX, budget_fraction=feeds.settings.budget_fraction, clock=clock
            ),
            breakers=BreakerRegistry(settings=settings.breaker, clock=clock, metrics=self.metrics),
            metrics=self.metrics,
            supervisor=self.supervisor,
            health=self.health,
            timeframe=feeds.timeframe,
            floor_usd=feeds.floor_usd,
        )
        s = settings.strategies
        strategies: list[Strategy] = [
            LiquidationStrategy(settings=s.liquidation),
            FundingStrategy(settings=s.funding),
            VolumeStrategy(settings=s.volume),
        ]
        controls = Controls(store=store, clock=clock)
        self.units: dict[str, Callable[[TaskHealth], Any]] = {
            f"exchange:{EX}": service.run,
            "tracker": TrackerRunner(
                tracker=tracker,
                desk=desk,
                bus=self.bus,
                notifier=self.notifier,
                daily_summary=settings.daemon.daily_summary,
            ).run,
        }
        for strategy in strategies:
            runner = StrategyRunner(
                strategy=strategy,
                desk=desk,
                bus=self.bus,
                controls=controls,
                store=store,
                metrics=self.metrics,
                clock=clock,
                max_age=settings.risk.max_signal_age,
            )
            self.units[f"strategy:{strategy.name}"] = runner.run

    def start(self, tg: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        return [tg.create_task(self.supervisor.run(name, fn), name=name) for name, fn in self.units.items()]

    def caught_up(self) -> bool:
        """Every strategy and the tracker have handled every event published so far."""
        readers = [t for t in self.health.tasks() if t.name.startswith(("strategy:", "tracker"))]
        return len(readers) == 4 and all(t.events == self.bus.published for t in readers)


KEYS = (
    "strategy",
    "kind",
    "exchange",
    "symbol",
    "direction",
    "time_ms",
    "entry",
    "stop",
    "targets",
    "dedupe_key",
)


def comparable(signals: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {tuple(tuple(s[k]) if k == "targets" else s[k] for k in KEYS) for s in signals}


async def test_a_recording_replays_through_backtest_to_the_signals_the_live_daemon_sent(
    tmp_path: Path,
) -> None:
    clock = ManualClock(start=T0)
    market = Market(clock=clock, seed=11, symbols=12, exchanges=(EX,))
    out_dir = tmp_path / "recording"
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        settings = load_settings(write_config(tmp_path, sim), env_file=None)
        n = len(market.symbols(EX))
        backfill = settings.exchanges[EX].candle_backfill
        async with Store(path=tmp_path / "state" / "signalbots.db") as store:
            live = LiveDaemon(settings=settings, clock=clock, store=store)
            live_seen = Seen(live.bus)
            rec_bus = EventBus(metrics=Metrics())
            rec_seen = Seen(rec_bus)
            both = (live_seen, rec_seen)
            stop = asyncio.Event()
            async with asyncio.TaskGroup() as tg:
                recorder = tg.create_task(
                    record(
                        settings=settings,
                        out_dir=out_dir,
                        duration_s=None,
                        exchanges=[EX],
                        clock=clock,
                        stop=stop,
                        bus=rec_bus,
                    ),
                    name="recorder",
                )
                live_tasks = live.start(tg)
                tasks = [*live_tasks, recorder]

                def kline_clients() -> int:  # connections subscribed to every symbol's 5m klines
                    conns = sim.venue(EX).connections
                    return sum(sum("@kline_5m" in s for s in c.subscriptions) == n for c in conns)

                # Start: tickers, funding and the candle backfill (more than the volume baseline's 48
                # candles), then the kline streams — on both clients.
                await until(
                    lambda: all(len(s.of(Candle)) == n * backfill for s in both) and kline_clients() == 2,
                    "the start-up data on both clients",
                    tasks,
                )
                assert all(len(s.of(Ticker)) == n and len(s.of(FundingSnapshot)) == n for s in both)

                # A funding extreme, seen by the next poll a minute later.
                market.set_funding(EX, "LINK", 0.004)
                clock.advance(60.0)
                await until(
                    lambda: (
                        all(s.of(FundingSnapshot, symbol="LINK/USDT:USDT", rate=0.004) for s in both)
                        and all(len(s.of(Ticker)) == 2 * n for s in both)
                    ),
                    "the second poll",
                    tasks,
                )

                # A liquidation cascade: two $700k long liquidations on DOGE (a liquid, non-major symbol:
                # threshold $1M), a second apart (Binance pushes one print per symbol per second).
                for k in (1, 2):
                    market.liquidate(EX, "DOGE", Side.LONG, notional_usd=700_000.0)
                    clock.advance(1.0)
                    await until(lambda: all(len(s.of(Liquidation)) == k for s in both), f"print {k}", tasks)  # noqa: B023
                second_print_ms = rec_seen.of(Liquidation)[-1].time_ms

                # A volume spike: SOL's current candle trades 50x its usual volume and closes 3% up.
                sol = market.listing(EX, "SOL")
                open_ms = int(T0 // FIVE_MIN * FIVE_MIN * 1000)
                p = market.price_at(sol, open_ms)
                usual = sol.quote_volume_24h * FIVE_MIN / 86_400
                market.script_candle(
                    EX,
                    "SOL",
                    "5m",
                    open_ms,
                    open=p,
                    high=p * 1.035,
                    low=p * 0.999,
                    close=p * 1.03,
                    quote_volume=50 * usual,
                )
                clock.advance(open_ms / 1000 + FIVE_MIN + 1 - clock.time())  # a second past its close
                await until(
                    lambda: (
                        all(s.of(Candle, symbol="SOL/USDT:USDT", time_ms=open_ms) for s in both)
                        and all(len(s.of(Ticker)) == 3 * n for s in both)
                    ),
                    "the spike candle and the third poll",
                    tasks,
                )

                # Both clients got the same stream, and the live strategies have judged all of it. Binance's
                # open interest is asked one symbol every 300 s / n on the clock: both have asked every slot
                # up to now (the jump above is made up at once), so neither has a request still to make.
                spacing = 300.0 * 0.98 / n  # the round takes 98 % of the five minutes
                due = int(clock.monotonic() // spacing) + 1
                await until(
                    lambda: (
                        all(len(s.of(OpenInterest)) == due for s in both)
                        and live.bus.published == rec_bus.published
                        and live.caught_up()
                    ),
                    "quiet",
                    tasks,
                )
                stop.set()
                written = await recorder
                for task in live_tasks:
                    task.cancel()
            rows = store.db.execute("SELECT * FROM signals ORDER BY id").fetchall()
            live_signals = [signal_json(signal_from_row(row)) for row in rows]

    # What the live daemon sent: one Telegram signal message per accepted signal, and the three scripted.
    sent = {m.dedupe_key for m in live.notifier.messages if m.kind is Kind.SIGNAL}
    assert sent == {f"signal:{s['dedupe_key']}" for s in live_signals}
    assert {(s["strategy"], s["symbol"], s["direction"], s["time_ms"]) for s in live_signals} == {
        ("funding", "LINK/USDT:USDT", "short", int(T0 * 1000) + 60_000),
        ("liquidation", "DOGE/USDT:USDT", "long", second_print_ms),
        ("volume", "SOL/USDT:USDT", "long", open_ms + 300_000),
    }

    # The recording holds every event the recorder received, readable to the end.
    problems: list[str] = []
    recorded = [e for f in sorted(out_dir.iterdir()) for e in read_recording(f, on_problem=problems.append)]
    assert problems == []
    assert written == len(recorded) == rec_bus.published == live.bus.published

    # Replayed through backtest: the same signals, field for field.
    out, err = StringIO(), StringIO()
    code = run_backtest(
        data=out_dir,
        strategies=None,
        start_ms=None,
        end_ms=None,
        settings=settings,
        out=out,
        err=err,
        as_json=True,
    )
    assert code == 0, err.getvalue()
    report = json.loads(out.getvalue())
    assert report["replay"]["events"] == written
    assert comparable(report["signals"]) == comparable(live_signals)


# -- the command line ------------------------------------------------------------------------------------


async def spawn(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signalbots",
        *args,
        cwd=tmp_path,
        env=env | {"SIGNALBOTS_LOG__FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def read_dir(path: Path, problems: list[str] | None = None) -> list[MarketEvent]:
    """Every event in the recording directory; problems (a cut stream) go to ``problems`` when given."""
    notes: list[str] = [] if problems is None else problems
    return [
        e for f in sorted(path.glob("events-*.jsonl.gz")) for e in read_recording(f, on_problem=notes.append)
    ]


QUIET = 'candle_backfill = 5\nticker_poll = "1h"\nfunding_poll = "1h"'  # one burst at start, then silence


def final_count(stderr: str) -> int:
    found = re.search(r"record: ([\d,]+) events in \d+ file", stderr)
    assert found is not None, stderr
    return int(found.group(1).replace(",", ""))


async def test_record_for_a_duration_exits_0_and_leaves_a_complete_recording(tmp_path: Path) -> None:
    clock = SystemClock()
    market = Market(clock=clock, seed=5, symbols=6, exchanges=(EX,))
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        cfg = write_config(tmp_path, sim, extra="candle_backfill = 5")
        proc = await spawn(
            tmp_path, "--config", str(cfg), "record", "--out", str(tmp_path / "rec"), "--duration", "2s"
        )
        async with asyncio.timeout(REAL_TIMEOUT):
            _, err_bytes = await proc.communicate()
    stderr = err_bytes.decode()
    assert proc.returncode == 0, stderr
    assert f"record: {EX} → {tmp_path / 'rec'}" in stderr
    problems: list[str] = []
    events = read_dir(tmp_path / "rec", problems)
    assert problems == []  # closed properly: every line and the gzip trailer are there
    assert len(events) == final_count(stderr) > 0
    assert {e.exchange for e in events} == {EX}


@contextlib.asynccontextmanager
async def recording_its_burst(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``signalbots record`` against a quiet simulator, once its start-up burst (``n`` events) is on disk."""
    clock = SystemClock()
    market = Market(clock=clock, seed=5, symbols=6, exchanges=(EX,))
    n = len(market.symbols(EX)) * (2 + 5)
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        cfg = write_config(tmp_path, sim, extra=QUIET)
        proc = await spawn(tmp_path, "--config", str(cfg), "record", "--out", str(tmp_path / "rec"))
        waiter = asyncio.create_task(proc.wait(), name="record")
        # The burst becomes readable while the recorder runs on, with nothing more arriving: it was flushed
        # by time, not by a close.
        await until(lambda: len(read_dir(tmp_path / "rec")) >= n, "the start-up burst on disk", [waiter])
        yield proc, n


async def test_sigterm_stops_the_recorder_cleanly_with_everything_written(tmp_path: Path) -> None:
    async with recording_its_burst(tmp_path) as (proc, n):
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(REAL_TIMEOUT):
            _, err_bytes = await proc.communicate()
    stderr = err_bytes.decode()
    assert proc.returncode == 0, stderr
    problems: list[str] = []
    events = read_dir(tmp_path / "rec", problems)
    assert problems == []
    assert len(events) == final_count(stderr) >= n


async def test_a_killed_recorder_loses_nothing_it_had_flushed(tmp_path: Path) -> None:
    async with recording_its_burst(tmp_path) as (proc, _):
        before = read_dir(tmp_path / "rec")
        proc.kill()
        async with asyncio.timeout(REAL_TIMEOUT):
            await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    problems: list[str] = []
    after = read_dir(tmp_path / "rec", problems)
    assert after[: len(before)] == before
    assert any("trailer" in p for p in problems)  # cut by the kill, yet readable


def test_an_unknown_exchange_is_a_usage_error_naming_it(tmp_path: Path, capsys: Any) -> None:
    from signalbots.cli import main

    cfg = tmp_path / "signalbots.toml"
    cfg.write_text('[http]\nlisten = ""\n')
    code = main(["--config", str(cfg), "record", "--out", str(tmp_path / "rec"), "--exchange", "kraken"])
    assert code == 64
    err = capsys.readouterr().err
    assert "unknown exchange kraken" in err and "binanceusdm" in err
    assert not (tmp_path / "rec").exists()


async def test_recording_nothing_exits_1_saying_why(tmp_path: Path) -> None:
    # No exchange answers (a closed local port stands for "no network"): an empty directory is no recording.
    cfg = tmp_path / "signalbots.toml"
    cfg.write_text(
        '[http]\nlisten = ""\n[exchanges.binanceusdm]\n'
        'rest_url = "http://127.0.0.1:1"\nws_url = "ws://127.0.0.1:1"\n'
    )
    proc = await spawn(
        tmp_path, "--config", str(cfg), "record", "--out", "rec", "--duration", "1s", "--exchange", EX
    )
    async with asyncio.timeout(REAL_TIMEOUT):
        _, err_bytes = await proc.communicate()
    stderr = err_bytes.decode()
    assert proc.returncode == 1, stderr
    assert "record: nothing recorded in 1s\n" in stderr
    assert f"  exchange:{EX}: " in stderr and "Cannot connect to host 127.0.0.1:1" in stderr
    assert "events in" not in stderr
    assert list((tmp_path / "rec").glob("events-*")) == []
