"""The composition root: one AsyncExitStack for resources, one TaskGroup for tasks.

``Daemon.run`` loads settings, opens the store, the runtime (notifier, limiters, breakers, desk and
tracker: ``runtime``), and local HTTP, then runs every task ``Daemon.plan`` asks for under the supervisor
(``units``). SIGTERM/SIGINT stop it gracefully within ``daemon.shutdown_timeout``; SIGHUP re-reads the
settings and restarts only the tasks whose settings changed (``lifecycle``). Which exchanges' feeds run
is the feed plan (``plan``), shared with ``signalbots record``.
"""

from __future__ import annotations

import asyncio
import gc
import os
from contextlib import AsyncExitStack

import structlog

from signalbots.clock import Clock, SystemClock
from signalbots.errors import FatalError
from signalbots.exchange.ccxt_modules import full_import_reason
from signalbots.exchange.service import ExchangeService
from signalbots.health import Health, TaskHealth, TaskName
from signalbots.heartbeat import Heartbeat, startup_notice
from signalbots.lifecycle import drain, os_signals, reload_settings, status_line
from signalbots.logs import log_expected
from signalbots.notifier import Kind, Message
from signalbots.plan import feed_plan
from signalbots.runner import StrategyRunner
from signalbots.runtime import Runtime
from signalbots.settings import Settings, env_file_warning, load_settings
from signalbots.store import Store
from signalbots.strategies.registry import SPECS
from signalbots.systemd import SystemdNotifier
from signalbots.units import Unit, Units

__all__ = ["Daemon", "Unit", "_Runtime"]

_Runtime = Runtime  # the name benchmarks and tests import

_log = structlog.get_logger("signalbots.app")

_EX_FAILURE = 1  # cli.py's table: "other fatal error"


class Daemon:
    """Runs until stopped; ``request_stop``/``request_reload`` are what the signal handlers call."""

    def __init__(
        self,
        *,
        config: str | None,
        clock: Clock | None = None,
        env_file: str | None = ".env",
        environ: dict[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        """``settings``: already loaded by the caller (the CLI validates before importing the daemon)."""
        self._config = config
        self._loaded = settings
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

    def plan(self, settings: Settings, rt: Runtime) -> list[Unit]:
        """Every supervised task the settings ask for. Long-lived objects come from ``rt`` so a reload
        re-parameterises them instead of losing their state (baselines, limiter budgets)."""
        heartbeat = Heartbeat(
            health=rt.health,
            notifier=rt.notifier,
            clock=self._clock,
            interval=settings.daemon.heartbeat_interval,
        )
        units = [
            Unit(
                TaskName.for_worker("heartbeat"),
                heartbeat.run,
                key=settings.daemon.heartbeat_interval,
                intake=True,
            )
        ]
        interval = rt.notify.watchdog_interval()
        if interval:

            async def watchdog(health: TaskHealth) -> None:
                await rt.notify.ping_watchdog(clock=self._clock, on_ping=health.cycle)

            units.append(Unit(TaskName.for_worker("watchdog"), watchdog, key=interval))
        if rt.outbox is not None:
            units.append(Unit(TaskName.for_worker("outbox"), rt.outbox.run))
        if rt.commands is not None and settings.telegram.commands:
            units.append(Unit(TaskName.for_worker("telegram-commands"), rt.commands.run))
        units.append(Unit(TaskName.for_worker("tracker"), rt.tracker_runner.run))
        if rt.illustrator is not None:
            units.append(Unit(TaskName.for_worker("charts"), rt.illustrator.run))
        for feeds in feed_plan(settings):
            service = ExchangeService(
                exchange_id=feeds.exchange,
                settings=feeds.settings,
                limiter=rt.limiter(feeds.exchange, feeds.settings.budget_fraction),
                breakers=rt.breakers,
                bus=rt.bus,
                liquidity=rt.liquidity,
                store=rt.store,
                clock=self._clock,
                metrics=rt.metrics,
                supervisor=rt.supervisor,
                health=rt.health,
                needs=feeds.needs,
            )
            units.append(
                Unit(
                    TaskName.for_exchange(feeds.exchange),
                    service.run,
                    bind={"exchange": feeds.exchange},
                    intake=True,
                    key=feeds,
                )
            )
        for spec in SPECS:
            if not spec.enabled(settings):
                continue
            runner = StrategyRunner(
                strategy=rt.strategy(spec, settings),
                desk=rt.desk,
                bus=rt.bus,
                controls=rt.controls,
                store=rt.store,
                metrics=rt.metrics,
                clock=self._clock,
                max_age=settings.risk.max_signal_age,
                illustrate=rt.illustrator.illustrate if rt.illustrator is not None else None,
            )
            units.append(
                Unit(
                    TaskName.for_strategy(spec.name),
                    runner.run,
                    kind="strategy",
                    bind={"strategy": spec.name},
                    intake=True,
                    key=spec.section(settings),
                )
            )
        return units

    async def run(self) -> int:
        from signalbots.logs import configure_logging

        # The one validation; ConfigError propagates (exit 78) before anything is written.
        settings = self._loaded or self._load()
        token = settings.telegram.bot_token
        configure_logging(
            fmt=settings.log.format,
            level=settings.log.level,
            secrets=[token.get_secret_value()] if token else [],
        )
        if self._env_file and (warning := env_file_warning(self._env_file)):
            _log.warning("env_file_permissions", problem=warning)
        if (reason := full_import_reason()) is not None:
            _log.warning("ccxt_full_import", reason=reason)
        self.settings = settings
        with os_signals(stop=self.request_stop, reload=self.request_reload):
            try:
                return await self._serve(settings, SystemdNotifier(env=self._environ))
            except FatalError as err:  # cannot start (a port in use): the operator's to fix, said in one line
                log_expected(_log, "error", "cannot_start", err, error=str(err))
                return _EX_FAILURE

    async def _serve(self, settings: Settings, notify: SystemdNotifier) -> int:
        clock = self._clock
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(Store(path=settings.daemon.state_dir / "signalbots.db"))
            previous = store.get("run")
            unclean = isinstance(previous, dict) and previous.get("state") == "running"
            rt = await Runtime.open(stack, settings=settings, store=store, clock=clock, notify=notify)
            # What startup built (imports, aiogram's models: ~370k objects) lives as long as the process:
            # out of the cyclic collector's sight, a full collection no longer stalls the loop ~200 ms.
            gc.freeze()
            self.health = rt.health
            if rt.outbox is None:
                _log.warning(
                    "dry_run",
                    reason="no Telegram token (SIGNALBOTS_TELEGRAM__BOT_TOKEN)",
                    effect="messages are printed to the log instead of sent",
                )
            if (hp := settings.http.host_port) is not None:
                from signalbots.http import HttpServer

                await stack.enter_async_context(
                    HttpServer(host=hp[0], port=hp[1], health=rt.health, metrics=rt.metrics)
                )
            # Marked running only once everything it needs is open: a start that fails before this point
            # (a port in use, an unreadable state directory) is not reported as an unclean run next time.
            store.put(
                "run", {"state": "running", "pid": os.getpid(), "started": clock.time()}, now=clock.time()
            )
            reason = "stopped"
            async with asyncio.TaskGroup() as tg:
                units = Units(tg=tg, supervisor=rt.supervisor, health=rt.health)
                units.apply(self.plan(settings, rt))
                rt.notifier.submit(
                    Message(
                        kind=Kind.NOTICE,
                        text=startup_notice(
                            strategies=settings.enabled_strategies(),
                            exchanges=settings.enabled_exchanges(),
                            unclean=unclean,
                            dry_run=rt.outbox is None,
                            now=clock.time(),
                        ),
                        dedupe_key=f"startup:{clock.time():.3f}",
                    )
                )
                notify.ready()
                notify.status(status_line(rt.health))
                _log.info(
                    "ready",
                    strategies=settings.enabled_strategies(),
                    exchanges=settings.enabled_exchanges(),
                    unclean_previous_run=unclean,
                )
                while True:
                    what, detail = await self._requests.get()
                    if what == "stop":
                        reason = detail
                        break
                    settings = self._reload(settings, units, rt)
                _log.info("stopping", reason=reason)
                notify.stopping()
                await drain(units=units, rt=rt, reason=reason, deadline=settings.daemon.shutdown_timeout)
            store.put(
                "run", {"state": "stopped", "reason": reason, "stopped": clock.time()}, now=clock.time()
            )
        _log.info("stopped", reason=reason)
        return 0

    def _reload(self, old: Settings, units: Units, rt: Runtime) -> Settings:
        new = reload_settings(old, load=self._load, rt=rt, apply=lambda s: units.apply(self.plan(s, rt)))
        self.settings = new
        return new
