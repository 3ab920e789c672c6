"""When a chart's turn comes: after every signal, never in the middle of a burst, never as history.

A chart (a PNG replying to its alert) is the least urgent thing a chat gets and it costs the same slot of
the chat's pacing as a signal. So it waits while the chat's burst of signals goes on (a signal newer than
the chart's own arrived within two of the chat's pacing intervals), so that the whole burst is visible
before the first picture; in a coalesced message only the strongest ``telegram.coalesce_charts`` signals get
theirs; and one that could not go out within ``telegram.chart_stale_after`` of its signal is skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from signalbots.clock import Clock
from signalbots.settings import TelegramSettings
from signalbots.telegram.pacing import Pacer
from signalbots.telegram.queue import Queue
from signalbots.telegram.rows import Row


class ChartTurns:
    def __init__(
        self, *, queue: Queue, pacer: Pacer, clock: Clock, settings: Callable[[], TelegramSettings]
    ) -> None:
        self._queue = queue
        self._pacer = pacer
        self._clock = clock
        self._settings = settings

    def wanted(self, signal_key: str) -> bool:
        """Whether the signal message ``signal_key`` gets its chart: always when it went out alone; in a
        coalesced message only for the strongest ``telegram.coalesce_charts``."""
        rank = self._queue.rank(signal_key)
        return rank is None or rank < self._settings().coalesce_charts

    def hold(self, row: Row) -> float:
        """Seconds the chart ``row`` waits for its chat's burst of signals to end (≤ 0: send it now)."""
        last = self._queue.last_signal(row.chat_id)
        own = self._queue.created(row.reply_to_key) if row.reply_to_key else None
        if last is None or (own is not None and own >= last):
            return 0.0
        return last + 2.0 * self._pacer.interval(row.chat_id) - self._clock.time()

    def skip(self, row: Row) -> bool:
        """The chart ``row`` is not worth its slot: its signal was beyond the strongest few of a coalesced
        message, or it is older than ``telegram.chart_stale_after``."""
        if row.reply_to_key and not self.wanted(row.reply_to_key):
            return True
        decided = (self._queue.created(row.reply_to_key) if row.reply_to_key else None) or row.created
        return self._clock.time() - decided > self._settings().chart_stale_after
