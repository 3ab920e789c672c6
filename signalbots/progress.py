"""A progress bar on stderr for long commands (``backtest``, ``research``): drawn on a terminal only —
a pipe or a log wants the result, not a hundred redraws."""

from __future__ import annotations

from typing import TextIO

_WIDTH = 30


class Progress:
    """``progress(fraction)`` of the current part; ``parts`` > 1 splits the bar (one part per data set)."""

    def __init__(self, err: TextIO, *, label: str, parts: int = 1) -> None:
        self._err = err
        self._on = err.isatty()
        self._label = label
        self._parts = max(1, parts)
        self._part = 0
        self._shown = -1

    def start_part(self, index: int) -> None:
        self._part = index

    def __call__(self, fraction: float) -> None:
        pct = int((self._part + fraction) / self._parts * 100)
        if not self._on or pct == self._shown:
            return
        self._shown = pct
        filled = pct * _WIDTH // 100
        self._err.write(f"\r{self._label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {pct:3d}%")
        self._err.flush()

    def done(self) -> None:
        if self._on and self._shown >= 0:
            self._err.write("\r" + " " * (len(self._label) + _WIDTH + 8) + "\r")
            self._err.flush()
