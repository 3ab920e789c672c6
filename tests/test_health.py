"""Health adds up to one honest verdict: what the heartbeat's headline, /healthz and `status` say.

The first test drives the daemon's own wiring (settings → plan → supervisor → exchange services → ccxt)
against exchanges that refuse every connection; the others build health state the way the components do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from signalbots.app import Daemon, _Runtime
from signalbots.clock import ManualClock
from signalbots.exchange.breaker import BreakerRegistry, BreakerState
from signalbots.health import Health, Severity, TaskHealth, TaskStatus
from signalbots.heartbeat import compose_health, compose_heartbeat
from signalbots.http import describe_health
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings, load_settings
from signalbots.store import Store
from signalbots.systemd import SystemdNotifier
from tests.config import STRATEGIES, closed_endpoints, daemon_config, free_port

EXCHANGES = ("binanceusdm", "bybit", "okx", "mexc")


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def until(event: asyncio.Event, clock: ManualClock) -> None:
    """Wait for ``event`` while injected time moves on (backoffs, the limiter), the network in real time."""
    for _ in range(1200):
        try:
            await asyncio.wait_for(event.wait(), 0.05)
            return
        except TimeoutError:
            clock.advance(0.5)
    raise AssertionError("the failure never came")


async def test_every_exchange_unreachable_turns_the_heartbeat_red_and_names_them(tmp_path: Path) -> None:
    """Acceptance 4 (issue 10): the real wiring, every exchange refusing connections."""
    port = free_port()  # every connection refused at once, as with no network
    config = daemon_config(
        tmp_path,
        exchanges={ex: closed_endpoints(port) for ex in EXCHANGES},
        strategies={name: {} for name in STRATEGIES},
    )
    settings = load_settings(config, env_file=None)
    clock = ManualClock(start=1_765_254_120.0)
    failed: dict[str, asyncio.Event] = {ex: asyncio.Event() for ex in EXCHANGES}

    def watched(
        ex: str, fn: Callable[[TaskHealth], Awaitable[None]]
    ) -> Callable[[TaskHealth], Awaitable[None]]:
        async def run(th: TaskHealth) -> None:
            try:
                await fn(th)
            except Exception:
                failed[ex].set()  # lets the test wait for the real failure instead of guessing a time
                raise

        return run

    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store(path=tmp_path / "signalbots.db"))
        rt = await _Runtime.open(
            stack, settings=settings, store=store, clock=clock, notify=SystemdNotifier(env={})
        )
        units = Daemon(config=str(config), clock=clock, env_file=None).plan(settings, rt)
        async with asyncio.TaskGroup() as tg:
            tasks = []
            for unit in units:
                ex = unit.bind.get("exchange", "")
                fn = watched(ex, unit.fn) if ex else unit.fn
                tasks.append(tg.create_task(rt.supervisor.run(unit.name, fn, kind=unit.kind, **unit.bind)))
            for ex in EXCHANGES:  # until every exchange's load_markets circuit is open
                while rt.breakers.state(ex, "load_markets") is not BreakerState.OPEN:
                    failed[ex].clear()
                    await until(failed[ex], clock)
            await settle()
            text = compose_heartbeat(rt.health)
            snap = rt.health.snapshot()
            for task in tasks:
                task.cancel()

    lines = text.splitlines()
    assert lines[0] == "🔴 signalbots — 4 exchanges down: binanceusdm, bybit, okx, mexc"
    for name in ("liquidation", "funding", "volume"):
        row = next(line for line in lines if line.startswith(f"🔴 {name}"))
        assert "NO DATA" in row and "RUNNING" not in row
    for ex in EXCHANGES:
        row = next(line for line in lines if line.startswith(f"🔴 {ex}"))
        assert "DOWN · markets not loaded" in row and "signals" not in row
        assert "🔌 circuit load_markets open" in row  # five refusals opened each exchange's breaker
        assert "Connect call failed" in row  # the cause, in the row
    assert "💚" not in text and "✅" not in text
    # /healthz: each exchange down once, its open breaker folded into it rather than listed again.
    assert snap["status"] == "unhealthy" and snap["severity"] == "down"
    assert [p.split(":")[0] for p in snap["problems"]] == [f"{ex} down" for ex in EXCHANGES]
    assert sorted((b["exchange"], b["endpoint"], b["state"]) for b in snap["breakers"]) == sorted(
        (ex, "load_markets", "open") for ex in EXCHANGES
    )
    assert all(snap["exchanges"][ex]["state"] == "down" for ex in EXCHANGES)
    status = describe_health(503, snap)
    assert all(status.count(f"{ex} load_markets") == 1 for ex in EXCHANGES)


def exchange_up(health: Health, ex: str, clock: ManualClock, *, feeds: dict[str, TaskStatus]) -> None:
    health.task(f"exchange:{ex}").set(TaskStatus.RUNNING, "612 markets")
    health.task(f"markets:{ex}").set(TaskStatus.RUNNING)
    for kind, status in feeds.items():
        feed = health.task(f"feed:{ex}:{kind}", kind="feed")
        feed.set(TaskStatus.RUNNING)
        feed.event(10)
        if status is not TaskStatus.RUNNING:
            feed.set(status, "stale: no data for 130s")


def strategies(health: Health) -> None:
    for name, inputs in (("liquidation", "liquidations"), ("funding", "funding"), ("volume", "candles")):
        t = health.task(f"strategy:{name}", kind="strategy")
        t.set(TaskStatus.RUNNING)
        t.inputs = (inputs,)


ALL_FEEDS = {k: TaskStatus.RUNNING for k in ("tickers", "funding", "liquidations", "candles")}


def test_healthy_exchanges_show_markets_feeds_and_data_age_not_signal_counters() -> None:
    clock = ManualClock(start=1_765_254_120.0)
    health = Health(clock=clock)
    strategies(health)
    for ex in ("binanceusdm", "bybit"):
        exchange_up(health, ex, clock, feeds=ALL_FEEDS)
    clock.advance(3)
    lines = compose_heartbeat(health).splitlines()
    assert lines[0] == "💚 signalbots — health check"
    assert "🏦 exchanges:" in lines
    assert "✅ binanceusdm 612 markets · 📡 feeds 4/4 live · last data 3s ago" in lines
    assert "✅ bybit       612 markets · 📡 feeds 4/4 live · last data 3s ago" in lines
    assert health.snapshot()["status"] == "ok" and health.snapshot()["problems"] == []


def test_a_stale_feed_and_an_open_circuit_make_it_yellow_and_are_listed_once() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    breakers = BreakerRegistry(settings=BreakerSettings(failures=1), clock=clock, metrics=Metrics())
    health.add_section("breakers", breakers.snapshot)
    strategies(health)
    exchange_up(health, "binanceusdm", clock, feeds=ALL_FEEDS)
    exchange_up(health, "bybit", clock, feeds=ALL_FEEDS | {"candles": TaskStatus.DEGRADED})
    breakers.record_failure("bybit", "fetch_ohlcv")
    breakers.record_failure("bybit", "fetch_ohlcv", "FOO/USDT:USDT")  # one symbol: not the daemon's problem
    verdict = health.assess()
    assert verdict.severity is Severity.DEGRADED
    snap = health.snapshot()
    assert snap["problems"] == [
        "bybit candles feed degraded: stale: no data for 130s",
        "circuit open: bybit fetch_ohlcv",
    ]
    text = compose_heartbeat(health)
    lines = text.splitlines()
    assert lines[0] == (
        "🟡 signalbots — bybit candles feed degraded: stale: no data for 130s"
        " · circuit open: bybit fetch_ohlcv"
    )
    bybit = next(line for line in lines if line.startswith("🟡 bybit"))
    assert "📡 feeds 3/4 live" in bybit and "🔌 circuit fetch_ohlcv open" in bybit
    assert "1 symbol circuit(s) open" in bybit
    # The volume strategy still has a live candle feed (binance): partly fed, said, not red.
    volume = next(line for line in lines[1:] if " volume " in line)
    assert volume.startswith("🟡 volume      DEGRADED") and "candles feeds 1/2 live" in volume
    # status and /health: each problem once.
    status = describe_health(503, snap)
    endpoint = [line for line in status.splitlines() if "fetch_ohlcv" in line and "FOO" not in line]
    assert endpoint == ["  problem: circuit open: bybit fetch_ohlcv"]
    assert status.count("FOO/USDT:USDT") == 1 and status.count("no data for 130s") == 1
    assert compose_health(health).count("fetch_ohlcv") == 1


def test_a_strategy_whose_inputs_are_all_stale_is_not_running() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    strategies(health)
    stale = ALL_FEEDS | {"liquidations": TaskStatus.DEGRADED}
    for ex in ("binanceusdm", "bybit"):
        exchange_up(health, ex, clock, feeds=stale)
    lines = compose_heartbeat(health).splitlines()
    assert lines[0].startswith("🔴 signalbots — liquidation has no live input")
    row = next(line for line in lines[1:] if " liquidation " in line)
    assert row.startswith("🔴 liquidation NO DATA") and "every liquidations feed stale or down" in row
    assert next(line for line in lines[1:] if " funding " in line).startswith("✅ funding")


def test_repeated_errors_are_one_counted_bullet_and_cut_at_a_word() -> None:
    clock = ManualClock(start=1_765_254_120.0)
    health = Health(clock=clock)
    reason = (
        "bybit load_markets: bybit GET https://api.bybit.com/v5/market/instruments-info?category=linear"
        "&limit=1000: Cannot connect to host api.bybit.com:443 ssl:default [Name or service not known]"
    )
    for attempt in range(3):
        health.task("exchange:bybit").error(f"{reason} (attempt {attempt})")
        clock.advance(1)
    bullets = [line for line in compose_heartbeat(health).splitlines() if line.startswith("•")]
    assert len(bullets) == 1 and bullets[0].endswith("(×3)")
    assert "[Name o" not in bullets[0] or "[Name or service not known]" in bullets[0]
    record = health.recent_errors[-1]
    assert len(record.reason) <= 200 and record.reason.endswith(("…", ")"))


def test_a_feed_that_cannot_connect_shows_its_reason_in_the_row_and_the_problems() -> None:
    """Whatever a feed reports (a refused websocket, a failing task), its reason is what is shown."""
    clock = ManualClock()
    health = Health(clock=clock)
    strategies(health)
    exchange_up(health, "binanceusdm", clock, feeds=ALL_FEEDS)
    exchange_up(health, "bybit", clock, feeds=ALL_FEEDS)
    refused = health.task("feed:bybit:liquidations", kind="feed")
    refused.set(TaskStatus.DEGRADED, "cannot connect: websocket upgrade answered HTTP 503")
    failing = health.task("feed:binanceusdm:funding", kind="feed")
    failing.failing = "binanceusdm fetch_funding_rates: request timeout"
    failing.set(TaskStatus.RESTARTING, "restart in 4s")
    snap = health.snapshot()
    assert snap["problems"] == [
        "binanceusdm funding feed restarting: binanceusdm fetch_funding_rates: request timeout",
        "bybit liquidations feed degraded: cannot connect: websocket upgrade answered HTTP 503",
    ]
    lines = compose_heartbeat(health).splitlines()
    assert lines[0].startswith("🟡 signalbots — binanceusdm funding feed restarting")
    binance = next(line for line in lines if line.startswith("🟡 binanceusdm"))
    assert "funding failing: binanceusdm fetch_funding_rates: request timeout" in binance
    bybit = next(line for line in lines if line.startswith("🟡 bybit"))
    assert "liquidations cannot connect: websocket upgrade answered HTTP 503" in bybit
