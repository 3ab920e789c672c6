"""Per-symbol windows of numbers packed in doubles: ``Floats`` (a symbol's settled funding rates) and ``Rows``
(open interest samples: time, base, price or USD).

Held per symbol at full market (2,230 perpetuals), a deque of float objects or of tuples costs a 760-byte
deque plus 24 bytes a float, 32 an int and 64 a tuple: an hour of open interest samples one a minute was
~19 MB; packed it is 8 bytes a number.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator


class Floats:
    """The last ``size`` numbers appended, oldest first, packed (a symbol's funding rates per period): 8 bytes
    a number instead of a float object's 24 and a deque's 760 per symbol."""

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

    def columns(self) -> list[array[float]]:
        """Each column's numbers, oldest first (copies: read at C speed, no object per row)."""
        return [self._data[i :: self.width] for i in range(self.width)]

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
