"""Liquidation cascades: many forced closes on one side of one market within a short window.

Per (exchange, symbol, liquidated side) the strategy keeps the prints of the last ``window`` seconds
(event time). When their notional reaches the symbol's tier threshold with at least ``min_prints``
prints, it fires and clears that window, so the same prints never fire twice. Tiers: a base asset in
``majors`` → ``major_threshold_usd``; else a last known 24h quote volume ≥ ``liquid_volume_usd`` →
``liquid_threshold_usd``; else ``other_threshold_usd`` (a symbol without a ticker yet counts as other).

Direction by ``mode``: ``contrarian`` — longs flushed out → LONG (and shorts squeezed → SHORT);
``momentum`` — the opposite; ``alert`` — Direction NONE. Entry: the ticker's last price when it is no
older than the window, else the firing print's price. Stop: ``atr_multiple`` × ATR(``atr_period``) of
the symbol's ``atr_timeframe`` candles, or ``stop_pct`` percent when too few candles are known.
Cooldown is the desk's job.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from signalbots.events import Candle, Liquidation, MarketEvent, Side, Ticker, base_asset
from signalbots.exchange.venues import VENUES
from signalbots.settings import LiquidationSettings, format_duration
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._stops import atr, pct_stop
from signalbots.strategies.base import dedupe_key, directional, finite_positive

_WindowKey = tuple[str, str, Side]
_SymbolKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Last:
    time_ms: int
    last: float | None
    volume_24h: float | None


class LiquidationStrategy:
    name = "liquidation"
    inputs = ("liquidations",)  # the feeds its signals come from: none live, no signal possible

    def __init__(self, *, settings: LiquidationSettings) -> None:
        self._settings = settings
        self._windows: dict[_WindowKey, deque[Liquidation]] = {}
        self._tickers: dict[_SymbolKey, _Last] = {}
        self._candles: dict[_SymbolKey, deque[Candle]] = {}

    @property
    def settings(self) -> LiquidationSettings:
        return self._settings

    def reconfigure(self, settings: LiquidationSettings) -> None:
        if (settings.atr_timeframe, settings.atr_period) != (
            self._settings.atr_timeframe,
            self._settings.atr_period,
        ):
            self._candles.clear()
        self._settings = settings

    def state(self) -> dict[str, Any]:
        return {}  # windows are minutes long; losing them on restart only delays a cascade

    def restore(self, state: dict[str, Any]) -> None:
        return None

    def threshold_usd(self, exchange: str, symbol: str) -> float:
        s = self._settings
        if base_asset(symbol).upper() in {m.upper() for m in s.majors}:
            return s.major_threshold_usd
        known = self._tickers.get((exchange, symbol))
        if known is not None and known.volume_24h is not None and known.volume_24h >= s.liquid_volume_usd:
            return s.liquid_threshold_usd
        return s.other_threshold_usd

    def on_event(self, event: MarketEvent) -> list[Candidate]:
        if isinstance(event, Liquidation):
            return self._on_print(event)
        if isinstance(event, Ticker):
            self._on_ticker(event)
        elif isinstance(event, Candle) and event.timeframe == self._settings.atr_timeframe:
            self._on_candle(event)
        return []

    def _on_ticker(self, t: Ticker) -> None:
        key = (t.exchange, t.symbol)
        old = self._tickers.get(key)
        if old is not None and t.time_ms < old.time_ms:
            return
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
        key = (p.exchange, p.symbol, p.side)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        # Prints may arrive slightly out of order (reconnects, per-exchange batching): the window ends
        # at the newest print seen, not the latest to arrive.
        now = max(p.time_ms, max((x.time_ms for x in window), default=p.time_ms))
        horizon = now - s.window * 1000
        if p.time_ms <= horizon:
            return []  # too old to belong to the current window
        window.append(p)
        if window[0].time_ms <= horizon or p.time_ms < now:
            window = self._windows[key] = deque(x for x in window if x.time_ms > horizon)
        total = sum(x.notional_usd for x in window)
        threshold = self.threshold_usd(p.exchange, p.symbol)
        if total < threshold or len(window) < s.min_prints:
            return []
        candidate = self._candidate(p, list(window), total, threshold)
        window.clear()
        return [candidate] if candidate is not None else []

    def _candidate(
        self, p: Liquidation, prints: list[Liquidation], total: float, threshold: float
    ) -> Candidate | None:
        s = self._settings
        if s.mode == "alert":
            direction = Direction.NONE
        else:
            contrarian = Direction.LONG if p.side is Side.LONG else Direction.SHORT
            momentum = Direction.SHORT if p.side is Side.LONG else Direction.LONG
            direction = contrarian if s.mode == "contrarian" else momentum
        ticker = self._tickers.get((p.exchange, p.symbol))
        entry = p.price
        if ticker is not None and ticker.last is not None and p.time_ms - ticker.time_ms <= s.window * 1000:
            entry = ticker.last
        facts = {
            "window_notional_usd": total,
            "prints": float(len(prints)),
            "threshold_usd": threshold,
            "window_s": s.window,
            "largest_print_usd": max(x.notional_usd for x in prints),
        }
        volume = ticker.volume_24h if ticker is not None else None
        if volume is not None:
            facts["quote_volume_24h_usd"] = volume
        stop = None
        if direction is not Direction.NONE:
            range_ = atr(self._candles.get((p.exchange, p.symbol), ()), s.atr_period)
            if range_ is not None:
                facts["atr"] = range_
                sign = -1.0 if direction is Direction.LONG else 1.0
                stop = entry + sign * s.atr_multiple * range_
                if not finite_positive(stop):
                    stop = None
            if stop is None:
                stop = pct_stop(entry, direction, s.stop_pct)
        side_word = "longs" if p.side is Side.LONG else "shorts"
        notes = [f"{len(prints)} {side_word} liquidated within {format_duration(s.window)}"]
        # A sampled stream (Binance: the latest print per symbol per second) makes the sum a lower bound.
        lower_bound = VENUES[p.exchange].liquidation_lower_bound if p.exchange in VENUES else ""
        if lower_bound:
            notes.append(lower_bound)
        return directional(
            strategy=self.name,
            kind="cascade",
            exchange=p.exchange,
            symbol=p.symbol,
            direction=direction,
            entry=entry,
            stop=stop,
            time_ms=p.time_ms,
            expiry_s=s.expiry,
            key=dedupe_key(self.name, p.exchange, p.symbol, p.side.value, p.time_ms),
            facts=facts,
            notes=tuple(notes),
            strength=total / threshold,
        )
