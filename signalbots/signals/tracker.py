"""The tracker: follows open signals with prices until target, stop or expiry, and reports the outcome.

Scoring (also in docs/signals.md). The plan behind every signal: stop at ``stop`` (−1R), take profit at
target 2 (+2R); when target 1 (+1R) is touched the stop moves to entry (breakeven).

- stop touched before target 1 → STOPPED, −1R
- target 2 touched → TARGET2, +2R
- target 1 touched, then entry → TARGET1, 0R ("target 1, then breakeven")
- expiry first → EXPIRED (or TARGET1 when target 1 was reached), R at the last price before expiry
- an update that touches the stop and a target is scored as the stop (we cannot know which came first);
  the breakeven stop applies from the update *after* the one that reached target 1
- the exit is the level itself, or the update's nearest price when the whole update is beyond it (a gap)
- only updates with ``time_ms >= signal time`` count (for a candle pass its open time, so that a candle
  counts only if all of it came after the signal), and none at or after expiry

State is the ``signals`` table (status, ``t1_ms``): a new Tracker on the same Store carries on.
An outcome is submitted before it is written, so a crash in between repeats the submit (deduplicated by
its key) instead of losing the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog

from signalbots.clock import Clock
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, Notifier
from signalbots.settings import Settings
from signalbots.signals import render
from signalbots.signals.desk import DAY_MS, day_start, signal_from_row
from signalbots.signals.model import Direction, Signal, Status
from signalbots.signals.stats import Stats, by_strategy
from signalbots.store import Store

log = structlog.get_logger(__name__)

_Key = tuple[str, str]


@dataclass(slots=True)
class _Open:
    signal: Signal
    t1_ms: int | None


class Tracker:
    def __init__(
        self, *, store: Store, settings: Settings, clock: Clock, metrics: Metrics, notifier: Notifier
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.notifier = notifier
        self._open: dict[_Key, dict[int, _Open]] = {}
        self._last: dict[_Key, tuple[int, float]] = {}  # (exchange, symbol) → (time_ms, last price)
        self._seen_id = 0
        self._sync()

    def _sync(self) -> None:
        """Pick up signals the desk inserted since the last look: one primary-key range query, ~2 µs when
        empty, cheap enough to run on every price and needs no wiring between desk and tracker."""
        rows = self.store.db.execute("SELECT * FROM signals WHERE id > ? ORDER BY id", (self._seen_id,))
        for row in rows:
            self._seen_id = int(row["id"])
            if row["status"] == Status.OPEN.value:
                sig = signal_from_row(row)
                key = (sig.candidate.exchange, sig.candidate.symbol)
                self._open.setdefault(key, {})[sig.id] = _Open(sig, row["t1_ms"])

    # prices -------------------------------------------------------------------------------------------
    def on_price(
        self,
        exchange: str,
        symbol: str,
        time_ms: int,
        high: float,
        low: float,
        last: float | None = None,
        *,
        end_ms: int | None = None,
    ) -> list[Signal]:
        """A candle (high/low, ``last`` = close, ``time_ms`` = open time, ``end_ms`` = close time) or a
        ticker (high = low = last, no ``end_ms``).

        Only updates that start at or after a signal's time count for it (no look-back into the candle
        that created it); a resolution is stamped with ``end_ms`` when given — the first moment it is
        known — so durations do not read "after 0s". Returns the signals this update resolved.
        """
        stamp = end_ms if end_ms is not None else time_ms
        self._sync()
        key = (exchange, symbol)
        now_price = last if last is not None else (high + low) / 2
        previous = self._last.get(key)
        resolved: list[Signal] = []
        for o in list(self._open.get(key, {}).values()):
            c = o.signal.candidate
            if time_ms < c.time_ms:
                continue
            if time_ms >= c.expiry_ms:
                before = previous is not None and c.time_ms <= previous[0] < c.expiry_ms
                resolved.append(
                    self._expire(o, previous[1] if previous is not None and before else now_price)
                )
            elif c.direction is not Direction.NONE:
                done = self._touch(o, stamp, high, low)
                if done is not None:
                    resolved.append(done)
        self._last[key] = (time_ms, now_price)
        return resolved

    def _touch(self, o: _Open, time_ms: int, high: float, low: float) -> Signal | None:
        c = o.signal.candidate
        assert c.stop is not None and c.targets
        s = 1.0 if c.direction is Direction.LONG else -1.0
        adverse, favourable = (low, high) if s > 0 else (high, low)
        stop = c.entry if o.t1_ms is not None else c.stop
        if s * (adverse - stop) <= 0:
            exit_ = stop if s * (favourable - stop) >= 0 else favourable
            return self._resolve(o, Status.TARGET1 if o.t1_ms is not None else Status.STOPPED, time_ms, exit_)
        final = c.targets[-1]
        if s * (favourable - final) >= 0:
            exit_ = final if s * (adverse - final) <= 0 else adverse
            status = Status.TARGET2 if len(c.targets) > 1 else Status.TARGET1
            return self._resolve(o, status, time_ms, exit_)
        if o.t1_ms is None and s * (favourable - c.targets[0]) >= 0:
            self._reach_t1(o, time_ms)
        return None

    def _reach_t1(self, o: _Open, time_ms: int) -> None:
        c = o.signal.candidate
        self.notifier.submit(
            Message(
                kind=Kind.OUTCOME,
                text=render.target1(o.signal, time_ms),
                dedupe_key=f"target1:{c.dedupe_key}",
                reply_to_key=f"signal:{c.dedupe_key}",
                strategy=c.strategy,
            )
        )
        self.store.db.execute("UPDATE signals SET t1_ms = ? WHERE id = ?", (time_ms, o.signal.id))
        o.t1_ms = time_ms
        log.info(
            "signal_target1", strategy=c.strategy, exchange=c.exchange, symbol=c.symbol, key=c.dedupe_key
        )

    def _expire(self, o: _Open, price: float | None) -> Signal:
        c = o.signal.candidate
        status = Status.TARGET1 if o.t1_ms is not None else Status.EXPIRED
        return self._resolve(o, status, c.expiry_ms, price)

    def _resolve(self, o: _Open, status: Status, time_ms: int, exit_price: float | None) -> Signal:
        sig, c = o.signal, o.signal.candidate
        r: float | None = None
        if c.direction is not Direction.NONE and exit_price is not None and c.risk:
            s = 1.0 if c.direction is Direction.LONG else -1.0
            r = s * (exit_price - c.entry) / c.risk
        sig.status, sig.resolved_ms, sig.exit_price, sig.r_multiple = status, time_ms, exit_price, r
        if c.direction is not Direction.NONE:
            self.notifier.submit(
                Message(
                    kind=Kind.OUTCOME,
                    text=render.outcome(sig),
                    dedupe_key=f"outcome:{c.dedupe_key}",
                    reply_to_key=f"signal:{c.dedupe_key}",
                    strategy=c.strategy,
                )
            )
        self.store.db.execute(
            "UPDATE signals SET status = ?, resolved_ms = ?, exit_price = ?, r_multiple = ? "
            "WHERE id = ? AND status = 'open'",
            (status.value, time_ms, exit_price, r, sig.id),
        )
        self._open.get((c.exchange, c.symbol), {}).pop(sig.id, None)
        self.metrics.outcomes.labels(c.strategy, status.value).inc()
        if r is not None and math.isfinite(r):
            won = r >= 0
            (self.metrics.outcome_r_won if won else self.metrics.outcome_r_lost).labels(c.strategy).inc(
                abs(r)
            )
        log.info(
            "signal_resolved",
            strategy=c.strategy,
            exchange=c.exchange,
            symbol=c.symbol,
            status=status.value,
            r=None if r is None else round(r, 3),
            key=c.dedupe_key,
        )
        return sig

    def expire(self, now_ms: int) -> list[Signal]:
        """Close every signal whose expiry has passed, at the last price seen (for feeds that went quiet)."""
        self._sync()
        out: list[Signal] = []
        for key, opens in list(self._open.items()):
            seen = self._last.get(key)
            for o in list(opens.values()):
                c = o.signal.candidate
                if c.expiry_ms <= now_ms:
                    usable = seen is not None and c.time_ms <= seen[0]
                    out.append(self._expire(o, seen[1] if seen is not None and usable else None))
        return out

    def last_price(self, exchange: str, symbol: str) -> float | None:
        """The last price seen for the market (a late alert says how far it moved since the signal)."""
        seen = self._last.get((exchange, symbol))
        return None if seen is None else seen[1]

    # views ------------------------------------------------------------------------------------------
    def open_signals(self) -> list[Signal]:
        """Open directional signals, oldest first (alerts have nothing to follow and are left out)."""
        self._sync()
        sigs = [
            o.signal
            for opens in self._open.values()
            for o in opens.values()
            if o.signal.candidate.direction is not Direction.NONE
        ]
        return sorted(sigs, key=lambda s: (s.candidate.time_ms, s.id))

    def stats(self, days: int | None, now_ms: int) -> dict[str, Stats]:
        """Per strategy and ``"all"``, over signals resolved in the last ``days`` days (None: all time)."""
        since = now_ms - days * DAY_MS if days else None
        return self._stats_between(since, None)

    def _stats_between(self, since: int | None, until: int | None) -> dict[str, Stats]:
        rows = self.store.db.execute(
            "SELECT strategy, r_multiple FROM signals WHERE r_multiple IS NOT NULL AND status != 'open' "
            "AND resolved_ms >= ? AND resolved_ms < ? ORDER BY resolved_ms, id",
            (since if since is not None else -(2**62), until if until is not None else 2**62),
        ).fetchall()
        return by_strategy((str(r["strategy"]), float(r["r_multiple"])) for r in rows)

    def signals_text(self, now_ms: int) -> str:
        """``/signals``."""
        last = {k: v[1] for k, v in self._last.items()}
        return render.open_signals(self.open_signals(), now_ms, last)

    def stats_text(self, days: int | None, now_ms: int) -> str:
        """``/stats [days]``."""
        return render.stats(self.stats(days, now_ms), days)

    def daily_summary(self, day_start_ms: int) -> Message | None:
        """The summary of the UTC day that starts at (or contains) ``day_start_ms`` — at 00:00 UTC pass the
        previous day. None when nothing was sent or resolved that day."""
        start = day_start(day_start_ms)
        end = start + DAY_MS
        db = self.store.db
        sent = {
            str(r[0]): int(r[1])
            for r in db.execute(
                "SELECT strategy, COUNT(*) FROM signals "
                "WHERE created_ms >= ? AND created_ms < ? GROUP BY strategy",
                (start, end),
            )
        }
        per = self._stats_between(start, end)
        if not sent and per["all"].count == 0:
            return None
        open_at_end = int(
            db.execute(
                "SELECT COUNT(*) FROM signals WHERE direction != 'none' AND created_ms < ? AND expiry_ms > ? "
                "AND (status = 'open' OR resolved_ms >= ?)",
                (end, end, end),
            ).fetchone()[0]
        )
        return Message(
            kind=Kind.DIGEST,
            text=render.daily_summary(start, sent, per, open_at_end),
            dedupe_key=f"summary:{render.day(start)}",
        )
