"""Liquidation cascades: many forced closes on one side of one market within a short window.

Per (exchange, symbol, liquidated side) the strategy keeps the prints of the last ``window`` seconds
(event time). When their notional reaches the symbol's tier threshold with at least ``min_prints``
prints, it fires and clears that window, so the same prints never fire twice. Tiers: a base asset in
``majors`` → ``major_threshold_usd``; else a last known 24h quote volume ≥ ``liquid_volume_usd`` →
``liquid_threshold_usd``; else ``other_threshold_usd`` (a symbol without a ticker yet counts as other).

Direction by ``mode`` (kept for existing files; in the other strategies' words ``contrarian`` is *fade*,
``momentum`` *follow*): ``contrarian`` — longs flushed out → LONG (and shorts squeezed → SHORT);
``momentum`` — the opposite; ``alert`` — Direction NONE. Entry: the price at the moment of the
signal — the newest print's price, or a ticker's last price when it came after that print (its age is a
fact, ``price_age_s``). Stop by ``stop_style`` (``strategies._stops``): ``"atr"`` (the default)
``atr_multiple`` × ATR(``atr_period``) of the symbol's ``atr_timeframe`` candles **with the cascade itself
as the newest candle** (its prints' high and low against the last close: the calm candles before it alone
gave stops a tenth of the cascade's own range); ``"extreme"`` beyond the window's extreme print price by
``stop_range_k`` × the window's range; ``"fixed"`` — and whenever too few candles are known — ``stop_pct``.
Cooldown is the desk's job.

Relative thresholds (``threshold``), venues summed (``cross_venue``, named by the largest) and exhaustion
(``confirm``): ``_cascade`` and ``_exhaustion``; docs/signals.md says why.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from signalbots.charts.spec import cascade_chart
from signalbots.events import Candle, Liquidation, MarketEvent, OpenInterest, Side, Ticker, base_asset
from signalbots.exchange.venues import VENUES
from signalbots.needs import CandleSeries, FeedKind, Needs
from signalbots.settings.durations import Cooldown, Duration, format_duration
from signalbots.settings.sections import Fraction, Section, Timeframe
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._cascade import Cascade, FlowBaseline, relative_threshold, venue_notes
from signalbots.strategies._cascade import Last as _Last
from signalbots.strategies._cascade import Window as _Window
from signalbots.strategies._exhaustion import Pending, settle
from signalbots.strategies._stops import StopStyle, atr, place_stop
from signalbots.strategies.base import dedupe_key, directional, finite_positive
from signalbots.strategies.spec import Alert, StrategySpec

if TYPE_CHECKING:
    from signalbots.settings.sections import RiskSettings


class LiquidationSettings(Section):
    """``[strategies.liquidation]`` (config/signalbots.toml documents every key)."""

    enabled: bool = True
    window: Duration = 300.0
    min_prints: int = Field(default=2, ge=1)
    majors: list[str] = Field(default=["BTC", "ETH"])
    major_threshold_usd: float = Field(default=5_000_000.0, gt=0)
    liquid_volume_usd: float = Field(default=500_000_000.0, gt=0)  # 24h volume that makes a symbol "liquid"
    liquid_threshold_usd: float = Field(default=1_000_000.0, gt=0)
    other_threshold_usd: float = Field(default=250_000.0, gt=0)
    threshold: Literal["absolute", "flow", "open_interest"] = "absolute"
    flow_multiple: float = Field(default=10.0, gt=0)  # flow: × the mean notional per window …
    flow_lookback: Duration = 86400.0  # … over this long before it
    relative_floor_usd: float = Field(default=100_000.0, ge=0)  # flow / open_interest never fire below this
    oi_pct: float = Field(default=0.1, gt=0, le=100)  # open_interest: % of the open interest (one side)
    cross_venue: bool = False  # sum each base asset's liquidations over every venue
    confirm: Literal["none", "rate_drop", "close_back"] = "none"
    confirm_fraction: Fraction = 0.25  # rate_drop: the rate per minute under this share of its peak
    confirm_within: Duration = 900.0  # no confirmation within this long: no signal

    @model_validator(mode="after")
    def _lookback_spans_windows(self) -> LiquidationSettings:
        if self.flow_lookback < 2 * self.window:
            raise ValueError(f"flow_lookback must span two windows ({format_duration(2 * self.window)})")
        return self

    mode: Literal["contrarian", "momentum", "alert"] = "contrarian"
    cooldown: Cooldown = 1800.0
    atr_period: int = Field(default=14, ge=2)
    atr_multiple: float = Field(default=1.5, gt=0)
    atr_timeframe: Timeframe = "5m"  # candles (from the candle feed) whose ATR sets the stop
    atr_floor_usd: float = Field(default=5_000_000.0, ge=0)  # ATR candles for symbols above this 24h volume
    stop_pct: float = Field(default=1.5, gt=0)  # when no candles are known
    expiry: Duration = 86400.0
    stop_style: StopStyle = "atr"  # "atr": the cascade counts as the newest candle
    stop_range_k: float = Field(
        default=0.5, ge=0
    )  # "extreme": beyond the window's extreme print by k × range


_WindowKey = tuple[str, str, Side]
_SymbolKey = tuple[str, str]


class LiquidationStrategy:
    name = "liquidation"
    inputs = (FeedKind.LIQUIDATIONS,)  # the feeds its signals come from: none live, no signal possible

    def __init__(self, *, settings: LiquidationSettings) -> None:
        self._settings = settings
        self._windows: dict[_WindowKey, _Window] = {}
        self._tickers: dict[_SymbolKey, _Last] = {}
        self._candles: dict[_SymbolKey, deque[Candle]] = {}
        self._open_interest: dict[_SymbolKey, float] = {}
        self._listings: dict[str, set[_SymbolKey]] = {}  # base asset → its (exchange, symbol)s seen
        self._flow = FlowBaseline(window_s=settings.window, lookback_s=settings.flow_lookback)
        self._since_ms: int | None = None  # the first print seen: the flow baseline is whole a lookback later
        self._pending: dict[_WindowKey, Pending] = {}
        self._unconfirmed: dict[_WindowKey, int] = {}  # cascades dropped unconfirmed, until the next signal
        self.unconfirmed = 0  # all of them, since start

    @property
    def settings(self) -> LiquidationSettings:
        return self._settings

    def reconfigure(self, settings: LiquidationSettings) -> None:
        if (settings.atr_timeframe, settings.atr_period) != (
            self._settings.atr_timeframe,
            self._settings.atr_period,
        ):
            self._candles.clear()
        if (settings.window, settings.flow_lookback) != (self._settings.window, self._settings.flow_lookback):
            self._flow = FlowBaseline(window_s=settings.window, lookback_s=settings.flow_lookback)
        if settings.cross_venue != self._settings.cross_venue:
            self._windows, self._pending = {}, {}
        self._settings = settings

    def state(self) -> dict[str, Any]:
        return {}  # windows are minutes long; losing them on restart only delays a cascade

    def restore(self, state: dict[str, Any]) -> None:
        return None

    def threshold_usd(self, exchange: str, symbol: str) -> float:
        """The absolute tier of a market (``exchange`` "": a base asset summed across venues)."""
        s = self._settings
        if base_asset(symbol).upper() in {m.upper() for m in s.majors}:
            return s.major_threshold_usd
        if exchange:  # the hot path: the symbol's own ticker, no call
            known = self._tickers.get((exchange, symbol))
            volume = known.volume_24h if known is not None else None
        else:
            volume = self._summed(
                exchange, symbol, lambda k: t.volume_24h if (t := self._tickers.get(k)) else None
            )
        liquid = volume is not None and volume >= s.liquid_volume_usd
        return s.liquid_threshold_usd if liquid else s.other_threshold_usd

    def _summed(self, exchange: str, symbol: str, of: Callable[[_SymbolKey], float | None]) -> float | None:
        """A market's figure: the symbol's own, or (``exchange`` "") the sum over its base's listings."""
        if exchange:
            return of((exchange, symbol))
        found = [v for k in self._listings.get(symbol, ()) if (v := of(k)) is not None]
        return sum(found) if found else None

    def _threshold(self, key: _WindowKey, time_ms: int) -> tuple[float, dict[str, float], str]:
        s = self._settings
        if s.threshold == "absolute":
            return self.threshold_usd(key[0], key[1]), {}, ""
        market = key[:2]
        oi = self._summed(*market, self._open_interest.get) if s.threshold == "open_interest" else None
        watched = self._since_ms is not None and time_ms - self._since_ms >= s.flow_lookback * 1000
        flow = self._flow.mean(market, time_ms) if s.threshold == "flow" and watched else None
        return relative_threshold(s, self.threshold_usd(*market), flow=flow, open_interest=oi)

    def on_event(self, event: MarketEvent) -> list[Candidate]:
        if isinstance(event, Liquidation):  # the hot path: thousands a second
            out = self._on_print(event)
            return out + self._confirmations(event) if self._pending else out
        out = []
        if isinstance(event, Ticker):
            self._on_ticker(event)
        elif isinstance(event, Candle) and event.timeframe == self._settings.atr_timeframe:
            self._on_candle(event)
        elif isinstance(event, OpenInterest) and finite_positive(event.usd):
            self._open_interest[(event.exchange, event.symbol)] = event.usd
            self._listings.setdefault(base_asset(event.symbol), set()).add((event.exchange, event.symbol))
        if self._pending:
            out.extend(self._confirmations(event))
        return out

    def _on_ticker(self, t: Ticker) -> None:
        key = (t.exchange, t.symbol)
        old = self._tickers.get(key)
        if old is not None and t.time_ms < old.time_ms:
            return
        if old is None:
            self._listings.setdefault(base_asset(t.symbol), set()).add(key)
        vol = t.quote_volume_24h
        self._tickers[key] = _Last(
            t.time_ms,
            t.last if finite_positive(t.last) else None,
            vol if vol is not None and math.isfinite(vol) and vol >= 0 else (old.volume_24h if old else None),
        )

    def _on_candle(self, c: Candle) -> None:
        if not finite_positive(c.open, c.high, c.low, c.close) or c.high < c.low:
            return
        candles = self._candles.get((c.exchange, c.symbol))
        if candles is None:
            candles = self._candles[(c.exchange, c.symbol)] = deque(maxlen=self._settings.atr_period + 1)
        if candles and c.time_ms <= candles[-1].time_ms:
            return
        candles.append(c)

    def _on_print(self, p: Liquidation) -> list[Candidate]:
        if not finite_positive(p.price, p.notional_usd):
            return []
        s = self._settings
        key = ("", base_asset(p.symbol), p.side) if s.cross_venue else (p.exchange, p.symbol, p.side)
        if s.threshold == "flow":
            self._flow.add(key[:2], p.time_ms, p.notional_usd)
            self._since_ms = p.time_ms if self._since_ms is None else min(self._since_ms, p.time_ms)
        pending = self._pending.get(key) if self._pending else None
        if pending is not None and p.time_ms <= pending.deadline_ms:
            pending.add(p)  # the cascade goes on while it waits for exhaustion
            return []
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        # Prints may arrive slightly out of order (reconnects, per-exchange batching): the window ends
        # at the newest print seen, not the latest to arrive.
        now = max(p.time_ms, window.newest) if window.prints else p.time_ms
        horizon = now - s.window * 1000
        if p.time_ms <= horizon:
            return []  # too old to belong to the current window
        window.add(p)
        if window.prints[0].time_ms <= horizon or p.time_ms < now:
            window.drop_until(horizon)
        if len(window.prints) < s.min_prints:
            return []
        threshold, facts, note = self._threshold(key, p.time_ms)
        # The running total only rules out the common case (far below the threshold); near it, the exact
        # sum decides, as it always did.
        if window.total < threshold * (1 - 1e-9):
            return []
        total = window.exact_total()
        if total < threshold:
            return []
        prints = list(window.prints)
        window.clear()
        notes = (note,) if note else ()
        if s.confirm != "none":
            self._pending[key] = Pending.start(key, prints, threshold, facts, notes, s.confirm_within)
            return []
        candidate = self._candidate(key, Cascade.of(prints), threshold, p.time_ms, facts, notes)
        return [candidate] if candidate is not None else []

    def _confirmations(self, event: MarketEvent) -> list[Candidate]:
        """Waiting cascades confirmed (or dropped, past ``confirm_within``) as of ``event``."""
        s = self._settings
        confirmed, expired = settle(self._pending, event, s.confirm, s.confirm_fraction)
        self.unconfirmed += len(expired)
        self._unconfirmed.update({key: self._unconfirmed.get(key, 0) + 1 for key in expired})
        made = [
            self._candidate(c.key, c.cascade, c.threshold, c.time_ms, c.facts, c.notes, c.price)
            for c in confirmed
        ]
        return [x for x in made if x is not None]

    def _candidate(
        self,
        key: _WindowKey,
        cascade: Cascade,
        threshold: float,
        time_ms: int,
        extra: dict[str, float],
        extra_notes: tuple[str, ...],
        price: float | None = None,
    ) -> Candidate | None:
        """``price``: the confirming candle's close (else the newest print's, or a later ticker's)."""
        s = self._settings
        p = cascade.lead()  # the venue with the largest share: its exchange, symbol and prices
        if s.mode == "alert":
            direction = Direction.NONE
        else:
            contrarian = Direction.LONG if p.side is Side.LONG else Direction.SHORT
            momentum = Direction.SHORT if p.side is Side.LONG else Direction.LONG
            direction = contrarian if s.mode == "contrarian" else momentum
        ticker = self._tickers.get((p.exchange, p.symbol))
        # The price at the moment of the signal: the newest print's (average fill) price, unless a ticker
        # came after it. A 60 s ticker poll is usually older than the cascade's own prints.
        entry, priced_ms = (p.price, p.time_ms) if price is None else (price, time_ms)
        if ticker is not None and ticker.last is not None and ticker.time_ms > priced_ms:
            entry, priced_ms = ticker.last, ticker.time_ms
        facts = {
            "window_notional_usd": cascade.total,
            "prints": float(cascade.count),
            "threshold_usd": threshold,
            "window_s": s.window,
            "largest_print_usd": cascade.largest,
            "price_age_s": max(0.0, (time_ms - priced_ms) / 1000),
            **extra,
        }
        if self._unconfirmed.get(key):
            facts["unconfirmed_count"] = float(self._unconfirmed.pop(key))
        if not key[0]:
            facts |= {f"venue_{venue}_usd": usd for venue, usd in cascade.by_venue.items()}
        volume = ticker.volume_24h if ticker is not None else None
        if volume is not None:
            facts["quote_volume_24h_usd"] = volume
        stop = None
        if direction is not Direction.NONE:
            span = (max(cascade.high, entry), min(cascade.low, entry))  # the cascade so far and the entry
            candles = self._candles.get((p.exchange, p.symbol), ())
            range_ = atr(candles, s.atr_period, trigger=span) if s.stop_style == "atr" else None
            stop, used = place_stop(
                s.stop_style,
                direction,
                entry,
                pct=s.stop_pct,
                atr_value=range_,
                atr_multiple=s.atr_multiple,
                span=span,
                range_k=s.stop_range_k,
            )
            if used == "atr" and range_ is not None:
                facts["atr"] = range_
        side_word = "longs" if p.side is Side.LONG else "shorts"
        notes = [f"{cascade.count} {side_word} liquidated within {format_duration(s.window)}", *extra_notes]
        # A sampled stream (Binance: the latest print per symbol per second) makes the sum a lower bound.
        lower_bound = VENUES[p.exchange].liquidation_lower_bound if p.exchange in VENUES else ""
        if not key[0]:
            notes.append("summed across venues: " + "; ".join(venue_notes(cascade)))
        elif lower_bound:
            notes.append(lower_bound)
        return directional(
            strategy=self.name,
            kind="cascade",
            exchange=p.exchange,
            symbol=p.symbol,
            direction=direction,
            entry=entry,
            stop=stop,
            time_ms=time_ms,
            expiry_s=s.expiry,
            key=dedupe_key(self.name, key[0] or "all", p.symbol if key[0] else key[1], p.side.value, time_ms),
            facts=facts,
            notes=tuple(notes),
            strength=cascade.total / threshold,
        )


def _needs(s: LiquidationSettings) -> Needs:
    # Tickers set the tiers and the entry; candles of ``atr_timeframe`` the stop (``stop_pct`` for symbols
    # under ``atr_floor_usd``, for which no candles are asked); open interest the open_interest threshold.
    oi = {FeedKind.OPEN_INTEREST} if s.threshold == "open_interest" else set()
    return Needs(
        feeds=frozenset({FeedKind.LIQUIDATIONS, FeedKind.TICKERS, FeedKind.CANDLES, *oi}),
        candles=(CandleSeries(s.atr_timeframe, s.atr_floor_usd, s.atr_period + 1),),
    )


def _cooldown(c: Candidate, s: LiquidationSettings, risk: RiskSettings) -> tuple[str, float]:
    if s.cross_venue:  # the largest venue may change from one cascade of a base to the next
        return f"liquidation:all:{base_asset(c.symbol)}:{c.direction.value}", s.cooldown
    return f"liquidation:{c.exchange}:{c.symbol}:{c.direction.value}", s.cooldown


def _build(s: LiquidationSettings) -> LiquidationStrategy:
    return LiquidationStrategy(settings=s)


SPEC = StrategySpec(
    name=LiquidationStrategy.name,
    settings=LiquidationSettings,
    factory=_build,
    inputs=frozenset(LiquidationStrategy.inputs),
    needs=_needs,
    cooldown=_cooldown,
    # threshold: the tiers against the symbol's own flow (its defaults; docs/signals.md)
    grid={
        "atr_multiple": (1.0, 1.5, 2.0, 3.0),
        "other_threshold_usd": (100_000.0, 250_000.0),
        "stop_style": ("atr", "extreme"),
        "threshold": ("absolute", "flow"),
    },
    alerts={
        "cascade": Alert(
            title="💥 Liquidation cascade",
            layout=(
                ("window_notional_usd", "{} liquidated"),
                ("prints", "in {} prints"),
                ("window_s", "within {}"),
                ("largest_print_usd", "largest {}"),
                ("threshold_usd", "tier {}"),
                ("flow_mean_usd", "usual {} per window"),
                ("open_interest_usd", "open interest {}"),
                ("peak_rate_usd", "peak {}/min"),
                ("confirm_rate_usd", "then {}/min"),
                ("confirm_wait_s", "confirmed after {}"),
                ("quote_volume_24h_usd", "24h volume {}"),
                ("atr", "ATR {}"),
            ),
            chart=cascade_chart,
        )
    },
)
