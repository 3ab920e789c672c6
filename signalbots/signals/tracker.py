"""The tracker: follows open signals with prices until target, stop or expiry, and reports the outcome.

Fills as an exchange would make them (also in docs/signals.md). The plan behind every signal: a market
entry at ``entry``; a stop-market order at ``stop`` (−1R); a resting limit at target 2 (+2R); when target 1
(+1R) is touched the stop moves to entry (breakeven).

- a target is a limit order: the exit is the target's price, never beyond it (a candle that gaps past
  target 2 books exactly +2R);
- a stop is a stop-market order: the exit is the stop (its slippage is a cost, ``signals.costs``), or the
  candle's **open** when the candle opens beyond the stop (a gap);
- a ticker sample beyond a level proves the level was touched, not that the sample's price was traded:
  the exit is the level;
- a candle that touches the stop and a target, with nothing finer, is scored as the stop (we cannot know
  which came first); the breakeven stop applies from the update *after* the one that reached target 1;
- nothing from before the signal counts: a candle that started before the signal and ends after it
  contributes only its close (a price after the signal); the replay gives the tracker the finest candles
  it has, so the rest of that span is seen through them;
- which price triggers stops is ``[risk] stop_trigger``: ``last`` (candles and tickers) or ``mark`` (the
  mark price of the funding snapshots; last prices then only reach targets);
- expiry first → EXPIRED (or TARGET1 when target 1 was reached), at the last price before expiry.

Every outcome has gross R (the move), fee R (fees and slippage), funding R (settlements spanned) and net R
(``r_multiple``) = gross − fees + funding. Statistics and the daily loss limit use net R.

New signals come from the desk (``follow``); open ones are loaded once from the ``signals`` table, so a
new Tracker on the same Store carries on. An outcome is submitted before it is written, so a crash in
between repeats the submit (deduplicated by its key) instead of losing the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog

from signalbots.clock import Clock
from signalbots.events import Candle, FundingSnapshot
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message, Notifier
from signalbots.settings import Settings
from signalbots.signals import keys, render
from signalbots.signals.costs import Costs, funding_r
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
    funded_until: int  # the last funding settlement counted (starts at the signal time)


@dataclass(frozen=True, slots=True)
class _Exit:
    status: Status
    price: float
    maker: bool  # a resting limit filled (a target); else a market order (stop, gap, expiry)


class Tracker:
    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        notifier: Notifier,
        costs: Costs | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.notifier = notifier
        self.costs = costs if costs is not None else Costs(settings=settings)
        self._settings = settings
        self._open: dict[_Key, dict[int, _Open]] = {}
        self._last: dict[_Key, tuple[int, float]] = {}  # (exchange, symbol) → (time_ms, last price)
        self._pending: dict[_Key, tuple[int, float, float | None]] = {}  # next settlement, rate, mark
        for row in self.store.db.execute("SELECT * FROM signals WHERE status = 'open' ORDER BY id"):
            self.follow(signal_from_row(row), t1_ms=row["t1_ms"])

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:  # a reload: the next outcome uses the new costs
        self._settings = value
        self.costs.settings = value

    def follow(self, sig: Signal, *, t1_ms: int | None = None) -> None:
        """Start following a signal (the desk calls this for each one it accepts)."""
        if sig.status is not Status.OPEN:
            return
        c = sig.candidate
        self._open.setdefault((c.exchange, c.symbol), {})[sig.id] = _Open(sig, t1_ms, c.time_ms)

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
        open_price: float | None = None,
    ) -> list[Signal]:
        """A candle (``open_price``/high/low, ``last`` = close, ``time_ms`` = open time, ``end_ms`` = close
        time) or a ticker sample (high = low = last, no ``end_ms``).

        A resolution is stamped with ``end_ms`` when given — the first moment it is known — so durations
        do not read "after 0s". Returns the signals this update resolved.
        """
        stamp = end_ms if end_ms is not None else time_ms
        key = (exchange, symbol)
        now_price = last if last is not None else (high + low) / 2
        previous = self._last.get(key)
        stops = self._settings.risk.stop_trigger == "last"
        resolved: list[Signal] = []
        for o in list(self._open.get(key, {}).values()):
            c = o.signal.candidate
            if time_ms < c.time_ms and (end_ms is None or end_ms <= c.time_ms):
                continue  # entirely before the signal
            done: Signal | None
            if time_ms >= c.expiry_ms:
                before = previous is not None and c.time_ms <= previous[0] < c.expiry_ms
                done = self._expire(o, previous[1] if previous is not None and before else now_price)
            elif c.direction is Direction.NONE:
                continue
            elif time_ms < c.time_ms:  # the signal's own candle: only its close comes after the signal
                done = self._touch(o, stamp, None, now_price, now_price, stops=stops)
            else:
                done = self._touch(o, stamp, open_price, high, low, stops=stops)
            if done is not None:
                resolved.append(done)
        self._last[key] = (time_ms, now_price)
        return resolved

    def on_candle(self, c: Candle) -> list[Signal]:
        """``on_price`` for a closed candle; of a symbol with nothing open only the price is remembered."""
        key = (c.exchange, c.symbol)
        if key not in self._open:  # most candles of a replay (research replays millions)
            self._last[key] = (c.time_ms, c.close)
            return []
        return self.on_price(
            *key, c.time_ms, c.high, c.low, last=c.close, end_ms=c.close_time_ms, open_price=c.open
        )

    def on_funding(self, snap: FundingSnapshot) -> list[Signal]:
        """A funding snapshot: counts the settlements open signals span and, with ``stop_trigger = "mark"``,
        is the mark price that triggers stops. Returns the signals it resolved."""
        key = (snap.exchange, snap.symbol)
        pending = self._pending.get(key)
        if snap.next_funding_ms is not None and snap.next_funding_ms <= snap.time_ms:
            self._settle(key, snap.next_funding_ms, snap.rate, snap.mark_price)  # a settlement, as recorded
        elif pending is not None and pending[0] <= snap.time_ms:
            self._settle(key, *pending)  # the one announced has passed: the rate seen last applied
        if snap.next_funding_ms is not None and snap.next_funding_ms > snap.time_ms:
            self._pending[key] = (snap.next_funding_ms, snap.rate, snap.mark_price)
        mark = snap.mark_price
        if self._settings.risk.stop_trigger != "mark" or mark is None or not math.isfinite(mark):
            return []
        resolved: list[Signal] = []
        for o in list(self._open.get(key, {}).values()):
            c = o.signal.candidate
            if c.direction is Direction.NONE or not c.time_ms <= snap.time_ms < c.expiry_ms:
                continue
            done = self._touch(o, snap.time_ms, None, mark, mark, stops=True, targets=False)
            if done is not None:
                resolved.append(done)
        return resolved

    def _settle(self, key: _Key, at_ms: int, rate: float, mark: float | None) -> None:
        for o in list(self._open.get(key, {}).values()):
            self._settle_one(o, at_ms, rate, mark)

    def _settle_one(self, o: _Open, at_ms: int, rate: float, mark: float | None) -> None:
        c = o.signal.candidate
        if c.direction is Direction.NONE or not (o.funded_until < at_ms <= c.expiry_ms):
            return
        price = mark if mark is not None and math.isfinite(mark) and mark > 0 else c.entry
        o.funded_until = at_ms
        o.signal.funding_r += funding_r(c, rate, price)
        self.store.db.execute(
            "UPDATE signals SET funding_r = ? WHERE id = ?", (o.signal.funding_r, o.signal.id)
        )

    def _touch(
        self,
        o: _Open,
        time_ms: int,
        open_price: float | None,
        high: float,
        low: float,
        *,
        stops: bool,
        targets: bool = True,
    ) -> Signal | None:
        exit_ = self._fill(o, open_price, high, low, stops=stops, targets=targets)
        if exit_ is not None:
            return self._resolve(o, exit_.status, time_ms, exit_.price, maker=exit_.maker)
        c = o.signal.candidate
        s = 1.0 if c.direction is Direction.LONG else -1.0
        favourable = high if s > 0 else low
        if targets and o.t1_ms is None and s * (favourable - c.targets[0]) >= 0:
            self._reach_t1(o, time_ms)
        return None

    @staticmethod
    def _fill(
        o: _Open, open_price: float | None, high: float, low: float, *, stops: bool, targets: bool
    ) -> _Exit | None:
        c = o.signal.candidate
        assert c.stop is not None and c.targets
        s = 1.0 if c.direction is Direction.LONG else -1.0
        adverse, favourable = (low, high) if s > 0 else (high, low)
        stop = c.entry if o.t1_ms is not None else c.stop
        stopped = Status.TARGET1 if o.t1_ms is not None else Status.STOPPED
        final = c.targets[-1]
        won = Status.TARGET2 if len(c.targets) > 1 else Status.TARGET1
        if open_price is not None:  # what happened first: the open
            if stops and s * (open_price - stop) <= 0:
                return _Exit(stopped, open_price, maker=False)  # gapped through the stop
            if targets and s * (open_price - final) >= 0:
                return _Exit(won, final, maker=True)  # the resting limit fills at its price
        if stops and s * (adverse - stop) <= 0:
            return _Exit(stopped, stop, maker=False)
        if targets and s * (favourable - final) >= 0:
            return _Exit(won, final, maker=True)
        return None

    def _reach_t1(self, o: _Open, time_ms: int) -> None:
        c = o.signal.candidate
        self.notifier.submit(
            Message(
                kind=Kind.OUTCOME,
                text=render.target1(o.signal, time_ms),
                dedupe_key=keys.target1(c.dedupe_key),
                reply_to_key=keys.signal(c.dedupe_key),
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

    def _resolve(
        self, o: _Open, status: Status, time_ms: int, exit_price: float | None, *, maker: bool = False
    ) -> Signal:
        sig, c = o.signal, o.signal.candidate
        pending = self._pending.get((c.exchange, c.symbol))
        if pending is not None and pending[0] <= time_ms:
            self._settle_one(o, *pending)  # a settlement passed that no snapshot has confirmed yet
        r: float | None = None
        if c.direction is not Direction.NONE and exit_price is not None and c.risk:
            s = 1.0 if c.direction is Direction.LONG else -1.0
            sig.gross_r = s * (exit_price - c.entry) / c.risk
            sig.fee_r = self.costs.trade_r(c, exit_price, maker_exit=maker)
            r = sig.gross_r - sig.fee_r + sig.funding_r
        sig.status, sig.resolved_ms, sig.exit_price, sig.r_multiple = status, time_ms, exit_price, r
        if c.direction is not Direction.NONE:
            self.notifier.submit(
                Message(
                    kind=Kind.OUTCOME,
                    text=render.outcome(sig, stop_trigger=self._settings.risk.stop_trigger),
                    dedupe_key=keys.outcome(c.dedupe_key),
                    reply_to_key=keys.signal(c.dedupe_key),
                    strategy=c.strategy,
                )
            )
        self.store.db.execute(
            "UPDATE signals SET status = ?, resolved_ms = ?, exit_price = ?, r_multiple = ?, gross_r = ?, "
            "fee_r = ?, funding_r = ? WHERE id = ? AND status = 'open'",
            (status.value, time_ms, exit_price, r, sig.gross_r, sig.fee_r, sig.funding_r, sig.id),
        )
        opens = self._open.get((c.exchange, c.symbol), {})
        opens.pop(sig.id, None)
        if not opens:  # a symbol with nothing open is skipped by every price and expiry check
            self._open.pop((c.exchange, c.symbol), None)
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
        sigs = [
            o.signal
            for opens in self._open.values()
            for o in opens.values()
            if o.signal.candidate.direction is not Direction.NONE
        ]
        return sorted(sigs, key=lambda s: (s.candidate.time_ms, s.id))

    def stats(self, days: int | None, now_ms: int, *, per: str = "strategy") -> dict[str, Stats]:
        """Per strategy (``per="exchange"``: per exchange) and ``"all"``, in net R, over signals resolved in
        the last ``days`` days (None: all time)."""
        since = now_ms - days * DAY_MS if days else None
        return self._stats_between(since, None, per=per)

    def _stats_between(
        self, since: int | None, until: int | None, *, per: str = "strategy"
    ) -> dict[str, Stats]:
        column = {"strategy": "strategy", "exchange": "exchange"}[per]  # never user text in the SQL
        rows = self.store.db.execute(
            f"SELECT {column} AS name, r_multiple FROM signals WHERE r_multiple IS NOT NULL "
            "AND status != 'open' AND resolved_ms >= ? AND resolved_ms < ? ORDER BY resolved_ms, id",
            (since if since is not None else -(2**62), until if until is not None else 2**62),
        ).fetchall()
        return by_strategy((str(r["name"]), float(r["r_multiple"])) for r in rows)

    def signals_text(self, now_ms: int) -> str:
        """``/signals``."""
        last = {k: v[1] for k, v in self._last.items()}
        return render.open_signals(self.open_signals(), now_ms, last)

    def stats_text(self, days: int | None, now_ms: int, *, per: str = "strategy") -> str:
        """``/stats [days]`` (per exchange on request)."""
        return render.stats(self.stats(days, now_ms, per=per), days)

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
            dedupe_key=keys.summary(render.day(start)),
        )
