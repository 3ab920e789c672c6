"""The durable Telegram outbox: committed before it is sent, delivered once, in order, at Telegram's pace.

``submit`` routes a ``Message`` to its chat and commits it to the ``outbox`` table (the dedupe key is
unique, so a re-fired signal is stored once) before anything is sent. ``run`` is the worker: one delivery
loop per chat with pending rows, each sending that chat's rows in commit order, so a chat waiting out a
``retry_after`` or a backoff never holds up the others.

Per chat, what matters goes first (``queue``): signals, outcome replies, notices, then charts
(``chart_turns``: after the burst, or skipped when stale). Pacing (``pacing``) stays below Telegram's limits;
what each answer means for the row — 429, outages, dead letters, fallbacks — is ``policy``; what the text
says as it goes out (late, expired) is ``presenter``; a state disk that takes no writes is ``spill``.

A heartbeat submitted while an older one is still pending replaces it; finished rows are deleted after
``telegram.retention`` (``retention``).

States: ``pending`` → ``sending`` → ``sent`` (with Telegram's ``message_id``, which later replies use), or
``dead``; ``held`` while alerts are muted (released as one digest message per chat when the mute ends);
``superseded`` for a heartbeat replaced by a newer one before it could be sent.

Crash window: a row is committed as ``sending`` before its request and as ``sent`` after Telegram's answer.
If the process dies after Telegram accepted the message but before that second commit, the row is still
``sending`` and is sent again on the next start, so at most that one message (per chat) can repeat. A
timed-out request has the same ambiguity: Telegram may have accepted it, and the retry can repeat it.
Nothing else repeats: a ``sent`` row is never sent again.

Over 400 lines on purpose: ``submit`` and the per-chat workers share the wake-ups and in-flight state that
keep delivery in order; the SQL, answers, texts and chart turns already live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable
from types import TracebackType
from typing import Any

import structlog
from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError

from signalbots import recovery
from signalbots.clock import Clock
from signalbots.controls import Controls
from signalbots.health import Health, TaskHealth
from signalbots.metrics import Metrics
from signalbots.notifier import ALERT_KINDS, Kind, Message
from signalbots.recovery import is_damage
from signalbots.settings import TelegramSettings
from signalbots.store import Store, cannot_write
from signalbots.telegram import coalesce, retention
from signalbots.telegram.chart_turns import ChartTurns
from signalbots.telegram.delivery import Reachability, first_of
from signalbots.telegram.digest import release_held
from signalbots.telegram.latency import Latency
from signalbots.telegram.pacing import Pacer
from signalbots.telegram.policy import SendPolicy
from signalbots.telegram.presenter import Presenter, PriceLookup
from signalbots.telegram.queue import Queue
from signalbots.telegram.routing import route, silent_by_default
from signalbots.telegram.rows import OutboxStats, Row
from signalbots.telegram.spill import Spill
from signalbots.telegram.text import spans

__all__ = ["Outbox", "OutboxStats", "PriceLookup"]

_DEAD_RECENT = 86400.0  # dead letters this recent make the daemon unhealthy
_PRUNE_EVERY = 3600.0
_FLUSH_PROBE = 1.0  # while flushing at shutdown, probe a down Telegram this often
_DISK_RETRY = 5.0  # while the state disk is full, try writing back this often


class Outbox:
    """``Notifier`` backed by SQLite and delivered by ``run``; an async context manager."""

    def __init__(
        self,
        *,
        store: Store,
        bot: Bot,
        settings: TelegramSettings,
        clock: Clock,
        health: Health,
        metrics: Metrics,
        controls: Controls,
        prices: PriceLookup | None = None,
        probe_initial: float = 1.0,
        probe_every: float = 5.0,
    ) -> None:
        self._store = store
        self._queue = Queue(store=store)
        self._bot = bot
        self._settings = settings
        self._clock = clock
        self._health = health
        self._metrics = metrics
        self._controls = controls
        self._log = structlog.get_logger(__name__)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set and replaced whenever a row changes state
        self._arrival = asyncio.Event()  # set and replaced whenever a message is committed
        self._pacer = Pacer(settings=settings, clock=clock)
        self._reach = Reachability(clock=clock, initial=probe_initial, cap=probe_every)
        self._charts = ChartTurns(
            queue=self._queue, pacer=self._pacer, clock=clock, settings=lambda: self._settings
        )
        self._presenter = Presenter(queue=self._queue, clock=clock, prices=prices)
        self._policy = SendPolicy(
            queue=self._queue,
            clock=clock,
            metrics=metrics,
            reach=self._reach,
            latency=Latency(clock=clock, metrics=metrics),
            progressed=self._progressed,
            poke=self._poke,
        )
        self._latency = self._policy.latency
        self._spill = Spill(
            queue=self._queue,
            clock=clock,
            bot=bot,
            pacer=self._pacer,
            reach=self._reach,
            presenter=self._presenter,
            submit=self.submit,
        )
        self._unroutable: set[str] = set()
        self._worker = asyncio.Lock()  # one delivery loop per outbox: run() and flush() never overlap
        self._in_flight = 0
        self._task_health: TaskHealth | None = None

    async def __aenter__(self) -> Outbox:
        resent = self._queue.resend_interrupted()
        if resent:
            self._log.warning(
                "outbox_resending",
                count=resent,
                note="interrupted while sending; Telegram may already have shown these",
            )
        self._health.add_section("outbox", self.snapshot, problems=self.problems)
        self._controls.add_listener(self._poke)
        if (rec := self._store.recovery) is not None:  # this start replaced a damaged state database
            self.submit(
                Message(
                    kind=Kind.ERROR,
                    text=recovery.notice(rec),
                    dedupe_key=f"state-recovered:{rec.kept_as.name}",
                )
            )
        self._refresh_gauges()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controls.remove_listener(self._poke)

    def reconfigure(self, settings: TelegramSettings) -> None:
        """New routing, silence and pacing settings (reload); rows already committed keep their chat."""
        self._settings = settings
        self._pacer.settings = settings
        self._poke()

    @property
    def in_flight(self) -> int:
        """Requests to Telegram awaiting an answer right now."""
        return self._in_flight

    # submitting ------------------------------------------------------------------------------------
    def submit(self, message: Message) -> bool:
        chat = route(message, self._settings, self._policy.migrated)
        if chat is None:
            if message.kind not in self._unroutable:
                self._unroutable.add(message.kind)
                self._log.error(
                    "outbox_no_chat",
                    kind=str(message.kind),
                    hint="set telegram.alert_chat_id (and admin_chat_id)",
                )
            return False
        silent = message.silent if message.silent is not None else self._silent_by_default(message.kind)
        held = message.kind in ALERT_KINDS and self._controls.is_muted()
        if held and message.photo is not None:
            return False  # muted: the alert waits for the digest; a picture has no place in it
        try:
            stored = self._queue.insert(message, chat=chat, silent=silent, held=held, now=self._clock.time())
        except sqlite3.DatabaseError as err:
            if not (cannot_write(err) or is_damage(err)):
                raise
            stored = self._spill.take(message, chat=chat, silent=silent, err=err)
        if not stored:
            return False
        self._poke()
        arrival, self._arrival = self._arrival, asyncio.Event()
        arrival.set()
        self._refresh_gauges()
        return True

    def _silent_by_default(self, kind: Kind) -> bool:
        return silent_by_default(kind, self._settings)

    # health ----------------------------------------------------------------------------------------
    def stats(self) -> OutboxStats:
        return self._queue.stats(self._clock.time())

    def snapshot(self) -> dict[str, Any]:
        st = self.stats()
        age = None if st.oldest_age is None else round(st.oldest_age, 1)
        snap: dict[str, Any] = {"pending": st.pending, "oldest_age": age, "dead": st.dead, "held": st.held}
        if (lat := self._latency.summary()) is not None:
            snap["latency_1h"] = {"p50": round(lat.p50, 2), "p99": round(lat.p99, 2), "alerts": lat.count}
        return snap

    def wants_chart(self, dedupe_key: str) -> bool:
        """Whether the signal message ``dedupe_key`` gets its chart (``chart_turns``)."""
        return self._charts.wanted(dedupe_key)

    def problems(self) -> list[str]:
        out = []
        if (full := self._spill.problem()) is not None:
            out.append(full)
        dead = self._queue.dead_since(self._clock.time() - _DEAD_RECENT)
        if dead is not None:
            n, chat, error = dead
            out.append(f"outbox: {n} dead letter(s) in 24h (last: chat {chat}: {error})")
        return out

    def _refresh_gauges(self) -> None:
        st = self.stats()
        self._metrics.outbox_depth.set(st.pending)
        self._metrics.outbox_oldest_age.set(st.oldest_age or 0.0)

    # retention -------------------------------------------------------------------------------------
    def prune(self) -> int:
        """Delete finished rows older than ``telegram.retention``; returns how many."""
        removed = retention.prune(self._store.db, before=self._clock.time() - self._settings.retention)
        if removed:
            self._log.info(
                "outbox_pruned", rows=removed, older_than_days=round(self._settings.retention / 86400, 1)
            )
        return removed

    # the worker ------------------------------------------------------------------------------------
    async def run(self, health: TaskHealth) -> None:
        """Deliver until cancelled (supervised); one delivery loop per chat with pending rows."""
        async with self._worker:
            await self._serve(health)

    async def _serve(self, health: TaskHealth) -> None:
        self._task_health = health
        chats: dict[int, asyncio.Task[None]] = {}
        spilling: asyncio.Task[None] | None = None
        next_prune = self._clock.monotonic()
        try:
            while True:
                self._wake.clear()
                for chat, task in list(chats.items()):
                    if task.done():
                        del chats[chat]
                        if not task.cancelled() and (err := task.exception()) is not None:
                            raise err
                if self._clock.monotonic() >= next_prune:
                    self.prune()
                    next_prune = self._clock.monotonic() + _PRUNE_EVERY
                self._release_held()
                self._spill.write_back()
                if self._spill.unsent() and (spilling is None or spilling.done()):
                    spilling = asyncio.create_task(self._spill.deliver(health), name="outbox-spill")
                    spilling.add_done_callback(lambda _t: self._poke())
                for chat in self._queue.active_chats():
                    if chat not in chats:
                        task = asyncio.create_task(self._deliver_chat(chat, health), name=f"outbox-{chat}")
                        task.add_done_callback(lambda _t: self._poke())
                        chats[chat] = task
                health.cycle()
                wait = next_prune - self._clock.monotonic()
                until = self._controls.muted_until()  # wake when the mute ends, to send the digest
                if until is not None:
                    wait = min(wait, until - self._clock.time())
                if self._spill.full_since is not None:
                    wait = min(wait, _DISK_RETRY)
                await first_of(self._clock, self._wake.wait(), seconds=wait)
        finally:
            if spilling is not None:
                spilling.cancel()
            for task in chats.values():
                task.cancel()
            for task in chats.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 — measured on the injected clock
        """Deliver what is pending, for at most ``timeout`` seconds; True when nothing is left pending.

        The deadline is spent delivering: a down Telegram is probed at once and then every second, not
        after the outage's backoff.
        """
        runner = None
        if not self._worker.locked():
            th = self._task_health or TaskHealth(name="outbox", kind="worker")
            runner = asyncio.create_task(self.run(th), name="outbox-flush")
        cap = self._reach.hurry(_FLUSH_PROBE)
        deadline = self._clock.monotonic() + timeout
        try:
            while self.stats().pending:
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0 or (runner is not None and runner.done()):
                    break
                waits: list[Awaitable[Any]] = [self._progress.wait()]
                if runner is not None:
                    waits.append(runner)
                await first_of(self._clock, *waits, seconds=remaining)
            return self.stats().pending == 0
        finally:
            self._reach.cap = cap
            if runner is not None:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner

    def _poke(self) -> None:
        self._wake.set()

    def _progressed(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    def _update(self, row_id: int, **columns: Any) -> None:
        self._queue.update(row_id, **columns)
        self._progressed()

    async def _deliver_chat(self, chat: int, th: TaskHealth) -> None:
        while (row := self._queue.head(chat)) is not None:
            if row.kind in ALERT_KINDS and row.sent_upto == 0 and self._controls.is_muted():
                self._update(row.id, state="held")
                continue
            wait = max(row.not_before - self._clock.time(), self._pacer.chat_delay(chat))
            if wait > 0:
                await self._clock.sleep(wait)
                continue
            gate = self._reach.wait_time()
            if gate is None or gate > 0:  # Telegram is down: wait for the probe slot or its outcome
                await first_of(self._clock, self._reach.changed(), seconds=gate)
                continue
            if row.sent_upto == 0 and self._coalesce(chat):
                continue  # the head is now the first coalesced message
            if row.kind == Kind.CHART and (hold := self._charts.hold(row)) > 0:
                await first_of(self._clock, self._arrival.wait(), seconds=hold)
                continue
            probe = self._reach.begin()
            try:
                await self._pacer.acquire(chat)
                await self._attempt(row, th, probe=probe)
            finally:
                if probe:
                    self._reach.abandoned()

    def _coalesce(self, chat: int) -> bool:
        """Replace a backlog of signals for ``chat`` by coalesced messages; True if it did."""
        limit, now = coalesce.threshold(chat, self._settings), self._clock.time()
        signals = coalesce.coalesce_backlog(self._store, chat=chat, limit=limit, now=now)
        replies = coalesce.coalesce_replies(self._store, chat=chat, limit=limit)
        for what, done in (("signals", signals), ("replies", replies)):
            if done is not None:
                self._log.info("outbox_coalesced", chat_id=chat, kind=what, rows=done[0], messages=done[1])
        if signals is None and replies is None:
            return False
        self._progressed()
        return True

    async def _attempt(self, row: Row, th: TaskHealth, *, probe: bool) -> None:
        if not self._queue.claim(row.id):  # superseded (a newer heartbeat) while this loop waited its turn
            return
        if row.kind == Kind.CHART and self._charts.skip(row):  # it would only delay what comes next
            self._update(row.id, state="superseded", photo=None)
            return
        self._progressed()
        text = self._presenter.text(row) if row.sent_upto == 0 else row.text
        rest = text[row.sent_upto :]
        parts = spans(rest, row.part_limit)
        if not parts:
            self._update(row.id, state="sent", sent=self._clock.time(), sent_upto=len(text))
            return
        chunk = rest[parts[0][0] : parts[0][1]]
        upto = row.sent_upto + parts[1][0] if len(parts) > 1 else len(text)
        reply = self._presenter.reply(row)
        self._in_flight += 1
        try:
            message_id = await self._presenter.send(self._bot, row, chunk, reply)
        except (TelegramAPIError, ClientDecodeError) as err:
            self._policy.failed(row, err, chunk, th, probe=probe)
        except BaseException:
            self._update(row.id, state="pending")  # cancelled mid-request: the next start sends it again
            raise
        else:
            self._policy.sent(row, text, message_id, upto, th)
        finally:
            self._in_flight -= 1
            self._refresh_gauges()

    # mute ------------------------------------------------------------------------------------------
    def _release_held(self) -> None:
        """After a mute: the held alerts of each chat, as one digest message, in one transaction."""
        if self._controls.is_muted():
            return
        chats, released = release_held(
            self._store, now=self._clock.time(), silent=self._silent_by_default(Kind.DIGEST)
        )
        if released:
            self._progressed()
            self._log.info("outbox_digest", chats=chats, held=released)
