"""The composition root: one AsyncExitStack for resources, one TaskGroup for tasks.

``Daemon.run`` loads settings, opens the store, health, metrics, notifier and local HTTP, then runs every
long-lived task under the supervisor. SIGTERM/SIGINT stop it gracefully within ``daemon.shutdown_timeout``;
SIGHUP re-reads the settings and restarts only the tasks whose settings changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import structlog

from signalbots.clock import Clock, SystemClock
from signalbots.health import Health, TaskHealth
from signalbots.heartbeat import Heartbeat, shutdown_notice, startup_notice
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind, Message, Notifier
from signalbots.settings import ConfigError, Settings, changed_keys, env_file_warning, load_settings
from signalbots.store import Store
from signalbots.supervisor import Supervisor
from signalbots.systemd import SystemdNotifier as SdNotify

_log = structlog.get_logger("signalbots.app")

# Keys that cannot change without a restart of the process (resources opened once).
_RESTART_KEYS = ("daemon.state_dir", "http.listen", "telegram.bot_token", "telegram.api_url")


@dataclass(frozen=True)
class Unit:
    """A supervised task. ``key`` is the slice of settings it depends on: when it changes on reload,
    the task is restarted; otherwise it keeps running."""

    name: str
    fn: Callable[[TaskHealth], Awaitable[None]]
    key: Any = None
    kind: str = "worker"
    bind: dict[str, str] = field(default_factory=dict)
    intake: bool = False  # feeds/strategies: stopped first at shutdown


class _Units:
    """The named tasks currently running inside the daemon's TaskGroup."""

    def __init__(self, *, tg: asyncio.TaskGroup, supervisor: Supervisor, health: Health) -> None:
        self._tg = tg
        self._supervisor = supervisor
        self._health = health
        self._running: dict[str, tuple[Unit, asyncio.Task[None]]] = {}

    def apply(self, units: list[Unit]) -> list[str]:
        """Start new units, restart changed ones, stop removed ones; return the names (re)started."""
        wanted = {u.name: u for u in units}
        touched = []
        for name in list(self._running):
            if name not in wanted:
                self._running.pop(name)[1].cancel()
                self._health.forget(name)
                touched.append(name)
        for name, unit in wanted.items():
            current = self._running.get(name)
            if current is not None and current[0].key == unit.key and not current[1].done():
                continue
            if current is not None:
                current[1].cancel()
            task = self._tg.create_task(
                self._supervisor.run(name, unit.fn, kind=unit.kind, **unit.bind), name=name
            )
            self._running[name] = (unit, task)
            touched.append(name)
        return touched

    async def stop(self, *, intake_only: bool) -> None:
        tasks = [t for u, t in self._running.values() if u.intake or not intake_only]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running = {n: (u, t) for n, (u, t) in self._running.items() if t not in tasks}


class Daemon:
    """Runs until stopped; ``request_stop``/``request_reload`` are what the signal handlers call."""

    def __init__(
        self,
        *,
        config: str | None,
        clock: Clock | None = None,
        env_file: str | None = ".env",
        environ: dict[str, str] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self._env_file = env_file
        self._environ = dict(os.environ) if environ is None else environ
        self._requests: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.settings: Settings | None = None
        self.health: Health | None = None

    def request_stop(self, reason: str) -> None:
        self._requests.put_nowait(("stop", reason))

    def request_reload(self) -> None:
        self._requests.put_nowait(("reload", "SIGHUP"))

    def _load(self) -> Settings:
        return load_settings(self._config, env_file=self._env_file)

    def plan(self, settings: Settings, *, health: Health, notifier: Notifier, notify: SdNotify) -> list[Unit]:
        """Every supervised task the settings ask for."""
        heartbeat = Heartbeat(health=health, notifier=notifier, clock=self._clock,
                              interval=settings.daemon.heartbeat_interval)
        units = [Unit("heartbeat", heartbeat.run, key=settings.daemon.heartbeat_interval)]
        interval = notify.watchdog_interval()
        if interval:
            units.append(Unit("watchdog", _watchdog(notify, self._clock, interval), key=interval))
        return units

    async def run(self) -> int:
        from signalbots.logs import configure_logging

        settings = self._load()  # ConfigError propagates: the CLI prints it and exits 78
        token = settings.telegram.bot_token
        configure_logging(fmt=settings.log.format, level=settings.log.level,
                          secrets=[token.get_secret_value()] if token else [])
        if self._env_file and (warning := env_file_warning(self._env_file)):
            _log.warning("env_file_permissions", problem=warning)
        self.settings = settings
        notify = SdNotify(env=self._environ)
        loop = asyncio.get_running_loop()
        for sig, action in ((signal.SIGTERM, lambda: self.request_stop("SIGTERM")),
                            (signal.SIGINT, lambda: self.request_stop("SIGINT")),
                            (signal.SIGHUP, self.request_reload)):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, action)
        try:
            return await self._serve(settings, notify)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _serve(self, settings: Settings, notify: SdNotify) -> int:
        clock = self._clock
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(Store(path=settings.daemon.state_dir / "signalbots.db"))
            previous = store.get("run")
            unclean = isinstance(previous, dict) and previous.get("state") == "running"
            store.put("run", {"state": "running", "pid": os.getpid(), "started": clock.time()}, now=clock.time())
            health = self.health = Health(clock=clock)
            metrics = Metrics()
            notifier: Notifier = DryRunNotifier()
            dry_run = settings.telegram.bot_token is None
            if dry_run:
                _log.warning("dry_run", reason="no Telegram token (SIGNALBOTS_TELEGRAM__BOT_TOKEN)",
                             effect="messages are printed to the log instead of sent")
            if (hp := settings.http.host_port) is not None:
                from signalbots.http import HttpServer

                await stack.enter_async_context(HttpServer(host=hp[0], port=hp[1], health=health, metrics=metrics))
            supervisor = Supervisor(health=health, clock=clock, metrics=metrics,
                                    on_fatal=lambda name, err: notifier.submit(Message(
                                        kind=Kind.ERROR, text=f"⛔ task {name} stopped: {type(err).__name__}",
                                        dedupe_key=f"fatal:{name}:{clock.time():.0f}")))
            reason = "stopped"
            async with asyncio.TaskGroup() as tg:
                units = _Units(tg=tg, supervisor=supervisor, health=health)
                units.apply(self.plan(settings, health=health, notifier=notifier, notify=notify))
                notifier.submit(Message(
                    kind=Kind.NOTICE,
                    text=startup_notice(strategies=settings.enabled_strategies(),
                                        exchanges=settings.enabled_exchanges(), unclean=unclean,
                                        dry_run=dry_run, now=clock.time()),
                    dedupe_key=f"startup:{clock.time():.3f}"))
                notify.ready()
                notify.status(self._status_line(health))
                _log.info("ready", strategies=settings.enabled_strategies(),
                          exchanges=settings.enabled_exchanges(), unclean_previous_run=unclean)
                while True:
                    what, detail = await self._requests.get()
                    if what == "stop":
                        reason = detail
                        break
                    settings = self._reload(settings, units, health=health, notifier=notifier, notify=notify)
                _log.info("stopping", reason=reason)
                notify.stopping()
                async with asyncio.timeout(settings.daemon.shutdown_timeout):
                    await units.stop(intake_only=True)
                    notifier.submit(Message(kind=Kind.NOTICE, dedupe_key=f"shutdown:{clock.time():.3f}",
                                            text=shutdown_notice(reason=reason, uptime=health.uptime(),
                                                                 now=clock.time())))
                await units.stop(intake_only=False)
            store.put("run", {"state": "stopped", "reason": reason, "stopped": clock.time()}, now=clock.time())
        _log.info("stopped", reason=reason)
        return 0

    def _reload(self, old: Settings, units: _Units, *, health: Health, notifier: Notifier,
                notify: SdNotify) -> Settings:
        try:
            new = self._load()
        except ConfigError as err:
            # Nothing is reloaded: systemd keeps seeing the service as ready on the old settings.
            _log.error("reload_rejected", problems=err.problems, effect="keeping the previous settings")
            notifier.submit(Message(
                kind=Kind.ERROR, dedupe_key=f"reload-rejected:{self._clock.time():.3f}",
                text="⚠️ reload rejected, still running on the previous settings:\n"
                     + "\n".join(f"• {html.escape(p)}" for p in err.problems)))
            return old
        notify.reloading()
        try:
            keys = changed_keys(old, new)
            needs_restart = [k for k in keys if k.startswith(_RESTART_KEYS)]
            if needs_restart:
                _log.warning("reload_needs_restart", keys=needs_restart,
                             effect="kept until the next restart (systemctl restart signalbots)")
            if any(k.startswith("log.") for k in keys):
                from signalbots.logs import configure_logging

                token = old.telegram.bot_token
                configure_logging(fmt=new.log.format, level=new.log.level,
                                  secrets=[token.get_secret_value()] if token else [])
            restarted = units.apply(self.plan(new, health=health, notifier=notifier, notify=notify))
            self.settings = new
            _log.info("settings_reloaded", changed=keys, restarted=restarted)
            return new
        finally:
            notify.ready()
            notify.status(self._status_line(health))

    def _status_line(self, health: Health) -> str:
        tasks = health.tasks()
        bad = [t.name for t in tasks if t.status.value not in ("running", "starting", "paused")]
        return f"{len(tasks)} tasks, " + (f"problems: {', '.join(bad)}" if bad else "all running")


def _watchdog(notify: SdNotify, clock: Clock, interval: float) -> Callable[[TaskHealth], Awaitable[None]]:
    # Pinged from a task on the event loop, so a blocked loop stops the pings and systemd restarts us.
    async def ping(health: TaskHealth) -> None:
        while True:
            notify.watchdog()
            health.cycle()
            await clock.sleep(interval)

    return ping
