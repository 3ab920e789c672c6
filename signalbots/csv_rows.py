"""The rows of a data file's CSV, and the quick way to read a plain candle row (``signalbots.marketdata``
validates them and says what is wrong with a bad one)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from signalbots.events import Candle

MIN_MS, MAX_MS = 10**12, 10**14  # 2001 … 5138: anything else is not UTC milliseconds
_INF = math.inf


def fields(header: list[str], cells: list[str]) -> dict[str, str]:
    return dict(zip(header, (c.strip() for c in cells), strict=True))


def csv_rows(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problem: Callable[[int | None, str], None],
) -> Iterator[tuple[int, list[str]]]:
    """(1, the stripped header) when it is good, then (line, raw fields) of each row that is not blank and
    has one field per column."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            problem(None, "empty file")
            return
        except (csv.Error, UnicodeDecodeError) as err:
            problem(1, f"unreadable: {err}")
            return
        missing = [c for c in required if c not in header]
        extra = [c for c in header if c not in required + optional]
        if missing or extra or len(set(header)) != len(header):
            what = (
                ", ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"unknown column(s) {', '.join(extra)}"] if extra else [])
                )
                or "repeated column"
            )
            problem(
                1,
                f"bad header {','.join(header)!r}: {what} (expected {','.join(required)}"
                + (f"[,{','.join(optional)}]" if optional else "")
                + ")",
            )
            return
        yield 1, header
        width = len(header)
        try:
            for row in reader:
                line = reader.line_num
                if len(row) != width or not row[0] or row[0][0].isspace():  # the usual row needs no more
                    if not row or all(not c.strip() for c in row):
                        continue
                    if len(row) != width:
                        problem(line, f"expected {width} fields, found {len(row)}")
                        continue
                yield line, row
        except (csv.Error, UnicodeDecodeError) as err:
            problem(reader.line_num, f"unreadable: {err}")


class CandleColumns:
    """Reads a plain good candle row without building a dict: reading a data set is serial, before a
    sweep's workers start, and a million rows took 10 s the general way. Anything unusual (spaces, a bad
    or blank value) returns None, and the row takes the general way, which says what is wrong with it."""

    def __init__(self, header: list[str]) -> None:
        at = {name: i for i, name in enumerate(header)}
        self._at = (at.get("timestamp"), at.get("open"), at.get("high"), at.get("low"), at.get("close"))
        self._volume = at.get("volume")
        self._quote = at.get("quote_volume")

    def candle(self, exchange: str, symbol: str, timeframe: str, cells: list[str]) -> Candle | None:
        t, o, h, lo, c = self._at
        if t is None or o is None or h is None or lo is None or c is None:
            return None
        text = cells[t]
        if not (text.isascii() and text.isdigit()):
            return None
        ms = int(text)
        try:
            op, hi, low, cl = float(cells[o]), float(cells[h]), float(cells[lo]), float(cells[c])
            volume = 0.0 if self._volume is None else float(cells[self._volume])
            quote_text = "" if self._quote is None else cells[self._quote]
            quote = float(quote_text) if quote_text else None
        except ValueError:
            return None
        # every price positive and finite, the high the highest, the low the lowest (NaN fails each test)
        good = 0.0 < low <= op <= hi < _INF and low <= cl <= hi and 0.0 <= volume < _INF
        if not good or not MIN_MS <= ms < MAX_MS or (quote is not None and not 0.0 <= quote < _INF):
            return None
        return Candle(exchange, symbol, ms, timeframe, op, hi, low, cl, volume, quote)
