"""Local HTTP: ``GET /healthz`` (JSON, 200 healthy / 503 not) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import errno
import json
import os
from types import TracebackType
from typing import Any

import structlog
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from signalbots.errors import FatalError
from signalbots.health import Health, Role, TaskName
from signalbots.metrics import Metrics

_log = structlog.get_logger(__name__)


class HttpServer:
    def __init__(self, *, host: str, port: int, health: Health, metrics: Metrics) -> None:
        self._host, self._port = host, port
        self._health = health
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port = port

    async def __aenter__(self) -> HttpServer:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            # aiohttp's text repeats the address; the errno's says what is wrong with it.
            why = os.strerror(err.errno) if err.errno else str(err)
            if err.errno == errno.EADDRINUSE:
                why += ' (another process listens there: stop it, or set another port; "" turns HTTP off)'
            raise FatalError(f"cannot listen on {self._host}:{self._port} ([http] listen): {why}") from err
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        _log.info("http_listening", url=f"http://{self._host}:{self.port}/healthz")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        snap = self._health.snapshot()
        return web.json_response(
            snap, status=200 if snap["status"] == "ok" else 503, dumps=lambda o: json.dumps(o, default=str)
        )

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._metrics.render(),
            content_type="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )


async def fetch_health(listen: str, *, within: float = 5.0) -> tuple[int, dict[str, Any]]:
    """``signalbots status``: (HTTP status, JSON) from a running daemon's /healthz."""
    host, _, port = listen.rpartition(":")
    url = f"http://{host}:{port}/healthz"
    try:
        async with ClientSession(timeout=ClientTimeout(total=within)) as session, session.get(url) as resp:
            return resp.status, await resp.json()
    except (ClientError, TimeoutError, ValueError) as err:
        raise ConnectionError(f"no daemon answering at {url}: {err or type(err).__name__}") from err


def describe_health(status: int, data: dict[str, Any]) -> str:
    """/healthz for a human: the verdict, then each exchange, strategy and task once."""
    # The problems are listed below, each once: the first line says only how bad it is.
    severity = data.get("severity")
    lines = [
        f"signalbots: {data.get('status', '?')} (HTTP {status}"
        + (f", {severity}" if severity and severity != "ok" else "")
        + f"), uptime {data.get('uptime', 0):.0f}s"
    ]
    exchanges: dict[str, Any] = data.get("exchanges") or {}
    for ex, e in exchanges.items():
        parts = [f"  {e.get('state', '?'):<10} {ex}: {e.get('detail') or '-'}"]
        feeds = e.get("feeds") or {}
        if feeds:
            parts.append(f"feeds {e.get('live_feeds', 0)}/{len(feeds)} live")
        # What is wrong with a working exchange is in the problems below; a down one's circuits are not.
        if e.get("state") == "down":
            circuits = [
                f"{b.get('endpoint')} {b.get('state')}"
                for b in data.get("breakers", []) or []
                if b.get("exchange") == ex and not b.get("symbol")
            ]
            if circuits:
                parts.append("circuit " + ", ".join(circuits))
        age = e.get("last_data_age")
        if isinstance(age, int | float):
            parts.append(f"last data {age:.0f}s ago")
        lines.append(", ".join(parts))
    strategies: dict[str, Any] = data.get("strategies") or {}
    for name, t in sorted(data.get("tasks", {}).items()):
        task = TaskName.parse(name)
        if task.role in (Role.EXCHANGE, Role.MARKETS, Role.FEED) and task.exchange in exchanges:
            continue  # shown in its exchange's line
        state = t["status"]
        detail = t.get("detail") or ""
        if task.role is Role.STRATEGY and task.label in strategies:
            state = strategies[task.label].get("state", state)
            detail = strategies[task.label].get("detail", detail)
        age = t.get("last_event_age")
        extra = f", last event {age:.0f}s ago" if isinstance(age, int | float) else ""
        if t.get("kind") == "strategy":
            counters = f"events {t['events']}, candidates {t['candidates']}, signals {t['signals']}"
        else:
            counters = f"cycles {t['cycles']}, events {t['events']}"
        counters += f", errors {t['errors']}"
        if detail and any(detail in p for p in data.get("problems", [])):
            detail = ""  # its problem line below says it
        lines.append(f"  {state:<10} {name}: {counters}{extra}" + (f" — {detail}" if detail else ""))
    for p in data.get("problems", []):
        lines.append(f"  problem: {p}")
    outbox = data.get("outbox")
    if isinstance(outbox, dict):
        lines.append(f"  outbox: {outbox.get('pending', 0)} pending, {outbox.get('dead', 0)} dead")
    for b in data.get("breakers", []) or []:
        if b.get("symbol"):  # one symbol's circuit (a delisting): not a problem, said here only
            where = " ".join(str(b[k]) for k in ("exchange", "endpoint", "symbol") if b.get(k))
            lines.append(f"  breaker {b.get('state')}: {where}")
    return "\n".join(lines)
