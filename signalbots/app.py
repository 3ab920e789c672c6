"""The composition root: one AsyncExitStack for resources, one TaskGroup for tasks.

``Daemon.run`` loads settings, opens the store, the notifier (Telegram outbox, or the log in a dry run),
the exchanges' shared limiters and breakers, and local HTTP, then runs every long-lived task under the
supervisor. SIGTERM/SIGINT stop it gracefully within ``daemon.shutdown_timeout``; SIGHUP re-reads the
settings and restarts only the tasks whose settings changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from signalbots.charts.history import MarketHistory
from signalbots.clock import Clock, SystemClock
from signalbots.controls import Controls
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.service import ExchangeService
from signalbots.health import Health, TaskHealth
from signalbots.heartbeat import Heartbeat, compose_health, compose_heartbeat, shutdown_notice, startup_notice
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind, Message, Notifier
from signalbots.runner import StrategyRunner, TrackerRunner
from signalbots.settings import ConfigError, Settings, changed_keys, env_file_warning, load_settings
from signalbots.signals.desk import Desk
from signalbots.signals.tracker import Tracker
from signalbots.store import Store
from signalbots.strategies.base import Strategy
from signalbots.strategies.funding import FundingStrategy
from signalbots.strategies.liquidation import LiquidationStrategy
from signalbots.strategies.volume import VolumeStrategy
from signalbots.supervisor import Supervisor
from signalbots.systemd import SystemdNotifier

if TYPE_CHECKING:  # aiogram is imported only when there is a token (see _Runtime.open)
    from signalbots.charts.illustrator import Illustrator
    from signalbots.telegram.commands import Commands
    from signalbots.telegram.outbox import Outbox

_log = structlog.get_logger("signalbots.app")

# Keys that cannot change without a restart of the process (resources opened once).
_RESTART_KEYS = (
    "daemon.state_dir",
    "http.listen",
    "telegram.bot_token",
    "telegram.api_url",
    "telegram.request_timeout",
    "breaker.",
)
_STRATEGIES: dict[str, Callable[[Any], Strategy]] = {
    "liquidation": lambda s: LiquidationStrategy(settings=s),
    "funding": lambda s: FundingStrategy(settings=s),
    "volume": lambda s: VolumeStrategy(settings=s),
}


@dataclass(frozen=True)
class Unit:
    """A supervised task. ``key`` is the slice of settings it depends on: when it changes on reload,
    the task is restarted; otherwise it keeps running."""

    name: str
    fn: Callable[[TaskHealth], Awaitable[None]]
    key: Any = None
    kind: str = "worker"
    bind: dict[str, str] = field(default_factory=dict)
    intake: bool = False  # what produces new messages (exchanges, strategies, heartbeat): stopped first


class _Runtime:
    """The long-lived collaborators of one daemon run, built once; ``Daemon.plan`` wires tasks from them."""

    def __init__(self, *, settings: Settings, store: Store, clock: Clock, notify: SystemdNotifier) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.notify = notify
        self.health = Health(clock=clock)
        self.metrics = Metrics()
        self.controls = Controls(store=store, clock=clock)
        self.bus = EventBus(metrics=self.metrics)
        self.liquidity = Liquidity()
        self.breakers = BreakerRegistry(settings=settings.breaker, clock=clock, metrics=self.metrics)
        # Health turns open circuits into problems itself, folded into their exchange's (listed once).
        self.health.add_section("breakers", self.breakers.snapshot)
        self.notifier: Notifier = DryRunNotifier()
        self.history = MarketHistory()
        self.illustrator: Illustrator | None = None
        self.outbox: Outbox | None = None
        self.commands: Commands | None = None
        self.supervisor = Supervisor(
            health=self.health, clock=clock, metrics=self.metrics, on_fatal=self._fatal
        )
        self._limiters: dict[tuple[str, float], WeightLimiter] = {}
        self.metrics.breaker_open.source = lambda: (
            ((b["exchange"], b["endpoint"], b.get("symbol") or "", b["state"]), 1.0)
            for b in self.breakers.snapshot()
        )
        self.metrics.rest_weight_budget.source = lambda: (
            ((ex,), limiter.refill_per_second * 60.0)
            # after a reload changed budget_fraction the newest limiter (last inserted) is the one in use
            for ex, limiter in {ex: lim for (ex, _), lim in self._limiters.items()}.items()
            if ex in self.settings.enabled_exchanges()
        )
        self._strategies: dict[str, Strategy] = {}
        self.desk: Desk
        self.tracker: Tracker
        self.tracker_runner: TrackerRunner

    @classmethod
    async def open(
        cls, stack: AsyncExitStack, *, settings: Settings, store: Store, clock: Clock, notify: SystemdNotifier
    ) -> _Runtime:
        rt = cls(settings=settings, store=store, clock=clock, notify=notify)
        if settings.telegram.bot_token is not None:
            # aiogram costs ~2.6 s and ~140 MB to import: only when there is a token to use it with.
            from signalbots.telegram.bot import open_bot
            from signalbots.telegram.commands import Commands
            from signalbots.telegram.outbox import Outbox

            bot = await stack.enter_async_context(open_bot(settings.telegram))
            outbox = rt.outbox = await stack.enter_async_context(
                Outbox(
                    store=store,
                    bot=bot,
                    settings=settings.telegram,
                    clock=clock,
                    health=rt.health,
                    metrics=rt.metrics,
                    controls=rt.controls,
                    prices=lambda exchange, symbol: rt.tracker.last_price(exchange, symbol),
                )
            )
            rt.notifier = outbox
            from signalbots.charts.illustrator import Illustrator
            from signalbots.charts.renderer import ChartRenderer

            renderer = await stack.enter_async_context(
                ChartRenderer(cache_dir=settings.daemon.state_dir / "matplotlib")
            )
            rt.bus.tap(rt.history.on_event)
            illustrator = rt.illustrator = Illustrator(
                history=rt.history,
                renderer=renderer,
                notifier=outbox,
                metrics=rt.metrics,
                enabled=lambda: rt.settings.telegram.charts,
            )
            rt.commands = Commands(
                bot=bot,
                settings=settings.telegram,
                controls=rt.controls,
                status_text=lambda: compose_heartbeat(rt.health, title="status"),
                health_text=lambda: compose_health(rt.health),
                signals_text=lambda: rt.tracker.signals_text(int(clock.time() * 1000)),
                stats_text=lambda days: rt.tracker.stats_text(days, int(clock.time() * 1000)),
                strategies=lambda: rt.settings.enabled_strategies(),
                chart=illustrator.market_chart,
            )
        rt.tracker = Tracker(
            store=store, settings=settings, clock=clock, metrics=rt.metrics, notifier=rt.notifier
        )
        rt.desk = Desk(
            store=store,
            settings=settings,
            clock=clock,
            metrics=rt.metrics,
            notifier=rt.notifier,
            on_signal=rt.tracker.follow,
        )
        rt.tracker_runner = TrackerRunner(
            tracker=rt.tracker,
            desk=rt.desk,
            bus=rt.bus,
            notifier=rt.notifier,
            daily_summary=settings.daemon.daily_summary,
            illustrate=rt.illustrator.illustrate_outcome if rt.illustrator is not None else None,
        )
        return rt

    def reconfigure(self, settings: Settings) -> None:
        self.settings = settings
        self.desk.settings = settings
        self.tracker.settings = settings
        if self.outbox is not None:
            self.outbox.reconfigure(settings.telegram)
        if self.commands is not None:
            self.commands.reconfigure(settings.telegram)

    def limiter(self, exchange_id: str, fraction: float) -> WeightLimiter:
        """One limiter per exchange, kept across reloads (its debt and pauses with it)."""
        key = (exchange_id, fraction)
        if key not in self._limiters:
            self._limiters[key] = WeightLimiter.for_exchange(
                exchange_id, budget_fraction=fraction, clock=self.clock
            )
        return self._limiters[key]

    def strategy(self, name: str, section: Any) -> Strategy:
        """One instance per strategy, re-parameterised on reload so its baselines survive."""
        current = self._strategies.get(name)
        if current is None:
            current = self._strategies[name] = _STRATEGIES[name](section)
        elif getattr(current, "settings", section) != section:
            current.reconfigure(section)  # type: ignore[attr-defined]
        return current

    def _fatal(self, name: str, err: BaseException) -> None:
        self.notifier.submit(
            Message(
                kind=Kind.ERROR,
                dedupe_key=f"fatal:{name}:{self.clock.time():.0f}",
                text=f"⛔ task {html.escape(name)} stopped: {html.escape(type(err).__name__)}",
            )
        )


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

    def plan(self, settings: Settings, rt: _Runtime) -> list[Unit]:
        """Every supervised task the settings ask for. Long-lived objects come from ``rt`` so a reload
        re-parameterises them instead of losing their state (baselines, limiter budgets)."""
        heartbeat = Heartbeat(
            health=rt.health,
            notifier=rt.notifier,
            clock=self._clock,
            interval=settings.daemon.heartbeat_interval,
        )
        units = [Unit("heartbeat", heartbeat.run, key=settings.daemon.heartbeat_interval, intake=True)]
        interval = rt.notify.watchdog_interval()
        if interval:
            units.append(Unit("watchdog", _watchdog(rt.notify, self._clock, interval), key=interval))
        if rt.outbox is not None:
            units.append(Unit("outbox", rt.outbox.run))
        if rt.commands is not None and settings.telegram.commands:
            units.append(Unit("telegram-commands", rt.commands.run))
        units.append(Unit("tracker", rt.tracker_runner.run))
        if rt.illustrator is not None:
            units.append(Unit("charts", rt.illustrator.run))
        volume = settings.strategies.volume
        for ex in settings.enabled_exchanges():
            ex_settings = settings.exchanges[ex]
            service = ExchangeService(
                exchange_id=ex,
                settings=ex_settings,
                limiter=rt.limiter(ex, ex_settings.budget_fraction),
                breakers=rt.breakers,
                bus=rt.bus,
                liquidity=rt.liquidity,
                store=rt.store,
                clock=self._clock,
                metrics=rt.metrics,
                supervisor=rt.supervisor,
                health=rt.health,
                timeframe=volume.timeframe,
                floor_usd=volume.liquidity_floor_usd,
            )
            units.append(
                Unit(
                    f"exchange:{ex}",
                    service.run,
                    bind={"exchange": ex},
                    intake=True,
                    key=(ex_settings, volume.timeframe, volume.liquidity_floor_usd),
                )
            )
        for name in settings.enabled_strategies():
            section = getattr(settings.strategies, name)
            runner = StrategyRunner(
                strategy=rt.strategy(name, section),
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
                    f"strategy:{name}",
                    runner.run,
                    kind="strategy",
                    bind={"strategy": name},
                    intake=True,
                    key=section,
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
        self.settings = settings
        notify = SystemdNotifier(env=self._environ)
        loop = asyncio.get_running_loop()
        for sig, action in (
            (signal.SIGTERM, lambda: self.request_stop("SIGTERM")),
            (signal.SIGINT, lambda: self.request_stop("SIGINT")),
            (signal.SIGHUP, self.request_reload),
        ):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, action)
        try:
            return await self._serve(settings, notify)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _serve(self, settings: Settings, notify: SystemdNotifier) -> int:
        clock = self._clock
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(Store(path=settings.daemon.state_dir / "signalbots.db"))
            previous = store.get("run")
            unclean = isinstance(previous, dict) and previous.get("state") == "running"
            rt = await _Runtime.open(stack, settings=settings, store=store, clock=clock, notify=notify)
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
                units = _Units(tg=tg, supervisor=rt.supervisor, health=rt.health)
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
                notify.status(self._status_line(rt.health))
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
                try:
                    async with asyncio.timeout(settings.daemon.shutdown_timeout):
                        await units.stop(intake_only=True)
                        rt.notifier.submit(
                            Message(
                                kind=Kind.NOTICE,
                                dedupe_key=f"shutdown:{clock.time():.3f}",
                                text=shutdown_notice(
                                    reason=reason, uptime=rt.health.uptime(), now=clock.time()
                                ),
                            )
                        )
                        if rt.outbox is not None:
                            await rt.outbox.flush(settings.daemon.shutdown_timeout)
                except TimeoutError:
                    _log.warning(
                        "shutdown_deadline",
                        effect="undelivered messages stay in the outbox for the next start",
                    )
                await units.stop(intake_only=False)
            store.put(
                "run", {"state": "stopped", "reason": reason, "stopped": clock.time()}, now=clock.time()
            )
        _log.info("stopped", reason=reason)
        return 0

    def _reload(self, old: Settings, units: _Units, rt: _Runtime) -> Settings:
        try:
            new = self._load()
        except ConfigError as err:
            # Nothing is reloaded: systemd keeps seeing the service as ready on the old settings.
            _log.error("reload_rejected", problems=err.problems, effect="keeping the previous settings")
            rt.notifier.submit(
                Message(
                    kind=Kind.ERROR,
                    dedupe_key=f"reload-rejected:{self._clock.time():.3f}",
                    text="⚠️ reload rejected, still running on the previous settings:\n"
                    + "\n".join(f"• {html.escape(p)}" for p in err.problems),
                )
            )
            return old
        rt.notify.reloading()
        try:
            keys = changed_keys(old, new)
            needs_restart = [k for k in keys if k.startswith(_RESTART_KEYS)]
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
            restarted = units.apply(self.plan(new, rt))
            self.settings = new
            _log.info("settings_reloaded", changed=keys, restarted=restarted)
            return new
        finally:
            rt.notify.ready()
            rt.notify.status(self._status_line(rt.health))

    def _status_line(self, health: Health) -> str:
        tasks = health.tasks()
        bad = [t.name for t in tasks if t.status.value not in ("running", "starting", "paused")]
        return f"{len(tasks)} tasks, " + (f"problems: {', '.join(bad)}" if bad else "all running")


def _watchdog(
    notify: SystemdNotifier, clock: Clock, interval: float
) -> Callable[[TaskHealth], Awaitable[None]]:
    # Pinged from a task on the event loop, so a blocked loop stops the pings and systemd restarts us.
    async def ping(health: TaskHealth) -> None:
        while True:
            notify.watchdog()
            health.cycle()
            await clock.sleep(interval)

    return ping
