"""The daemon's voice in the admin chat: hourly health check, startup and shutdown notices.

Texts are Telegram HTML; every dynamic value is escaped. The look follows the old bots' messages
(🚀 started, 💚 health check, ✅ status, ⏱ uptime, 🔄 cycles, ⚠️ errors, ⏰ UTC) with one line per strategy.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from signalbots import __version__
from signalbots.clock import Clock
from signalbots.health import Health, TaskHealth, TaskStatus
from signalbots.notifier import Kind, Message, Notifier

_ICON = {
    TaskStatus.RUNNING: "✅",
    TaskStatus.STARTING: "✅",
    TaskStatus.DEGRADED: "🟡",
    TaskStatus.RESTARTING: "🔴",
    TaskStatus.PAUSED: "⏸",
    TaskStatus.STOPPED: "⛔",
}


def format_uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h {mins}m"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def _utc(ts: float, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def _strategy_line(t: TaskHealth, width: int) -> str:
    name = t.name.removeprefix("strategy:")
    counter = f"events {t.events:,}" if t.events else f"cycles {t.cycles:,}"
    parts = [
        f"{_ICON.get(t.status, '❔')} {html.escape(name.ljust(width))} {t.status.value.upper()}",
        f"🔄 {counter}",
    ]
    if (
        t.candidates
    ):  # what the desk stopped (cooldowns, caps, gates) is the first question after a quiet hour
        parts.append(f"candidates {t.candidates:,} ({t.suppressed:,} suppressed)")
    parts += [f"signals {t.signals:,}", f"⚠️ errors {t.errors:,}"]
    if t.detail:
        parts.append(html.escape(t.detail))
    return " · ".join(parts)


def compose_heartbeat(health: Health, *, title: str = "health check") -> str:
    """One message for the whole daemon: per-strategy lines, feeds, circuits, outbox, recent errors."""
    snap = health.snapshot()
    lines = [
        f"💚 signalbots — {html.escape(title)}",
        f"⏱ Uptime {format_uptime(health.uptime())} · ⏰ {_utc(health.clock.time())}",
    ]
    strategies = health.tasks("strategy")
    width = max((len(t.name.removeprefix("strategy:")) for t in strategies), default=0)
    lines.extend(_strategy_line(t, width) for t in strategies)
    if not strategies:
        lines.append("ℹ️ no strategy enabled")
    feeds = health.tasks("feed")
    if feeds:
        stale = [
            t for t in feeds if t.status is not TaskStatus.RUNNING and t.status is not TaskStatus.STARTING
        ]
        text = f"📡 feeds: {len(feeds) - len(stale)} ok"
        if stale:
            text += " · " + ", ".join(
                html.escape(f"{t.name} {t.status.value}" + (f" ({t.detail})" if t.detail else ""))
                for t in stale
            )
        lines.append(text)
    workers = [t for t in health.tasks("worker") if t.status not in (TaskStatus.RUNNING, TaskStatus.STARTING)]
    for t in workers:
        lines.append(
            f"{_ICON.get(t.status, '❔')} {html.escape(t.name)} {t.status.value.upper()}"
            + (f" · {html.escape(t.detail)}" if t.detail else "")
        )
    circuits: list[dict[str, Any]] = snap.get("breakers", [])
    open_circuits = [c for c in circuits if c.get("state") != "closed"]
    if open_circuits:
        lines.append(
            "🔌 circuits: "
            + ", ".join(
                html.escape(
                    " ".join(str(c[k]) for k in ("exchange", "endpoint", "symbol") if c.get(k))
                    + f" {c.get('state')}"
                )
                for c in open_circuits
            )
        )
    outbox = snap.get("outbox")
    if isinstance(outbox, dict):
        text = f"📨 outbox: {outbox.get('pending', 0)} pending"
        if outbox.get("dead"):
            text += f" · {outbox['dead']} undeliverable"
        latency = outbox.get("latency_1h")  # market event → Telegram, signals of the last hour
        if isinstance(latency, dict):
            text += f" · ⚡ alert latency p50 {latency['p50']:.1f}s · p99 {latency['p99']:.1f}s (1h)"
        lines.append(text)
    if health.recent_errors:
        lines.append("Recent errors:")
        for e in list(health.recent_errors)[-5:]:
            lines.append(f"• [{_utc(e.time, '%H:%M:%S')}] {html.escape(e.task)}: {html.escape(e.reason)}")
    return "\n".join(lines)


def startup_notice(
    *, strategies: list[str], exchanges: list[str], unclean: bool, dry_run: bool, now: float
) -> str:
    lines = [
        f"🚀 signalbots {html.escape(__version__)} started",
        f"📈 strategies: {html.escape(', '.join(strategies) or 'none')}",
        f"🏦 exchanges: {html.escape(', '.join(exchanges) or 'none')}",
        f"⏰ {_utc(now)}",
    ]
    if unclean:
        lines.append("⚠️ the previous run ended uncleanly (crash, kill or power loss)")
    if dry_run:
        lines.append("ℹ️ dry run: no Telegram token, messages go to the log")
    return "\n".join(lines)


def shutdown_notice(*, reason: str, uptime: float, now: float) -> str:
    return f"🛑 signalbots stopping: {html.escape(reason)}\n⏱ Uptime {format_uptime(uptime)} · ⏰ {_utc(now)}"


class Heartbeat:
    """Posts ``compose_heartbeat`` every ``interval`` seconds (first one after one interval)."""

    def __init__(self, *, health: Health, notifier: Notifier, clock: Clock, interval: float) -> None:
        self._health = health
        self._notifier = notifier
        self._clock = clock
        self.interval = interval

    def beat(self) -> Message:
        now = self._clock.time()
        message = Message(
            kind=Kind.HEARTBEAT,
            text=compose_heartbeat(self._health),
            dedupe_key=f"heartbeat:{int(now // max(self.interval, 1.0))}",
        )
        self._notifier.submit(message)
        return message

    async def run(self, health: TaskHealth) -> None:
        while True:
            await self._clock.sleep(self.interval)
            self.beat()
            health.cycle()


def compose_health(health: Health) -> str:
    """``/health``: what needs attention — problems, open circuits, stale feeds, the outbox."""
    snap = health.snapshot()
    lines = ["🩺 signalbots — health", "✅ all tasks running" if snap["status"] == "ok" else "⚠️ problems:"]
    lines.extend(f"• {html.escape(p)}" for p in snap["problems"])
    for b in snap.get("breakers", []) or []:
        where = " ".join(str(b[k]) for k in ("exchange", "endpoint", "symbol") if b.get(k))
        lines.append(f"🔌 {html.escape(where)}: {html.escape(str(b.get('state')))}")
    for t in health.tasks("feed"):
        age = "never" if t.last_event is None else f"{health.clock.monotonic() - t.last_event:.0f}s ago"
        lines.append(f"📡 {html.escape(t.name)}: {t.status.value}, last event {age}")
    outbox = snap.get("outbox")
    if isinstance(outbox, dict):
        lines.append(f"📨 outbox: {outbox.get('pending', 0)} pending, {outbox.get('dead', 0)} undeliverable")
    return "\n".join(lines)
