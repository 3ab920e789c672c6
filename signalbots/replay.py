"""The merged stream of a replay: every event of scanned market data in the order it would have been known.

Events are ordered by the moment they become known: a candle at its close, a funding settlement at its
timestamp; at the same moment candles come first, so a price is seen before a signal that uses it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import count, repeat

from signalbots.events import Candle, FundingSnapshot, MarketEvent, Ticker, timeframe_ms
from signalbots.marketdata import CandleSeries, DataFile, DataProblem, FundingSeries, MarketData
from signalbots.recording import RecordingError, read_recording

_LAST = 2**62  # rank of a settlement: after every candle that closes at the same moment


class _Shadows:
    """Where finer candles exist the tracker follows them, not a coarser candle over the same span (whose
    high and low may predate a signal, or the moment target 1 moved its stop). A candle is shadowed when a
    finer one of its symbol closed inside its span; finer candles come first (by time, then rank)."""

    def __init__(self) -> None:
        self._closes: dict[tuple[str, str], dict[int, int]] = {}  # symbol → timeframe → latest close
        self._tf_ms: dict[str, int] = {}  # parsed once: a million candles share a few timeframes

    def track(self, c: Candle) -> bool:
        tf = self._tf_ms.get(c.timeframe)
        if tf is None:
            tf = self._tf_ms[c.timeframe] = timeframe_ms(c.timeframe)
        close = c.time_ms + tf  # c.close_time_ms
        seen = self._closes.get((c.exchange, c.symbol))
        if seen is None:
            self._closes[(c.exchange, c.symbol)] = {tf: close}
            return True
        if len(seen) == 1 and tf in seen:  # the usual: one timeframe per symbol, nothing finer to shadow it
            if close > seen[tf]:
                seen[tf] = close
            return True
        shadowed = False
        for t, latest in seen.items():  # a loop, not any(): nearly always one timeframe per symbol
            if t < tf and latest > c.time_ms:
                shadowed = True
                break
        seen[tf] = max(seen.get(tf, 0), close)
        return not shadowed


@dataclass(frozen=True, slots=True)
class Replayed:
    """One event as replayed: ``at_ms`` is when it became known; ``track`` says the tracker should see it."""

    at_ms: int
    event: MarketEvent
    track: bool


class _Prices:
    """Closed candle closes per (exchange, symbol), to price a funding settlement."""

    def __init__(self, data: MarketData) -> None:
        self._series: dict[tuple[str, str], list[tuple[bool, int, list[int], list[float]]]] = {}
        for is_mark, group in ((False, data.candles), (True, data.marks)):
            for s in group:
                tf = timeframe_ms(s.file.timeframe)
                closes = [c.time_ms + tf for c in s.candles]
                self._series.setdefault((s.file.exchange, s.file.symbol), []).append(
                    (is_mark, tf, closes, [c.close for c in s.candles])
                )

    def at(self, exchange: str, symbol: str, ms: int) -> float | None:
        """The close of the latest candle closed at or before ``ms`` and not older than its own length;
        traded prices before mark prices, then the finer timeframe."""
        best: tuple[int, bool, int, float] | None = None
        for is_mark, tf, closes, prices in self._series.get((exchange, symbol), []):
            i = bisect.bisect_right(closes, ms) - 1
            if i < 0 or ms - closes[i] >= tf:
                continue
            rank = (-closes[i], is_mark, tf, prices[i])
            if best is None or rank < best:
                best = rank
        return None if best is None else best[3]


_Item = tuple[tuple[int, int, int, int], Replayed]  # ((known at ms, rank, source index, sequence), event)


def _candle_items(index: int, series: CandleSeries) -> Iterator[_Item]:
    # zip and map, not a generator: the merge then pulls each of a million candles without running Python
    rank = timeframe_ms(series.file.timeframe)  # at one instant the finer candle first (see _Shadows)
    tf_name = series.file.timeframe
    closes = [c.time_ms + rank if c.timeframe == tf_name else c.close_time_ms for c in series.candles]
    keys = zip(closes, repeat(rank), repeat(index), count())
    return zip(keys, map(Replayed, closes, series.candles, repeat(True)), strict=True)


def _funding_items(index: int, series: FundingSeries, prices: _Prices) -> Iterator[_Item]:
    f = series.file
    for n, (ms, rate) in enumerate(series.rows):
        snap = FundingSnapshot(
            f.exchange, f.symbol, ms, rate, series.interval_hours, ms, prices.at(f.exchange, f.symbol, ms)
        )
        yield (ms, _LAST, index, n), Replayed(ms, snap, False)


def _recording_items(
    index: int, file: DataFile, report: Callable[[DataProblem], None], position: Callable[[int], None]
) -> Iterator[_Item]:
    """File order is what the live daemon saw; the key is the running latest event time so that the
    stream stays sorted for the merge without reordering a single event."""
    latest = 0
    n = 0
    try:
        for event in read_recording(
            file.path,
            on_problem=lambda msg: report(DataProblem(file.path, None, msg, fatal=False)),
            position=position,
        ):
            at = event.close_time_ms if isinstance(event, Candle) else event.time_ms
            latest = max(latest, at)
            yield (latest, 0, index, n), Replayed(latest, event, isinstance(event, Candle | Ticker))
            n += 1
    except RecordingError as err:
        report(
            DataProblem(file.path, err.line or None, f"{err.reason}; the rest of this recording is skipped")
        )


def _first_key(file: DataFile) -> int:
    """The time of a recording's first event (cheap: one chunk); 0 when unreadable, so that it opens first
    and its problem is reported at once."""
    try:
        first = next(read_recording(file.path, on_problem=lambda _: None), None)
    except (RecordingError, OSError):
        return 0
    if first is None:
        return 0
    return first.close_time_ms if isinstance(first, Candle) else first.time_ms


class _Done:
    """Input bytes consumed, for the progress bar: CSV rows count as their share of the file's size."""

    def __init__(self, total: int, progress: Callable[[float], None] | None) -> None:
        self._total = max(1, total)
        self._progress = progress
        self._done = 0.0
        self._calls = 0

    def add(self, amount: float) -> None:
        self._done += amount
        self._calls += 1
        if self._progress is not None and self._calls % 256 == 0:
            self._progress(min(1.0, self._done / self._total))

    def position(self) -> Callable[[int], None]:
        last = [0]

        def at(pos: int) -> None:
            self.add(pos - last[0])
            last[0] = pos

        return at


_ROWS_PER_REPORT = 64  # rows between two progress reports (a report per row cost 5 %)
_Source = tuple[int, Callable[[], Iterator[_Item]]]  # (first event time, opens the stream)


def replay_events(
    data: MarketData,
    *,
    on_problem: Callable[[DataProblem], None],
    progress: Callable[[float], None] | None = None,
) -> Iterator[Replayed]:
    """Every event of ``data`` in the order it would have been known.

    Problems found while streaming a recording (a cut tail, damage) go to ``on_problem``; ``progress`` is
    told the fraction of input bytes done.
    """
    done = _Done(data.input_bytes(), progress)
    prices = _Prices(data)
    # The CSVs are in memory already: one merge of them all, which the recordings then join.
    tables: list[Iterator[_Item]] = []
    row_bytes: list[float] = []  # per source index: the bytes a row stands for
    first: list[int] = []
    for c in data.candles:
        tables.append(_candle_items(len(tables), c))
        row_bytes.append(c.file.path.stat().st_size / len(c.candles))
        first.append(c.candles[0].close_time_ms)
    for f in data.funding:
        tables.append(_funding_items(len(tables), f, prices))
        row_bytes.append(f.file.path.stat().st_size / len(f.rows))
        first.append(f.rows[0][0])
    in_memory: Iterator[_Item] = heapq.merge(*tables)
    merged = in_memory
    if data.recordings:
        sources: list[_Source] = [(min(first), lambda: in_memory)] if tables else []
        for n, rec in enumerate(data.recordings, start=len(tables)):
            sources.append((_first_key(rec), partial(_recording_items, n, rec, on_problem, done.position())))
        merged = _merge(sources)
    shadows = _Shadows()
    pending, rows = 0.0, 0
    for key, item in merged:
        if progress is not None and key[2] < len(row_bytes):
            pending += row_bytes[key[2]]
            rows += 1
            if rows == _ROWS_PER_REPORT:
                done.add(pending)
                pending, rows = 0.0, 0
        if item.track and isinstance(item.event, Candle) and not shadows.track(item.event):
            item = Replayed(item.at_ms, item.event, False)
        yield item
    if progress is not None:
        progress(1.0)


def _merge(sources: list[_Source]) -> Iterator[_Item]:
    """A k-way merge that opens a source only when the merged time reaches its first event: a year of
    hourly recordings is 8,760 files, and only the few that overlap in time are open at once.

    Keys are (time, rank, source index, sequence): unique, so the order is total and the same every run.
    """
    order = sorted(range(len(sources)), key=lambda i: (sources[i][0], i))
    heap: list[tuple[tuple[int, int, int, int], Replayed, Iterator[_Item]]] = []
    pending = 0

    def push(stream: Iterator[_Item]) -> None:
        nxt = next(stream, None)
        if nxt is not None:
            heapq.heappush(heap, (nxt[0], nxt[1], stream))

    while heap or pending < len(order):
        # every key of a source is ≥ its first event's time, so nothing unopened can come before the top
        while pending < len(order) and (not heap or sources[order[pending]][0] <= heap[0][0][0]):
            push(sources[order[pending]][1]())
            pending += 1
        if not heap:
            continue
        key, item, stream = heapq.heappop(heap)
        yield key, item
        push(stream)


def moments(events: Iterable[Replayed]) -> Iterator[list[Replayed]]:
    """``events`` grouped by the instant they became known (``research`` groups once for every setting)."""
    batch: list[Replayed] = []
    for r in events:
        if batch and r.at_ms != batch[0].at_ms:
            yield batch
            batch = []
        batch.append(r)
    if batch:
        yield batch
