"""Faults a test injects into the Bot API simulator: a script consumed in order, and the answers they give."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from signalbots.sim.changes import Changes
from signalbots.sim.telegram.wire import BAD_GATEWAY_PAGE, error

_INJECTED_PARSE_ERROR = 'Unsupported start tag "x" at byte offset 0'


class FaultKind(StrEnum):
    RETRY_AFTER = "retry_after"  # 429 with parameters.retry_after
    SERVER_ERROR = "server_error"  # 500 with a JSON body
    BAD_GATEWAY = "bad_gateway"  # 502 with an HTML body (a proxy in front of Telegram)
    HANG = "hang"  # never answers until released (the client times out); nothing is delivered
    DROP = "drop"  # the connection is closed without an answer; nothing is delivered
    PARSE_ERROR = "parse_error"  # 400 can't parse entities
    TOO_LONG = "too_long"  # 400 message is too long
    CHAT_NOT_FOUND = "chat_not_found"  # 400 chat not found
    BLOCKED = "blocked"  # 403 bot was blocked by the user


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    retry_after: int = 0

    @classmethod
    def flood(cls, retry_after: int) -> Fault:
        return cls(FaultKind.RETRY_AFTER, retry_after)


@dataclass(slots=True)
class _Injected:
    fault: Fault
    method: str
    chat_id: int | None
    times: int | None  # None: every matching request until cleared


class Faults:
    """The injected faults, consumed in the order they were injected, and the requests they hold hung."""

    def __init__(self, *, changes: Changes) -> None:
        self._changes = changes
        self._injected: list[_Injected] = []
        self._released = asyncio.Event()
        self.hanging = 0

    def inject(self, fault: Fault, *, method: str, chat_id: int | None, times: int | None) -> None:
        self._injected.append(_Injected(fault, method.lower(), chat_id, times))

    def clear(self) -> None:
        self._injected.clear()

    def release(self) -> None:
        """Let hung requests finish."""
        self._released.set()
        self._released = asyncio.Event()

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        """The fault that answers this request, if any (and one use of it)."""
        for injected in self._injected:
            if injected.method == method and (injected.chat_id is None or injected.chat_id == chat_id):
                if injected.times is not None:
                    injected.times -= 1
                    if injected.times <= 0:
                        self._injected.remove(injected)
                return injected.fault
        return None

    async def answer(self, fault: Fault) -> web.StreamResponse:
        """Telegram's answer for ``fault`` (a HANG waits for ``release``; DROP is the server's to do)."""
        kind = fault.kind
        if kind is FaultKind.RETRY_AFTER:
            return error(
                429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after
            )
        if kind is FaultKind.SERVER_ERROR:
            return error(500, "Internal Server Error")
        if kind is FaultKind.BAD_GATEWAY:
            return web.Response(status=502, content_type="text/html", text=BAD_GATEWAY_PAGE)
        if kind is FaultKind.HANG:
            self.hanging += 1
            self._changes.notify()
            try:
                await self._released.wait()
            finally:
                self.hanging -= 1
            return error(504, "Gateway Timeout")
        if kind is FaultKind.PARSE_ERROR:
            return error(400, f"Bad Request: can't parse entities: {_INJECTED_PARSE_ERROR}")
        if kind is FaultKind.TOO_LONG:
            return error(400, "Bad Request: message is too long")
        if kind is FaultKind.CHAT_NOT_FOUND:
            return error(400, "Bad Request: chat not found")
        return error(403, "Forbidden: bot was blocked by the user")
