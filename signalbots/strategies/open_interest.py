"""Open interest flush: positions closed in a hurry while the price ran, the trade on the other side.

Per (exchange, symbol) the strategy keeps the open interest samples of the last ``window`` (one side, in
coins, so that a price move alone never looks like positions closing). When the open interest has fallen by
at least ``min_drop_pct`` from its highest sample in the window while the price moved at least
``min_move_pct`` from that sample's price, the side that was forced out is known from the direction:

* price down, open interest down — longs were flushed (liquidated or stopped out);
* price up, open interest down — shorts were squeezed.

``mode`` decides what is proposed (in the other strategies' words ``contrarian`` is *fade*, ``momentum``
*follow*): ``contrarian`` (default) trades the rebound once the forced sellers (buyers) are gone — LONG
after a long flush, SHORT after a short squeeze; ``momentum`` the other way; ``alert`` only says it
happened. Only symbols whose open interest is at least ``min_open_interest_usd``
count (a thin market's open interest halves on one trader). Entry is the price of the latest sample; the
stop by ``stop_style``: ``"extreme"`` (default) beyond the window's extreme price since the peak (the
flush's low for a LONG) by ``stop_range_k`` × that stretch's price range and then ``stop_buffer_pct``
percent, so at least ``stop_buffer_pct`` from entry; ``"fixed"`` ``stop_pct`` percent from entry. No "atr":
the strategy reads no candles. Once fired, a symbol fires again only after a whole window (the desk's
cooldown covers restarts). Pure: the samples are the events' own, time is their ``time_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from signalbots.charts.spec import ChartSpec, History, Levels
from signalbots.events import MarketEvent, OpenInterest, timeframe_ms
from signalbots.needs import FeedKind, Needs
from signalbots.packed import Rows
from signalbots.settings.durations import Cooldown, Duration
from signalbots.settings.sections import Section
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._stops import extreme_stop, pct_stop
from signalbots.strategies.base import dedupe_key, directional, finite_positive
from signalbots.strategies.spec import Alert, StrategySpec

if TYPE_CHECKING:
    from signalbots.settings.sections import RiskSettings

__all__ = ["SPEC", "OpenInterestSettings", "OpenInterestStrategy", "flush_chart"]

_Key = tuple[str, str]


class OpenInterestSettings(Section):
    """``[strategies.open_interest]``."""

    enabled: bool = True
    window: Duration = 1800.0  # the flush must happen within this long
    min_drop_pct: float = Field(default=5.0, gt=0, lt=100)  # open interest off its peak in the window
    min_move_pct: float = Field(default=2.0, gt=0)  # price since that peak, either way
    min_open_interest_usd: float = Field(default=10_000_000.0, ge=0)  # at the peak
    mode: Literal["contrarian", "momentum", "alert"] = "contrarian"
    stop_buffer_pct: float = Field(default=0.5, gt=0)  # beyond the window's extreme price
    cooldown: Cooldown = 7200.0
    expiry: Duration = 43200.0
    stop_style: Literal["extreme", "fixed"] = "extreme"  # no "atr": the strategy reads no candles
    stop_range_k: float = Field(default=0.0, ge=0)  # "extreme": k × the range beyond, then stop_buffer_pct
    stop_pct: float = Field(default=2.0, gt=0)  # "fixed"


@dataclass(frozen=True, slots=True)
class _Sample:
    time_ms: int
    base: float
    price: float


class OpenInterestStrategy:
    name = "open_interest"
    inputs = (FeedKind.OPEN_INTEREST,)  # the feeds its signals come from: none live, no signal possible

    def __init__(self, *, settings: OpenInterestSettings) -> None:
        self._settings = settings
        self._samples: dict[_Key, Rows] = {}  # time, base, price: ~30 a symbol in the window
        self._fired_ms: dict[_Key, int] = {}

    @property
    def settings(self) -> OpenInterestSettings:
        return self._settings

    def reconfigure(self, settings: OpenInterestSettings) -> None:
        self._settings = settings

    def on_event(self, event: MarketEvent) -> list[Candidate]:
        if not isinstance(event, OpenInterest):
            return []
        price = event.price
        if not finite_positive(event.base, event.usd, price):
            return []
        key = (event.exchange, event.symbol)
        rows = self._samples.get(key)
        if rows is None:
            rows = self._samples[key] = Rows(3)
        last = rows.last_time()
        if last is not None and event.time_ms <= last:
            return []  # the same figure polled again, or out of order: nothing new
        rows.append(event.time_ms, event.base, price)
        window_ms = round(self._settings.window * 1000)
        rows.drop_before(event.time_ms - window_ms)
        fired = self._fired_ms.get(key)
        if fired is not None and event.time_ms - fired < window_ms:
            return []
        candidate = self._flush(event, rows)
        if candidate is not None:
            self._fired_ms[key] = event.time_ms
            return [candidate]
        return []

    def _flush(self, event: OpenInterest, rows: Rows) -> Candidate | None:
        s = self._settings
        times, bases, prices = rows.columns()
        at = len(bases) - 1 - bases[::-1].index(max(bases))  # the latest at the highest level (times rise)
        peak = _Sample(int(times[at]), bases[at], prices[at])
        now = _Sample(int(times[-1]), bases[-1], prices[-1])
        drop_pct = (now.base - peak.base) / peak.base * 100.0
        move_pct = (now.price - peak.price) / peak.price * 100.0
        if -drop_pct < s.min_drop_pct or abs(move_pct) < s.min_move_pct:
            return None
        if peak.base * peak.price < s.min_open_interest_usd:
            return None
        since = prices[at:]  # the prices from the peak on, ending at now
        flushed = "long" if move_pct < 0 else "short"
        if s.mode == "alert":
            direction = Direction.NONE
        elif (s.mode == "contrarian") == (flushed == "long"):
            direction = Direction.LONG
        else:
            direction = Direction.SHORT
        stop = None
        if direction is not Direction.NONE and s.stop_style == "fixed":
            stop = pct_stop(now.price, direction, s.stop_pct)
        elif direction is not Direction.NONE:
            high, low = max(since), min(since)
            stop = pct_stop(extreme_stop(direction, high, low, s.stop_range_k), direction, s.stop_buffer_pct)
        facts = {
            "oi_change_pct": drop_pct,
            "price_change_pct": move_pct,
            "within_s": (now.time_ms - peak.time_ms) / 1000.0,
            "closed_usd": (peak.base - now.base) * now.price,
            "oi_peak_usd": peak.base * peak.price,
            "threshold_pct": -s.min_drop_pct,
        }
        return directional(
            strategy=self.name,
            kind="flush",
            exchange=event.exchange,
            symbol=event.symbol,
            direction=direction,
            entry=now.price,
            stop=stop,
            time_ms=event.time_ms,
            expiry_s=s.expiry,
            key=dedupe_key(self.name, event.exchange, event.symbol, event.time_ms),
            facts=facts,
            notes=(f"{flushed}s flushed: open interest fell while the price ran",),
            strength=-drop_pct / s.min_drop_pct,
        )


def flush_chart(c: Candidate, history: History) -> ChartSpec:
    """The shortest candles held up to the flush, with the levels and the numbers that fired it."""
    frames = sorted(history.timeframes(c.exchange, c.symbol), key=timeframe_ms)
    candles = history.candles(c.exchange, c.symbol, frames[0]) if frames else []
    f = c.facts
    side = f" · {c.direction.value.upper()}" if c.direction is not Direction.NONE else ""
    levels = None if c.stop is None else Levels(c.direction.value, c.entry, c.stop, tuple(c.targets))
    return ChartSpec(
        kind="market",
        title=f"open interest flush · {c.exchange} {c.symbol}{side}",
        lines=(
            f"open interest {f.get('oi_change_pct', 0):+.1f}% in {f.get('within_s', 0) / 60:.0f} min, "
            f"price {f.get('price_change_pct', 0):+.1f}%",
        ),
        candles=tuple(x for x in candles if x.time_ms <= c.time_ms)[-60:],
        event_ms=c.time_ms,
        levels=levels,
    )


def _needs(s: OpenInterestSettings) -> Needs:
    return Needs(feeds=frozenset({FeedKind.OPEN_INTEREST}))


def _cooldown(c: Candidate, s: OpenInterestSettings, risk: RiskSettings) -> tuple[str, float]:
    return f"open_interest:{c.kind}:{c.exchange}:{c.symbol}", s.cooldown


def _build(s: OpenInterestSettings) -> OpenInterestStrategy:
    return OpenInterestStrategy(settings=s)


SPEC = StrategySpec(
    name=OpenInterestStrategy.name,
    settings=OpenInterestSettings,
    factory=_build,
    inputs=frozenset(OpenInterestStrategy.inputs),
    needs=_needs,
    cooldown=_cooldown,
    # Research sweeps around the defaults (5 % and 2 %): how deep a flush and how far the price must go.
    grid={
        "min_drop_pct": (3.0, 5.0, 8.0),
        "min_move_pct": (1.0, 2.0, 3.0),
        "stop_style": ("extreme", "fixed"),
    },
    alerts={
        "flush": Alert(
            title="🌊 Open interest flush",
            layout=(
                ("oi_change_pct", "open interest {}"),
                ("price_change_pct", "price {}"),
                ("within_s", "within {}"),
                ("closed_usd", "{} of positions closed"),
                ("oi_peak_usd", "from {}"),
                ("threshold_pct", "threshold {}"),
            ),
            chart=flush_chart,
        ),
    },
)
