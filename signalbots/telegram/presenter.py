"""How a committed row goes out: its text as of now, its reply, the one Bot API call that carries it.

The outbox presents, it does not re-render: the text is what ``signals/render.py`` (or the heartbeat, or
the illustrator) made. What is added here is about delivery only — a note that the alert is late (and how
far the price moved since), the headline of a signal that expired undelivered, the heartbeats a newer one
replaced — and the choice between HTML and the plain-text fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.types import BufferedInputFile, ReplyParameters

from signalbots.clock import Clock
from signalbots.notifier import Kind
from signalbots.telegram import coalesce, timeliness
from signalbots.telegram.queue import Queue
from signalbots.telegram.rows import Row
from signalbots.telegram.text import to_plain

PriceLookup = Callable[[str, str], float | None]  # (exchange, symbol) → last price known, if any


class Presenter:
    def __init__(self, *, queue: Queue, clock: Clock, prices: PriceLookup | None = None) -> None:
        self._queue = queue
        self._clock = clock
        self._prices = prices

    def text(self, row: Row) -> str:
        """The text as it goes out now: said late or expired, with the heartbeats it replaced."""
        now = self._clock.time()
        if row.kind == Kind.SIGNAL and row.exchange is None:  # perhaps a coalesced message: each block anew
            refreshed = coalesce.refresh(self._queue.store, carrier=row.id, text=row.text, now=now)
            if refreshed is not None:
                return refreshed
        price_now = None
        if self._prices is not None and row.exchange and row.symbol:
            price_now = self._prices(row.exchange, row.symbol)
        timing = timeliness.Timing(
            kind=row.kind,
            decided=row.created,
            expires=row.expires,
            symbol=row.symbol,
            price=row.ref_price,
            price_now=price_now,
        )
        if timeliness.expired(timing, now):
            return timeliness.expired_text(timing, row.text.split("\n", 1)[0], now)
        text = row.text
        if (note := timeliness.late_note(timing, now)) is not None:
            text = f"{note}\n{text}"
        if row.skipped:
            text = f"{text}\n{timeliness.skipped_note(row.skipped)}"
        return text

    def reply(self, row: Row) -> ReplyParameters | None:
        """The message this row answers, when it was sent to the same chat (only the first part replies)."""
        if row.reply_to_key is None or row.sent_upto:
            return None
        target = self._queue.reply_target(row.reply_to_key)
        if target is None or target[0] != row.chat_id:
            return None
        return ReplyParameters(message_id=target[1], allow_sending_without_reply=True)

    async def send(self, bot: Bot, row: Row, chunk: str, reply: ReplyParameters | None) -> int:
        """The one Bot API call for a row (another kind of message, e.g. a photo, is another method here);
        returns Telegram's message id. aiogram's errors are what ``policy.SendPolicy`` sorts."""
        photo = self._queue.photo(row.id) if row.kind == Kind.CHART else None
        if photo is not None:  # a chart: a multipart upload, the text is its caption
            with_photo = await bot.send_photo(
                chat_id=row.chat_id,
                photo=BufferedInputFile(photo, filename="chart.png"),
                caption=to_plain(chunk) if row.plain else chunk,
                parse_mode=None if row.plain else ParseMode.HTML,
                disable_notification=True if row.silent else None,
                reply_parameters=reply,
            )
            return with_photo.message_id
        sent = await bot.send_message(
            chat_id=row.chat_id,
            text=to_plain(chunk) if row.plain else chunk,
            parse_mode=None if row.plain else ParseMode.HTML,
            disable_notification=True if row.silent else None,
            reply_parameters=reply,
        )
        return sent.message_id
