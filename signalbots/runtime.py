"""The long-lived collaborators of one daemon run: store-backed controls, health, metrics, the event bus,
breakers and limiters, the notifier (the Telegram outbox, or the log in a dry run), desk and tracker.

Built once when the daemon starts (``Runtime.open``) and kept across reloads: a reload re-parameterises
them (``reconfigure``, ``limiter``, ``strategy``) so baselines, limiter debt and pauses survive.
"""

from __future__ import annotations

import html
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from signalbots.charts.history import MarketHistory
from signalbots.clock import Clock
from signalbots.controls import Controls
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.health import Health
from signalbots.heartbeat import compose_health, compose_heartbeat
from signalbots.metrics import Metrics
from signalbots.notifier import DryRunNotifier, Kind, Message, Notifier
from signalbots.runner import TrackerRunner
from signalbots.settings import Settings
from signalbots.signals.desk import Desk
from signalbots.signals.evidence import Evidence
from signalbots.signals.tracker import Tracker
from signalbots.store import Store
from signalbots.strategies.base import Tunable
from signalbots.strategies.spec import StrategySpec
from signalbots.supervisor import Supervisor
from signalbots.systemd import SystemdNotifier

if TYPE_CHECKING:  # aiogram is imported only when there is a token (see Runtime.open)
    from signalbots.charts.illustrator import Illustrator
    from signalbots.telegram.commands import Commands
    from signalbots.telegram.outbox import Outbox


class Runtime:
    """Built once per daemon run; ``Daemon.plan`` wires the supervised tasks from them."""

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
        self._strategies: dict[str, Tunable[Any]] = {}
        self.desk: Desk
        self.tracker: Tracker
        self.tracker_runner: TrackerRunner

    @classmethod
    async def open(
        cls, stack: AsyncExitStack, *, settings: Settings, store: Store, clock: Clock, notify: SystemdNotifier
    ) -> Runtime:
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
            evidence=Evidence.packaged(),
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

    def strategy(self, spec: StrategySpec[Any], settings: Settings) -> Tunable[Any]:
        """One instance per strategy, re-parameterised on reload so its baselines survive."""
        current = self._strategies.get(spec.name)
        if current is None:
            current = self._strategies[spec.name] = spec.build(settings)
        else:
            spec.refresh(current, settings)
        return current

    def _fatal(self, name: str, err: BaseException) -> None:
        self.notifier.submit(
            Message(
                kind=Kind.ERROR,
                dedupe_key=f"fatal:{name}:{self.clock.time():.0f}",
                text=f"⛔ task {html.escape(name)} stopped: {html.escape(type(err).__name__)}",
            )
        )
