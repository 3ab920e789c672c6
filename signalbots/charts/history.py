"""The recent market data the daemon holds in memory, for charts: bounded per symbol and overall.

Fed by a tap on the event bus (``EventBus.tap``): every event is here before any strategy sees it, so a
signal's chart always holds the event that fired it. Per (exchange, symbol) it keeps the last ``candles``
closed candles of each timeframe seen, the liquidation prints of the last ``liquidation_horizon`` seconds (at
most ``prints``), and one funding snapshot per ``funding_step`` seconds (at most ``funding_points``).
At most ``max_symbols`` symbols are held; the one updated least recently is forgotten first, so a
market-wide feed cannot grow it without bound.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, Ticker, base_asset

_Key = tuple[str, str]


@dataclass(slots=True)
class _Symbol:
    candles: dict[str, deque[Candle]] = field(default_factory=dict)
    prints: deque[Liquidation] = field(default_factory=deque)
    funding: deque[FundingSnapshot] = field(default_factory=deque)
    last: Ticker | None = None


class MarketHistory:
    def __init__(
        self,
        *,
        candles: int = 120,
        prints: int = 500,
        liquidation_horizon: float = 3600.0,
        funding_points: int = 288,
        funding_step: float = 300.0,
        max_symbols: int = 2000,
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
        entry = self._entry(event.exchange, event.symbol)
        if isinstance(event, Candle):
            series = entry.candles.get(event.timeframe)
            if series is None:
                series = entry.candles[event.timeframe] = deque(maxlen=self._candles)
            if series and event.time_ms <= series[-1].time_ms:
                if event.time_ms == series[-1].time_ms:
                    series[-1] = event  # the same candle again (backfill after a reconnect)
                return
            series.append(event)
        elif isinstance(event, Liquidation):
            prints = entry.prints
            prints.append(event)
            horizon = event.time_ms - self._horizon_ms
            while prints and (len(prints) > self._prints or prints[0].time_ms < horizon):
                prints.popleft()
        elif isinstance(event, FundingSnapshot):
            funding = entry.funding
            if funding and event.time_ms < funding[-1].time_ms:
                return
            if len(funding) >= 2 and event.time_ms - funding[-2].time_ms < self._funding_step_ms:
                funding[-1] = event  # one point per step: the newest snapshot within it
            else:
                funding.append(event)
                while len(funding) > self._funding_points:
                    funding.popleft()
        else:
            entry.last = event

    # reading ---------------------------------------------------------------------------------------
    def candles(self, exchange: str, symbol: str, timeframe: str) -> list[Candle]:
        entry = self._symbols.get((exchange, symbol))
        series = entry.candles.get(timeframe) if entry is not None else None
        return list(series) if series else []

    def timeframes(self, exchange: str, symbol: str) -> list[str]:
        entry = self._symbols.get((exchange, symbol))
        return list(entry.candles) if entry is not None else []

    def prints(self, exchange: str, symbol: str) -> list[Liquidation]:
        entry = self._symbols.get((exchange, symbol))
        return list(entry.prints) if entry is not None else []

    def funding(self, exchange: str, symbol: str) -> list[FundingSnapshot]:
        entry = self._symbols.get((exchange, symbol))
        return list(entry.funding) if entry is not None else []

    def last(self, exchange: str, symbol: str) -> Ticker | None:
        entry = self._symbols.get((exchange, symbol))
        return entry.last if entry is not None else None

    def funding_legs(self, base: str, exchanges: set[str]) -> list[tuple[str, str, list[FundingSnapshot]]]:
        """Every held funding series of ``base`` on the given exchanges: (exchange, symbol, points)."""
        return [
            (ex, sym, list(entry.funding))
            for (ex, sym), entry in self._symbols.items()
            if ex in exchanges and entry.funding and base_asset(sym).upper() == base.upper()
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
