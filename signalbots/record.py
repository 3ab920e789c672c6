"""``signalbots record``: the live feeds' normalised events, written to hourly gzip JSON lines.

The exchanges run exactly as in the daemon (``ExchangeService``: gateway, limiter, breakers and the four
feeds, each supervised), from the same feed plan (``plan.feed_plan``), so a recording holds
what the daemon's strategies would have seen and ``signalbots backtest --data DIR`` replays it. No store is
opened and nothing is sent: the recorder can run beside a daemon, each within its own share of the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from signalbots.clock import Clock, SystemClock
from signalbots.errors import FatalError
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity, Subscription
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.service import ExchangeService
from signalbots.health import Health, TaskHealth, TaskName
from signalbots.metrics import Metrics
from signalbots.plan import feed_plan
from signalbots.recording import RecordingWriter
from signalbots.settings import ConfigError, Settings, format_duration, load_settings
from signalbots.supervisor import Supervisor

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 64
EX_CANTCREAT = 73


async def record(
    *,
    settings: Settings,
    out_dir: Path,
    duration_s: float | None,
    exchanges: list[str],
    clock: Clock,
    stop: asyncio.Event | None = None,
    bus: EventBus | None = None,
    health: Health | None = None,
) -> int:
    """Record ``exchanges`` into ``out_dir`` until ``duration_s`` (clock seconds) passes or ``stop`` is set;
    returns the number of events written, including those received but not yet written when it stopped.

    ``bus``: the stream the feeds publish on (default: a new one); pass one to watch what is recorded.
    ``health``: where the exchanges' errors are recorded (default: a new one); the CLI reads it to say why
    nothing was recorded.
    Raises FatalError when every exchange has stopped for good: there is nothing left to record.
    """
    metrics = Metrics()
    health = health if health is not None else Health(clock=clock)
    bus = bus if bus is not None else EventBus(metrics=metrics)
    supervisor = Supervisor(health=health, clock=clock, metrics=metrics)
    shared: dict[str, Any] = {  # what every exchange shares, as in the daemon
        "breakers": BreakerRegistry(settings=settings.breaker, clock=clock, metrics=metrics),
        "bus": bus,
        "liquidity": Liquidity(),
        "store": None,
        "clock": clock,
        "metrics": metrics,
        "supervisor": supervisor,
        "health": health,
    }
    sub = bus.subscribe("recorder")
    try:
        async with RecordingWriter(directory=out_dir, clock=clock) as writer:
            async with asyncio.TaskGroup() as tg:
                services = []
                for feeds in feed_plan(settings, exchanges, every_strategy=True):
                    ex = feeds.exchange
                    limiter = WeightLimiter.for_exchange(
                        ex, budget_fraction=feeds.settings.budget_fraction, clock=clock
                    )
                    service = ExchangeService(
                        exchange_id=ex,
                        settings=feeds.settings,
                        limiter=limiter,
                        needs=feeds.needs,
                        **shared,
                    )
                    services.append(
                        tg.create_task(supervisor.run(TaskName.for_exchange(ex), service.run, exchange=ex))
                    )
                copier = tg.create_task(supervisor.run(TaskName.for_worker("recorder"), _copier(sub, writer)))
                exhausted = await _until_done(stop or asyncio.Event(), clock, duration_s, services)
                for task in [*services, copier]:
                    task.cancel()
            for event in sub.drain():
                writer.write(event)
    finally:
        sub.close()
    if exhausted:
        raise FatalError("every exchange stopped for good (see the log); nothing left to record")
    return writer.written


def _copier(sub: Subscription, writer: RecordingWriter) -> Callable[[TaskHealth], Awaitable[None]]:
    async def copy(health: TaskHealth) -> None:
        while True:
            writer.write(await sub.get())
            health.event()

    return copy


async def _until_done(
    stop: asyncio.Event, clock: Clock, duration_s: float | None, services: list[asyncio.Task[None]]
) -> bool:
    """Wait for the stop, the duration, or every exchange gone (then True)."""
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
    if services:
        waiters.append(asyncio.ensure_future(asyncio.wait(services)))
    if duration_s is not None:
        waiters.append(asyncio.ensure_future(clock.sleep(duration_s)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return bool(services) and all(task.done() for task in services) and not stop.is_set()


def run_record(*, config: str | None, out: str, duration_s: float | None, exchanges: list[str] | None) -> int:
    """The ``record`` subcommand (``--duration`` already parsed). ConfigError propagates (the CLI exits 78).

    Exits 1 when nothing was recorded, saying why (each exchange's last error), so that a script or a
    timer never takes an empty directory for a recording.
    """
    from signalbots.logs import configure_logging

    def fail(code: int, text: str) -> int:
        print(f"record: {text}", file=sys.stderr)
        return code

    settings = load_settings(config)
    unknown = sorted(set(exchanges or ()) - set(settings.exchanges))
    if unknown:
        return fail(
            EX_USAGE, f"unknown exchange {', '.join(unknown)} (known: {', '.join(settings.exchanges)})"
        )
    # Named on the command line: recorded even if disabled for the daemon.
    chosen = [feeds.exchange for feeds in feed_plan(settings, exchanges or None)]
    if not chosen:
        raise ConfigError(
            ["exchanges.<id>.enabled: no exchange is enabled (enable one, or name it with --exchange)"]
        )
    out_dir = Path(out).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return fail(EX_CANTCREAT, f"cannot create {out_dir}: {err.strerror}")
    token = settings.telegram.bot_token
    configure_logging(
        fmt=settings.log.format, level=settings.log.level, secrets=[token.get_secret_value()] if token else []
    )
    before = set(out_dir.glob("events-*"))
    until = f"for {format_duration(duration_s)}" if duration_s else "until stopped (Ctrl-C)"
    print(f"record: {', '.join(chosen)} → {out_dir}/events-<YYYYMMDD-HH>.jsonl.gz, {until}", file=sys.stderr)
    clock = SystemClock()
    health = Health(clock=clock)
    started = clock.monotonic()
    try:
        written = asyncio.run(_main(settings, out_dir, duration_s, chosen, clock, health))
    except FatalError as err:
        return fail(EX_FAILURE, f"{err}{_reasons(health)}")
    files = sorted(set(out_dir.glob("events-*")) - before)
    if not written:
        took = format_duration(max(1.0, float(round(clock.monotonic() - started))))
        why = _reasons(health) or (
            "\n  no exchange reported an error: the markets sent nothing (try a longer --duration)"
        )
        return fail(EX_FAILURE, f"nothing recorded in {took}{why}")
    print(
        f"record: {written:,} events in {len(files)} file(s)" + "".join(f"\n  {f}" for f in files),
        file=sys.stderr,
    )
    return EX_OK


def _reasons(health: Health) -> str:
    """The last error of each task, one line each (the log has the details)."""
    last: dict[str, str] = {}
    for e in health.recent_errors:
        last[e.task] = e.reason
    return "".join(f"\n  {task}: {reason}" for task, reason in last.items())


async def _main(
    settings: Settings,
    out_dir: Path,
    duration_s: float | None,
    exchanges: list[str],
    clock: Clock,
    health: Health,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return await record(
        settings=settings,
        out_dir=out_dir,
        duration_s=duration_s,
        exchanges=exchanges,
        clock=clock,
        stop=stop,
        health=health,
    )
