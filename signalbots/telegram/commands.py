"""Operator commands in Telegram, polled by an aiogram ``Dispatcher`` inside the daemon's loop.

Only the alert chat, the admin chat and ``allowed_chat_ids`` are answered (and, when
``allowed_user_ids`` is set, only those users); anything else gets no answer and one warning per chat
(or user) id in the log. Replies go straight to Telegram, not through the outbox: they answer a person
who is waiting, and are worthless later.

``run`` is a supervised task: it checks the token (``getMe``), drops any webhook, registers the command
list (``setMyCommands``), then polls. If Telegram cannot be reached at start it raises ``TransientError``
(``FatalError`` for a rejected token) and the supervisor restarts it; once polling, aiogram retries
``getUpdates`` itself with its backoff. Only one process may poll a token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandObject
from aiogram.types import BotCommand, BufferedInputFile, ReplyParameters
from aiogram.types import Message as TgMessage
from aiogram.utils.backoff import BackoffConfig

from signalbots.controls import Controls
from signalbots.errors import FatalError, TransientError
from signalbots.health import TaskHealth
from signalbots.settings import TelegramSettings, format_duration, parse_duration
from signalbots.telegram.bot import describe_error
from signalbots.telegram.text import escape, is_parse_error, split, to_plain

_COMMANDS = (
    ("help", "what I can do"),
    ("status", "the health check, now"),
    ("signals", "open signals"),
    ("stats", "results per strategy: /stats [days]"),
    ("pause", "stop a strategy's signals: /pause <strategy>"),
    ("resume", "resume a strategy: /resume <strategy>"),
    ("mute", "hold alerts: /mute 2h, /mute off"),
    ("health", "breakers, stale feeds, outbox backlog"),
    ("chart", "a chart from live data: /chart BTC [15m]"),
)
_DEFAULT_STATS_DAYS = 7
_MAX_STATS_DAYS = 365


class Commands:
    def __init__(
        self,
        *,
        bot: Bot,
        settings: TelegramSettings,
        controls: Controls,
        status_text: Callable[[], str],
        health_text: Callable[[], str],
        signals_text: Callable[[], str],
        stats_text: Callable[[int], str],
        strategies: Callable[[], list[str]],
        chart: Callable[[str, str | None], Awaitable[tuple[bytes | None, str]]] | None = None,
        polling_timeout: int = 10,
        backoff: BackoffConfig | None = None,
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._controls = controls
        self._status_text = status_text
        self._health_text = health_text
        self._signals_text = signals_text
        self._stats_text = stats_text
        self._strategies = strategies
        self._chart = chart
        self._polling_timeout = polling_timeout
        self._backoff = backoff or BackoffConfig(min_delay=1.0, max_delay=60.0, factor=2.0, jitter=0.1)
        self._refused_chats: set[int] = set()
        self._refused_users: set[int] = set()
        self._log = structlog.get_logger(__name__)
        self._health: TaskHealth | None = None

    def reconfigure(self, settings: TelegramSettings) -> None:
        """New allow-lists (reload); takes effect with the next update."""
        self._settings = settings

    async def run(self, health: TaskHealth) -> None:
        self._health = health
        await self._register()
        dispatcher = Dispatcher()
        dispatcher.include_router(self._router())
        polling = asyncio.create_task(
            dispatcher.start_polling(
                self._bot,
                polling_timeout=self._polling_timeout,
                backoff_config=self._backoff,
                handle_signals=False,  # the daemon owns SIGTERM/SIGINT/SIGHUP
                close_bot_session=False,  # the outbox sends with the same Bot
            ),
            name="telegram-polling",
        )
        self._log.info("telegram_commands_polling")
        try:
            await asyncio.shield(polling)
        except asyncio.CancelledError:
            # Cancelling start_polling itself would leave its inner polling task running; stop it properly.
            if not polling.done():
                with contextlib.suppress(RuntimeError):  # not started yet: "Polling is not started"
                    await dispatcher.stop_polling()
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
            raise

    async def _register(self) -> None:
        try:
            await self._bot.me()  # cached: start_polling's own getMe then cannot fail
            await self._bot.delete_webhook(drop_pending_updates=False)  # a webhook makes getUpdates fail
            await self._bot.set_my_commands([BotCommand(command=c, description=d) for c, d in _COMMANDS])
        except TelegramUnauthorizedError as err:
            raise FatalError("Telegram rejected the bot token (401): fix telegram.bot_token") from err
        except (TelegramAPIError, ClientDecodeError) as err:
            raise TransientError(f"telegram commands: {describe_error(err)}") from err

    # routing ---------------------------------------------------------------------------------------
    def _router(self) -> Router:
        router = Router(name="signalbots")
        router.message.filter(self._allowed)
        for name, handler in (
            ("help", self._help),
            ("status", self._status),
            ("signals", self._signals),
            ("stats", self._stats),
            ("pause", self._pause),
            ("resume", self._resume),
            ("mute", self._mute),
            ("health", self._health_cmd),
            ("chart", self._chart_cmd),
            ("start", self._help),
        ):
            router.message.register(handler, Command(name))
        return router

    def _allowed(self, message: TgMessage) -> bool:
        s = self._settings
        chat = message.chat.id
        chats = {c for c in (s.alert_chat_id, s.admin_chat, *s.allowed_chat_ids) if c is not None}
        if chat not in chats:
            if chat not in self._refused_chats:
                self._refused_chats.add(chat)
                self._log.warning(
                    "telegram_chat_refused",
                    chat_id=chat,
                    chat_type=message.chat.type,
                    hint="add it to telegram.allowed_chat_ids to allow commands",
                )
            return False
        user = message.from_user.id if message.from_user is not None else None
        if s.allowed_user_ids and user not in s.allowed_user_ids:
            if user is not None and user not in self._refused_users:
                self._refused_users.add(user)
                self._log.warning(
                    "telegram_user_refused",
                    chat_id=chat,
                    user_id=user,
                    hint="add it to telegram.allowed_user_ids to allow commands",
                )
            return False
        if self._health is not None:
            self._health.event()
        return True

    # replies ---------------------------------------------------------------------------------------
    async def _reply(self, message: TgMessage, text: str) -> None:
        reply: ReplyParameters | None = ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        )
        for part in split(text):
            try:
                try:
                    await self._bot.send_message(message.chat.id, part, reply_parameters=reply)
                except TelegramBadRequest as err:
                    if not is_parse_error(err.message):
                        raise
                    await self._bot.send_message(
                        message.chat.id, to_plain(part), parse_mode=None, reply_parameters=reply
                    )
            except (TelegramAPIError, ClientDecodeError) as err:
                # The operator sees no answer and can ask again; the daemon carries on.
                self._log.warning("telegram_reply_failed", chat_id=message.chat.id, error=describe_error(err))
                return
            reply = None

    async def _help(self, message: TgMessage) -> None:
        lines = ["🤖 <b>signalbots</b> commands"] + [f"/{c} — {escape(d)}" for c, d in _COMMANDS]
        await self._reply(message, "\n".join(lines))

    async def _status(self, message: TgMessage) -> None:
        await self._reply(message, self._status_text())

    async def _health_cmd(self, message: TgMessage) -> None:
        await self._reply(message, self._health_text())

    async def _signals(self, message: TgMessage) -> None:
        await self._reply(message, self._signals_text())

    async def _stats(self, message: TgMessage, command: CommandObject) -> None:
        arg = (command.args or "").strip()
        if not arg:
            days = _DEFAULT_STATS_DAYS
        elif arg.isdigit() and 1 <= int(arg) <= _MAX_STATS_DAYS:
            days = int(arg)
        else:
            usage = f"Usage: /stats [days] (1–{_MAX_STATS_DAYS}, default {_DEFAULT_STATS_DAYS})"
            await self._reply(message, usage)
            return
        await self._reply(message, self._stats_text(days))

    async def _chart_cmd(self, message: TgMessage, command: CommandObject) -> None:
        args = (command.args or "").split()
        if self._chart is None or not self._settings.charts:
            await self._reply(message, "Charts are off (telegram.charts = false).")
            return
        if not 1 <= len(args) <= 2:
            await self._reply(message, "Usage: /chart SYMBOL [timeframe], e.g. /chart BTC or /chart ETH 1h")
            return
        png, caption = await self._chart(args[0], args[1] if len(args) == 2 else None)
        if png is None:
            await self._reply(message, caption)
            return
        try:
            await self._bot.send_photo(
                message.chat.id,
                BufferedInputFile(png, filename="chart.png"),
                caption=caption,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
            )
        except (TelegramAPIError, ClientDecodeError) as err:
            self._log.warning("telegram_reply_failed", chat_id=message.chat.id, error=describe_error(err))

    def _strategy_arg(self, command: CommandObject) -> tuple[str, str | None]:
        """The named strategy, and an answer when it cannot be acted on."""
        name = (command.args or "").strip().lower()
        running = self._strategies()
        listed = escape(", ".join(running) or "none")
        if not name:
            return name, f"Usage: /{command.command} &lt;strategy&gt; (running: {listed})"
        if name not in running:
            return name, f"⚠️ {escape(name)} is not running (running: {listed})"
        return name, None

    async def _pause(self, message: TgMessage, command: CommandObject) -> None:
        name, problem = self._strategy_arg(command)
        if problem is None:
            if self._controls.pause(name):
                problem = f"⏸ <b>{escape(name)}</b> paused: no new signals until /resume {escape(name)}"
            else:
                problem = f"⏸ {escape(name)} was already paused"
        await self._reply(message, problem)

    async def _resume(self, message: TgMessage, command: CommandObject) -> None:
        name, problem = self._strategy_arg(command)
        if problem is None:
            if self._controls.resume(name):
                problem = f"▶️ <b>{escape(name)}</b> resumed"
            else:
                problem = f"▶️ {escape(name)} was not paused"
        await self._reply(message, problem)

    async def _mute(self, message: TgMessage, command: CommandObject) -> None:
        arg = (command.args or "").strip().lower()
        if not arg:
            until = self._controls.muted_until()
            text = "🔔 Alerts are not muted" if until is None else f"🔕 Alerts muted until {_utc(until)}"
            await self._reply(message, text + "\nUsage: /mute 30m | 2h | 1d, /mute off")
            return
        if arg in ("off", "0", "stop", "end"):
            ended = self._controls.unmute()
            await self._reply(
                message,
                "🔔 Mute ended: held alerts follow as a digest" if ended else "🔔 Alerts were not muted",
            )
            return
        try:
            seconds = parse_duration(arg)
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            await self._reply(message, f"Usage: /mute 30m | 2h | 1d, /mute off (not {escape(arg)})")
            return
        until = self._controls.mute(seconds)
        await self._reply(
            message,
            f"🔕 Alerts muted for {format_duration(seconds)}, until {_utc(until)}.\n"
            "They are held, not dropped, and follow as a digest when the mute ends.",
        )


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
