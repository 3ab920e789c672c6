"""What every simulated exchange shares: request log, fault injection, websocket connections.

A ``Venue`` is one exchange's aiohttp application, assembled from three parts in that exchange's real shapes
(one subpackage per exchange: ``binance``, ``bybit``, ``okx``, ``mexc``): its ``Admission`` (rate-limit rules
and refusals), its ``Rest`` routes and its ``Stream`` (websocket protocol and pushes); their payloads come
from the subpackage's ``wire`` builders. This module answers every HTTP request through one path so that
every request is recorded and every fault applies the same way on every exchange.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import count
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from signalbots.clock import Clock
from signalbots.sim.market import LiquidationPrint, Market

Query = dict[str, str]
Route = Callable[[Query], Any]


class FaultKind(StrEnum):
    ERROR = "error"  # HTTP ``status`` (default 503) with the exchange's error body
    HANG = "hang"  # no answer until the simulator closes: the client times out
    MALFORMED = "malformed"  # 200 with truncated JSON
    NAN = "nan"  # 200 with every decimal string replaced by "NaN"
    NEGATIVE = "negative"  # 200 with every decimal string negated
    RATE_LIMIT = "rate_limit"  # the rate-limit answer: Binance 429, Bybit 10006, OKX 429/50011, MEXC 510
    BAN = "ban"  # an IP ban (Binance 418 + Retry-After, Bybit 403 for 10 min): refused until it expires
    BAD_SYMBOL = "bad_symbol"  # the exchange's "invalid symbol" answer


@dataclass(slots=True)
class Fault:
    """Matches requests whose path contains ``path`` (all if None) and whose symbol is ``symbol``."""

    kind: FaultKind
    path: str | None = None
    symbol: str | None = None  # the exchange's id (BTCUSDT, BTC-USDT-SWAP) or a unified symbol
    times: int | None = 1  # None: until cleared
    status: int = 503
    retry_after: float | None = None
    hits: int = 0

    def matches(self, path: str, query: Query) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.symbol is not None:
            wanted = re.sub(r"[^A-Z0-9]", "", self.symbol.split(":")[0].upper())
            got = re.sub(r"[^A-Z0-9]", "", (query.get("symbol") or query.get("instId") or "").upper())
            if got.removesuffix("SWAP") != wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RequestRecord:
    exchange: str
    time: float  # sim wall clock, seconds
    monotonic: float  # sim monotonic clock
    method: str
    path: str
    query: Query
    status: int  # 0: never answered (hang)
    weight: float


class Reject(Exception):
    """A route's refusal, answered as ``status`` with ``body`` (the exchange's error shape)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    path: str
    query: Query
    opened: float
    subscriptions: set[str] = field(default_factory=set)
    silent: bool = False  # connected, answers pings, sends no data
    last_ping: float = 0.0
    state: dict[str, Any] = field(default_factory=dict)  # per-protocol bookkeeping (kline cursors)


class Admission(Protocol):
    """An exchange's rate-limit rules and its refusals."""

    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        """(weight, refusal): called for every request before routing."""
        ...

    def headers(self, path: str) -> dict[str, str]:
        """Headers on every REST answer to ``path`` (used-weight counters: the IP's, or the endpoint's)."""
        ...

    def fault_answer(self, fault: Fault) -> Reject:
        """The exchange's answer for an ERROR / RATE_LIMIT / BAN / BAD_SYMBOL fault."""
        ...


class Rest(Protocol):
    """An exchange's REST endpoints."""

    def route(self, path: str) -> Route | None:
        """The handler for ``path``; None: the exchange has no such endpoint."""
        ...


class Stream(Protocol):
    """An exchange's websocket protocol: what it answers and what it pushes, through ``venue``."""

    def is_ws_path(self, path: str) -> bool: ...

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None: ...

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        """Push what streams send between ``prev_ms`` and ``now_ms`` (called every sim second)."""
        ...


class Venue:
    """One simulated exchange: its parts answer, this records, injects faults and holds the websockets.

    Each exchange's subclass names it (``exchange_id``), sets its websocket habits and builds its parts."""

    exchange_id = ""
    ws_ping_interval = 180.0  # sim seconds between server pings (Binance: every 3 minutes)
    # How often an open candle's update is pushed (sim ms): every 10 s by default; a benchmark sets the
    # exchange's real cadence (Binance 250 ms), ticking the simulator that often.
    kline_every_ms = 10_000
    numeric_json = False  # the exchange sends numbers as JSON numbers (MEXC), not decimal strings

    def __init__(
        self,
        *,
        market: Market,
        clock: Clock,
        admission: Admission,
        rest: Rest,
        stream: Stream,
    ) -> None:
        self.market = market
        self.clock = clock
        self.admission = admission
        self.rest = rest
        self.stream = stream
        self.log: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self.connections: set[Connection] = set()
        self.unknown_paths: list[str] = []
        self.ws_refuse = False  # handshakes answered 503
        self._release = asyncio.Event()
        self._conn_ids = count(1)
        self._pending: list[LiquidationPrint] = []
        self.on_change: Callable[[], None] = lambda: None  # the simulator's "something happened" signal
        self._unsubscribe = market.on_liquidation(self._on_print)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._serve)

    async def tick(self, prev_ms: int, now_ms: int) -> None:
        """Push what streams send between ``prev_ms`` and ``now_ms`` (called every sim second)."""
        await self.stream.tick(self, prev_ms, now_ms)

    # -- control ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._release.set()
        self._unsubscribe()

    def inject(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    async def drop_connections(self) -> int:
        """Close every websocket abruptly (as a network drop would)."""
        conns = list(self.connections)
        for conn in conns:
            self.connections.discard(conn)
            await conn.ws.close(code=1006, message=b"simulated drop")
        return len(conns)

    def silence_connections(self) -> int:
        """Open connections stay up and answer pings but send nothing more; new ones are healthy."""
        for conn in self.connections:
            conn.silent = True
        return len(self.connections)

    def subscriptions(self) -> set[str]:
        return set().union(*(c.subscriptions for c in self.connections)) if self.connections else set()

    # -- serving ---------------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self.stream.is_ws_path(request.path) and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._serve_ws(request)
        query: Query = dict(request.query) | await _json_body(request)
        path = request.path
        weight = 0.0
        status = 0
        try:
            response = await self._answer(path, query)
            weight = float(response.headers.pop("X-Sim-Weight", "0"))
            status = response.status
            return response
        finally:
            self.log.append(
                RequestRecord(
                    self.exchange_id,
                    self.clock.time(),
                    self.clock.monotonic(),
                    request.method,
                    path,
                    query,
                    status,
                    weight,
                )
            )
            self.on_change()

    async def _answer(self, path: str, query: Query) -> web.Response:
        fault = next((f for f in self.faults if f.matches(path, query)), None)
        if fault is not None:
            fault.hits += 1
            if fault.kind is FaultKind.HANG:
                await self._release.wait()  # set when the simulator closes
                return self._reply(Reject(503, "<html><body>closing</body></html>"), 0.0, path)
            if fault.kind in (FaultKind.ERROR, FaultKind.RATE_LIMIT, FaultKind.BAN, FaultKind.BAD_SYMBOL):
                return self._reply(self.admission.fault_answer(fault), 0.0, path)
        weight, refusal = self.admission.admit(path, query)
        if refusal is not None:
            return self._reply(refusal, 0.0, path)
        route = self.rest.route(path)
        if route is None:
            self.unknown_paths.append(path)
            return self._reply(Reject(404, "<html><body><h1>404 Not Found</h1></body></html>"), weight, path)
        try:
            payload = route(query)
        except Reject as rej:
            return self._reply(rej, weight, path)
        text = json.dumps(
            _mutate(payload, fault.kind, numbers=self.numeric_json) if fault is not None else payload,
            separators=(",", ":"),
        )
        if fault is not None and fault.kind is FaultKind.MALFORMED:
            text = text[: max(1, len(text) // 2)]
        return self._reply(Reject(200, text), weight, path)

    def _reply(self, answer: Reject, weight: float, path: str) -> web.Response:
        body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body, separators=(",", ":"))
        html = body.startswith("<")
        headers = {**self.admission.headers(path), **answer.headers, "X-Sim-Weight": str(weight)}
        return web.Response(
            status=answer.status,
            text=body,
            headers=headers,
            content_type="text/html" if html else "application/json",
        )

    async def _serve_ws(self, request: web.Request) -> web.StreamResponse:
        if self.ws_refuse:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(
            ws=ws,
            path=request.path,
            query=dict(request.query),
            opened=self.clock.monotonic(),
            last_ping=self.clock.monotonic(),
        )
        conn.state["id"] = f"{next(self._conn_ids):08x}"
        self.connections.add(conn)
        self.on_change()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.stream.on_text(self, conn, msg.data)
                    self.on_change()
        finally:
            self.connections.discard(conn)
            self.on_change()
        return ws

    async def send(self, conn: Connection, payload: Any) -> None:
        """Send a data frame unless the connection is silent or gone."""
        if not conn.silent:
            await self.reply(conn, payload)

    async def reply(self, conn: Connection, payload: Any) -> None:
        """Control answers (acks, pongs) still flow on a silent connection: that is what makes it sneaky."""
        if conn.ws.closed:
            return
        try:
            await conn.ws.send_str(
                payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
            )
        except ConnectionError:
            self.connections.discard(conn)

    async def ping_idle(self) -> None:
        now = self.clock.monotonic()
        for conn in list(self.connections):
            if now - conn.last_ping >= self.ws_ping_interval and not conn.ws.closed:
                conn.last_ping = now
                try:
                    await conn.ws.ping()
                except ConnectionError:
                    self.connections.discard(conn)

    def _on_print(self, liq: LiquidationPrint) -> None:
        if liq.exchange == self.exchange_id:
            self._pending.append(liq)

    def take_prints(self) -> list[LiquidationPrint]:
        out, self._pending = self._pending, []
        return out

    def collect_prints(self, prev_ms: int, now_ms: int) -> list[LiquidationPrint]:
        """The prints to publish for ``prev_ms``..``now_ms``: the market's, then its background trickle.

        A background print reaches ``_on_print`` twice (through the market's listener and here), so streams
        that publish every print send it twice; kept, the split of the venues changed nothing on the wire."""
        for liq in self.market.background_prints(self.exchange_id, (now_ms - prev_ms) / 1000):
            self._on_print(liq)
        return self.take_prints()

    async def broadcast(self, wants: Callable[[Connection], bool], make: Callable[[Connection], Any]) -> None:
        sends: list[Awaitable[None]] = [self.send(c, make(c)) for c in list(self.connections) if wants(c)]
        if sends:
            await asyncio.gather(*sends)


async def _json_body(request: web.Request) -> Query:
    """A POST's JSON object (Hyperliquid asks everything of ``POST /info``) read as query parameters: its
    fields by name, values that are not strings as JSON text."""
    if request.method != "POST" or not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.text())
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}


def int_param(query: Query, key: str) -> int | None:
    """An integer query parameter, None when absent."""
    return int(query[key]) if key in query else None


def fmt(x: float, digits: int = 8) -> str:
    """Decimal string as exchanges send numbers ("NaN"/"-" stay visible when a fault put them there)."""
    if not math.isfinite(x):
        return "NaN"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else str(round(x))


_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")
_TIMESTAMP = re.compile(r"^\d{12,}$")


def _mutate(payload: Any, kind: FaultKind, *, numbers: bool = False) -> Any:
    """NAN / NEGATIVE faults: every numeric string (prices, rates, volumes) except millisecond timestamps;
    with ``numbers`` also every JSON number except timestamps (≥ 1e9: seconds or milliseconds)."""
    if kind not in (FaultKind.NAN, FaultKind.NEGATIVE):
        return payload
    if isinstance(payload, dict):
        return {k: _mutate(v, kind, numbers=numbers) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_mutate(v, kind, numbers=numbers) for v in payload]
    if isinstance(payload, str) and _NUMBER.match(payload) and not _TIMESTAMP.match(payload):
        return "NaN" if kind is FaultKind.NAN else ("-" + payload).replace("--", "")
    if numbers and isinstance(payload, int | float) and not isinstance(payload, bool) and abs(payload) < 1e9:
        return math.nan if kind is FaultKind.NAN else -payload
    return payload
