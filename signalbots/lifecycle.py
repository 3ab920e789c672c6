"""How a running daemon answers its operator: SIGTERM/SIGINT stop it, SIGHUP reloads its settings.

``os_signals`` installs the handlers for the daemon's lifetime; ``reload_settings`` re-reads and validates
the settings and applies them — or keeps the old ones and says why; ``drain`` is the graceful stop: intake
first, the shutdown notice, the outbox flushed within the deadline, then everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import signal
from collections.abc import Callable, Iterator

import structlog

from signalbots.coverage import require_a_signal
from signalbots.health import Health
from signalbots.heartbeat import shutdown_notice
from signalbots.notifier import Kind, Message
from signalbots.runtime import Runtime
from signalbots.settings import ConfigError, Settings, changed_keys
from signalbots.units import Units

_log = structlog.get_logger("signalbots.app")  # the daemon's own lines: one logger name, as before the split

# Keys that cannot change without a restart of the process (resources opened once).
RESTART_KEYS = (
    "daemon.state_dir",
    "http.listen",
    "telegram.bot_token",
    "telegram.api_url",
    "telegram.request_timeout",
    "breaker.",
)


@contextlib.contextmanager
def os_signals(*, stop: Callable[[str], None], reload: Callable[[], None]) -> Iterator[None]:
    """SIGTERM/SIGINT → ``stop(name)``, SIGHUP → ``reload()`` while inside; the defaults again after."""
    loop = asyncio.get_running_loop()
    for sig, action in (
        (signal.SIGTERM, lambda: stop("SIGTERM")),
        (signal.SIGINT, lambda: stop("SIGINT")),
        (signal.SIGHUP, reload),
    ):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, action)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def reload_settings(
    old: Settings, *, load: Callable[[], Settings], rt: Runtime, apply: Callable[[Settings], list[str]]
) -> Settings:
    """The settings in force after a SIGHUP: the new ones applied (``apply`` restarts the tasks whose
    settings changed and names them), or ``old`` when the new ones are invalid."""
    try:
        new = load()
        require_a_signal(new)  # a reload must not turn a working daemon into one that watches nothing
    except ConfigError as err:
        # Nothing is reloaded: systemd keeps seeing the service as ready on the old settings.
        _log.error("reload_rejected", problems=err.problems, effect="keeping the previous settings")
        rt.notifier.submit(
            Message(
                kind=Kind.ERROR,
                dedupe_key=f"reload-rejected:{rt.clock.time():.3f}",
                text="⚠️ reload rejected, still running on the previous settings:\n"
                + "\n".join(f"• {html.escape(p)}" for p in err.problems),
            )
        )
        return old
    rt.notify.reloading()
    try:
        keys = changed_keys(old, new)
        needs_restart = [k for k in keys if k.startswith(RESTART_KEYS)]
        if needs_restart:
            _log.warning(
                "reload_needs_restart",
                keys=needs_restart,
                effect="kept until the next restart (systemctl restart signalbots)",
            )
        if any(k.startswith("log.") for k in keys):
            from signalbots.logs import configure_logging

            configure_logging(fmt=new.log.format, level=new.log.level)
        rt.reconfigure(new)
        restarted = apply(new)
        _log.info("settings_reloaded", changed=keys, restarted=restarted)
        return new
    finally:
        rt.notify.ready()
        rt.notify.status(status_line(rt.health))


async def drain(*, units: Units, rt: Runtime, reason: str, deadline: float) -> None:
    """Stop gracefully: intake first, then the shutdown notice and the outbox flushed within ``deadline``
    seconds (what is still undelivered stays in the outbox for the next start); then every other task."""
    clock = rt.clock
    try:
        async with asyncio.timeout(deadline):
            await units.stop(intake_only=True)
            rt.notifier.submit(
                Message(
                    kind=Kind.NOTICE,
                    dedupe_key=f"shutdown:{clock.time():.3f}",
                    text=shutdown_notice(reason=reason, uptime=rt.health.uptime(), now=clock.time()),
                )
            )
            if rt.outbox is not None:
                await rt.outbox.flush(deadline)
    except TimeoutError:
        _log.warning("shutdown_deadline", effect="undelivered messages stay in the outbox for the next start")
    await units.stop(intake_only=False)


def status_line(health: Health) -> str:
    """systemd's ``STATUS=``: what ``systemctl status`` shows under the unit."""
    tasks = health.tasks()
    bad = [t.name for t in tasks if t.status.value not in ("running", "starting", "paused")]
    return f"{len(tasks)} tasks, " + (f"problems: {', '.join(bad)}" if bad else "all running")
