"""The hourly health check and the start/stop notices, as the admin chat reads them."""

from __future__ import annotations

import asyncio

from signalbots.clock import ManualClock
from signalbots.health import Health, TaskStatus
from signalbots.heartbeat import Heartbeat, compose_heartbeat, format_uptime, shutdown_notice, startup_notice
from signalbots.notifier import DryRunNotifier, Kind


def test_heartbeat_has_one_line_per_strategy_in_the_familiar_look() -> None:
    clock = ManualClock(start=1_765_254_120.0)  # 2025-12-09 04:22 UTC
    health = Health(clock=clock)
    liq = health.task("strategy:liquidation", kind="strategy")
    liq.set(TaskStatus.RUNNING)
    liq.event(41_220)
    liq.signals = 2
    vol = health.task("strategy:volume", kind="strategy")
    vol.set(TaskStatus.RUNNING)
    vol.event(27)
    vol.error("mexc: rate limited (retry after 30 s)")
    health.add_section("outbox", lambda: {"pending": 0, "dead": 0})
    clock.advance(2 * 3600 + 15 * 60)
    text = compose_heartbeat(health)
    lines = text.splitlines()
    assert lines[0] == "💚 signalbots — health check"
    assert lines[1] == "⏱ Uptime 2h 15m · ⏰ 2025-12-09 06:37 UTC"
    # Every strategy row has the same columns, the liquidation one included (issue 11, item 9).
    assert lines[2] == ("✅ liquidation RUNNING · 🔄 events 41,220 · candidates 0 · signals 2 · ⚠️ errors 0")
    assert lines[3] == "✅ volume      RUNNING · 🔄 events 27 · candidates 0 · signals 0 · ⚠️ errors 1"
    assert "📨 outbox: 0 pending" in lines
    assert lines[-2] == "Recent errors:"
    assert lines[-1] == "• [04:22:00] strategy:volume: mexc: rate limited (retry after 30 s)"


def test_a_degraded_strategy_turns_the_headline_yellow_with_the_reason_first() -> None:
    health = Health(clock=ManualClock())
    health.task("strategy:liquidation", kind="strategy").set(TaskStatus.RUNNING)
    vol = health.task("strategy:volume", kind="strategy")
    vol.set(TaskStatus.DEGRADED, "circuit open: mexc fetch_ohlcv")
    lines = compose_heartbeat(health).splitlines()
    assert lines[0] == "🟡 signalbots — strategy:volume degraded: circuit open: mexc fetch_ohlcv"
    assert lines[3].startswith("🟡 volume      DEGRADED · ") and lines[3].endswith(
        "circuit open: mexc fetch_ohlcv"
    )


def test_dynamic_values_are_escaped() -> None:
    health = Health(clock=ManualClock())
    health.task("strategy:<b>", kind="strategy").error("a < b & c")
    text = compose_heartbeat(health)
    assert "&lt;b&gt;" in text and "a &lt; b &amp; c" in text and "<b>" not in text


async def test_heartbeat_posts_once_per_interval() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    notifier = DryRunNotifier()
    beat = Heartbeat(health=health, notifier=notifier, clock=clock, interval=3600)
    task = asyncio.create_task(beat.run(health.task("heartbeat")))
    await clock.run_for(3 * 3600 + 10, step=60)
    task.cancel()
    assert [m.kind for m in notifier.messages] == [Kind.HEARTBEAT] * 3
    assert len({m.dedupe_key for m in notifier.messages}) == 3


def test_notices() -> None:
    text = startup_notice(strategies=["volume"], exchanges=["binanceusdm"], unclean=True, dry_run=True, now=0)
    assert text.startswith("🚀 signalbots") and "previous run ended uncleanly" in text and "dry run" in text
    assert "uncleanly" not in startup_notice(strategies=[], exchanges=[], unclean=False, dry_run=False, now=0)
    assert "SIGTERM" in shutdown_notice(reason="SIGTERM", uptime=3700, now=0)
    assert format_uptime(90_000) == "1d 1h 0m"


def test_a_token_in_an_error_never_reaches_the_heartbeat_or_healthz() -> None:
    token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
    health = Health(clock=ManualClock())
    health.task("outbox").error(
        f"TelegramNetworkError: https://api.telegram.org/bot{token}/sendMessage timed out"
    )
    assert token not in compose_heartbeat(health)
    assert token not in repr(health.snapshot())
    assert "sendMessage timed out" in compose_heartbeat(health)


def test_candidates_and_suppressed_show_when_a_strategy_proposed_something() -> None:
    health = Health(clock=ManualClock())
    vol = health.task("strategy:volume", kind="strategy")
    vol.set(TaskStatus.RUNNING)
    vol.event(500)
    vol.candidates, vol.suppressed, vol.signals = 5, 3, 2
    line = compose_heartbeat(health).splitlines()[2]
    assert line == "✅ volume RUNNING · 🔄 events 500 · candidates 5 (3 suppressed) · signals 2 · ⚠️ errors 0"
