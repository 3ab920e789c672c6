"""What Telegram's answer to one send means for the row: the aiogram error → row state machine.

- accepted: ``sent`` (or the next part of a split message), the signals it carried with it, latency observed;
- 429: ``pending`` until exactly ``retry_after`` has passed, for that chat only;
- 5xx, network errors, timeouts, undecodable answers: ``pending``, and Telegram is down for every chat
  (``delivery.Reachability``); a transient error never gives up on a message;
- "can't parse entities": resent once as plain text; "message is too long": split smaller; a reply whose
  target is gone: sent without the reply;
- a migrated group: every undelivered row follows it to the new chat id;
- 401: the token is wrong, the task stops (``FatalError``);
- any other permanent answer (chat not found, bot blocked, another 400): ``dead``, logged at error once per
  chat and reason, a health error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)

from signalbots.clock import Clock
from signalbots.errors import FatalError
from signalbots.health import TaskHealth, TaskStatus
from signalbots.metrics import Metrics
from signalbots.telegram.bot import describe_error
from signalbots.telegram.delivery import Reachability
from signalbots.telegram.latency import Latency
from signalbots.telegram.queue import Queue
from signalbots.telegram.rows import Row
from signalbots.telegram.text import is_parse_error, is_too_long, length

_MIN_PART = 256  # "message is too long" below this is not a length problem we can fix by splitting


class SendPolicy:
    def __init__(
        self,
        *,
        queue: Queue,
        clock: Clock,
        metrics: Metrics,
        reach: Reachability,
        latency: Latency,
        progressed: Callable[[], None],
        poke: Callable[[], None],
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._metrics = metrics
        self._reach = reach
        self.latency = latency
        self._progressed = progressed
        self._poke = poke
        self._log = structlog.get_logger("signalbots.telegram.outbox")
        self.migrated: dict[int, int] = {}
        self._reported: set[tuple[int, str]] = set()  # dead letters already logged at error

    def _update(self, row_id: int, **columns: Any) -> None:
        self._queue.update(row_id, **columns)
        self._progressed()

    def answered(self, th: TaskHealth) -> None:
        """Telegram answered (anything): an outage, if there was one, is over."""
        down = self._reach.answered()
        if down is not None:
            self._log.info("telegram_reachable", down_for=round(down, 1))
            th.set(TaskStatus.RUNNING, "")

    def failed(
        self, row: Row, err: TelegramAPIError | ClientDecodeError, chunk: str, th: TaskHealth, *, probe: bool
    ) -> None:
        """The send of ``chunk`` of ``row`` raised ``err``: the row's next state."""
        if not _transient(err):
            self.answered(th)
        if isinstance(err, TelegramRetryAfter):
            self._retry_after(row, err)
        elif isinstance(err, TelegramUnauthorizedError):
            self._update(row.id, state="pending")
            raise FatalError("Telegram rejected the bot token (401): fix telegram.bot_token") from err
        elif isinstance(err, TelegramMigrateToChat):
            self._migrated(row, err.migrate_to_chat_id)
        elif isinstance(err, TelegramBadRequest):
            self._bad_request(row, err, chunk, th)
        elif isinstance(err, TelegramForbiddenError | TelegramNotFound):
            self.dead(row, describe_error(err), th)
        else:  # 5xx, network, timeouts, undecodable answers
            self._transient(row, err, th, probe=probe)

    def sent(self, row: Row, text: str, message_id: int, upto: int, th: TaskHealth) -> None:
        self.answered(th)
        done = upto >= len(text)
        now = self._clock.time()
        self._queue.record_sent(row.id, done=done, text=text, upto=upto, message_id=message_id, now=now)
        if done:
            carried = self._queue.deliver_carried(row.id, now=now)
            observed = [(s, t, "coalesced") for s, t in carried]
            for strategy, event_time, kind in [*observed, (row.strategy, row.event_time, "single")]:
                if event_time is not None:
                    self.latency.observe(event_time=event_time, strategy=strategy or "", kind=kind)
        self._progressed()
        self._metrics.telegram_sends.labels(result="ok").inc()
        th.event()

    def _retry_after(self, row: Row, err: TelegramRetryAfter) -> None:
        self._metrics.telegram_sends.labels(result="retry_after").inc()
        self._metrics.telegram_retry_after.inc(err.retry_after)
        self._log.warning("telegram_flood_wait", chat_id=row.chat_id, retry_after=err.retry_after)
        self._update(
            row.id,
            state="pending",
            attempts=row.attempts + 1,
            not_before=self._clock.time() + err.retry_after,
            error=describe_error(err),
        )

    def _transient(self, row: Row, err: BaseException, th: TaskHealth, *, probe: bool) -> None:
        reason = describe_error(err)
        self._metrics.telegram_sends.labels(result="error").inc()
        self._update(row.id, state="pending", attempts=row.attempts + 1, error=reason)
        if self._reach.failed(probe=probe):
            self._log.warning(
                "telegram_unreachable",
                error=reason,
                chat_id=row.chat_id,
                effect=f"probing every {self._reach.cap:g}s at most; nothing is dropped",
            )
            th.error(f"telegram: {reason}")
            th.set(TaskStatus.DEGRADED, f"telegram: {reason}")

    def _bad_request(self, row: Row, err: TelegramBadRequest, chunk: str, th: TaskHealth) -> None:
        description = err.message
        if is_parse_error(description) and not row.plain:
            self._metrics.telegram_sends.labels(result="parse_error").inc()
            self._log.warning(
                "telegram_plain_fallback",
                chat_id=row.chat_id,
                dedupe_key=row.dedupe_key,
                error=describe_error(err),
            )
            self._update(row.id, state="pending", plain=1)
            return
        if is_too_long(description) and length(chunk) > _MIN_PART:
            self._metrics.telegram_sends.labels(result="too_long").inc()
            limit = max(_MIN_PART, min(row.part_limit, length(chunk)) // 2)
            self._update(row.id, state="pending", part_limit=limit)
            return
        if "replied" in description.lower() and row.reply_to_key is not None:
            self._update(row.id, state="pending", reply_to_key=None)
            return
        self.dead(row, describe_error(err), th)

    def _migrated(self, row: Row, new_chat: int) -> None:
        self.migrated[row.chat_id] = new_chat
        self._queue.migrate(row.chat_id, new_chat)
        self._progressed()
        self._poke()
        self._log.warning(
            "telegram_chat_migrated",
            chat_id=row.chat_id,
            new_chat_id=new_chat,
            hint="update the chat id in the settings",
        )

    def dead(self, row: Row, reason: str, th: TaskHealth) -> None:
        now = self._clock.time()
        self._update(row.id, state="dead", error=reason, failed=now, attempts=row.attempts + 1)
        self._queue.kill_carried(row.id, reason=reason, now=now)
        self._metrics.telegram_sends.labels(result="dead").inc()
        first = (row.chat_id, reason) not in self._reported
        self._reported.add((row.chat_id, reason))
        (self._log.error if first else self._log.info)(
            "outbox_dead_letter", chat_id=row.chat_id, kind=row.kind, dedupe_key=row.dedupe_key, error=reason
        )
        if first:
            th.error(f"outbox dead letter (chat {row.chat_id}, {row.kind}): {reason}")


def _transient(err: BaseException) -> bool:
    """5xx, network errors, timeouts, undecodable answers: no answer from Telegram itself."""
    return not isinstance(
        err,
        TelegramRetryAfter
        | TelegramUnauthorizedError
        | TelegramMigrateToChat
        | TelegramBadRequest
        | TelegramForbiddenError
        | TelegramNotFound,
    )
