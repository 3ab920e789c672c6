"""Messages the state disk could not take: delivered from memory, written back when space returns.

A full or read-only state disk must delay durability, never an alert. When committing a message fails
for lack of space (SQLite's ``SQLITE_FULL``, ``SQLITE_READONLY``, ``SQLITE_IOERR``), the outbox keeps it
here — not durable: a restart before it is written back loses it — and this spill delivers it directly,
at the same pace and in the same order of importance as the outbox (signals, outcomes, notices). Every
few seconds the outbox tries to write the spill back: a message already delivered is written as ``sent``
(with its Telegram message id, so that a later outcome replies to it and nothing sends it again), one not
yet delivered as ``pending`` for the outbox to deliver. A message being sent right now waits for the next
write-back, so nothing is sent twice. Charts are not spilled: a picture is worth no risk to an alert.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramRetryAfter
from aiogram.types import ReplyParameters

from signalbots.clock import Clock
from signalbots.health import TaskHealth
from signalbots.notifier import Kind, Message
from signalbots.recovery import is_damage
from signalbots.store import cannot_write
from signalbots.telegram.bot import describe_error
from signalbots.telegram.delivery import Reachability
from signalbots.telegram.pacing import Pacer
from signalbots.telegram.presenter import Presenter
from signalbots.telegram.queue import Queue
from signalbots.telegram.rows import Row
from signalbots.telegram.text import escape, split
from signalbots.telegram.timeliness import how_long

_ORDER = {Kind.SIGNAL: 0, Kind.OUTCOME: 1}  # then everything else; as in the outbox


@dataclass(slots=True)
class _Spilled:
    message: Message
    chat: int
    silent: bool
    created: float
    seq: int
    not_before: float = 0.0
    sending: bool = False
    message_id: int | None = None
    sent: float | None = None


class Spill:
    def __init__(
        self,
        *,
        queue: Queue,
        clock: Clock,
        bot: Bot,
        pacer: Pacer,
        reach: Reachability,
        presenter: Presenter,
        submit: Callable[[Message], bool],
    ) -> None:
        self._submit = submit  # the outbox's: the notices about the disk go out like any message
        self.full_since: float | None = None  # epoch seconds; None: the state disk takes writes
        self._queue = queue
        self._clock = clock
        self._bot = bot
        self._pacer = pacer
        self._reach = reach
        self._presenter = presenter
        self._items: dict[str, _Spilled] = {}
        self._seq = 0
        self._log = structlog.get_logger("signalbots.telegram.outbox")
        self.arrived = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def holds(self, dedupe_key: str) -> bool:
        return dedupe_key in self._items

    def add(self, message: Message, *, chat: int, silent: bool) -> bool:
        if message.dedupe_key in self._items:
            return False
        self._seq += 1
        self._items[message.dedupe_key] = _Spilled(message, chat, silent, self._clock.time(), self._seq)
        self.arrived.set()
        return True

    def take(self, message: Message, *, chat: int, silent: bool, err: sqlite3.DatabaseError) -> bool:
        """``message`` could not be committed: delivered from memory instead. The first one says so.

        The same holds when SQLite reports the database damaged while running: alerts go on from memory,
        and the admin is told to restart (the start keeps the damaged file aside, ``recovery``)."""
        if message.photo is not None or self._known(message.dedupe_key):
            return False  # a picture risks nothing for an alert; a known key is already on its way
        added = self.add(message, chat=chat, silent=silent)
        if self.full_since is None:
            self.full_since = self._clock.time()
            where = self._queue.store.path
            damaged = is_damage(err)
            self._log.error(
                "state_database_damaged_while_running" if damaged else "state_disk_full",
                error=str(err),
                path=str(where),
                effect="messages are delivered from memory (not durable)",
                hint="restart: the start keeps the damaged file aside" if damaged else "free some space",
            )
            title = "State database damaged" if damaged else "State disk full"
            todo = (
                "Restart the service: the start keeps the damaged file aside and starts on a fresh one."
                if damaged
                else f"Free some space in {escape(str(where.parent))}."
            )
            self._submit(
                Message(
                    kind=Kind.ERROR,
                    dedupe_key=f"disk-full:{self.full_since:.3f}",
                    text=f"💾 <b>{title}</b>: alerts still go out, from memory; a restart now would lose "
                    f"those not yet sent. {todo}",
                )
            )
        return added

    def _known(self, dedupe_key: str) -> bool:
        try:
            return self._queue.exists(dedupe_key)
        except sqlite3.DatabaseError as err:
            if is_damage(err):
                return False
            raise

    def problem(self) -> str | None:
        if self.full_since is None:
            return None
        return f"state disk full or damaged: {len(self)} message(s) held in memory, not durable"

    def write_back(self) -> None:
        """While the disk is full: try to commit what memory holds; once it all fits, say so."""
        if self.full_since is None or not self._write_back():
            return
        lasted = self._clock.time() - self.full_since
        self.full_since = None
        self._log.info("state_disk_writable", full_for=round(lasted, 1))
        self._submit(
            Message(
                kind=Kind.NOTICE,
                dedupe_key=f"disk-ok:{self._clock.time():.3f}",
                text=f"💾 State disk takes writes again (full for {how_long(lasted)}); "
                "everything sent meanwhile is recorded.",
            )
        )

    def unsent(self) -> int:
        return sum(1 for i in self._items.values() if i.message_id is None)

    def _write_back(self) -> bool:
        """Write every spilled message not in flight into the outbox table; True when the spill is empty.

        Stops at the first write the disk still refuses."""
        for key, item in list(self._items.items()):
            if item.sending:
                continue
            try:
                self._queue.write_back(
                    item.message,
                    chat=item.chat,
                    silent=item.silent,
                    created=item.created,
                    message_id=item.message_id,
                    sent=item.sent,
                )
            except Exception as err:
                if cannot_write(err) or is_damage(err):
                    return False
                raise
            del self._items[key]
        return not self._items

    def _next(self) -> _Spilled | None:
        waiting = [i for i in self._items.values() if i.message_id is None]
        return min(waiting, key=lambda i: (_ORDER.get(i.message.kind, 2), i.seq), default=None)

    async def deliver(self, th: TaskHealth) -> None:
        """Send the spilled messages not yet delivered, until there are none."""
        while (item := self._next()) is not None:
            wait = max(item.not_before - self._clock.time(), self._pacer.chat_delay(item.chat))
            gate = self._reach.wait_time()
            if wait > 0 or gate is None or gate > 0:
                await self._clock.sleep(max(wait, gate or 0.0, 0.05))
                continue
            await self._pacer.acquire(item.chat)
            item.sending = True
            try:
                item.message_id = await self._send(item)
                item.sent = self._clock.time()
                self._reach.answered()
                th.event()
            except TelegramRetryAfter as err:
                item.not_before = self._clock.time() + err.retry_after
            except (TelegramAPIError, ClientDecodeError) as err:
                self._log.warning("spilled_send_failed", chat_id=item.chat, error=describe_error(err))
                item.not_before = self._clock.time() + self._reach.cap
            finally:
                item.sending = False

    async def _send(self, item: _Spilled) -> int:
        m = item.message
        reply = None
        if m.reply_to_key is not None:
            target = self._queue.reply_target(m.reply_to_key)
            memory = self._items.get(m.reply_to_key)
            if target is None and memory is not None and memory.message_id is not None:
                target = (memory.chat, memory.message_id)
            if target is not None and target[0] == item.chat:
                reply = ReplyParameters(message_id=target[1], allow_sending_without_reply=True)
        row = Row(
            id=0,
            dedupe_key=m.dedupe_key,
            kind=str(m.kind),
            chat_id=item.chat,
            text=m.text,
            silent=item.silent,
            reply_to_key=m.reply_to_key,
            attempts=0,
            not_before=0.0,
            sent_upto=0,
            part_limit=4096,
            plain=False,
            created=item.created,
            exchange=m.signal.exchange if m.signal else None,
            symbol=m.signal.symbol if m.signal else None,
            ref_price=m.signal.price if m.signal else None,
            expires=m.signal.expires_at if m.signal else None,
            skipped=0,
            strategy=m.strategy,
            event_time=m.signal.event_time if m.signal else None,
        )
        text = self._presenter.text(row)
        return await self._presenter.send(self._bot, row, (split(text) or [text])[0], reply)
