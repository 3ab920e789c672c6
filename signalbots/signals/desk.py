"""The desk: turns strategy candidates into signals — dedupe, cooldowns, risk gates — and sends them.

Everything that must survive a restart lives in SQLite: accepted signals (``signals``, UNIQUE dedupe key),
cooldowns (``cooldowns``), and the realised R that drives the daily loss limit (derived from ``signals``).
Only the 1h price history for the correlation gate is in memory: after a restart the gate lets candidates
pass until enough history is back, which errs on the side of sending.

"Today" and cooldowns run on the candidates' event time, never the wall clock, so a backtest replays
exactly what the live desk would have done.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from signalbots.clock import Clock
from signalbots.events import OpenInterest, base_asset
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, Notifier, SignalRef
from signalbots.settings import Settings
from signalbots.signals import keys, render
from signalbots.signals.costs import Costs
from signalbots.signals.evidence import Evidence
from signalbots.signals.model import Candidate, Direction, Signal, Status
from signalbots.signals.open_interest import OpenInterestBook
from signalbots.signals.track_record import record, record_line
from signalbots.signals.unwritten import INSERT_SIGNAL, UPSERT_COOLDOWN, Unwritten, refused, signal_row
from signalbots.store import Store
from signalbots.strategies.registry import spec_for

log = structlog.get_logger(__name__)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_RETURNS = 24  # hourly returns two symbols must share before the correlation gate judges them


def day_start(time_ms: int) -> int:
    """Start of the UTC day containing ``time_ms``."""
    return time_ms - time_ms % DAY_MS


def candidate_from_json(text: str) -> Candidate:
    d: dict[str, Any] = json.loads(text)
    return Candidate(
        strategy=d["strategy"],
        kind=d["kind"],
        exchange=d["exchange"],
        symbol=d["symbol"],
        direction=Direction(d["direction"]),
        entry=float(d["entry"]),
        stop=None if d["stop"] is None else float(d["stop"]),
        targets=tuple(float(t) for t in d["targets"]),
        time_ms=int(d["time_ms"]),
        expiry_ms=int(d["expiry_ms"]),
        dedupe_key=d["dedupe_key"],
        facts={k: float(v) for k, v in d.get("facts", {}).items()},
        notes=tuple(d.get("notes", ())),
        strength=float(d.get("strength", 0.0)),
    )


def signal_from_row(row: sqlite3.Row) -> Signal:
    return Signal(
        id=int(row["id"]),
        candidate=candidate_from_json(row["candidate"]),
        status=Status(row["status"]),
        resolved_ms=row["resolved_ms"],
        exit_price=row["exit_price"],
        r_multiple=row["r_multiple"],
        size_base=row["size_base"],
        gross_r=row["gross_r"],
        fee_r=row["fee_r"],
        funding_r=float(row["funding_r"] or 0.0),
    )


def _valid(c: Candidate) -> bool:
    numbers = [c.entry, *c.targets, *c.facts.values()] + ([] if c.stop is None else [c.stop])
    if not all(math.isfinite(x) for x in numbers) or c.expiry_ms <= c.time_ms:
        return False
    if c.direction is Direction.NONE:
        return True
    if c.stop is None or not c.targets or c.entry <= 0:
        return False
    sign = 1.0 if c.direction is Direction.LONG else -1.0
    return sign * (c.entry - c.stop) > 0 and all(sign * (t - c.entry) > 0 for t in c.targets)


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


class Desk:
    """``consider(candidates)`` → the signals accepted, persisted and submitted to the notifier.

    ``settings`` is a public attribute: a reload assigns the new Settings and the next candidate uses them.
    """

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        notifier: Notifier,
        on_signal: Callable[[Signal], None] | None = None,
        open_interest: OpenInterestBook | None = None,
        evidence: Evidence | None = None,
    ) -> None:
        self.store = store
        self.evidence = evidence or Evidence()  # marks an alert whose strategy loses out of sample
        self.open_interest = open_interest or OpenInterestBook()  # every alert's open interest context
        self._on_signal = on_signal  # the tracker's ``follow``: told of each signal the moment it is sent
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.notifier = notifier
        self._closes: dict[str, dict[int, float]] = {}  # symbol → {hour index: last price in that hour}
        self._newest: dict[str, int] = {}  # symbol → newest hour index seen
        self._notified_pauses: set[tuple[str, int]] = set()
        self._unwritten = Unwritten()  # signals sent while the state disk refused them

    # prices for the correlation gate ----------------------------------------------------------------
    def observe_price(self, exchange: str, symbol: str, time_ms: int, price: float) -> None:
        """Feed prices (tickers, candle closes); the last one in each UTC hour is that hour's close.

        Keyed by unified symbol: the same contract on two exchanges moves together, either feed will do.
        """
        if not (math.isfinite(price) and price > 0):
            return
        hour = time_ms // HOUR_MS
        if self._newest.get(symbol) == hour:  # the common case, a later price in the newest hour
            self._closes[symbol][hour] = price
            return
        closes = self._closes.setdefault(symbol, {})
        newest = self._newest.get(symbol, hour)
        keep = self._window_hours() + 1
        if hour <= newest - keep:
            return  # older than the window: nothing would use it
        closes[hour] = price
        if hour > newest or symbol not in self._newest:
            self._newest[symbol] = hour
            edge = hour - keep
            if hour - newest <= keep:  # the hours that just left the window (older ones left before)
                for old in range(newest - keep + 1, edge + 1):
                    closes.pop(old, None)
            if hour - newest > keep or len(closes) > keep:  # a gap, or a reload shortened the window
                for old in [h for h in closes if h <= edge]:
                    del closes[old]

    def observe_open_interest(self, event: OpenInterest) -> None:
        self.open_interest.observe(event)

    def _window_hours(self) -> int:
        return max(2, int(self.settings.risk.correlation_window // 3600))

    def _returns(self, symbol: str, end_hour: int) -> dict[int, float]:
        closes = self._closes.get(symbol, {})
        start = end_hour - self._window_hours()
        return {
            h: math.log(closes[h] / closes[h - 1])
            for h in closes
            if start < h <= end_hour and h - 1 in closes
        }

    def correlation(self, a: str, b: str, time_ms: int) -> float | None:
        """ρ of two symbols' 1h log returns over the window ending at ``time_ms``; None: too little data."""
        end = time_ms // HOUR_MS
        ra, rb = self._returns(a, end), self._returns(b, end)
        common = sorted(ra.keys() & rb.keys())
        if len(common) < MIN_RETURNS:
            return None
        return _pearson([ra[h] for h in common], [rb[h] for h in common])

    # the decision -------------------------------------------------------------------------------------
    def consider(self, candidates: list[Candidate], *, at_most: int | None = None) -> list[Signal]:
        """Strongest first, so that a cap reached within one batch keeps the strongest candidates.

        ``at_most``: no more than this many signals, counting those already sent (a moment delivered
        twice); the rest are left unconsidered: no gate counts them, no cooldown starts.
        """
        accepted: list[Signal] = []
        repeated = 0
        self._unwritten.write(self.store)  # the disk may take the signals it refused by now
        for c in sorted(candidates, key=lambda c: c.strength, reverse=True):
            if at_most is not None and len(accepted) + repeated >= at_most:
                break
            c = Costs(settings=self.settings).floor(self.open_interest.with_context(c))
            gate = self._gate(c)
            if gate is not None:
                self._suppress(c, gate)
                repeated += gate == "dedupe"
                continue
            sig = self._accept(c)
            if sig is None:
                self._suppress(c, "dedupe")  # the UNIQUE key lost a race with another writer
                continue
            accepted.append(sig)
        return accepted

    def _suppress(self, c: Candidate, gate: str) -> None:
        self.metrics.suppressed.labels(c.strategy, gate).inc()
        log.debug(
            "candidate_suppressed",
            gate=gate,
            strategy=c.strategy,
            exchange=c.exchange,
            symbol=c.symbol,
            kind=c.kind,
            key=c.dedupe_key,
        )

    def _gate(self, c: Candidate) -> str | None:
        """The name of the first gate that stops ``c``, or None when it passes them all."""
        if not _valid(c):
            return "invalid"
        db = self.store.db
        if (
            self._unwritten.holds(c.dedupe_key)
            or db.execute("SELECT 1 FROM signals WHERE dedupe_key = ?", (c.dedupe_key,)).fetchone()
        ):
            return "dedupe"
        if self.paused(c.strategy, c.time_ms):
            return "loss_limit"
        cooldown = self._cooldown(c)
        if cooldown is not None:
            row = db.execute("SELECT until_ms FROM cooldowns WHERE key = ?", (cooldown[0],)).fetchone()
            if (row is not None and c.time_ms < row["until_ms"]) or self._unwritten.cooling(
                cooldown[0], c.time_ms
            ):
                return "cooldown"
        risk = self.settings.risk
        start = day_start(c.time_ms)
        if (
            self._count(
                "created_ms >= ? AND created_ms < ? AND strategy = ?", (start, start + DAY_MS, c.strategy)
            )
            >= risk.strategy_daily_cap
        ):
            return "strategy_daily_cap"
        if self._count("created_ms >= ? AND created_ms < ?", (start, start + DAY_MS)) >= risk.daily_cap:
            return "daily_cap"
        if c.direction is Direction.NONE:
            return None
        # A signal past its expiry that no price has closed yet is not a position any more.
        live = "status = 'open' AND direction != 'none' AND expiry_ms > ?"
        if self._count(f"{live} AND strategy = ?", (c.time_ms, c.strategy)) >= risk.max_open_per_strategy:
            return "max_open_strategy"
        if self._count(live, (c.time_ms,)) >= risk.max_open:
            return "max_open"
        if self._correlated(c):
            return "correlation"
        return None

    def _count(self, where: str, args: tuple[Any, ...]) -> int:
        return int(self.store.db.execute(f"SELECT COUNT(*) FROM signals WHERE {where}", args).fetchone()[0])

    def _cooldown(self, c: Candidate) -> tuple[str, float] | None:
        """(key, seconds) of the cooldown this candidate is subject to: its strategy's spec says (every
        spec must declare one); None only for a strategy the registry does not know (tests' fakes)."""
        spec = spec_for(c.strategy)
        return spec.cooldown_of(c, self.settings) if spec is not None else None

    def _correlated(self, c: Candidate) -> bool:
        threshold = self.settings.risk.correlation
        rows = self.store.db.execute(
            "SELECT DISTINCT symbol FROM signals WHERE status = 'open' AND direction = ? AND expiry_ms > ?",
            (c.direction.value, c.time_ms),
        ).fetchall()
        for row in rows:
            other: str = row["symbol"]
            if base_asset(other) == base_asset(c.symbol):
                return True  # the same asset (another exchange or quote) is correlated by definition
            rho = self.correlation(c.symbol, other, c.time_ms)
            if rho is not None and rho >= threshold:
                return True
        return False

    def position_size(self, c: Candidate) -> float | None:
        """Base units risking ``risk.per_signal`` of ``risk.account_usd`` between entry and stop."""
        risk = self.settings.risk
        if risk.account_usd <= 0 or c.direction is Direction.NONE or not c.risk:
            return None
        return risk.account_usd * risk.per_signal / c.risk

    def _accept(self, c: Candidate) -> Signal | None:
        size = self.position_size(c)
        cooldown = self._cooldown(c)
        until = (cooldown[0], c.time_ms + round(cooldown[1] * 1000)) if cooldown and cooldown[1] > 0 else None
        row = signal_row(c, size)
        try:
            # The signal, its cooldown and its message (the outbox shares this database) commit together:
            # a crash leaves either all three or none, so a fired signal is never silently unsent.
            with self.store.transaction() as db:
                cur = db.execute(INSERT_SIGNAL, row)
                if until is not None:
                    db.execute("DELETE FROM cooldowns WHERE until_ms <= ?", (c.time_ms,))
                    db.execute(UPSERT_COOLDOWN, until)
                assert cur.lastrowid is not None
                sig = Signal(id=cur.lastrowid, candidate=c, size_base=size)
                self._announce(sig)
        except sqlite3.IntegrityError:
            return None
        except sqlite3.DatabaseError as err:
            if not refused(err):
                raise
            # The disk refused the signal (full, read-only, damaged): send it all the same, from memory.
            sig = Signal(id=self._unwritten.hold(row, until), candidate=c, size_base=size)
            self._announce(sig)
        if self._on_signal is not None:
            self._on_signal(sig)
        self.metrics.signals.labels(c.strategy).inc()
        log.info(
            "signal_accepted",
            strategy=c.strategy,
            exchange=c.exchange,
            symbol=c.symbol,
            kind=c.kind,
            direction=c.direction.value,
            key=c.dedupe_key,
        )
        return sig

    def _announce(self, sig: Signal) -> None:
        c = sig.candidate
        standing = record_line(record(self.store, c.strategy, c.time_ms))
        caution = self.evidence.caution(c.strategy)
        self.notifier.submit(
            Message(
                kind=Kind.SIGNAL,
                text=render.signal(sig, record=standing, caution=caution),
                dedupe_key=keys.signal(c.dedupe_key),
                strategy=c.strategy,
                signal=SignalRef(
                    exchange=c.exchange,
                    symbol=c.symbol,
                    price=c.entry,
                    event_time=c.time_ms / 1000,
                    expires_at=c.expiry_ms / 1000,
                    strength=c.strength,
                    compact=render.compact(sig, record=standing, caution=caution),
                ),
            )
        )

    # daily loss limit ----------------------------------------------------------------------------------
    def daily_r(self, strategy: str, time_ms: int) -> float:
        """Sum of R of the strategy's signals resolved on the UTC day of ``time_ms``."""
        start = day_start(time_ms)
        row = self.store.db.execute(
            "SELECT COALESCE(SUM(r_multiple), 0.0) FROM signals "
            "WHERE strategy = ? AND r_multiple IS NOT NULL AND resolved_ms >= ? AND resolved_ms < ?",
            (strategy, start, start + DAY_MS),
        ).fetchone()
        return float(row[0])

    def paused(self, strategy: str, time_ms: int) -> bool:
        """True when the strategy's losses that UTC day reached the limit; submits the notice once."""
        limit = self.settings.risk.daily_loss_limit_r
        loss = self.daily_r(strategy, time_ms)
        if loss > -limit:
            return False
        start = day_start(time_ms)
        if (strategy, start) not in self._notified_pauses:
            self._notified_pauses.add((strategy, start))
            fresh = self.notifier.submit(
                Message(
                    kind=Kind.NOTICE,
                    text=render.loss_pause(strategy, loss, limit, start),
                    dedupe_key=keys.paused(strategy, render.day(start)),
                    strategy=strategy,
                )
            )
            if fresh:
                log.warning(
                    "strategy_paused", strategy=strategy, day=render.day(start), loss_r=loss, limit_r=limit
                )
        return True

    def note_outcomes(self, resolved: Iterable[Signal]) -> None:
        """Call with what the tracker resolved: says "paused" the moment a loss crosses the limit."""
        for sig in resolved:
            if sig.resolved_ms is not None:
                self.paused(sig.candidate.strategy, sig.resolved_ms)
