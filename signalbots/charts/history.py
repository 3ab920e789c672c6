"""The recent market data the daemon holds in memory, for charts: compact, bounded per symbol and overall.

Fed by a tap on the event bus (``EventBus.tap``): every event is here before any strategy sees it, so a
signal's chart always holds the event that fired it. Per (exchange, symbol) it keeps the last ``candles``
closed candles of each timeframe seen, the liquidation prints of the last ``liquidation_horizon`` seconds
(at most ``prints``), and one funding snapshot per ``funding_step`` seconds (at most ``funding_points``).
At most ``max_symbols`` symbols are held; the one updated least recently is forgotten first, so a
market-wide feed cannot grow it without bound.

Rows are stored as packed doubles (``array('d')``), not as event objects: a candle costs 56 bytes instead
of ~330, so the full market (~2,000 perpetuals) fits in a few tens of MB (see docs/performance.md). Reading
rebuilds events.
"""

from __future__ import annotations

import contextlib
import math
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, Side, Ticker, base_asset

_Key = tuple[str, str]
_NAN = math.nan


def _opt(v: float | None) -> float:
    return _NAN if v is None else v


def _back(v: float) -> float | None:
    return None if math.isnan(v) else v


class _Ring:
    """Fixed-width rows of doubles, oldest first, at most ``cap`` rows."""

    __slots__ = ("cap", "data", "width")

    def __init__(self, width: int, cap: int) -> None:
        self.width = width
        self.cap = cap
        self.data = array("d")

    def __len__(self) -> int:
        return len(self.data) // self.width

    def last(self, col: int) -> float:
        return self.data[len(self.data) - self.width + col]

    def first(self, col: int) -> float:
        return self.data[col]

    def append(self, row: tuple[float, ...]) -> None:
        self.data.extend(array("d", row))  # converted first: a bad value leaves the ring untouched
        if len(self) > self.cap:
            del self.data[: self.width]

    def replace_last(self, row: tuple[float, ...]) -> None:
        self.data[len(self.data) - self.width :] = array("d", row)

    def drop_first(self) -> None:
        del self.data[: self.width]

    def rows(self) -> list[tuple[float, ...]]:
        w, d = self.width, self.data
        return [tuple(d[i : i + w]) for i in range(0, len(d), w)]


@dataclass(slots=True)
class _Symbol:
    candles: dict[str, _Ring] = field(default_factory=dict)
    prints: _Ring | None = None  # time, side (+1 long, -1 short), price, quantity, notional
    funding: _Ring | None = None  # time, rate, interval_hours, next_funding_ms, mark
    last: Ticker | None = None


class MarketHistory:
    def __init__(
        self,
        *,
        candles: int = 120,
        prints: int = 200,
        liquidation_horizon: float = 3600.0,
        funding_points: int = 96,
        funding_step: float = 900.0,
        max_symbols: int = 3000,
    ) -> None:
        self._candles = candles
        self._prints = prints
        self._horizon_ms = int(liquidation_horizon * 1000)
        self._funding_points = funding_points
        self._funding_step_ms = int(funding_step * 1000)
        self._max_symbols = max_symbols
        self._symbols: OrderedDict[_Key, _Symbol] = OrderedDict()

    def __len__(self) -> int:
        return len(self._symbols)

    def _entry(self, exchange: str, symbol: str) -> _Symbol:
        key = (exchange, symbol)
        entry = self._symbols.get(key)
        if entry is None:
            entry = self._symbols[key] = _Symbol()
            while len(self._symbols) > self._max_symbols:
                self._symbols.popitem(last=False)
        else:
            self._symbols.move_to_end(key)
        return entry

    def on_event(self, event: MarketEvent) -> None:
        # Called inside EventBus.publish: an event it cannot hold must cost its place in a chart, never
        # the feed that published it.
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            self._hold(event)

    def _hold(self, event: MarketEvent) -> None:
        entry = self._entry(event.exchange, event.symbol)
        if isinstance(event, Candle):
            self._on_candle(entry, event)
        elif isinstance(event, Liquidation):
            prints = entry.prints
            if prints is None:
                prints = entry.prints = _Ring(5, self._prints)
            side = 1.0 if event.side is Side.LONG else -1.0
            prints.append((event.time_ms, side, event.price, event.quantity, event.notional_usd))
            horizon = event.time_ms - self._horizon_ms
            while len(prints) and prints.first(0) < horizon:
                prints.drop_first()
        elif isinstance(event, FundingSnapshot):
            self._on_funding(entry, event)
        elif isinstance(event, Ticker):
            entry.last = event

    def _on_candle(self, entry: _Symbol, c: Candle) -> None:
        ring = entry.candles.get(c.timeframe)
        if ring is None:
            ring = entry.candles[c.timeframe] = _Ring(7, self._candles)
        row = (c.time_ms, c.open, c.high, c.low, c.close, c.volume, _opt(c.quote_volume))
        if len(ring) and c.time_ms <= ring.last(0):
            if c.time_ms == ring.last(0):
                ring.replace_last(row)  # the same candle again (backfill after a reconnect)
            return
        ring.append(row)

    def _on_funding(self, entry: _Symbol, f: FundingSnapshot) -> None:
        ring = entry.funding
        if ring is None:
            ring = entry.funding = _Ring(5, self._funding_points)
        if len(ring) and f.time_ms < ring.last(0):
            return
        row = (f.time_ms, f.rate, f.interval_hours, _opt(f.next_funding_ms), _opt(f.mark_price))
        n = len(ring)
        if n >= 2 and f.time_ms - ring.data[(n - 2) * ring.width] < self._funding_step_ms:
            ring.replace_last(row)  # one point per step: the newest snapshot within it
        else:
            ring.append(row)

    # reading ---------------------------------------------------------------------------------------
    def candles(self, exchange: str, symbol: str, timeframe: str) -> list[Candle]:
        entry = self._symbols.get((exchange, symbol))
        ring = entry.candles.get(timeframe) if entry is not None else None
        if ring is None:
            return []
        return [
            Candle(exchange, symbol, int(t), timeframe, o, h, lo, c, v, _back(q))
            for t, o, h, lo, c, v, q in ring.rows()
        ]

    def timeframes(self, exchange: str, symbol: str) -> list[str]:
        entry = self._symbols.get((exchange, symbol))
        return list(entry.candles) if entry is not None else []

    def prints(self, exchange: str, symbol: str) -> list[Liquidation]:
        entry = self._symbols.get((exchange, symbol))
        if entry is None or entry.prints is None:
            return []
        return [
            Liquidation(exchange, symbol, int(t), Side.LONG if side > 0 else Side.SHORT, price, qty, notional)
            for t, side, price, qty, notional in entry.prints.rows()
        ]

    def funding(self, exchange: str, symbol: str) -> list[FundingSnapshot]:
        entry = self._symbols.get((exchange, symbol))
        if entry is None or entry.funding is None:
            return []
        out = []
        for t, rate, interval, nxt, mark in entry.funding.rows():
            next_ms = _back(nxt)
            out.append(
                FundingSnapshot(
                    exchange,
                    symbol,
                    int(t),
                    rate,
                    interval,
                    None if next_ms is None else int(next_ms),
                    _back(mark),
                )
            )
        return out

    def last(self, exchange: str, symbol: str) -> Ticker | None:
        entry = self._symbols.get((exchange, symbol))
        return entry.last if entry is not None else None

    def funding_legs(self, base: str, exchanges: set[str]) -> list[tuple[str, str, list[FundingSnapshot]]]:
        """Every held funding series of ``base`` on the given exchanges: (exchange, symbol, points)."""
        return [
            (ex, sym, self.funding(ex, sym))
            for (ex, sym), entry in list(self._symbols.items())
            if ex in exchanges and entry.funding is not None and base_asset(sym).upper() == base.upper()
        ]

    def find(self, query: str) -> list[tuple[str, str]]:
        """Held (exchange, symbol) pairs matching what a person types: ``BTC``, ``btcusdt``,
        ``BTC/USDT:USDT``; linear USDT perpetuals first."""
        q = query.strip().upper()
        flat = q.replace("/", "").replace(":USDT", "").replace("-", "")
        found = []
        for ex, sym in self._symbols:
            s = sym.upper()
            if q in (s, base_asset(s)) or flat == s.split(":")[0].replace("/", ""):
                found.append((ex, sym))
        found.sort(key=lambda k: (not k[1].upper().endswith("/USDT:USDT"), k[0], k[1]))
        return found
