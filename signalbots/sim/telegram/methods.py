"""The Bot API methods signalbots uses, with what the simulated chats hold: messages sent and edited,
updates queued for ``getUpdates``, the bot's command list.

Like Telegram, a text is checked after parsing (HTML errors → 400 "can't parse entities", over 4096
characters → 400), a photo must be a real image within Telegram's limits, and sends are paced by the flood
limits. Long polling (``getUpdates`` ``timeout``) waits in real loop time: it is a wire-level wait the
client's own request timeout is measured against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from signalbots.clock import Clock
from signalbots.sim.changes import Changes
from signalbots.sim.telegram.admission import Pacer
from signalbots.sim.telegram.markup import ParseError, plain_text, utf16_len
from signalbots.sim.telegram.wire import chat, error, flag, int_or_none, ok

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram: photos up to 10 MB,
MAX_PHOTO_SIDES = 10_000  # width + height at most 10000, ratio at most 20
_PNG = b"\x89PNG\r\n\x1a\n"


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


class BotApi:
    """Answers Bot API methods (lower-cased names) and keeps what the chats would show."""

    def __init__(
        self,
        *,
        clock: Clock,
        changes: Changes,
        bot_id: int,
        bot_username: str,
        pacer: Pacer | None,
        on_message: Callable[[SentMessage], None] | None,
    ) -> None:
        self._clock = clock
        self._changes = changes
        self._bot_id = bot_id
        self._bot_username = bot_username
        self._pacer = pacer  # None: no flood limits
        self._on_message = on_message
        self._next_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_id = 0
        self._poll_generation = 0
        self.closing = False  # a long poll returns at once
        self.sent: list[SentMessage] = []
        self.edits: list[tuple[int, int, str]] = []  # chat, message id, new text
        self.my_commands: list[dict[str, Any]] = []

    # the chats' side ------------------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> int:
        self._update_id += 1
        self._updates.append({"update_id": self._update_id, **update})
        self._changes.notify()
        return self._update_id

    def push_command(self, chat_id: int, user_id: int, text: str, *, chat_type: str | None = None) -> int:
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
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return self.push_update({"message": message})

    def end_polls(self) -> None:
        """A pending long poll ends as if another one had replaced it (the server went away)."""
        self._poll_generation += 1

    def _next_message_id(self, chat_id: int) -> int:
        self._next_id[chat_id] = self._next_id.get(chat_id, 0) + 1
        return self._next_id[chat_id]

    # the bot's side -------------------------------------------------------------------------------
    async def dispatch(self, method: str, params: dict[str, Any]) -> web.StreamResponse:
        if method == "getme":
            return ok(self._me())
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
            return ok(True)
        if method in ("deletewebhook", "close", "logout", "deletemycommands"):
            return ok(True)
        return error(404, "Not Found")

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

    def _flood_wait(self, chat_id: int) -> web.Response | None:
        """The 429 answer when a send to ``chat_id`` is over a flood limit (else it is counted)."""
        if self._pacer is not None:
            wait = self._pacer.check(chat_id, self._clock.monotonic())
            if wait:
                return error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        return None

    def _deliver(self, message: SentMessage) -> None:
        self.sent.append(message)
        self._changes.notify()
        if self._on_message is not None:
            self._on_message(message)

    def _render(self, params: dict[str, Any]) -> tuple[str, str | None] | web.Response:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return error(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode") if isinstance(params.get("parse_mode"), str) else None
        try:
            plain = plain_text(text, parse_mode)
        except ParseError as err:
            return error(400, f"Bad Request: can't parse entities: {err}")
        if utf16_len(plain) > MAX_TEXT:
            return error(400, "Bad Request: message is too long")
        if not plain.strip():
            return error(400, "Bad Request: message text is empty")
        return plain, parse_mode

    async def _send_message(self, params: dict[str, Any]) -> web.StreamResponse:
        chat_id = int_or_none(params.get("chat_id"))
        if chat_id is None:
            return error(400, "Bad Request: chat not found")
        rendered = self._render(params)
        if isinstance(rendered, web.Response):
            return rendered
        plain, parse_mode = rendered
        flood = self._flood_wait(chat_id)
        if flood is not None:
            return flood
        reply = params.get("reply_parameters")
        reply_to = int_or_none(reply.get("message_id")) if isinstance(reply, dict) else None
        if reply_to is None:
            reply_to = int_or_none(params.get("reply_to_message_id"))
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            text=str(params["text"]),
            parse_mode=parse_mode,
            reply_to_message_id=reply_to,
            disable_notification=flag(params.get("disable_notification")),
            time=self._clock.monotonic(),
        )
        self._deliver(message)
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(self._clock.time()),
            "chat": chat(chat_id),
            "from": self._me(),
            "text": plain,
        }
        return ok(result)

    async def _send_photo(self, params: dict[str, Any]) -> web.StreamResponse:
        """A multipart upload, checked like Telegram does: a real image within the size limits, a caption
        within 1024 characters after parsing."""
        chat_id = int_or_none(params.get("chat_id"))
        if chat_id is None:
            return error(400, "Bad Request: chat not found")
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
            return error(400, "Bad Request: there is no photo in the request")
        if len(data) > MAX_PHOTO_BYTES:
            return error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        if data[:8] != _PNG or data[12:16] != b"IHDR":
            return error(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if (
            not width
            or not height
            or width + height > MAX_PHOTO_SIDES
            or max(width, height) > 20 * min(width, height)
        ):
            return error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption = params.get("caption")
        parse_mode = params.get("parse_mode") if isinstance(params.get("parse_mode"), str) else None
        try:
            plain = plain_text(caption if isinstance(caption, str) else "", parse_mode)
        except ParseError as err:
            return error(400, f"Bad Request: can't parse entities: {err}")
        if utf16_len(plain) > MAX_CAPTION:
            return error(400, "Bad Request: message caption is too long")
        flood = self._flood_wait(chat_id)
        if flood is not None:
            return flood
        reply = params.get("reply_parameters")
        reply_to = int_or_none(reply.get("message_id")) if isinstance(reply, dict) else None
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            text=str(caption or ""),
            parse_mode=parse_mode,
            reply_to_message_id=reply_to,
            disable_notification=flag(params.get("disable_notification")),
            time=self._clock.monotonic(),
            photo=data,
        )
        self._deliver(message)
        size = {
            "file_id": f"sim-photo-{chat_id}-{message.message_id}",
            "file_unique_id": f"p{message.message_id}",
        }
        return ok(
            {
                "message_id": message.message_id,
                "date": int(self._clock.time()),
                "chat": chat(chat_id),
                "from": self._me(),
                "photo": [size | {"width": width, "height": height, "file_size": len(data)}],
                **({"caption": plain} if plain else {}),
            }
        )

    def _edit_message_text(self, params: dict[str, Any]) -> web.StreamResponse:
        chat_id, message_id = int_or_none(params.get("chat_id")), int_or_none(params.get("message_id"))
        if chat_id is None or message_id is None or message_id > self._next_id.get(chat_id, 0):
            return error(400, "Bad Request: message to edit not found")
        rendered = self._render(params)
        if isinstance(rendered, web.Response):
            return rendered
        self.edits.append((chat_id, message_id, str(params["text"])))
        return ok(
            {
                "message_id": message_id,
                "date": int(self._clock.time()),
                "chat": chat(chat_id),
                "from": self._me(),
                "text": rendered[0],
                "edit_date": int(self._clock.time()),
            }
        )

    async def _get_updates(self, params: dict[str, Any]) -> web.StreamResponse:
        offset = int_or_none(params.get("offset")) or 0
        limit = min(100, max(1, int_or_none(params.get("limit")) or 100))
        timeout = max(0, int_or_none(params.get("timeout")) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._changes.notify()

        def ready() -> bool:
            return bool(self._pending(offset)) or self._poll_generation != generation or self.closing

        try:
            async with asyncio.timeout(timeout):
                await self._changes.until(ready)
        except TimeoutError:
            pass
        if self._poll_generation != generation and not self._pending(offset):
            return error(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return ok(self._pending(offset)[:limit])

    def _pending(self, offset: int) -> list[dict[str, Any]]:
        return [u for u in self._updates if u["update_id"] >= offset]
