"""The Bot API server: lifecycle, the request log, token and path checks, injected faults, then the methods.

The token is never logged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from signalbots.clock import Clock, SystemClock
from signalbots.sim.changes import Changes
from signalbots.sim.telegram.admission import Pacer
from signalbots.sim.telegram.faults import Fault, FaultKind, Faults
from signalbots.sim.telegram.methods import BotApi, SentMessage
from signalbots.sim.telegram.wire import error, int_or_none, read_params

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")


@dataclass(slots=True)
class SimRequest:
    """Every request that reached the sim, at arrival (``status`` filled in when answered)."""

    time: float
    method: str
    chat_id: int | None
    status: int = 0


class TelegramSim:
    """Async context manager: a Bot API server on ``host`` (random free port unless ``port``)."""

    def __init__(
        self,
        *,
        token: str,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        private_burst: int = 3,
        pacing: bool = True,
        bot_username: str = "signalbots_sim_bot",
        on_message: Callable[[SentMessage], None] | None = None,
    ) -> None:
        self._token = token
        self._clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._log = structlog.get_logger(__package__)
        self._runner: web.ServerRunner | None = None
        self._changes = Changes()  # a sent message, a hung request, an update queued or fetched, a close
        self._faults = Faults(changes=self._changes)
        self._api = BotApi(
            clock=self._clock,
            changes=self._changes,
            bot_id=int_or_none(token.split(":", 1)[0]) or 1,
            bot_username=bot_username,
            pacer=Pacer(private_burst=private_burst) if pacing else None,
            on_message=on_message,  # e.g. the demo printing what a chat would show
        )
        self.requests: list[SimRequest] = []

    # lifecycle --------------------------------------------------------------------------------------
    async def __aenter__(self) -> TelegramSim:
        await self.start_listening()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._api.closing = True
        await self.stop_listening()

    @property
    def url(self) -> str:
        """The base URL for ``[telegram] api_url``."""
        return f"http://{self._host}:{self._port}"

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def start_listening(self) -> None:
        """Accept connections (again, on the same port after ``stop_listening``)."""
        if self._runner is not None:
            return
        runner = web.ServerRunner(web.Server(self._handle), shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._port = runner.addresses[0][1]
        self._runner = runner
        self._log.debug("sim_telegram_listening", port=self._port)

    async def stop_listening(self) -> None:
        """Refuse connections from now on (and drop open ones) until ``start_listening``."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.release()
        self._api.end_polls()
        self._changes.notify()
        await runner.cleanup()
        self._log.debug("sim_telegram_stopped", port=self._port)

    # scripting -------------------------------------------------------------------------------------
    def inject(
        self, fault: Fault, *, method: str = "sendMessage", chat_id: int | None = None, times: int | None = 1
    ) -> None:
        """Answer the next ``times`` matching requests (None: all until ``clear_faults``) with ``fault``.

        Injected faults are consumed in the order they were injected, so a sequence of calls is a script.
        """
        self._faults.inject(fault, method=method, chat_id=chat_id, times=times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def release(self) -> None:
        """Let hung requests finish (they answer 504 and deliver nothing)."""
        self._faults.release()

    @property
    def hanging(self) -> int:
        return self._faults.hanging

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for ``getUpdates``; ``update_id`` is assigned."""
        return self._api.push_update(update)

    def push_command(self, chat_id: int, user_id: int, text: str, *, chat_type: str | None = None) -> int:
        """A user writes ``text`` (e.g. ``"/status"``) in ``chat_id``."""
        return self._api.push_command(chat_id, user_id, text, chat_type=chat_type)

    # what happened ---------------------------------------------------------------------------------
    @property
    def sent(self) -> list[SentMessage]:
        return self._api.sent

    @property
    def edits(self) -> list[tuple[int, int, str]]:
        """Chat, message id, new text."""
        return self._api.edits

    @property
    def my_commands(self) -> list[dict[str, Any]]:
        return self._api.my_commands

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def requests_to(self, chat_id: int, method: str = "sendmessage") -> list[SimRequest]:
        return [r for r in self.requests if r.chat_id == chat_id and r.method == method.lower()]

    async def wait_sent(self, count: int, *, within: float = 10.0) -> list[SentMessage]:
        """Wait (real time, at most ``within`` seconds) until at least ``count`` messages were delivered."""
        await self.wait_for(lambda: len(self.sent) >= count, within=within)
        return list(self.sent)

    async def wait_for(self, predicate: Callable[[], bool], *, within: float = 10.0) -> None:
        """Wait (real time, at most ``within`` seconds) until ``predicate()`` holds; it is checked whenever
        the sim's state changes (a message delivered, a request hung, an update queued or fetched)."""
        async with asyncio.timeout(within):
            await self._changes.until(predicate)

    # serving ---------------------------------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        m = _PATH.match(request.path)
        if m is None:
            return error(404, "Not Found")
        if m.group("token") != self._token:
            return error(401, "Unauthorized")
        method = m.group("method").lower()
        try:
            params = await read_params(request)
        except ValueError:
            return error(400, "Bad Request: invalid request body")
        record = SimRequest(self._clock.monotonic(), method, int_or_none(params.get("chat_id")))
        self.requests.append(record)
        fault = self._faults.take(method, record.chat_id)
        if fault is not None and fault.kind is FaultKind.DROP:
            record.status = -1
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # aiohttp's way for a handler to abandon the connection
        response = await (
            self._faults.answer(fault) if fault is not None else self._api.dispatch(method, params)
        )
        record.status = response.status
        self._log.debug("sim_telegram_request", method=method, chat_id=record.chat_id, status=response.status)
        return response
