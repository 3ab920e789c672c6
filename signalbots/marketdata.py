"""Market data files for replays: discovery and validation (merged into one stream by ``signalbots.replay``).

Accepted files (anything else in a directory is ignored and named, with the reason):

* ``<exchange>_<BASE>-<QUOTE>-<SETTLE>_<timeframe>.csv`` — candles, header
  ``timestamp,open,high,low,close,volume`` (+ optional ``quote_volume``); timestamp = open time, UTC ms.
* ``…_<timeframe>-mark.csv`` — mark-price candles, ``timestamp,open,high,low,close``. They have no volume
  and are not traded prices, so they only price funding snapshots when no traded candle does.
* ``…_funding-<interval>.csv`` — ``timestamp,funding_rate`` at each settlement.
* ``*.jsonl`` / ``*.jsonl.gz`` — recordings (``signalbots.recording``).

A CSV with any bad row is rejected as a whole (every bad line listed); a gap is reported and left a gap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from signalbots.csv_rows import MAX_MS, MIN_MS, CandleColumns, csv_rows, fields
from signalbots.events import Candle, timeframe_ms

MAX_LISTED = 20  # problem lines listed per file; the rest are counted

_NAME_RE = re.compile(
    r"^(?P<exchange>[a-z][a-z0-9]*)_(?P<base>[A-Za-z0-9]+)-(?P<quote>[A-Za-z0-9]+)-(?P<settle>[A-Za-z0-9]+)"
    r"_(?P<what>[^_]+)\.csv$"
)
_WHAT_RE = re.compile(r"^(?:(?P<tf>\d+[smhdw])(?P<mark>-mark)?|funding-(?P<interval>\d+[mh]))$")
_NAME_HELP = (
    "expected <exchange>_<BASE>-<QUOTE>-<SETTLE>_<timeframe>.csv, …_<timeframe>-mark.csv, "
    "…_funding-<interval>.csv, *.jsonl or *.jsonl.gz"
)


class FileKind(StrEnum):
    CANDLES = "candles"
    MARK = "mark candles"
    FUNDING = "funding"
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class DataFile:
    path: Path
    kind: FileKind
    exchange: str = ""
    symbol: str = ""
    timeframe: str = ""  # candles: the timeframe; funding: the settlement interval


@dataclass(frozen=True, slots=True)
class DataProblem:
    path: Path
    line: int | None  # 1-based; None: the whole file
    message: str
    fatal: bool = True  # False: a note (e.g. the cut tail of a killed recorder), the data is still used

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class DataError(Exception):
    """Data files were rejected; ``problems`` lists each bad line by file and line number."""

    def __init__(self, problems: list[DataProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(slots=True)
class CandleSeries:
    file: DataFile
    candles: list[Candle]
    spans: list[tuple[int, int]]  # covered [start, end) in ms, between gaps


@dataclass(slots=True)
class FundingSeries:
    file: DataFile
    rows: list[tuple[int, float]]  # (settlement time ms, rate per interval)
    interval_hours: float


@dataclass(slots=True)
class MarketData:
    candles: list[CandleSeries] = field(default_factory=list)
    marks: list[CandleSeries] = field(default_factory=list)
    funding: list[FundingSeries] = field(default_factory=list)
    recordings: list[DataFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # ignored files, gaps: worth saying, not fatal
    problems: list[DataProblem] = field(default_factory=list)  # rejected files

    @property
    def empty(self) -> bool:
        return not (self.candles or self.funding or self.recordings)

    def input_bytes(self) -> int:
        files = [s.file for s in self.candles] + [s.file for s in self.funding] + self.recordings
        return sum(f.path.stat().st_size for f in files)


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def classify(path: Path) -> DataFile | str:
    """What a file is by its name, or the reason it is not a data file."""
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        return DataFile(path, FileKind.RECORDING)
    if not name.endswith(".csv"):
        return f"not a data file ({_NAME_HELP})"
    m = _NAME_RE.match(name)
    what = _WHAT_RE.match(m.group("what")) if m else None
    if m is None or what is None:
        return f"CSV name not understood ({_NAME_HELP})"
    symbol = f"{m.group('base')}/{m.group('quote')}:{m.group('settle')}"
    exchange = m.group("exchange")
    if what.group("interval"):
        return DataFile(path, FileKind.FUNDING, exchange, symbol, what.group("interval"))
    tf = what.group("tf")
    try:
        timeframe_ms(tf)
    except ValueError as err:
        return str(err)
    kind = FileKind.MARK if what.group("mark") else FileKind.CANDLES
    return DataFile(path, kind, exchange, symbol, tf)


def scan(path: Path) -> MarketData:
    """Find, classify and validate every data file at ``path`` (a file or a directory, not recursive).

    Raises FileNotFoundError when ``path`` does not exist. Rejected files land in ``problems``.
    """
    data = MarketData()
    if path.is_dir():
        paths = sorted(p for p in path.iterdir())
    elif path.exists():
        paths = [path]
    else:
        raise FileNotFoundError(f"{path}: no such file or directory")
    for p in paths:
        if p.is_dir():
            data.notes.append(f"ignored {p}: a directory (data files are read from {path} only)")
            continue
        found = classify(p)
        if isinstance(found, str):
            if path.is_dir():
                data.notes.append(f"ignored {p}: {found}")
            else:
                data.problems.append(DataProblem(p, None, found))
            continue
        if found.kind is FileKind.RECORDING:
            data.recordings.append(found)
            continue
        try:
            if found.kind is FileKind.FUNDING:
                data.funding.append(_load_funding(found, data.notes))
            else:
                series = _load_candles(found, data.notes)
                (data.marks if found.kind is FileKind.MARK else data.candles).append(series)
        except DataError as err:
            data.problems.extend(err.problems)
    for m in data.marks:
        data.notes.append(
            f"{m.file.path.name}: mark-price candles price funding snapshots only "
            "(no volume; outcomes resolve on traded prices)"
        )
    return data


# CSV validation -------------------------------------------------------------------------------------------
class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[DataProblem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(DataProblem(self.path, line, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_LISTED]
        if len(self.items) > MAX_LISTED:
            shown.append(DataProblem(self.path, None, f"… and {len(self.items) - MAX_LISTED} more bad lines"))
        shown.append(DataProblem(self.path, None, "file rejected"))
        raise DataError(shown)


def _rows(
    file: DataFile, required: tuple[str, ...], optional: tuple[str, ...], problems: _Problems
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: stripped text}) of each row that is not blank and has one field per column."""
    header: list[str] = []
    for line, cells in csv_rows(file.path, required, optional, problems.add):
        if line == 1:
            header = cells
        else:
            yield line, fields(header, cells)


def _timestamp(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"timestamp {text!r} is not an integer (UTC milliseconds)")
    ms = int(text)
    if ms < MIN_MS // 100:
        raise ValueError(f"timestamp {ms} looks like seconds; expected UTC milliseconds")
    if not MIN_MS <= ms < MAX_MS:
        raise ValueError(f"timestamp {ms} is not a plausible UTC millisecond time")
    return ms


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} is {text}")
    return value


def _check_order(
    ms: int, line: int, last: tuple[int, int] | None, step_ms: int | None, problems: _Problems
) -> bool:
    """Rows must be strictly increasing (and, for candles, at least one timeframe apart)."""
    if last is None:
        return True
    last_ms, last_line = last
    if ms == last_ms:
        problems.add(line, f"duplicate timestamp {ms} ({utc(ms)} UTC), also on line {last_line}")
    elif ms < last_ms:
        problems.add(
            line,
            f"timestamp {ms} ({utc(ms)} UTC) is earlier than line {last_line}'s "
            f"{last_ms}: rows must be in time order",
        )
    elif step_ms is not None and ms - last_ms < step_ms:
        problems.add(
            line,
            f"timestamp {ms} is only {(ms - last_ms) // 1000}s after line {last_line}'s; "
            f"candles are {step_ms // 1000}s apart",
        )
    else:
        return True
    return False


def _load_candles(file: DataFile, notes: list[str]) -> CandleSeries:
    problems = _Problems(file.path)
    mark = file.kind is FileKind.MARK
    prices = ("open", "high", "low", "close")
    required = ("timestamp", *prices) if mark else ("timestamp", *prices, "volume")
    optional = () if mark else ("quote_volume",)
    tf_ms = timeframe_ms(file.timeframe)
    candles: list[Candle] = []
    lines: list[int] = []
    last: tuple[int, int] | None = None
    header: list[str] = []
    fast = CandleColumns([])
    for line, cells in csv_rows(file.path, required, optional, problems.add):
        if line == 1:
            header, fast = cells, CandleColumns(cells)
            continue
        candle = fast.candle(file.exchange, file.symbol, file.timeframe, cells)
        if candle is not None and (last is None or candle.time_ms - last[0] >= tf_ms):
            candles.append(candle)  # a plain good row, in order: nothing to check or say (nearly all)
            lines.append(line)
            last = (candle.time_ms, line)
            continue
        row = fields(header, cells)
        try:
            ms = _timestamp(row["timestamp"])
            o, h, lo, c = (_number(k, row[k]) for k in prices)
            volume = 0.0 if mark else _number("volume", row["volume"])
            qv_text = row.get("quote_volume", "")
            quote_volume = _number("quote_volume", qv_text) if qv_text else None
        except ValueError as err:
            problems.add(line, str(err))
            continue
        bad = [f"{k} {v} is not positive" for k, v in zip(prices, (o, h, lo, c), strict=True) if v <= 0]
        if h < max(o, c, lo):
            bad.append(f"high {h} is below open/close/low")
        if lo > min(o, c):
            bad.append(f"low {lo} is above open/close")
        if volume < 0 or (quote_volume is not None and quote_volume < 0):
            bad.append("negative volume")
        if bad:
            problems.add(line, "; ".join(bad))
        if _check_order(ms, line, last, tf_ms, problems) or (last is not None and ms > last[0]):
            last = (ms, line)
        if bad:
            continue
        candles.append(
            Candle(file.exchange, file.symbol, ms, file.timeframe, o, h, lo, c, volume, quote_volume)
        )
        lines.append(line)
    if not candles and not problems.items:
        problems.add(None, "no rows")
    problems.raise_if_any()
    spans: list[tuple[int, int]] = []
    for i, candle in enumerate(candles):
        end = candle.time_ms + tf_ms
        if spans and candle.time_ms == spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
            continue
        if spans:
            missing = (candle.time_ms - spans[-1][1]) // tf_ms
            notes.append(
                f"{file.path}:{lines[i]}: gap of {missing} candle(s) from {utc(spans[-1][1])} to "
                f"{utc(candle.time_ms)} UTC (after line {lines[i - 1]}); skipped, not interpolated"
            )
        spans.append((candle.time_ms, end))
    return CandleSeries(file, candles, spans)


def _load_funding(file: DataFile, notes: list[str]) -> FundingSeries:
    problems = _Problems(file.path)
    interval_ms = timeframe_ms(file.timeframe)
    rows: list[tuple[int, float]] = []
    lines: list[int] = []
    last: tuple[int, int] | None = None
    for line, row in _rows(file, ("timestamp", "funding_rate"), (), problems):
        try:
            ms = _timestamp(row["timestamp"])
            rate = _number("funding_rate", row["funding_rate"])
        except ValueError as err:
            problems.add(line, str(err))
            continue
        if abs(rate) >= 1.0:
            problems.add(
                line, f"funding_rate {rate} is ≥ 100% per interval (expected a fraction: 0.0001 = 0.01%)"
            )
            continue
        # Exchanges move settlements to shorter intervals in stress, so only order is enforced here.
        if _check_order(ms, line, last, None, problems):
            last = (ms, line)
            rows.append((ms, rate))
            lines.append(line)
    if not rows and not problems.items:
        problems.add(None, "no rows")
    problems.raise_if_any()
    for i in range(1, len(rows)):
        missing = (rows[i][0] - rows[i - 1][0]) // interval_ms - 1
        if missing > 0:
            notes.append(
                f"{file.path}:{lines[i]}: gap of {missing} settlement(s) between "
                f"{utc(rows[i - 1][0])} and {utc(rows[i][0])} UTC; skipped, not interpolated"
            )
    return FundingSeries(file, rows, interval_ms / 3_600_000)
