"""The daemon's voice in the admin chat: hourly health check, startup and shutdown notices.

Texts are Telegram HTML; every dynamic value is escaped. The look follows the old bots' messages
(🚀 started, 💚 health check, ✅ status, ⏱ uptime, 🔄 cycles, ⚠️ errors, ⏰ UTC) with one line per strategy.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from signalbots import __version__
from signalbots.clock import Clock
from signalbots.health import ExchangeView, Health, Severity, StrategyView, TaskHealth, TaskStatus
from signalbots.logs import shorten
from signalbots.notifier import Kind, Message, Notifier

_ICON = {
    TaskStatus.RUNNING: "✅",
    TaskStatus.STARTING: "✅",
    TaskStatus.DEGRADED: "🟡",
    TaskStatus.RESTARTING: "🔴",
    TaskStatus.PAUSED: "⏸",
    TaskStatus.STOPPED: "⛔",
}
_HEADLINE = {Severity.OK: "💚", Severity.DEGRADED: "🟡", Severity.DOWN: "🔴"}
_EXCHANGE_ICON = {"up": "✅", "starting": "⏳", "degraded": "🟡", "down": "🔴"}


def format_uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h {mins}m"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def format_age(seconds: float) -> str:
    """``"42s"``, ``"3m"``, ``"2h 5m"``: how long ago data last arrived."""
    return f"{seconds:.0f}s" if seconds < 90 else format_uptime(seconds)


def _utc(ts: float, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def _strategy_line(view: StrategyView, width: int) -> str:
    t = view.task
    name = t.name.removeprefix("strategy:")
    icon = _ICON.get(t.status, "❔") if view.severity is Severity.OK else _HEADLINE[view.severity]
    parts = [
        f"{icon} {html.escape(name.ljust(width))} {view.state.upper()}",
        f"🔄 events {t.events:,}",
        # What the desk stopped (cooldowns, caps, gates) is the first question after a quiet hour.
        f"candidates {t.candidates:,}" + (f" ({t.suppressed:,} suppressed)" if t.suppressed else ""),
        f"signals {t.signals:,}",
        f"⚠️ errors {t.errors:,}",
    ]
    if view.detail:
        parts.append(html.escape(view.detail))
    return " · ".join(parts)


def _exchange_line(view: ExchangeView, width: int, *, details: bool = True) -> str:
    """What matters for an exchange: markets loaded, live feeds, open circuits, how fresh its data is.

    Without ``details`` (under a list of problems that names them) a working exchange's stale feeds and
    open circuits are left out, so nothing is said twice."""
    said = not details  # the problems above name a down exchange's reason
    details = details or view.state == "down"
    parts = [f"{_EXCHANGE_ICON.get(view.state, '❔')} {html.escape(view.id.ljust(width))}"]
    if view.state == "down":
        parts[0] += " DOWN"
        if view.detail:
            parts.append(html.escape(view.detail))
    elif view.detail:
        parts[0] += f" {html.escape(view.detail)}"
    if view.feeds:
        parts.append(f"📡 feeds {view.live_feeds}/{len(view.feeds)} live")
        for f in view.feeds if details else ():
            if f.status not in (TaskStatus.RUNNING, TaskStatus.STARTING):
                kind = f.name.rsplit(":", 1)[-1]
                why = (
                    f"failing: {shorten(f.failing, 80)}"
                    if f.down and f.failing
                    else f.detail or f.status.value
                )
                parts.append(html.escape(f"{kind} {why}"))
    circuits = view.circuits if details else []
    endpoints = [c for c in circuits if not c.get("symbol")]
    symbols = [c for c in circuits if c.get("symbol")]
    if endpoints:
        parts.append(
            "🔌 circuit "
            + ", ".join(
                html.escape(f"{c.get('endpoint')} {str(c.get('state')).replace('_', '-')}") for c in endpoints
            )
        )
    if symbols:
        parts.append(f"🔌 {len(symbols)} symbol circuit(s) open")
    if view.last_data_age is not None:
        parts.append(f"last data {format_age(view.last_data_age)} ago")
    if view.reason and not said:
        # The last clause is the cause ("… GET <url>: Cannot connect to host …"); the whole text is in
        # the recent errors below.
        parts.append(html.escape(shorten(view.reason.rsplit(": ", 1)[-1], 100)))
    return " · ".join(parts)


def compose_heartbeat(health: Health, *, title: str = "health check") -> str:
    """One message for the whole daemon: the verdict first, then strategies, exchanges, outbox, errors."""
    snap = health.snapshot()
    verdict = health.assess()
    headline = verdict.headline if verdict.severity is not Severity.OK and verdict.headline else title
    lines = [
        f"{_HEADLINE[verdict.severity]} signalbots — {html.escape(headline)}",
        f"⏱ Uptime {format_uptime(health.uptime())} · ⏰ {_utc(health.clock.time())}",
    ]
    width = max((len(s.task.name.removeprefix("strategy:")) for s in verdict.strategies), default=0)
    lines.extend(_strategy_line(s, width) for s in verdict.strategies)
    if not verdict.strategies:
        lines.append("ℹ️ no strategy enabled")
    if verdict.exchanges:
        lines.append("🏦 exchanges:")
        width = max(len(e.id) for e in verdict.exchanges)
        lines.extend(_exchange_line(e, width) for e in verdict.exchanges)
    else:
        feeds = health.tasks("feed")
        stale = [t for t in feeds if t.status not in (TaskStatus.RUNNING, TaskStatus.STARTING)]
        if feeds:
            text = f"📡 feeds: {len(feeds) - len(stale)} ok"
            if stale:
                text += " · " + ", ".join(
                    html.escape(f"{t.name} {t.status.value}" + (f" ({t.detail})" if t.detail else ""))
                    for t in stale
                )
            lines.append(text)
    exchanges = {e.id for e in verdict.exchanges}
    for t in health.tasks("worker"):
        kind, _, rest = t.name.partition(":")
        if kind in ("exchange", "markets") and rest in exchanges:
            continue  # in its exchange's row
        if t.status in (TaskStatus.RUNNING, TaskStatus.STARTING) and not t.down:
            continue
        icon = "🔴" if t.down else _ICON.get(t.status, "❔")
        state = "FAILING" if t.down and t.status is TaskStatus.STARTING else t.status.value.upper()
        lines.append(
            f"{icon} {html.escape(t.name)} {state}"
            + (f" · {html.escape(t.failing or t.detail)}" if t.failing or t.detail else "")
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
            repeat = f" (×{e.count})" if e.count > 1 else ""
            lines.append(
                f"• [{_utc(e.time, '%H:%M:%S')}] {html.escape(e.task)}: {html.escape(e.reason)}{repeat}"
            )
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
    """``/health``: what needs attention — each problem once, then every exchange's state."""
    verdict = health.assess()
    lines = [
        "🩺 signalbots — health",
        "✅ all tasks running"
        if verdict.severity is Severity.OK
        else f"{_HEADLINE[verdict.severity]} problems:",
    ]
    lines.extend(f"• {html.escape(p.text)}" for p in verdict.problems)
    if verdict.exchanges:
        width = max(len(e.id) for e in verdict.exchanges)
        lines.extend(_exchange_line(e, width, details=False) for e in verdict.exchanges)
    else:
        for t in health.tasks("feed"):
            age = "never" if t.last_event is None else f"{health.clock.monotonic() - t.last_event:.0f}s ago"
            lines.append(f"📡 {html.escape(t.name)}: {t.status.value}, last event {age}")
    outbox = health.snapshot().get("outbox")
    if isinstance(outbox, dict):
        lines.append(f"📨 outbox: {outbox.get('pending', 0)} pending, {outbox.get('dead', 0)} undeliverable")
    return "\n".join(lines)
