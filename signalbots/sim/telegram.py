"""A local Telegram Bot API server for tests and the demo.

It speaks the Bot API wire format (``POST /bot<token>/<method>``, form or JSON bodies, ``{"ok": true,
"result": ...}`` / ``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``) for the
methods signalbots uses, so the real aiogram client runs against it unchanged
(``AiohttpSession(api=TelegramAPIServer.from_base(sim.url))``).

Like Telegram it validates HTML (unsupported or unbalanced tags → 400 "can't parse entities"), rejects texts
over 4096 characters after parsing, and enforces flood limits with its own clock: a private chat gets a
small burst then 1 message/s, a group (negative id) 20 per minute, the bot 30 per second overall; a
request over a limit gets 429 with ``parameters.retry_after``. Faults are injected by script (a queue
consumed in order) or on demand (refused connections, hung requests).

Long polling (``getUpdates`` ``timeout``) waits in real loop time: it is a wire-level wait the client's own
request timeout is measured against. The token is never logged.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from signalbots.clock import Clock, SystemClock

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram: photos up to 10 MB,
MAX_PHOTO_SIDES = 10_000  # width + height at most 10000, ratio at most 20
_PNG = b"\x89PNG\r\n\x1a\n"
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
_INJECTED_PARSE_ERROR = 'Unsupported start tag "x" at byte offset 0'
_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)


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


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the sim accepted. ``time`` is the sim clock's monotonic time."""

    chat_id: int
    message_id: int
    text: str  # as sent (HTML source when parse_mode is HTML)
    parse_mode: str | None
    reply_to_message_id: int | None
    disable_notification: bool
    time: float
    photo: bytes | None = None  # sendPhoto: the uploaded image (``text`` is its caption)


@dataclass(slots=True)
class SimRequest:
    """Every request that reached the sim, at arrival (``status`` filled in when answered)."""

    time: float
    method: str
    chat_id: int | None
    status: int = 0


@dataclass(slots=True)
class _Injected:
    fault: Fault
    method: str
    chat_id: int | None
    times: int | None  # None: every matching request until cleared


@dataclass(slots=True)
class _Pacer:
    """Telegram-like flood limits, on the sim's clock."""

    private_burst: int
    tokens: dict[int, tuple[float, float]] = field(default_factory=dict)  # chat → (tokens, at)
    groups: dict[int, deque[float]] = field(default_factory=dict)
    overall: deque[float] = field(default_factory=deque)

    def check(self, chat_id: int, now: float) -> int:
        """0 when allowed (and counted); otherwise the seconds to wait."""
        while self.overall and self.overall[0] <= now - 1.0:
            self.overall.popleft()
        if len(self.overall) >= 30:
            return 1
        if chat_id < 0:
            window = self.groups.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= 20:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
        else:
            have, at = self.tokens.get(chat_id, (float(self.private_burst), now))
            have = min(float(self.private_burst), have + (now - at))
            if have < 1.0:
                return max(1, math.ceil(1.0 - have))
            self.tokens[chat_id] = (have - 1.0, now)
        self.overall.append(now)
        return 0


class _ParseError(Exception):
    pass


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _parse_html(text: str) -> str:
    """Telegram's HTML parse mode, strictly enough to catch what it rejects; returns the plain text."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            offset = len(text[:i].encode())
            if m is None:
                raise _ParseError(f'Unsupported start tag "" at byte offset {offset}')
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise _ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise _ParseError(f"Unexpected end tag at byte offset {offset}")
                stack.pop()
            else:
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if m is None:
                out.append(ch)
                i += 1
            else:
                out.append(html.unescape(m.group(0)))
                i = m.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _ok(result: Any) -> web.Response:
    return _json(200, {"ok": True, "result": result})


def _error(status: int, description: str, **parameters: int) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return _json(status, body)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


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
        self._pacing = pacing
        self._pacer = _Pacer(private_burst=private_burst)
        self._bot_id = _int(token.split(":", 1)[0]) or 1
        self._bot_username = bot_username
        self._on_message = on_message  # e.g. the demo printing what a chat would show
        self._log = structlog.get_logger(__name__)
        self._runner: web.ServerRunner | None = None
        self._faults: list[_Injected] = []
        self._released = asyncio.Event()
        self._hanging = 0
        self._next_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_id = 0
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()  # set and replaced on every change (sent message, update, close)
        self.sent: list[SentMessage] = []
        self.edits: list[tuple[int, int, str]] = []  # chat, message id, new text
        self.requests: list[SimRequest] = []
        self.my_commands: list[dict[str, Any]] = []

    # lifecycle --------------------------------------------------------------------------------------
    async def __aenter__(self) -> TelegramSim:
        await self.start_listening()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
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
        self._released = asyncio.Event()
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
        self._poll_generation += 1
        self._notify()
        await runner.cleanup()
        self._log.debug("sim_telegram_stopped", port=self._port)

    # scripting -------------------------------------------------------------------------------------
    def inject(
        self, fault: Fault, *, method: str = "sendMessage", chat_id: int | None = None, times: int | None = 1
    ) -> None:
        """Answer the next ``times`` matching requests (None: all until ``clear_faults``) with ``fault``.

        Injected faults are consumed in the order they were injected, so a sequence of calls is a script.
        """
        self._faults.append(_Injected(fault, method.lower(), chat_id, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def release(self) -> None:
        """Let hung requests finish (they answer 504 and deliver nothing)."""
        self._released.set()
        self._released = asyncio.Event()

    @property
    def hanging(self) -> int:
        return self._hanging

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for ``getUpdates``; ``update_id`` is assigned."""
        self._update_id += 1
        self._updates.append({"update_id": self._update_id, **update})
        self._notify()
        return self._update_id

    def push_command(self, chat_id: int, user_id: int, text: str, *, chat_type: str | None = None) -> int:
        """A user writes ``text`` (e.g. ``"/status"``) in ``chat_id``."""
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(self._clock.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type or ("private" if chat_id > 0 else "supergroup"),
                **({"first_name": "user"} if chat_id > 0 else {"title": "group"}),
            },
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "text": text,
        }
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return self.push_update({"message": message})

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
            await self._wait_for(predicate)

    # serving ---------------------------------------------------------------------------------------
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()

    def _next_message_id(self, chat_id: int) -> int:
        self._next_id[chat_id] = self._next_id.get(chat_id, 0) + 1
        return self._next_id[chat_id]

    async def _params(self, request: web.BaseRequest) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()  # urlencoded or multipart (uploads arrive as file fields)
                for k, v in form.items():
                    if isinstance(v, str):
                        params[k] = v
                    elif isinstance(v, web.FileField):
                        files[k] = v.file.read()
        params = {k: _maybe_json(v) for k, v in params.items()}
        params["_files"] = files
        return params

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for injected in self._faults:
            if injected.method == method and (injected.chat_id is None or injected.chat_id == chat_id):
                if injected.times is not None:
                    injected.times -= 1
                    if injected.times <= 0:
                        self._faults.remove(injected)
                return injected.fault
        return None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        m = _PATH.match(request.path)
        if m is None:
            return _error(404, "Not Found")
        if m.group("token") != self._token:
            return _error(401, "Unauthorized")
        method = m.group("method").lower()
        try:
            params = await self._params(request)
        except ValueError:
            return _error(400, "Bad Request: invalid request body")
        record = SimRequest(self._clock.monotonic(), method, _int(params.get("chat_id")))
        self.requests.append(record)
        fault = self._take_fault(method, record.chat_id)
        if fault is not None and fault.kind is FaultKind.DROP:
            record.status = -1
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # aiohttp's way for a handler to abandon the connection
        response = await (self._answer_fault(fault) if fault is not None else self._dispatch(method, params))
        record.status = response.status
        self._log.debug("sim_telegram_request", method=method, chat_id=record.chat_id, status=response.status)
        return response

    async def _answer_fault(self, fault: Fault) -> web.StreamResponse:
        kind = fault.kind
        if kind is FaultKind.RETRY_AFTER:
            return _error(
                429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after
            )
        if kind is FaultKind.SERVER_ERROR:
            return _error(500, "Internal Server Error")
        if kind is FaultKind.BAD_GATEWAY:
            return web.Response(status=502, content_type="text/html", text=_BAD_GATEWAY_PAGE)
        if kind is FaultKind.HANG:
            self._hanging += 1
            self._notify()
            try:
                await self._released.wait()
            finally:
                self._hanging -= 1
            return _error(504, "Gateway Timeout")
        if kind is FaultKind.PARSE_ERROR:
            return _error(400, f"Bad Request: can't parse entities: {_INJECTED_PARSE_ERROR}")
        if kind is FaultKind.TOO_LONG:
            return _error(400, "Bad Request: message is too long")
        if kind is FaultKind.CHAT_NOT_FOUND:
            return _error(400, "Bad Request: chat not found")
        return _error(403, "Forbidden: bot was blocked by the user")

    async def _dispatch(self, method: str, params: dict[str, Any]) -> web.StreamResponse:
        if method == "getme":
            return _ok(self._me())
        if method == "sendmessage":
            return await self._send_message(params)
        if method == "sendphoto":
            return await self._send_photo(params)
        if method == "getupdates":
            return await self._get_updates(params)
        if method == "editmessagetext":
            return self._edit_message_text(params)
        if method == "setmycommands":
            commands = params.get("commands")
            self.my_commands = list(commands) if isinstance(commands, list) else []
            return _ok(True)
        if method in ("deletewebhook", "close", "logout", "deletemycommands"):
            return _ok(True)
        return _error(404, "Not Found")

    def _me(self) -> dict[str, Any]:
        return {
            "id": self._bot_id,
            "is_bot": True,
            "first_name": "signalbots sim",
            "username": self._bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "user"}
        return {"id": chat_id, "type": "supergroup", "title": "group"}

    def _render(self, params: dict[str, Any]) -> tuple[str, str | None] | web.Response:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode") if isinstance(params.get("parse_mode"), str) else None
        plain = text
        if parse_mode is not None and parse_mode.upper() == "HTML":
            try:
                plain = _parse_html(text)
            except _ParseError as err:
                return _error(400, f"Bad Request: can't parse entities: {err}")
        if _utf16_len(plain) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        if not plain.strip():
            return _error(400, "Bad Request: message text is empty")
        return plain, parse_mode

    async def _send_message(self, params: dict[str, Any]) -> web.StreamResponse:
        chat_id = _int(params.get("chat_id"))
        if chat_id is None:
            return _error(400, "Bad Request: chat not found")
        rendered = self._render(params)
        if isinstance(rendered, web.Response):
            return rendered
        plain, parse_mode = rendered
        if self._pacing:
            wait = self._pacer.check(chat_id, self._clock.monotonic())
            if wait:
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        reply = params.get("reply_parameters")
        reply_to = _int(reply.get("message_id")) if isinstance(reply, dict) else None
        if reply_to is None:
            reply_to = _int(params.get("reply_to_message_id"))
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            text=str(params["text"]),
            parse_mode=parse_mode,
            reply_to_message_id=reply_to,
            disable_notification=_flag(params.get("disable_notification")),
            time=self._clock.monotonic(),
        )
        self.sent.append(message)
        self._notify()
        if self._on_message is not None:
            self._on_message(message)
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(self._clock.time()),
            "chat": self._chat(chat_id),
            "from": self._me(),
            "text": plain,
        }
        return _ok(result)

    async def _send_photo(self, params: dict[str, Any]) -> web.StreamResponse:
        """A multipart upload, checked like Telegram does: a real image within the size limits, a caption
        within 1024 characters after parsing."""
        chat_id = _int(params.get("chat_id"))
        if chat_id is None:
            return _error(400, "Bad Request: chat not found")
        photo = params.get("photo")
        files: dict[str, bytes] = params.get("_files", {})
        data = (
            files.get(photo[len("attach://") :])
            if isinstance(photo, str) and photo.startswith("attach://")
            else None
        )
        if data is None:
            data = files.get("photo")
        if data is None:
            return _error(400, "Bad Request: there is no photo in the request")
        if len(data) > MAX_PHOTO_BYTES:
            return _error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        if data[:8] != _PNG or data[12:16] != b"IHDR":
            return _error(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if (
            not width
            or not height
            or width + height > MAX_PHOTO_SIDES
            or max(width, height) > 20 * min(width, height)
        ):
            return _error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption = params.get("caption")
        parse_mode = params.get("parse_mode") if isinstance(params.get("parse_mode"), str) else None
        plain = caption if isinstance(caption, str) else ""
        if plain and parse_mode is not None and parse_mode.upper() == "HTML":
            try:
                plain = _parse_html(plain)
            except _ParseError as err:
                return _error(400, f"Bad Request: can't parse entities: {err}")
        if _utf16_len(plain) > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        if self._pacing:
            wait = self._pacer.check(chat_id, self._clock.monotonic())
            if wait:
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        reply = params.get("reply_parameters")
        reply_to = _int(reply.get("message_id")) if isinstance(reply, dict) else None
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            text=str(caption or ""),
            parse_mode=parse_mode,
            reply_to_message_id=reply_to,
            disable_notification=_flag(params.get("disable_notification")),
            time=self._clock.monotonic(),
            photo=data,
        )
        self.sent.append(message)
        self._notify()
        if self._on_message is not None:
            self._on_message(message)
        size = {
            "file_id": f"sim-photo-{chat_id}-{message.message_id}",
            "file_unique_id": f"p{message.message_id}",
        }
        return _ok(
            {
                "message_id": message.message_id,
                "date": int(self._clock.time()),
                "chat": self._chat(chat_id),
                "from": self._me(),
                "photo": [size | {"width": width, "height": height, "file_size": len(data)}],
                **({"caption": plain} if plain else {}),
            }
        )

    def _edit_message_text(self, params: dict[str, Any]) -> web.StreamResponse:
        chat_id, message_id = _int(params.get("chat_id")), _int(params.get("message_id"))
        if chat_id is None or message_id is None or message_id > self._next_id.get(chat_id, 0):
            return _error(400, "Bad Request: message to edit not found")
        rendered = self._render(params)
        if isinstance(rendered, web.Response):
            return rendered
        self.edits.append((chat_id, message_id, str(params["text"])))
        return _ok(
            {
                "message_id": message_id,
                "date": int(self._clock.time()),
                "chat": self._chat(chat_id),
                "from": self._me(),
                "text": rendered[0],
                "edit_date": int(self._clock.time()),
            }
        )

    async def _get_updates(self, params: dict[str, Any]) -> web.StreamResponse:
        offset = _int(params.get("offset")) or 0
        limit = min(100, max(1, _int(params.get("limit")) or 100))
        timeout = max(0, _int(params.get("timeout")) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()

        def ready() -> bool:
            return bool(self._pending(offset)) or self._poll_generation != generation or self._closing

        try:
            async with asyncio.timeout(timeout):
                await self._wait_for(ready)
        except TimeoutError:
            pass
        if self._poll_generation != generation and not self._pending(offset):
            return _error(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return _ok(self._pending(offset)[:limit])

    def _pending(self, offset: int) -> list[dict[str, Any]]:
        return [u for u in self._updates if u["update_id"] >= offset]
