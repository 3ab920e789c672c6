"""``signalbots backtest``: replay recorded market data through the live strategies, desk and tracker.

Nothing here re-implements a rule: the events go to the same ``Strategy.on_event``, ``Desk.consider`` (with
a real Store in a temporary directory, so cooldowns, caps and gates behave as live) and ``Tracker``; time is
the events' time on a ``ManualClock``. What this module adds is the order of things (the report itself is
``signalbots.report``).

At each moment the replay first shows the tracker the prices that just became known, then lets the
strategies see the events: a signal is never resolved by the candle that created it. Events before
``--from`` warm the strategies up (baselines, windows) without proposing anything; after ``--to`` no new
signal is made but the prices keep resolving the open ones until they end or the data does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from signalbots.clock import ManualClock
from signalbots.events import Candle, FundingSnapshot, MarketEvent, OpenInterest, Ticker
from signalbots.logs import configure_logging
from signalbots.marketdata import DataProblem, scan
from signalbots.metrics import Metrics
from signalbots.notifier import Message
from signalbots.progress import Progress
from signalbots.replay import Replayed, moments, replay_events
from signalbots.report import build_report, report_text
from signalbots.settings import Settings, load_settings
from signalbots.signals.desk import Desk, signal_from_row
from signalbots.signals.market_move import MarketMoves
from signalbots.signals.model import Candidate, Signal
from signalbots.signals.tracker import Tracker
from signalbots.store import Store
from signalbots.strategies.base import Strategy
from signalbots.strategies.registry import names as strategy_names
from signalbots.strategies.registry import spec_for

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65  # a data file was rejected (sysexits.h)
EX_NOINPUT = 66  # no such path, or no usable data in it
EX_CANTCREAT = 73  # the --plot file cannot be written

STRATEGIES = tuple(strategy_names())  # the registry's, in its order


# command line ---------------------------------------------------------------------------------------------
def parse_time(text: str) -> int:
    """``2021-11-16``, ``2021-11-16T10:05``, ``2021-11-16 10:05:00+00:00`` (naive = UTC) or epoch ms → ms."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (use 2021-11-16, 2021-11-16T10:05, or UTC milliseconds)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``backtest`` subcommand's options (``--config`` may also come after the subcommand)."""
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        metavar="PATH",
        help="a data file, or a directory of candle/funding CSVs and .jsonl(.gz) recordings (required)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGIES,
        default=None,
        metavar="NAME",
        help=f"replay only this strategy ({', '.join(STRATEGIES)}); repeatable; default: the enabled ones",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=parse_time,
        default=None,
        metavar="T",
        help="first signal time (UTC date/time or ms); earlier data only warms up "
        "(default: from the start of the data)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=parse_time,
        default=None,
        metavar="T",
        help="no new signals from this time on (UTC date/time or ms); open ones still resolve "
        "(default: until the end of the data)",
    )
    parser.add_argument(
        "--json", dest="as_json", action="store_true", help="print one JSON document instead of tables"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="also draw the equity curve in R per strategy, signals marked, statistics beside it, to this "
        "PNG file (default: no plot)",
    )
    parser.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="TOML settings file whose strategy, desk and risk settings the replay uses (default: as "
        "for run: $SIGNALBOTS_CONFIG, config/signalbots.toml, /etc/signalbots/signalbots.toml)",
    )


def main(args: argparse.Namespace) -> int:
    """Entry from the CLI: load settings (ConfigError propagates: exit 78) and run."""
    settings = load_settings(getattr(args, "config", None))
    # The report says what each signal did; per-signal log lines would only bury it. Warnings still show.
    configure_logging(fmt=settings.log.format, level="warning", stream=sys.stderr)
    return run_backtest(
        data=args.data,
        strategies=args.strategy,
        start_ms=args.start,
        end_ms=args.end,
        settings=settings,
        out=sys.stdout,
        err=sys.stderr,
        as_json=args.as_json,
        plot=args.plot,
    )


# the replay -----------------------------------------------------------------------------------------------
class _Collector:
    """The notifier of a replay: keeps the messages the daemon would have sent, once per dedupe key."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._keys: set[str] = set()

    def submit(self, message: Message) -> bool:
        if message.dedupe_key in self._keys:
            return False
        self._keys.add(message.dedupe_key)
        self.messages.append(message)
        return True


def _build(names: Sequence[str], settings: Settings) -> list[Strategy]:
    specs = [spec_for(n) for n in names]
    return [spec.build(settings) for spec in specs if spec is not None]


class _Replay:
    """The live parts, wired as the daemon wires them, on a clock that follows the events."""

    def __init__(
        self, *, names: list[str], settings: Settings, store: Store, start_ms: int | None, end_ms: int | None
    ) -> None:
        self.clock = ManualClock(start=0.0)  # moved to each event's time before it is handled
        self.notifier = _Collector()
        metrics = Metrics()
        self.proposers = [s.on_event for s in _build(names, settings)]
        self.tracker = Tracker(
            store=store, settings=settings, clock=self.clock, metrics=metrics, notifier=self.notifier
        )
        self.desk = Desk(
            store=store,
            settings=settings,
            clock=self.clock,
            metrics=metrics,
            notifier=self.notifier,
            on_signal=self.tracker.follow,
        )
        self.moves = MarketMoves(desk=self.desk, clock=self.clock)
        self.store = store
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.events = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def run(self, events: Iterable[Replayed]) -> None:
        self.run_moments(moments(events))

    def run_moments(self, grouped: Iterable[Sequence[Replayed]]) -> None:
        for batch in grouped:
            if not self._moment(batch):
                return

    def _moment(self, batch: Sequence[Replayed]) -> bool:
        """Everything that became known at one instant. False: nothing left to do. Written for speed:
        ``research`` runs it for every candle of every setting."""
        now = batch[0].at_ms
        clock = self.clock
        clock.advance(max(0.0, now / 1000 - clock.time()))
        self.first_ms = now if self.first_ms is None else self.first_ms
        self.last_ms = now
        self.events += len(batch)
        tracker, desk = self.tracker, self.desk
        on_candle, observe = tracker.on_candle, desk.observe_price
        start_ms, proposers = self.start_ms, self.proposers
        proposing = self.end_ms is None or now < self.end_ms
        # a close is the last trade *before* the close time: it belongs to the hour that ends there
        hour_at = now - 1
        resolved: list[Signal] = []
        found: list[Candidate] = []  # the whole moment's, ranked together (a market-wide move)
        # One pass: the desk reads its prices only in consider, at the end, and strategies read nothing
        # of the tracker's or the desk's, so seeing a price and proposing need not wait for each other.
        for r in batch:
            ev = r.event
            if r.track:
                if isinstance(ev, Candle):
                    done = on_candle(ev)
                    observe(ev.exchange, ev.symbol, hour_at, ev.close)
                else:
                    done = self._price(ev)
                    if isinstance(ev, Ticker):
                        observe(ev.exchange, ev.symbol, ev.time_ms, ev.last)
                if done:
                    resolved.extend(done)
            elif isinstance(ev, FundingSnapshot):
                resolved.extend(tracker.on_funding(ev))
            elif isinstance(ev, OpenInterest):
                desk.observe_open_interest(ev)
            if proposing:
                for on_event in proposers:
                    made = on_event(ev)
                    if made:
                        found += made if start_ms is None else [c for c in made if c.time_ms >= start_ms]
        resolved.extend(tracker.expire(now))
        if resolved:
            desk.note_outcomes(resolved)
        if not proposing and not self._open():
            return False
        if found:
            self.moves.consider(found)
        return True

    def _price(self, ev: MarketEvent) -> list[Signal]:
        if isinstance(ev, Candle):
            return self.tracker.on_candle(ev)
        if isinstance(ev, Ticker):
            return self.tracker.on_price(ev.exchange, ev.symbol, ev.time_ms, ev.last, ev.last, last=ev.last)
        return []

    def _open(self) -> int:
        return int(self.store.db.execute("SELECT COUNT(*) FROM signals WHERE status = 'open'").fetchone()[0])

    def signals(self) -> list[Signal]:
        rows = self.store.db.execute("SELECT * FROM signals ORDER BY created_ms, id").fetchall()
        return [signal_from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """What one replay made: every signal with its outcome, the events read and the span they covered."""

    signals: list[Signal]
    events: int
    first_ms: int | None
    last_ms: int | None


def _scratch() -> str | None:
    """Where a replay's Store lives: memory-backed when the system has it (/dev/shm), since nothing in it
    outlives the replay and ``research`` writes one per setting (5 % of a replay on a disk, measured);
    else the usual temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def replay_signals(events: Iterable[Replayed], *, names: list[str], settings: Settings) -> ReplayRun:
    """The replay behind ``backtest`` without its report, over events already read (``replay_events``)."""
    return replay_moments(moments(events), names=names, settings=settings)


def replay_moments(
    grouped: Iterable[Sequence[Replayed]], *, names: list[str], settings: Settings
) -> ReplayRun:
    """``replay_signals`` over events already grouped by ``moments``: ``research`` reads and groups a data
    set once and replays it once per setting."""
    with tempfile.TemporaryDirectory(prefix="signalbots-replay-", dir=_scratch()) as tmp:
        store = Store(path=Path(tmp) / "replay.sqlite")
        store.open()
        try:
            replay = _Replay(names=names, settings=settings, store=store, start_ms=None, end_ms=None)
            replay.run_moments(grouped)
            return ReplayRun(replay.signals(), replay.events, replay.first_ms, replay.last_ms)
        finally:
            store.close()


def run_backtest(
    *,
    data: Path,
    strategies: list[str] | None,
    start_ms: int | None,
    end_ms: int | None,
    settings: Settings,
    out: TextIO,
    err: TextIO,
    as_json: bool,
    plot: Path | None = None,
) -> int:
    """Replay ``data``; print the signals and statistics to ``out``, notes and problems to ``err``.

    Exit codes: 0 done; 64 bad arguments; 65 a data file was rejected (nothing replayed) or a recording
    was damaged mid-way (the report covers what was read); 66 no such path or no usable data (nor a
    recording damaged from its start: no report then).
    """
    names = list(dict.fromkeys(strategies)) if strategies else settings.enabled_strategies()
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        print(
            f"backtest: unknown strategy {', '.join(unknown)} (known: {', '.join(STRATEGIES)})"
            if unknown
            else "backtest: no strategy enabled; name one with --strategy",
            file=err,
        )
        return EX_USAGE
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        print("backtest: --to must be later than --from", file=err)
        return EX_USAGE
    try:
        market = scan(data)
    except FileNotFoundError as e:
        print(f"backtest: {e}", file=err)
        return EX_NOINPUT
    for note in market.notes:
        print(f"note: {note}", file=err)
    if market.problems:
        for problem in market.problems:
            print(f"error: {problem}", file=err)
        print(
            f"backtest: {len({p.path for p in market.problems})} data file(s) rejected; nothing replayed",
            file=err,
        )
        return EX_DATAERR
    if market.empty:
        print(f"backtest: no usable data at {data}", file=err)
        return EX_NOINPUT

    damaged: list[DataProblem] = []

    def streaming_problem(problem: DataProblem) -> None:
        print(f"{'error' if problem.fatal else 'note'}: {problem}", file=err)
        if problem.fatal:
            damaged.append(problem)

    progress = Progress(err, label="replaying")
    with tempfile.TemporaryDirectory(prefix="signalbots-backtest-", dir=_scratch()) as tmp:
        store = Store(path=Path(tmp) / "backtest.sqlite")
        store.open()
        try:
            replay = _Replay(names=names, settings=settings, store=store, start_ms=start_ms, end_ms=end_ms)
            replay.run(replay_events(market, on_problem=streaming_problem, progress=progress))
            signals = replay.signals()
        finally:
            progress.done()
            store.close()
    if damaged and replay.events == 0:
        # Every recording was damaged from its first line: an all-zero report would pass for a quiet market.
        print(f"backtest: no usable data at {data}: nothing could be read before the damage", file=err)
        return EX_NOINPUT
    report = build_report(
        signals,
        names,
        events=replay.events,
        first_ms=replay.first_ms,
        last_ms=replay.last_ms,
        messages=len(replay.notifier.messages),
    )
    if as_json:
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(report_text(report))
    out.flush()
    if plot is not None:
        from signalbots.charts.equity import draw_equity

        try:
            plot.write_bytes(draw_equity(report))
        except OSError as e:
            print(f"backtest: cannot write the plot: {e}", file=err)
            return EX_CANTCREAT
        print(f"plot: {plot}", file=err)
    return EX_DATAERR if damaged else EX_OK
