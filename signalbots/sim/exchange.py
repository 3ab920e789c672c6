"""The exchange simulator: protocol-faithful local servers that the real ccxt client talks to.

One aiohttp server per exchange on 127.0.0.1 (free ports), serving REST and websockets in the exchange's
wire format (one package each: ``sim/binance``, ``sim/bybit``, ``sim/okx``, ``sim/mexc``) from a scriptable
``Market``, on the injected clock: weight windows, bans, candles, funding times and stream pushes all follow
``clock`` (a test moves a ``ManualClock``; the demo may run a fast one).

Usage::

    async with ExchangeSim(market=Market(clock=clock, seed=1), clock=clock) as sim:
        settings = ExchangeSettings(rest_url=sim.rest_url("binanceusdm"), ws_url=sim.ws_url("binanceusdm"))
        sim.inject("binanceusdm", FaultKind.BAN, retry_after=120)
        sim.market.liquidate("binanceusdm", "BTC", Side.LONG, notional_usd=2e6)  # pushed within a sim second
        sim.requests("binanceusdm", since=t0)  # what reached the server
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from aiohttp import web

from signalbots.clock import Clock
from signalbots.settings import ExchangeSettings
from signalbots.sim.binance import BinanceVenue
from signalbots.sim.bybit import BybitVenue
from signalbots.sim.changes import Changes
from signalbots.sim.market import Market
from signalbots.sim.mexc import MexcVenue
from signalbots.sim.okx import OkxVenue
from signalbots.sim.venue import Fault, FaultKind, RequestRecord, Venue


class _VenueKind(Protocol):
    def __call__(self, *, market: Market, clock: Clock) -> Venue: ...


VENUES: dict[str, _VenueKind] = {
    "binanceusdm": BinanceVenue,
    "bybit": BybitVenue,
    "okx": OkxVenue,
    "mexc": MexcVenue,
}


class ExchangeSim:
    """Async context manager: starts one server per exchange and the clock-driven stream pusher."""

    def __init__(
        self,
        *,
        market: Market,
        clock: Clock,
        exchanges: tuple[str, ...] = ("binanceusdm", "bybit", "okx"),
        host: str = "127.0.0.1",
        tick: float = 1.0,
    ) -> None:
        unknown = set(exchanges) - set(VENUES)
        if unknown:
            raise ValueError(f"no simulator for {', '.join(sorted(unknown))} (have {', '.join(VENUES)})")
        unlisted = set(exchanges) - set(market.exchanges)
        if unlisted:
            raise ValueError(
                f"the market lists nothing on {', '.join(sorted(unlisted))}: "
                "build it with Market(exchanges=...) including them"
            )
        self.market = market
        self.clock = clock
        self.host = host
        self.tick = tick
        self.venues: dict[str, Venue] = {ex: VENUES[ex](market=market, clock=clock) for ex in exchanges}
        self._runners: dict[str, web.AppRunner] = {}
        self._ports: dict[str, int] = {}
        self._pusher: asyncio.Task[None] | None = None
        self._changes = Changes()
        for venue in self.venues.values():
            venue.on_change = self._changes.notify

    async def __aenter__(self) -> ExchangeSim:
        try:
            for ex, venue in self.venues.items():
                runner = web.AppRunner(venue.app, access_log=None, shutdown_timeout=0.5)
                await runner.setup()
                site = web.TCPSite(runner, self.host, 0)
                await site.start()
                self._runners[ex] = runner
                server = site._server  # aiohttp exposes the bound port only through the listening socket
                assert server is not None
                self._ports[ex] = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            self._pusher = asyncio.create_task(self._push_loop(), name="exchange-sim-pusher")
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        for venue in self.venues.values():
            venue.close()
            for conn in list(venue.connections):
                await conn.ws.close()
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def _push_loop(self) -> None:
        prev = self.market.now_ms()
        while True:
            await self.clock.sleep(self.tick)
            now = self.market.now_ms()
            for venue in self.venues.values():
                await venue.tick(prev, now)
            prev = now

    async def flush(self) -> None:
        """Push now what streams would send by the next tick (prints, candles) without moving the clock."""
        now = self.market.now_ms()
        for venue in self.venues.values():
            await venue.tick(now - int(self.tick * 1000), now)

    async def wait_until(self, predicate: Callable[[], bool], *, within: float = 5.0) -> None:
        """Wait (without sleeping) until ``predicate()`` holds; it is re-checked whenever a request is
        logged, a websocket opens or closes or sends something. ``within`` (real seconds) is a safety net."""
        async with asyncio.timeout(within):
            await self._changes.until(predicate)

    # -- where to point a client ----------------------------------------------------------------------------

    def rest_url(self, exchange_id: str) -> str:
        """``[exchanges.<id>] rest_url``: the origin that replaces the exchange's REST hosts."""
        return f"http://{self.host}:{self._port(exchange_id)}"

    def ws_url(self, exchange_id: str) -> str:
        """``[exchanges.<id>] ws_url``: the origin that replaces the exchange's websocket hosts."""
        return f"ws://{self.host}:{self._port(exchange_id)}"

    def settings(self, exchange_id: str, **overrides: Any) -> ExchangeSettings:
        """``ExchangeSettings`` pointing at this simulator (plus ``overrides``)."""
        return ExchangeSettings(
            rest_url=self.rest_url(exchange_id), ws_url=self.ws_url(exchange_id), **overrides
        )

    def _port(self, exchange_id: str) -> int:
        try:
            return self._ports[exchange_id]
        except KeyError:
            raise KeyError(
                f"{exchange_id} is not running in this simulator (started: {', '.join(self._ports)})"
            ) from None

    # -- what happened ---------------------------------------------------------------------------------------

    def venue(self, exchange_id: str) -> Venue:
        return self.venues[exchange_id]

    def requests(
        self, exchange_id: str, *, path: str | None = None, since: float | None = None
    ) -> list[RequestRecord]:
        """REST requests that reached the server (``since``: sim monotonic time), oldest first."""
        return [
            r
            for r in self.venues[exchange_id].log
            if (path is None or path in r.path) and (since is None or r.monotonic >= since)
        ]

    def weight_by_minute(self) -> dict[int, float]:
        """Binance: REST weight used per minute (minute start, sim wall seconds → weight)."""
        venue = self.venues["binanceusdm"]
        assert isinstance(venue, BinanceVenue)
        return dict(venue.weight_by_minute)

    # -- faults ----------------------------------------------------------------------------------------------

    def inject(
        self,
        exchange_id: str,
        kind: FaultKind | str,
        *,
        path: str | None = None,
        symbol: str | None = None,
        times: int | None = 1,
        status: int = 503,
        retry_after: float | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching REST requests (None: all until cleared) with a fault."""
        fault = Fault(
            FaultKind(kind), path=path, symbol=symbol, times=times, status=status, retry_after=retry_after
        )
        return self.venues[exchange_id].inject(fault)

    def clear_faults(self, exchange_id: str | None = None) -> None:
        for ex, venue in self.venues.items():
            if exchange_id in (None, ex):
                venue.faults.clear()

    def silence_ws(self, exchange_id: str) -> int:
        """Open websockets stay connected and answer pings but send no more data; returns how many."""
        return self.venues[exchange_id].silence_connections()

    async def drop_ws(self, exchange_id: str) -> int:
        """Close every open websocket of the exchange; returns how many."""
        return await self.venues[exchange_id].drop_connections()

    def refuse_ws(self, exchange_id: str, refuse: bool = True) -> None:
        """New websocket handshakes are answered 503 while ``refuse``."""
        self.venues[exchange_id].ws_refuse = refuse

    def ws_connections(self, exchange_id: str) -> int:
        return len(self.venues[exchange_id].connections)

    def subscriptions(self, exchange_id: str) -> set[str]:
        """Every stream/topic subscribed on the exchange's open websockets."""
        return self.venues[exchange_id].subscriptions()
