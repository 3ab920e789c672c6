"""Exhaustion confirmation for liquidation cascades: wait for the forced selling (buying) to stop.

A cascade that reached its threshold is held, not signalled, until

* ``rate_drop``: the liquidation rate — notional in the last minute, per minute — has fallen below
  ``fraction`` of its peak within the cascade (the peak is measured at every print, from the window's first
  print on), checked at every event the strategy sees, so a cascade that simply stops is confirmed by the
  next ticker, candle or print of any market; or
* ``close_back``: a candle of the cascade's market closes back against it (up after longs were liquidated,
  down after shorts were), after the cascade fired.

Until ``within_ms`` after the threshold was reached; after that the cascade is dropped without a signal and
counted (``Pending.key``'s count is added to the next signal of that market and side). Prints of the
market and side arriving while it waits belong to it. Memory: a minute of prints per waiting cascade.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from signalbots.events import Candle, Liquidation, MarketEvent, Side, base_asset
from signalbots.strategies._cascade import Cascade

__all__ = ["RATE_WINDOW_MS", "Confirmed", "Pending", "peak_rate", "settle"]

RATE_WINDOW_MS = 60_000  # the liquidation rate is the notional of the last minute
# (exchange, symbol, side), or ("", base asset, side) for a cascade summed across venues
Key = tuple[str, str, Side]


def settle(
    pending: dict[Key, Pending], event: MarketEvent, mode: str, fraction: float
) -> tuple[list[Confirmed], list[Key]]:
    """The cascades ``event`` confirms, and those whose wait it ends unconfirmed; both leave ``pending``."""
    now = event.close_time_ms if isinstance(event, Candle) else event.time_ms
    confirmed: list[Confirmed] = []
    expired: list[Key] = []
    for key, waiting in list(pending.items()):
        found: Confirmed | None = None
        if now > waiting.deadline_ms:
            expired.append(key)
        elif mode == "rate_drop":
            found = waiting.rate_dropped(now, fraction)
        elif isinstance(event, Candle) and event.exchange in waiting.cascade.by_venue:
            exchange, symbol, _ = key
            if event.symbol == symbol or (not exchange and base_asset(event.symbol) == symbol):
                found = waiting.closed_back(event)
        if found is not None:
            confirmed.append(found)
        if found is not None or now > waiting.deadline_ms:
            del pending[key]
    return confirmed, expired


def peak_rate(prints: list[Liquidation]) -> float:
    """The highest notional within any minute ending at a print (USD per minute)."""
    ordered = sorted(prints, key=lambda p: p.time_ms)
    peak = running = 0.0
    start = 0
    for p in ordered:
        running += p.notional_usd
        while ordered[start].time_ms <= p.time_ms - RATE_WINDOW_MS:
            running -= ordered[start].notional_usd
            start += 1
        peak = max(peak, running)
    return peak


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A cascade confirmed at ``time_ms``; ``price`` is the confirming candle's close (None: the latest);
    ``facts``: the threshold's and the confirmation's."""

    pending: Pending
    time_ms: int
    price: float | None
    confirmation: dict[str, float]

    @property
    def key(self) -> Key:
        return self.pending.key

    @property
    def cascade(self) -> Cascade:
        return self.pending.cascade

    @property
    def threshold(self) -> float:
        return self.pending.threshold

    @property
    def facts(self) -> dict[str, float]:
        return self.pending.facts | self.confirmation

    @property
    def notes(self) -> tuple[str, ...]:
        return self.pending.notes


@dataclass(slots=True)
class Pending:
    """A cascade past its threshold, waiting for exhaustion."""

    key: Key
    cascade: Cascade
    threshold: float
    facts: dict[str, float]
    notes: tuple[str, ...]
    fired_ms: int  # when the threshold was reached
    deadline_ms: int
    peak: float
    recent: deque[Liquidation] = field(default_factory=deque)
    recent_total: float = 0.0

    @classmethod
    def start(
        cls,
        key: Key,
        prints: list[Liquidation],
        threshold: float,
        facts: dict[str, float],
        notes: tuple[str, ...],
        within_s: float,
    ) -> Pending:
        """Waiting from the newest of ``prints`` (those that crossed ``threshold``) for ``within_s``."""
        newest = max(p.time_ms for p in prints)
        within_ms = round(within_s * 1000)
        pending = cls(
            key, Cascade.of(prints), threshold, facts, notes, newest, newest + within_ms, peak_rate(prints)
        )
        for p in sorted(prints, key=lambda x: x.time_ms):
            if p.time_ms > newest - RATE_WINDOW_MS:
                pending.recent.append(p)
                pending.recent_total += p.notional_usd
        return pending

    def add(self, p: Liquidation) -> None:
        self.cascade.add(p)
        self.recent.append(p)
        self.recent_total += p.notional_usd
        self.rate(p.time_ms)
        self.peak = max(self.peak, self.recent_total)

    def rate(self, now_ms: int) -> float:
        """The notional of the minute up to ``now_ms`` (USD per minute)."""
        while self.recent and self.recent[0].time_ms <= now_ms - RATE_WINDOW_MS:
            self.recent_total -= self.recent.popleft().notional_usd
        if not self.recent:
            self.recent_total = 0.0
        return max(0.0, self.recent_total)

    def rate_dropped(self, now_ms: int, fraction: float) -> Confirmed | None:
        rate = self.rate(now_ms)
        if now_ms <= self.fired_ms or rate >= fraction * self.peak:
            return None
        return Confirmed(self, now_ms, None, self._facts(now_ms, rate=rate))

    def closed_back(self, candle: Candle) -> Confirmed | None:
        if candle.close_time_ms <= self.fired_ms:
            return None
        back = candle.close > candle.open if self.cascade.side is Side.LONG else candle.close < candle.open
        if not back:
            return None
        return Confirmed(self, candle.close_time_ms, candle.close, self._facts(candle.close_time_ms))

    def _facts(self, now_ms: int, *, rate: float | None = None) -> dict[str, float]:
        facts = {"peak_rate_usd": self.peak, "confirm_wait_s": (now_ms - self.fired_ms) / 1000.0}
        if rate is not None:
            facts["confirm_rate_usd"] = rate
        return facts
