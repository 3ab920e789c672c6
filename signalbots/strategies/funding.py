"""Funding: extremes (fading the crowded side by default) and cross-exchange carry spreads.

Every ``FundingSnapshot`` is normalised to a rate per 8h (``rate × 8 / interval_hours``, so a 4h
interval counts twice and a 1h interval eight times) and an APR (``rate_8h × 3 × 365``). Rates are
fractions throughout (0.001 = 0.10%).

**Extreme.** |rate_8h| ≥ ``extreme_per_8h`` proposes, with ``direction = "fade"`` (the default), the
contrarian trade (crowded longs pay → SHORT, crowded shorts pay → LONG); with ``"follow"`` the crowd's own
side. Entry the last price (the ticker's when fresh, else the snapshot's mark); stop by ``stop_style``
(``strategies._stops``; "fixed" ``stop_pct`` by default; "atr" and "extreme" read ``stop_timeframe``
candles of symbols above ``spread_volume_floor_usd``). A latch per (exchange, symbol) then holds until
|rate_8h| falls below ``rearm_fraction`` × threshold, so a rate hovering near the threshold alerts once, not
every poll. An extreme of the opposite sign while latched is a new condition and fires. The latches are the
state that must survive a restart (``state()`` / ``restore()``).

**Threshold.** ``threshold = "absolute"`` compares |rate_8h| with ``extreme_per_8h``. ``"percentile"`` and
``"zscore"`` compare the rate with the symbol's own settled funding of the last ``history`` 8h periods
(``_funding_history``): in its top / bottom (100 − ``percentile``) %, or at |z| ≥ ``zscore``; either way at
least ``min_per_8h`` from zero and on the paying side's sign, and with the absolute threshold deciding until
``min_history`` periods are known. Under a normalised threshold the history is saved with the latches.

**Spread.** For the same base asset on two exchanges, an APR difference ≥ ``spread_apr`` with both legs'
last known 24h quote volume ≥ ``spread_volume_floor_usd`` is a carry alert (Direction NONE): long the
low-APR leg, short the high-APR one. Both legs' snapshots must be at most ``max_age`` apart in
event time. At most one candidate per pair of legs per hour; longer cooldowns are the desk's.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from signalbots.charts.spec import extreme_chart, spread_chart
from signalbots.events import Candle, FundingSnapshot, MarketEvent, Ticker, base_asset
from signalbots.needs import CandleSeries, FeedKind, Needs
from signalbots.settings.durations import Cooldown, Duration
from signalbots.settings.sections import Fraction, Section, Timeframe
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._carry import Leg as _Leg
from signalbots.strategies._carry import carry_alert
from signalbots.strategies._funding_history import FundingHistories
from signalbots.strategies._stops import StopStyle, Trade, candle_stop, trade_direction
from signalbots.strategies.base import dedupe_key, directional, finite_positive
from signalbots.strategies.spec import Alert, StrategySpec

if TYPE_CHECKING:
    from signalbots.settings.sections import RiskSettings


class FundingSettings(Section):
    """``[strategies.funding]`` (config/signalbots.toml documents every key)."""

    enabled: bool = True
    extreme_per_8h: float = Field(default=0.001, gt=0)  # 0.10% per 8h
    rearm_fraction: Fraction = 0.75
    # Normalised extremes (module docstring): against the symbol's own history of settled funding.
    threshold: Literal["absolute", "percentile", "zscore"] = "absolute"
    percentile: float = Field(default=99.0, gt=50, le=100)  # the top / bottom (100 - this) % of the history
    zscore: float = Field(default=3.0, gt=0)  # |z| over the history
    history: int = Field(default=90, ge=2)  # 8h periods kept per symbol (90 = 30 days)
    min_history: int = Field(default=30, ge=2)  # periods known before a normalised threshold decides
    min_per_8h: float = Field(default=0.0003, gt=0)  # a normalised extreme is at least this far from zero

    @model_validator(mode="after")
    def _history_holds_its_minimum(self) -> FundingSettings:
        if self.min_history > self.history:
            raise ValueError(f"min_history ({self.min_history}) exceeds history ({self.history}): never met")
        return self

    spread_apr: float = Field(default=0.30, gt=0)  # 30% APR difference
    spread_volume_floor_usd: float = Field(default=10_000_000.0, ge=0)
    spread_cooldown: Cooldown = 28800.0
    max_age: Duration = 600.0  # spread legs / ticker prices this much older than the event are ignored
    stop_pct: float = Field(default=2.0, gt=0)
    expiry: Duration = 86400.0
    direction: Trade = "fade"  # fade the crowded side (the one paying), or follow it
    stop_style: StopStyle = "fixed"
    stop_timeframe: Timeframe = "1h"  # "atr" / "extreme": candles of this timeframe
    stop_atr_period: int = Field(default=14, ge=2)
    stop_atr_multiple: float = Field(default=2.0, gt=0)
    stop_range_k: float = Field(default=0.5, ge=0)


_HOUR_MS = 3_600_000
_Key = tuple[str, str]


def rate_per_8h(rate: float, interval_hours: float) -> float:
    return rate * 8.0 / interval_hours


def apr(rate_8h: float) -> float:
    return rate_8h * 3.0 * 365.0


@dataclass(frozen=True, slots=True)
class _Quote:
    time_ms: int
    last: float | None
    volume_24h: float | None


class FundingStrategy:
    name = "funding"
    inputs = (FeedKind.FUNDING,)  # the feeds its signals come from: none live, no signal possible

    def __init__(self, *, settings: FundingSettings) -> None:
        self._settings = settings
        self._latched: dict[_Key, Direction] = {}
        self._legs: dict[_Key, _Leg] = {}
        self._by_base: dict[str, set[_Key]] = {}
        self._quotes: dict[_Key, _Quote] = {}
        self._spread_hours: dict[tuple[_Key, _Key], int] = {}
        self._history = FundingHistories(settings.history)
        self._candles: dict[_Key, deque[Candle]] = {}  # for an "atr" or "extreme" stop

    @property
    def settings(self) -> FundingSettings:
        return self._settings

    def reconfigure(self, settings: FundingSettings) -> None:
        old = self._settings
        if (settings.stop_timeframe, settings.stop_atr_period) != (old.stop_timeframe, old.stop_atr_period):
            self._candles.clear()
        self._settings = settings
        self._history.resize(settings.history)

    def state(self) -> dict[str, Any]:
        state = {"latched": [[ex, sym, d.value] for (ex, sym), d in sorted(self._latched.items())]}
        if self._settings.threshold != "absolute":  # saved only where it decides: 30 days per symbol
            state["history"] = self._history.dump()
        return state

    def restore(self, state: dict[str, Any]) -> None:
        self._history.load(state.get("history"))
        entries = state.get("latched", [])
        if not isinstance(entries, list):
            return
        for entry in entries:
            if (
                isinstance(entry, list)
                and len(entry) == 3
                and all(isinstance(x, str) for x in entry)
                and entry[2] in (Direction.LONG.value, Direction.SHORT.value)
            ):
                self._latched[(entry[0], entry[1])] = Direction(entry[2])

    def on_event(self, event: MarketEvent) -> list[Candidate]:
        if isinstance(event, Ticker):
            self._on_ticker(event)
            return []
        if isinstance(event, FundingSnapshot):
            return self._on_snapshot(event)
        if isinstance(event, Candle) and event.timeframe == self._settings.stop_timeframe:
            self._on_candle(event)
        return []

    def _on_candle(self, c: Candle) -> None:
        if self._settings.stop_style == "fixed" or not finite_positive(c.high, c.low, c.close):
            return
        candles = self._candles.setdefault(
            (c.exchange, c.symbol), deque(maxlen=self._settings.stop_atr_period + 1)
        )
        if not candles or c.time_ms > candles[-1].time_ms:
            candles.append(c)

    def _on_ticker(self, t: Ticker) -> None:
        last = t.last if finite_positive(t.last) else None
        vol = t.quote_volume_24h
        vol = vol if vol is not None and math.isfinite(vol) and vol >= 0 else None
        key = (t.exchange, t.symbol)
        old = self._quotes.get(key)
        if old is not None and t.time_ms < old.time_ms:
            return
        self._quotes[key] = _Quote(
            t.time_ms,
            last if last is not None else (old.last if old else None),
            vol if vol is not None else (old.volume_24h if old else None),
        )

    def _on_snapshot(self, snap: FundingSnapshot) -> list[Candidate]:
        if not (math.isfinite(snap.rate) and math.isfinite(snap.interval_hours) and snap.interval_hours > 0):
            return []
        key = (snap.exchange, snap.symbol)
        previous = self._legs.get(key)
        if previous is not None and snap.time_ms < previous.time_ms:
            return []  # an older snapshot arriving late says nothing new
        r8 = rate_per_8h(snap.rate, snap.interval_hours)
        mark = snap.mark_price if finite_positive(snap.mark_price) else None
        leg = _Leg(snap.exchange, snap.symbol, snap.time_ms, r8, apr(r8), mark, snap.interval_hours)
        if not (math.isfinite(leg.rate_8h) and math.isfinite(leg.apr)):
            return []
        self._legs[key] = leg
        self._by_base.setdefault(base_asset(snap.symbol), set()).add(key)
        self._history.observe(snap, r8)
        out: list[Candidate] = []
        extreme = self._extreme(snap, leg)
        if extreme is not None:
            out.append(extreme)
        out.extend(self._spreads(leg))
        return out

    def _price(self, key: _Key, time_ms: int, mark: float | None) -> tuple[float, float] | None:
        """(price, its age in seconds at ``time_ms``): the last traded price when fresh, else the mark."""
        quote = self._quotes.get(key)
        if (
            quote is not None
            and quote.last is not None
            and abs(time_ms - quote.time_ms) <= self._settings.max_age * 1000
        ):
            return quote.last, max(0.0, (time_ms - quote.time_ms) / 1000)
        return None if mark is None else (mark, 0.0)

    def _extreme(self, snap: FundingSnapshot, leg: _Leg) -> Candidate | None:
        s = self._settings
        key = (snap.exchange, snap.symbol)
        levels = self._history.levels(key, leg.rate_8h, s)
        threshold = levels.high if leg.rate_8h >= 0 else -levels.low
        magnitude = abs(leg.rate_8h)
        latched = self._latched.get(key)
        if magnitude < s.rearm_fraction * threshold:
            self._latched.pop(key, None)
            return None
        if magnitude < threshold:
            return None  # between re-arm and threshold: the latch (if any) holds
        crowd = Direction.LONG if leg.rate_8h > 0 else Direction.SHORT  # the side paying
        direction = trade_direction(crowd, s.direction)
        if latched is direction:
            return None
        priced = self._price(key, snap.time_ms, leg.mark)
        if priced is None:
            return None  # not latched: fires once a price is known
        entry, age = priced
        facts = {
            "price_age_s": age,
            "rate": snap.rate,
            "rate_8h": leg.rate_8h,
            "apr": leg.apr,
            "interval_h": snap.interval_hours,
            **levels.facts,
        }
        if snap.next_funding_ms is not None:
            facts["hours_to_settlement"] = max(0.0, (snap.next_funding_ms - snap.time_ms) / _HOUR_MS)
        if leg.mark is not None:
            facts["mark_price"] = leg.mark
        stop, atr_value = candle_stop(
            s.stop_style, direction, entry, self._candles.get(key, ()), pct=s.stop_pct,
            atr_period=s.stop_atr_period, atr_multiple=s.stop_atr_multiple, range_k=s.stop_range_k,
        )  # fmt: skip
        if atr_value is not None:
            facts["atr"] = atr_value
        candidate = directional(
            strategy=self.name,
            kind="extreme",
            exchange=snap.exchange,
            symbol=snap.symbol,
            direction=direction,
            entry=entry,
            stop=stop,
            time_ms=snap.time_ms,
            expiry_s=s.expiry,
            key=dedupe_key(self.name, snap.exchange, snap.symbol, snap.time_ms),
            facts=facts,
            notes=(
                "positive funding: longs pay shorts, so the crowded side is long"
                if crowd is Direction.LONG
                else "negative funding: shorts pay longs, so the crowded side is short",
                *((levels.note,) if levels.note else ()),
                *(("following the crowded side, against the usual fade",) if s.direction == "follow" else ()),
            ),
            strength=magnitude / threshold,
        )
        if candidate is not None:
            self._latched[key] = direction
        return candidate

    def _spreads(self, leg: _Leg) -> list[Candidate]:
        s = self._settings
        key = (leg.exchange, leg.symbol)
        max_age_ms = s.max_age * 1000
        out: list[Candidate] = []
        for other_key in sorted(self._by_base.get(base_asset(leg.symbol), ())):
            other = self._legs[other_key]
            if other.exchange == leg.exchange or abs(leg.time_ms - other.time_ms) > max_age_ms:
                continue
            diff = abs(leg.apr - other.apr)
            if diff < s.spread_apr:
                continue
            volumes = [self._volume(k) for k in (key, other_key)]
            if not all(v is not None and v >= s.spread_volume_floor_usd for v in volumes):
                continue
            pair = (min(key, other_key), max(key, other_key))
            hour = leg.time_ms // _HOUR_MS
            if self._spread_hours.get(pair) == hour:
                continue
            low, high = (leg, other) if leg.apr < other.apr else (other, leg)
            candidate = self._spread(leg.time_ms, hour, low, high, diff)
            if candidate is not None:
                self._spread_hours[pair] = hour
                out.append(candidate)
        return out

    def _volume(self, key: _Key) -> float | None:
        quote = self._quotes.get(key)
        return quote.volume_24h if quote is not None else None

    def _spread(self, time_ms: int, hour: int, low: _Leg, high: _Leg, diff: float) -> Candidate | None:
        priced = self._price((high.exchange, high.symbol), time_ms, high.mark)
        volumes = (self._volume((low.exchange, low.symbol)), self._volume((high.exchange, high.symbol)))
        entry = priced[0] if priced is not None else 0.0
        s = self._settings
        hour_ms = hour * _HOUR_MS
        return carry_alert(
            self.name, time_ms, low, high, diff, hour_ms, volumes, entry, s.expiry, s.spread_apr
        )


def _needs(s: FundingSettings) -> Needs:
    # Tickers: the entry price and the spread legs' 24h volume floor; candles only for a stop that reads them.
    if s.stop_style == "fixed":
        return Needs(feeds=frozenset({FeedKind.FUNDING, FeedKind.TICKERS}))
    return Needs(
        feeds=frozenset({FeedKind.FUNDING, FeedKind.TICKERS, FeedKind.CANDLES}),
        candles=(CandleSeries(s.stop_timeframe, s.spread_volume_floor_usd, s.stop_atr_period + 1),),
    )


def _cooldown(c: Candidate, s: FundingSettings, risk: RiskSettings) -> tuple[str, float]:
    if c.kind == "spread":
        return f"funding:spread:{c.exchange}:{c.symbol}", s.spread_cooldown
    # Backstop to the strategy's hysteresis, which a restart without its saved state would lose.
    return f"funding:{c.kind}:{c.exchange}:{c.symbol}:{c.direction.value}", risk.extreme_cooldown


def _build(s: FundingSettings) -> FundingStrategy:
    return FundingStrategy(settings=s)


SPEC = StrategySpec(
    name=FundingStrategy.name,
    settings=FundingSettings,
    factory=_build,
    inputs=frozenset(FundingStrategy.inputs),
    needs=_needs,
    cooldown=_cooldown,
    # threshold: the absolute extreme against the symbol's own z-score (its defaults; docs/signals.md)
    grid={
        "extreme_per_8h": (0.0005, 0.001, 0.002),
        "stop_pct": (1.0, 2.0, 3.0),
        "direction": ("fade", "follow"),
        "threshold": ("absolute", "zscore"),
    },
    alerts={
        "extreme": Alert(
            title="💸 Funding extreme",
            layout=(
                ("rate_8h", "funding {} per 8h"),
                ("apr", "APR {}"),
                ("rate", "{} per interval"),
                ("interval_h", "every {}"),
                ("hours_to_settlement", "settles in {}"),
                ("threshold_8h", "threshold {}"),
                ("funding_z", "z {}"),
                ("percentile", "beyond {}% of"),
                ("history_count", "{} 8h periods"),
                ("mark_price", "mark {}"),
            ),
            chart=extreme_chart,
        ),
        "spread": Alert(
            title="↔️ Funding spread",
            layout=(
                ("apr_spread", "APR gap {}"),
                ("apr_long_leg", "long leg APR {}"),
                ("apr_short_leg", "short leg APR {}"),
                ("rate_8h_long_leg", "long leg {} per 8h"),
                ("rate_8h_short_leg", "short leg {} per 8h"),
                ("volume_long_leg_usd", "long leg 24h {}"),
                ("volume_short_leg_usd", "short leg 24h {}"),
            ),
            chart=spread_chart,
        ),
    },
)
