"""One exchange in the daemon: its gateway and every feed, each feed supervised on its own.

Runs as one supervised task per exchange, so a reload that changes an exchange's settings (or a gateway
that cannot load markets) restarts that exchange alone. A ban persisted by the previous run is waited out
inside ``Gateway.__aenter__``, so it holds up this exchange only.
"""

from __future__ import annotations

import asyncio
import gc

from signalbots.clock import Clock
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.feeds import feeds_for
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.health import Health, TaskHealth, TaskName, TaskStatus
from signalbots.metrics import Metrics
from signalbots.needs import Needs
from signalbots.settings import ExchangeSettings
from signalbots.store import Store
from signalbots.supervisor import Supervisor


class ExchangeService:
    def __init__(
        self,
        *,
        exchange_id: str,
        settings: ExchangeSettings,
        limiter: WeightLimiter,
        breakers: BreakerRegistry,
        bus: EventBus,
        liquidity: Liquidity,
        store: Store | None,
        clock: Clock,
        metrics: Metrics,
        supervisor: Supervisor,
        health: Health,
        timeframe: str = "5m",
        floor_usd: float = 0.0,
        needs: Needs | None = None,  # the plan's (``plan.ExchangeFeeds``); None: every feed, one timeframe
    ) -> None:
        self.exchange_id = exchange_id
        self._settings = settings
        self._limiter = limiter
        self._breakers = breakers
        self._bus = bus
        self._liquidity = liquidity
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._supervisor = supervisor
        self._health = health
        self._timeframe = timeframe
        self._floor_usd = floor_usd
        self._needs = needs

    async def run(self, health: TaskHealth) -> None:
        ex = self.exchange_id
        health.set(TaskStatus.STARTING, "loading markets")
        async with Gateway(
            exchange_id=ex,
            settings=self._settings,
            limiter=self._limiter,
            breakers=self._breakers,
            clock=self._clock,
            metrics=self._metrics,
            store=self._store,
        ) as gateway:
            health.set(TaskStatus.RUNNING, f"{len(gateway.markets)} markets")
            gc.freeze()  # the loaded markets too: long-lived, and scanned by every full collection otherwise
            feeds = feeds_for(
                gateway=gateway,
                bus=self._bus,
                liquidity=self._liquidity,
                settings=self._settings,
                clock=self._clock,
                metrics=self._metrics,
                timeframe=self._timeframe,
                floor_usd=self._floor_usd,
                needs=self._needs,
            )
            names = [TaskName.for_markets(ex)] + [TaskName.for_feed(ex, feed.kind) for feed in feeds]
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._supervisor.run(names[0], gateway.run_market_refresh, exchange=ex))
                    for name, feed in zip(names[1:], feeds, strict=True):
                        tg.create_task(self._supervisor.run(name, feed.run, kind="feed", exchange=ex))
            finally:
                # Stopped with the exchange (reload, shutdown): not a problem for /healthz to report.
                for name in names:
                    self._health.forget(name)
