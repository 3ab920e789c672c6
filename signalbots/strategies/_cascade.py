"""What a liquidation cascade is made of, and what it is measured against: the parts of ``liquidation`` that
do not depend on its settings model.

* ``Last``: a symbol's latest ticker, for the tiers and the entry.
* ``Cascade``: a cascade's prints summed — total, count, largest, per venue — so that a cascade summed
  across venues and one confirmed minutes later are told the same way as a plain window.
* ``FlowBaseline``: a market's trailing liquidation flow (mean notional per window over a lookback), kept in
  window-long buckets so that its memory is bounded (lookback ÷ window buckets per market).
* ``Window``: the prints of one market and side within the rolling window, with a running total.
* ``venue_notes``: each venue's share of a cross-venue cascade and how its stream is sampled.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from signalbots.events import Liquidation, Side
from signalbots.exchange.venues import VENUES, display_name
from signalbots.settings.durations import format_duration

__all__ = [
    "Cascade",
    "FlowBaseline",
    "Last",
    "Market",
    "Relative",
    "Window",
    "relative_threshold",
    "venue_notes",
]


@dataclass(frozen=True, slots=True)
class Last:
    """A symbol's latest ticker: its time, last price and 24h quote volume (None: not known)."""

    time_ms: int
    last: float | None
    volume_24h: float | None


# The market a window sums: (exchange, symbol), or ("", base asset) when summed across venues.
Market = tuple[str, str]


@dataclass(slots=True)
class Cascade:
    """The prints of one cascade, summed; ``newest``: each venue's newest print (its symbol and price)."""

    side: Side
    total: float = 0.0
    count: int = 0
    largest: float = 0.0
    high: float = 0.0  # the prints' highest and lowest prices (0.0 and inf before the first)
    low: float = math.inf
    by_venue: dict[str, float] = field(default_factory=dict)
    newest: dict[str, Liquidation] = field(default_factory=dict)

    def add(self, p: Liquidation) -> None:
        self.total += p.notional_usd
        self.count += 1
        self.largest = max(self.largest, p.notional_usd)
        self.high, self.low = max(self.high, p.price), min(self.low, p.price)
        self.by_venue[p.exchange] = self.by_venue.get(p.exchange, 0.0) + p.notional_usd
        old = self.newest.get(p.exchange)
        if old is None or p.time_ms >= old.time_ms:
            self.newest[p.exchange] = p

    @classmethod
    def of(cls, prints: list[Liquidation]) -> Cascade:
        cascade = cls(prints[0].side)
        for p in prints:
            cascade.add(p)
        return cascade

    def lead(self) -> Liquidation:
        """The newest print of the venue with the largest share (ties: the venue named first): the signal's
        exchange and symbol, where the tracker follows its price."""
        venue = max(sorted(self.by_venue), key=lambda v: self.by_venue[v])
        return self.newest[venue]


class FlowBaseline:
    """Liquidation notional per market in buckets of ``window_s`` over the last ``lookback_s``."""

    def __init__(self, *, window_s: float, lookback_s: float) -> None:
        self._window_ms = max(1, round(window_s * 1000))
        self._buckets = max(1, round(lookback_s * 1000 / self._window_ms))
        self._flows: dict[Market, deque[list[float]]] = {}  # [bucket index, notional], oldest first
        self._means: dict[Market, tuple[int, float]] = {}  # (bucket index, mean): the same until the next

    def add(self, market: Market, time_ms: int, notional: float) -> None:
        index = time_ms // self._window_ms
        buckets = self._flows.get(market)
        if buckets is None:
            buckets = self._flows[market] = deque()
        if buckets and buckets[-1][0] == index:
            buckets[-1][1] += notional
        elif not buckets or buckets[-1][0] < index:
            buckets.append([float(index), notional])
        else:  # a late print: its own bucket, if still kept
            self._means.pop(market, None)
            for bucket in buckets:
                if bucket[0] == index:
                    bucket[1] += notional
                    break
        while buckets and buckets[0][0] <= index - self._buckets - 1:
            buckets.popleft()

    def mean(self, market: Market, time_ms: int) -> float:
        """Mean notional per window over the lookback before the window ``time_ms`` falls in (that window,
        the cascade's own, excluded); a window without liquidations counts as zero."""
        index = time_ms // self._window_ms
        known = self._means.get(market)
        if known is not None and known[0] == index:
            return known[1]
        buckets = self._flows.get(market, ())
        mean = sum(n for i, n in buckets if index - self._buckets <= i < index) / self._buckets
        self._means[market] = (index, mean)
        return mean


class Relative(Protocol):
    """The part of ``LiquidationSettings`` a relative threshold reads."""

    @property
    def threshold(self) -> str: ...
    @property
    def window(self) -> float: ...
    @property
    def flow_multiple(self) -> float: ...
    @property
    def flow_lookback(self) -> float: ...
    @property
    def relative_floor_usd(self) -> float: ...
    @property
    def oi_pct(self) -> float: ...


def relative_threshold(
    s: Relative, tier: float, *, flow: float | None, open_interest: float | None
) -> tuple[float, dict[str, float], str]:
    """(threshold, its facts, its note): ``flow_multiple`` × the trailing ``flow`` per window, or ``oi_pct`` %
    of the ``open_interest``, never under ``relative_floor_usd``; the absolute ``tier`` while the figure is
    unknown (less than a lookback watched; no open interest for the market)."""
    floor = f"at least ${s.relative_floor_usd:,.0f}"
    if s.threshold == "flow":
        if flow is None:
            return tier, {}, f"threshold: the tier, until {format_duration(s.flow_lookback)} of flow is known"
        note = (
            f"threshold: {s.flow_multiple:g}× the mean {format_duration(s.window)} of liquidations over the "
            f"last {format_duration(s.flow_lookback)}, {floor}"
        )
        return max(s.flow_multiple * flow, s.relative_floor_usd), {"flow_mean_usd": flow}, note
    if s.threshold == "open_interest":
        if open_interest is None:
            return tier, {}, "threshold: the tier (open interest unknown)"
        note = f"threshold: {s.oi_pct:g}% of the open interest, {floor}"
        level = max(s.oi_pct / 100.0 * open_interest, s.relative_floor_usd)
        return level, {"open_interest_usd": open_interest}, note
    return tier, {}, ""


def venue_notes(cascade: Cascade) -> list[str]:
    """``Binance 62% ($3.1M; at most one liquidation per symbol per second: a lower bound)`` per venue,
    largest first, each with its stream's sampling where the venue's profile says it is sampled."""
    notes = []
    for venue in sorted(cascade.by_venue, key=lambda v: (-cascade.by_venue[v], v)):
        share = cascade.by_venue[venue] / cascade.total * 100.0 if cascade.total > 0 else 0.0
        profile = VENUES.get(venue)
        sampled = profile.liquidation_lower_bound if profile is not None else ""
        notes.append(
            f"{display_name(venue)} {share:.0f}%"
            + (f" ({sampled})" if sampled else " (no sampling noted for its stream)")
        )
    return notes


class Window:
    """The prints of one (exchange, symbol, side) in arrival order, with their newest time and a running
    total, so that a print costs O(1) instead of two passes over the window (profiled: the hot path at
    thousands of prints a second)."""

    __slots__ = ("in_order", "newest", "pops", "prints", "total")

    def __init__(self) -> None:
        self.prints: deque[Liquidation] = deque()
        self.newest = 0
        self.total = 0.0
        self.in_order = True  # arrival order is time order: expiring is popping from the left
        self.pops = 0

    def add(self, p: Liquidation) -> None:
        if self.prints and p.time_ms < self.newest:
            self.in_order = False
        self.newest = max(self.newest, p.time_ms) if self.prints else p.time_ms
        self.prints.append(p)
        self.total += p.notional_usd

    def drop_until(self, horizon: float) -> None:
        """Forget every print at or before ``horizon``."""
        prints = self.prints
        if self.in_order:
            while prints and prints[0].time_ms <= horizon:
                self.total -= prints.popleft().notional_usd
                self.pops += 1
            if self.pops >= 256:  # bound the running total's rounding drift: re-add now and then
                self.exact_total()
            return
        self.prints = prints = deque(x for x in prints if x.time_ms > horizon)
        self.in_order = all(a.time_ms <= b.time_ms for a, b in zip(prints, list(prints)[1:], strict=False))
        self.exact_total()

    def exact_total(self) -> float:
        self.pops = 0
        self.total = sum(x.notional_usd for x in self.prints)
        return self.total

    def clear(self) -> None:
        self.prints.clear()
        self.total = 0.0
        self.pops = 0
        self.in_order = True
