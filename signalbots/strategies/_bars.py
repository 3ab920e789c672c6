"""``Bars``: a symbol's last closed candles as a stop reads them (open time, high, low, close), packed.

Three strategies keep the last ``atr_period + 1`` candles of every symbol for their stops: held as ``Candle``
events in deques that was ~300 bytes a candle plus a 760-byte deque per symbol and strategy, about 15 MB at
full market (2,230 perpetuals, docs/performance.md); packed doubles cost 32 bytes a candle.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol, overload

_WIDTH = 4  # open time (ms, exact in a double), high, low, close


class Span(Protocol):
    """What a stop reads of a candle."""

    @property
    def high(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def close(self) -> float: ...


class Stamped(Span, Protocol):
    @property
    def time_ms(self) -> int: ...


class Bar(NamedTuple):
    time_ms: int
    high: float
    low: float
    close: float


class Bars(Sequence[Bar]):
    """The last ``size`` candles appended, oldest first."""

    __slots__ = ("_cap", "_data", "size")

    def __init__(self, size: int, candles: Iterable[Stamped] = ()) -> None:
        self.size = size
        self._cap = size * _WIDTH
        self._data = array("d")
        for candle in candles:
            self.append(candle)

    def append(self, candle: Stamped) -> None:
        data = self._data
        data.extend((candle.time_ms, candle.high, candle.low, candle.close))
        if len(data) > self._cap:
            del data[:_WIDTH]

    def clear(self) -> None:
        del self._data[:]

    def __len__(self) -> int:
        return len(self._data) // _WIDTH

    @overload
    def __getitem__(self, index: int) -> Bar: ...

    @overload
    def __getitem__(self, index: slice) -> list[Bar]: ...

    def __getitem__(self, index: int | slice) -> Bar | list[Bar]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError("bar index out of range")
        at = (index % n) * _WIDTH
        d = self._data
        return Bar(int(d[at]), d[at + 1], d[at + 2], d[at + 3])

    def __iter__(self) -> Iterator[Bar]:
        d = self._data
        for at in range(0, len(d), _WIDTH):
            yield Bar(int(d[at]), d[at + 1], d[at + 2], d[at + 3])


class Floats:
    """The last ``size`` numbers appended, oldest first, packed (a baseline of quote volumes, a history of
    funding rates): 8 bytes a number instead of a float object's 24 and a deque's 760 per symbol."""

    __slots__ = ("_data", "size")

    def __init__(self, size: int, values: Iterable[float] = ()) -> None:
        self.size = size
        self._data = array("d")
        self.extend(values)

    def append(self, value: float) -> None:
        data = self._data
        data.append(value)
        if len(data) > self.size:
            del data[0]

    def extend(self, values: Iterable[float]) -> None:
        for value in values:
            self.append(value)

    def clear(self) -> None:
        del self._data[:]

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[float]:
        return iter(self._data)


class Rows:
    """Rows of ``width`` numbers, oldest first, packed; the first is a time in ms (exact in a double). A
    window of open interest samples: 8 bytes a number instead of an object with its own int and floats."""

    __slots__ = ("_data", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self._data = array("d")

    def append(self, time_ms: int, *values: float) -> None:
        if len(values) != self.width - 1:
            raise ValueError(f"a row has {self.width} numbers")
        self._data.append(time_ms)
        self._data.extend(values)

    def drop_before(self, time_ms: int) -> None:
        """Forget the rows older than ``time_ms``."""
        d, w = self._data, self.width
        at = 0
        while at < len(d) and d[at] < time_ms:
            at += w
        if at:
            del d[:at]

    def last_time(self) -> int | None:
        return int(self._data[-self.width]) if self._data else None

    def __len__(self) -> int:
        return len(self._data) // self.width

    def __iter__(self) -> Iterator[tuple[float, ...]]:
        d, w = self._data, self.width
        for at in range(0, len(d), w):
            yield (int(d[at]), *d[at + 1 : at + w])

    def __reversed__(self) -> Iterator[tuple[float, ...]]:
        d, w = self._data, self.width
        for at in range(len(d) - w, -1, -w):
            yield (int(d[at]), *d[at + 1 : at + w])
