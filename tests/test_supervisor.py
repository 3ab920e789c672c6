"""A failing task is restarted with doubling backoff; its siblings never notice."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from signalbots.clock import ManualClock
from signalbots.errors import FatalError
from signalbots.health import Health, TaskHealth, TaskStatus
from signalbots.heartbeat import compose_heartbeat
from signalbots.metrics import Metrics
from signalbots.supervisor import Supervisor


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def make(clock: ManualClock) -> tuple[Health, Metrics, Supervisor]:
    health = Health(clock=clock)
    metrics = Metrics()
    return health, metrics, Supervisor(health=health, clock=clock, metrics=metrics, stable_after=60.0)


async def test_restart_backoff_doubles_and_sibling_keeps_counting() -> None:
    clock = ManualClock()
    health, metrics, sup = make(clock)
    starts: list[float] = []

    async def flaky(th: TaskHealth) -> None:
        starts.append(clock.monotonic())
        raise ConnectionError("binanceusdm fetch_funding_rates: request timeout")

    async def steady(th: TaskHealth) -> None:
        while True:
            th.cycle()
            await clock.sleep(1)

    async with asyncio.TaskGroup() as tg:
        a = tg.create_task(sup.run("strategy:funding", flaky, kind="strategy"))
        b = tg.create_task(sup.run("strategy:volume", steady, kind="strategy"))
        await settle()
        await clock.run_for(40, step=0.5)
        a.cancel()
        b.cancel()

    # started at 0, then after 1, 2, 4, 8, 16 s of backoff
    assert starts == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    volume = health.task("strategy:volume")
    assert volume.cycles >= 40 and volume.errors == 0
    funding = health.task("strategy:funding")
    assert funding.restarts == 6 and funding.errors == 6
    assert metrics.task_restarts.labels(task="strategy:funding")._value.get() == 6


async def test_error_shows_in_healthz_and_heartbeat() -> None:
    clock = ManualClock()
    health, _, sup = make(clock)

    async def broken(th: TaskHealth) -> None:
        raise ValueError("mexc: rate limited (retry after 30 s)")

    task = asyncio.create_task(sup.run("strategy:volume", broken, kind="strategy"))
    await settle()
    snap = health.snapshot()
    assert snap["status"] == "unhealthy"
    assert snap["tasks"]["strategy:volume"]["status"] == "restarting"
    assert "rate limited" in snap["recent_errors"][-1]["reason"]
    text = compose_heartbeat(health)
    assert "🔴 volume" in text and "RESTARTING" in text and "⚠️ errors 1" in text
    assert "Recent errors:" in text and "mexc: rate limited (retry after 30 s)" in text
    assert text.splitlines()[0].startswith("🔴 signalbots — strategy:volume restarting: ValueError: mexc")
    # Retrying after the backoff, before it has run a stable minute: still failing, not "✅ STARTING".
    await clock.run_for(1.5, step=0.5)
    lines = compose_heartbeat(health).splitlines()
    assert lines[0].startswith("🔴 signalbots — strategy:volume")
    assert not any(line.startswith("✅ volume") for line in lines)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.task("strategy:volume").status is TaskStatus.STOPPED


async def test_backoff_resets_after_a_stable_run() -> None:
    clock = ManualClock()
    _, _, sup = make(clock)
    starts: list[float] = []

    async def sometimes(th: TaskHealth) -> None:
        starts.append(clock.monotonic())
        # the third run lasts 100 s (stable), then fails again
        await clock.sleep(100 if len(starts) == 3 else 0)
        raise RuntimeError("boom")

    task = asyncio.create_task(sup.run("x", sometimes))
    await settle()
    await clock.run_for(110, step=0.5)
    task.cancel()
    # 0 → +1 → +2 → runs 100 s (until 103) → backoff reset to 1 → 104
    assert starts[:4] == [0.0, 1.0, 3.0, 104.0]


async def test_backoff_is_capped_at_five_minutes() -> None:
    clock = ManualClock()
    _, _, sup = make(clock)
    starts: list[float] = []

    async def always(th: TaskHealth) -> None:
        starts.append(clock.monotonic())
        raise RuntimeError("boom")

    task = asyncio.create_task(sup.run("x", always))
    await settle()
    await clock.run_for(1500, step=1)
    task.cancel()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]


async def test_fatal_error_stops_the_task_and_alerts() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    alerts: list[str] = []
    sup = Supervisor(health=health, clock=clock, metrics=Metrics(), on_fatal=lambda n, e: alerts.append(n))

    async def fatal(th: TaskHealth) -> None:
        raise FatalError("exchange rejected the API key")

    from structlog.testing import capture_logs

    with capture_logs() as logs:
        await sup.run("feed:x", fatal)
    assert alerts == ["feed:x"]
    assert health.task("feed:x").status is TaskStatus.STOPPED
    # Said once, by its own message; the traceback (our call stack) at debug only.
    said = [(e["event"], e["log_level"], "exc_info" in e) for e in logs if e["log_level"] != "debug"]
    assert said == [("task_fatal", "error", False)]
    assert any(e["event"] == "traceback" and e["of"] == "task_fatal" for e in logs)


async def test_cancellation_propagates_and_is_not_a_failure() -> None:
    clock = ManualClock()
    health, _, sup = make(clock)
    started = asyncio.Event()

    async def forever(th: TaskHealth) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(sup.run("x", forever))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.task("x").errors == 0 and health.task("x").restarts == 0


async def test_a_persistent_failure_logs_one_line_then_one_per_change_its_traceback_at_debug() -> None:
    """The network is down: DNS errors alternate with the breaker's refusals (issue 10: a 6.6 KB traceback
    at error on every alternation). One line at warning when it starts, one when the cause changes, one when
    the task recovers; the attempts in between, and the traceback (issue 21: an expected failure's traceback
    is 7–8 KB of our own stack), are debug only."""
    from structlog.testing import capture_logs

    from signalbots.errors import CircuitOpen, TransientError

    clock = ManualClock()
    _, _, sup = make(clock)
    dns = "okx load_markets: Cannot connect to host www.okx.com:443 ssl:default [Name or service not known]"
    failures: list[Exception] = [
        TransientError(dns),
        TransientError(dns),
        CircuitOpen("circuit open: okx load_markets (retry in 27s)"),
        CircuitOpen("circuit open: okx load_markets (retry in 11s)"),
        TransientError(dns),
        TransientError("okx load_markets: request timeout"),
        TransientError("okx load_markets: request timeout"),
    ]
    attempts = iter(failures)
    stable = asyncio.Event()

    async def load_markets(th: TaskHealth) -> None:
        failure = next(attempts, None)
        if failure is not None:
            raise failure
        stable.set()
        await asyncio.Event().wait()  # markets loaded: runs until stopped

    with capture_logs() as logs:
        task = asyncio.create_task(sup.run("exchange:okx", load_markets, exchange="okx"))
        await settle()
        await clock.run_for(1 + 2 + 4 + 8 + 16 + 32 + 64, step=0.5)
        assert stable.is_set()
        await clock.run_for(60, step=1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    said = [
        (e["event"], e["log_level"], "exc_info" in e and e["exc_info"] is not None)
        for e in logs
        if e["log_level"] != "debug"
    ]
    assert said == [
        ("task_failed", "warning", False),
        ("task_failure_changed", "warning", False),
        ("task_recovered", "info", False),
    ]
    (traceback,) = [e for e in logs if e["event"] == "traceback"]
    assert traceback["log_level"] == "debug" and traceback["of"] == "task_failed"
    assert traceback["exc_info"] is failures[0]


async def test_a_new_kind_of_error_inside_a_streak_gets_its_own_line_a_bug_its_traceback() -> None:
    from structlog.testing import capture_logs

    from signalbots.errors import TransientError

    clock = ManualClock()
    _, _, sup = make(clock)
    attempts = iter([TransientError("network down"), TransientError("network down"), KeyError("price")])

    async def failing(th: TaskHealth) -> None:
        raise next(attempts)

    with capture_logs() as logs:
        task = asyncio.create_task(sup.run("strategy:volume", failing))
        await settle()
        await clock.run_for(1 + 2 + 0.5, step=0.5)
        task.cancel()
    said = [(e["event"], e["log_level"], e["error"]) for e in logs if e["log_level"] != "debug"]
    assert said == [
        ("task_failed", "warning", "TransientError: network down"),
        ("task_failed", "error", "KeyError: 'price'"),
    ]
    # The network's failure is expected (its traceback at debug); a KeyError is a bug of ours: traced.
    failed = [e for e in logs if e["event"] == "task_failed"]
    assert "exc_info" not in failed[0] and isinstance(failed[1]["exc_info"], KeyError)


async def test_health_shows_the_cause_of_a_streak_not_the_breaker_refusing() -> None:
    from signalbots.errors import CircuitOpen, TransientError

    clock = ManualClock()
    health, _, sup = make(clock)
    attempts = iter(
        [TransientError("okx load_markets: connection refused")] * 5 + [CircuitOpen("circuit open")]
    )

    async def failing(th: TaskHealth) -> None:
        raise next(attempts)

    task = asyncio.create_task(sup.run("exchange:okx", failing))
    await settle()
    await clock.run_for(1 + 2 + 4 + 8 + 16 + 1, step=0.5)
    task.cancel()
    th = health.task("exchange:okx")
    assert th.down and th.failing == "okx load_markets: connection refused"
    errors = health.snapshot()["recent_errors"]
    # The breaker's refusal is counted but leaves the recent errors to the cause.
    assert [(e["reason"], e["count"]) for e in errors] == [
        ("TransientError: okx load_markets: connection refused", 5)
    ]
    assert th.errors == 6
