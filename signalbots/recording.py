"""Recordings: ``MarketEvent``s as JSON lines, gzip-compressed, one file per UTC hour.

One JSON object per line, ``{"type": "candle" | "funding" | "liquidation" | "ticker", ...the event's
fields}``. The writer makes the gzip stream decodable up to the last flush (``Z_SYNC_FLUSH`` at least once a
second while data is pending), so killing the process loses at most the last second; the reader accepts
such a stream and reports the cut instead of failing.

Why no ``fsync``: the case to survive is the process being killed (systemd stop timeout, OOM, SIGKILL);
the kernel keeps the written pages. Surviving a power cut would cost a disk flush every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import json
import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import structlog

from signalbots.clock import Clock
from signalbots.events import (
    Candle,
    FundingSnapshot,
    Liquidation,
    MarketEvent,
    OpenInterest,
    Side,
    Ticker,
)

log = structlog.get_logger(__name__)

FLUSH_INTERVAL = 1.0  # seconds: the most a kill may lose
_CHUNK = 64 * 1024

_TYPES: dict[type[Any], str] = {
    Liquidation: "liquidation",
    FundingSnapshot: "funding",
    Candle: "candle",
    Ticker: "ticker",
    OpenInterest: "open_interest",
}
# Field converters reject what the dataclass would accept but is wrong (a string price, a float time, NaN).
_Conv = Callable[[Any], Any]


class RecordingError(ValueError):
    """A line in a recording is not a valid event; ``line`` is 1-based."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def _opt_int(v: Any) -> int | None:
    return None if v is None else _int(v)


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"expected a finite number, got {v!r}")
    return f


def _opt_num(v: Any) -> float | None:
    return None if v is None else _num(v)


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"expected a non-empty string, got {v!r}")
    return v


def _side(v: Any) -> Side:
    try:
        return Side(v)
    except ValueError:
        raise ValueError(f"expected 'long' or 'short', got {v!r}") from None


_COMMON: dict[str, _Conv] = {"exchange": _str, "symbol": _str, "time_ms": _int}
_FIELDS: dict[str, tuple[type[Any], dict[str, _Conv], dict[str, _Conv]]] = {
    # type → (class, required fields, optional fields)
    "liquidation": (
        Liquidation,
        _COMMON | {"side": _side, "price": _num, "quantity": _num, "notional_usd": _num},
        {"received": _num},
    ),
    "funding": (
        FundingSnapshot,
        _COMMON | {"rate": _num, "interval_hours": _num},
        {"next_funding_ms": _opt_int, "mark_price": _opt_num, "received": _num},
    ),
    "candle": (
        Candle,
        _COMMON | {"timeframe": _str, "open": _num, "high": _num, "low": _num, "close": _num, "volume": _num},
        {"quote_volume": _opt_num, "received": _num},
    ),
    "ticker": (
        Ticker,
        _COMMON | {"last": _num},
        {"quote_volume_24h": _opt_num, "received": _num},
    ),
    "open_interest": (OpenInterest, _COMMON | {"base": _num, "usd": _num}, {"received": _num}),
}


def event_to_dict(event: MarketEvent) -> dict[str, Any]:
    """The JSON object for one event: ``type`` first, then every field of the dataclass."""
    data: dict[str, Any] = {"type": _TYPES[type(event)]}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        data[f.name] = str(value) if isinstance(value, Side) else value
    return data


def event_from_dict(data: Any) -> MarketEvent:
    """The inverse of ``event_to_dict``. Raises ValueError naming the bad or missing field."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    kind = data.get("type")
    if kind not in _FIELDS:
        raise ValueError(f"unknown type {kind!r} (expected one of {', '.join(_FIELDS)})")
    cls, required, optional = _FIELDS[kind]
    unknown = sorted(set(data) - set(required) - set(optional) - {"type"})
    if unknown:
        raise ValueError(f"{kind}: unknown field(s) {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, conv in required.items():
        if name not in data:
            raise ValueError(f"{kind}: missing field {name!r}")
        try:
            kwargs[name] = conv(data[name])
        except ValueError as err:
            raise ValueError(f"{kind}.{name}: {err}") from None
    for name, conv in optional.items():
        if name not in data:
            if name != "received":  # the others are nullable: absent means unknown
                kwargs[name] = None
            continue
        try:
            kwargs[name] = conv(data[name])
        except ValueError as err:
            raise ValueError(f"{kind}.{name}: {err}") from None
    event: MarketEvent = cls(**kwargs)
    return event


def encode_event(event: MarketEvent) -> str:
    """One line (no newline). NaN or infinity raise ValueError: they are not JSON and no feed sends them."""
    return json.dumps(event_to_dict(event), separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_event(line: str | bytes) -> MarketEvent:
    """Parse one line. Raises ValueError (including ``json.JSONDecodeError``) with the reason."""
    return event_from_dict(json.loads(line, parse_constant=_reject_constant))


def hour_file_name(time_s: float, part: int = 0) -> str:
    """``events-20211116-10.jsonl.gz``; a restart within the same hour writes ``…-10.2.jsonl.gz`` and so on.

    A killed writer leaves a gzip member without its end marker; appending a new member after it would
    make everything after the cut undecodable, hence a new file rather than an append.
    """
    stamp = datetime.fromtimestamp(time_s, UTC).strftime("%Y%m%d-%H")
    return f"events-{stamp}.jsonl.gz" if part == 0 else f"events-{stamp}.{part + 1}.jsonl.gz"


class RecordingWriter:
    """Writes events to ``directory``, one gzip file per UTC hour of ``clock.time()``.

    ``async with RecordingWriter(directory=d, clock=c) as w: w.write(event)`` — a background task flushes
    pending lines every ``FLUSH_INTERVAL`` seconds; ``write`` also flushes when the last flush is that old,
    so a busy stream does not depend on the task being scheduled. The plain ``with`` form has no task
    (for scripts and tests that write a batch and close).
    """

    def __init__(self, *, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self._clock = clock
        self._raw: IO[bytes] | None = None
        self._gz: gzip.GzipFile | None = None
        self._hour: int | None = None
        self._dirty = False
        self._last_flush = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self.path: Path | None = None  # the file being written
        self.files: list[Path] = []  # every file opened, in order
        self.written = 0

    # context managers ---------------------------------------------------------------------------------
    def __enter__(self) -> RecordingWriter:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> RecordingWriter:
        self.__enter__()
        self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        flusher, self._flusher = self._flusher, None
        try:
            if flusher is not None:
                flusher.cancel()
                try:
                    await flusher
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # we are being cancelled too: close, then let it through
        finally:
            self.close()

    async def _flush_periodically(self) -> None:
        while True:
            await self._clock.sleep(FLUSH_INTERVAL)
            if self._dirty:
                self.flush()

    # writing ------------------------------------------------------------------------------------------
    def write(self, event: MarketEvent) -> None:
        line = (encode_event(event) + "\n").encode("utf-8")
        now = self._clock.time()
        hour = int(now // 3600)
        if hour != self._hour:
            self._open(hour, now)
        assert self._gz is not None
        self._gz.write(line)
        self._dirty = True
        self.written += 1
        if self._clock.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Make everything written so far decodable from the file (gzip sync flush + OS write)."""
        if self._gz is not None:
            self._gz.flush(zlib.Z_SYNC_FLUSH)  # also flushes the underlying file
        self._dirty = False
        self._last_flush = self._clock.monotonic()

    def close(self) -> None:
        """Finish the current file properly (gzip trailer); the writer can be written to again."""
        if self._gz is not None:
            self._gz.close()
            self._gz = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        self._hour = None
        self._dirty = False

    def _open(self, hour: int, now: float) -> None:
        self.close()
        part = 0
        while (path := self.directory / hour_file_name(now, part)).exists():
            part += 1
        # "xb": never clobber, even if another recorder races for the same name.
        self._raw = open(path, "xb")  # noqa: SIM115 - closed in close()
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._hour = hour
        self.path = path
        self.files.append(path)
        self._last_flush = self._clock.monotonic()
        log.info("recording_file_opened", path=str(path))


# reading ------------------------------------------------------------------------------------------------
def _gzip_chunks(raw: IO[bytes], path: Path, report: Callable[[str], None]) -> Iterator[bytes]:
    """Decompressed data of every gzip member; a stream cut short ends quietly after a report."""
    decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    started = False
    while True:
        chunk = raw.read(_CHUNK)
        if not chunk:
            break
        while chunk:
            try:
                data = decomp.decompress(chunk)
            except zlib.error as err:
                raise RecordingError(path, 0, f"corrupt gzip data: {err}") from None
            started = True
            if data:
                yield data
            if decomp.eof:
                chunk = decomp.unused_data
                decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                started = False
            else:
                chunk = b""
    tail = decomp.flush()
    if tail:
        yield tail
    if started and not decomp.eof:
        report(
            "the gzip stream ends without its trailer (the writer was killed?); "
            "read everything up to its last flush"
        )


def _plain_chunks(raw: IO[bytes]) -> Iterator[bytes]:
    while chunk := raw.read(_CHUNK):
        yield chunk


def read_recording(
    path: Path,
    *,
    on_problem: Callable[[str], None] | None = None,
    position: Callable[[int], None] | None = None,
) -> Iterator[MarketEvent]:
    """Events of a ``.jsonl`` or ``.jsonl.gz`` recording, in file order.

    A truncated last line (a killed writer) is dropped and reported through ``on_problem`` (default: a
    log warning), as is a gzip stream without its trailer. A bad line anywhere else raises
    ``RecordingError`` with its line number: that is damage, not a kill. ``position`` is told the number
    of file bytes consumed so far (for a progress bar).
    """

    def report(message: str) -> None:
        if on_problem is not None:
            on_problem(message)
        else:
            log.warning("recording_problem", path=str(path), problem=message)

    with open(path, "rb") as raw:
        gz = path.name.endswith(".gz")
        chunks = _gzip_chunks(raw, path, report) if gz else _plain_chunks(raw)
        pending = b""
        line_no = 0
        for chunk in chunks:
            if position is not None:
                position(raw.tell())
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                line_no += 1
                if not line.strip():
                    continue
                try:
                    yield decode_event(line)
                except ValueError as err:  # includes JSONDecodeError and UnicodeDecodeError
                    raise RecordingError(path, line_no, str(err)) from None
        if pending.strip():
            line_no += 1
            try:
                yield decode_event(pending)
            except ValueError:
                report(
                    f"line {line_no}: incomplete last line dropped ({len(pending)} bytes; "
                    "the writer was stopped mid-line)"
                )


def write_recording(path: Path, events: Iterable[MarketEvent]) -> int:
    """Write ``events`` to one ``.jsonl`` or ``.jsonl.gz`` file (tests, tools); returns the count."""
    n = 0
    with open(path, "wb") as raw, contextlib.ExitStack() as stack:
        out: IO[bytes] | gzip.GzipFile = raw
        if path.name.endswith(".gz"):
            out = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
        for event in events:
            out.write((encode_event(event) + "\n").encode("utf-8"))
            n += 1
    return n
