"""A minimal Bot API stand-in for the outside-in benchmarks, written for them (independent of
``signalbots/sim/telegram.py``): sendMessage, sendPhoto (a multipart upload) and getMe, faults on command,
and Telegram's group limit of 20 messages a minute (photos count too) enforced with 429s (each one counted
as a pacing violation).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

TOKEN = "123456789:AAHoutageBENCHMARKtoken_abcdefghijk"
GROUP_PER_MINUTE = 20


@dataclass
class Delivery:
    time: float
    text: str
    chat: int
    message_id: int
    reply_to: int | None
    photo: bool = False  # sendPhoto (``text`` is its caption)


@dataclass
class StandIn:
    """A Bot API server that answers sendMessage and getMe, and fails on command."""

    dropping: bool = False
    script: list[str] = field(default_factory=list)  # faults for the next sendMessage requests
    delivered: list[Delivery] = field(default_factory=list)
    requests: list[tuple[float, str]] = field(default_factory=list)  # (time, answer)
    last_fault: float | None = None
    violations: int = 0  # requests over the group limit (answered 429)
    _ids: int = 0
    _group_sends: dict[int, deque[float]] = field(default_factory=dict)

    async def serve(self) -> tuple[web.AppRunner, int]:
        """Listen on a free local port; returns the runner (clean it up) and the port."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, runner.addresses[0][1]

    def _over_group_limit(self, chat: int, now: float) -> int:
        """Seconds to wait when ``chat`` (a group) already had 20 messages in the last minute; else 0."""
        if chat >= 0:
            return 0
        window = self._group_sends.setdefault(chat, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= GROUP_PER_MINUTE:
            return max(1, int(window[0] + 60.0 - now) + 1)
        window.append(now)
        return 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"].lower()
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form = await request.post()
        now = time.monotonic()
        if method == "getme":
            return web.json_response(
                {
                    "ok": True,
                    "result": {"id": 123456789, "is_bot": True, "first_name": "x", "username": "x_bot"},
                }
            )
        if method not in ("sendmessage", "sendphoto"):
            return web.json_response({"ok": True, "result": True})
        photo = method == "sendphoto"
        upload = form.get("photo")
        if isinstance(upload, str) and upload.startswith("attach://"):  # aiogram names the file part
            upload = form.get(upload[len("attach://") :])
        if photo and not isinstance(upload, web.FileField):
            body = {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: there is no photo in the request",
            }
            return web.json_response(body, status=400)
        fault = "drop" if self.dropping else (self.script.pop(0) if self.script else None)
        self.requests.append((now, fault or "200"))
        if fault is not None:
            self.last_fault = now
        if fault == "drop":
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if fault == "429":
            body = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
            return web.json_response(body, status=429)
        if fault == "502":
            page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
            return web.Response(status=502, text=page, content_type="text/html")
        if fault == "500":
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
            )
        chat_id = int(str(form.get("chat_id", "0")))
        if wait := self._over_group_limit(chat_id, now):
            self.violations += 1
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {wait}",
                "parameters": {"retry_after": wait},
            }
            return web.json_response(body, status=429)
        self._ids += 1
        text = str(form.get("caption" if photo else "text", ""))
        reply = form.get("reply_parameters")
        reply_to = int(json.loads(str(reply))["message_id"]) if reply else None
        self.delivered.append(Delivery(now, text, chat_id, self._ids, reply_to, photo))
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "first_name": "u"}
        result: dict[str, object] = {"message_id": self._ids, "date": int(time.time()), "chat": chat}
        if photo:
            size = {"file_id": f"p{self._ids}", "file_unique_id": f"u{self._ids}", "width": 1, "height": 1}
            result |= {"caption": text, "photo": [size]}
        else:
            result["text"] = text
        return web.json_response({"ok": True, "result": result})
