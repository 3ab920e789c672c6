"""The aiogram ``Bot``: built from settings, closed when done, and its errors described without the token.

aiogram puts ``/bot<token>/`` into URLs, and some library exceptions quote the URL; ``describe_error``
is the one way an aiogram/aiohttp error becomes log text here (type and Telegram's description only,
with anything token-shaped redacted).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramRetryAfter

from signalbots.settings import ConfigError, TelegramSettings

_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
_TOKEN_ENV = "telegram.bot_token (env SIGNALBOTS_TELEGRAM__BOT_TOKEN)"


def create_bot(settings: TelegramSettings) -> Bot:
    """A ``Bot`` for ``settings`` (HTML parse mode, no link previews, ``request_timeout`` per request).

    ``api_url`` points it at a self-hosted Bot API server or the simulator. The token's form is checked with
    the settings (check-config refuses what this would); a missing one raises ``ConfigError``.
    """
    if settings.bot_token is None:
        raise ConfigError([f"{_TOKEN_ENV}: required to talk to Telegram"])
    api = TelegramAPIServer.from_base(settings.api_url) if settings.api_url else PRODUCTION
    session = AiohttpSession(api=api, timeout=settings.request_timeout)
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


@asynccontextmanager
async def open_bot(settings: TelegramSettings) -> AsyncIterator[Bot]:
    """``create_bot`` whose HTTP session is closed on exit."""
    bot = create_bot(settings)
    try:
        yield bot
    finally:
        await bot.session.close()


def redact(text: str) -> str:
    """``text`` with anything shaped like a bot token replaced."""
    return _TOKEN.sub("<token>", text)


def describe_error(err: BaseException) -> str:
    """Log text for an aiogram/aiohttp error: its type and Telegram's description, never the URL or body."""
    name = type(err).__name__
    if isinstance(err, TelegramRetryAfter):
        return f"{name}: retry after {err.retry_after}s"
    if isinstance(err, TelegramAPIError):
        detail = err.message
    elif isinstance(err, ClientDecodeError):
        # The body (e.g. a proxy's HTML error page) stays out of the log.
        detail = f"{err.message} ({type(err.original).__name__})"
    else:
        detail = str(err)
    detail = detail.strip().splitlines()[0] if detail.strip() else ""
    return redact(f"{name}: {detail}" if detail else name)[:300]
