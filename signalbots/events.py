"""Market events: what feeds produce and strategies consume.

Symbols are ccxt unified (``BTC/USDT:USDT``). ``time_ms`` is the exchange's event time in UTC
milliseconds (for a candle: its open time); ``received`` is the local monotonic receive time in seconds
(0.0 when replayed from data).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    """The side of the position that was liquidated."""

    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, slots=True)
class Liquidation:
    exchange: str
    symbol: str
    time_ms: int
    side: Side
    price: float
    quantity: float  # base units
    notional_usd: float
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class FundingSnapshot:
    exchange: str
    symbol: str
    time_ms: int
    rate: float  # per funding interval, as a fraction (0.0001 = 0.01%)
    interval_hours: float
    next_funding_ms: int | None
    mark_price: float | None
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class Candle:
    exchange: str
    symbol: str
    time_ms: int  # open time
    timeframe: str  # "5m", "1h", ...
    open: float
    high: float
    low: float
    close: float
    volume: float  # base
    quote_volume: float | None = None
    received: float = 0.0

    @property
    def close_time_ms(self) -> int:
        return self.time_ms + timeframe_ms(self.timeframe)

    def quote_volume_or_estimate(self) -> float:
        """Quote volume from the exchange, else base volume × typical price."""
        if self.quote_volume is not None:
            return self.quote_volume
        return self.volume * (self.high + self.low + self.close) / 3.0


@dataclass(frozen=True, slots=True)
class Ticker:
    exchange: str
    symbol: str
    time_ms: int
    last: float
    quote_volume_24h: float | None
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """The positions open on one side of a perpetual (longs = shorts), in base units and in USD.

    Every venue's figure is one side: Bybit's ``openInterest`` counts both sides and is not used (its
    ``singleOpenInterest`` is). ``usd`` is the exchange's own value where it publishes one (Bybit, OKX),
    else ``base`` × the latest price.
    """

    exchange: str
    symbol: str
    time_ms: int
    base: float
    usd: float
    received: float = 0.0

    @property
    def price(self) -> float:
        """The price the USD figure was valued at."""
        return self.usd / self.base if self.base > 0 else 0.0


MarketEvent = Liquidation | FundingSnapshot | Candle | Ticker | OpenInterest

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def timeframe_ms(timeframe: str) -> int:
    """``"5m"`` → 300000. Raises ValueError for anything else."""
    try:
        return int(timeframe[:-1]) * _UNIT_MS[timeframe[-1]]
    except (KeyError, ValueError, IndexError):
        raise ValueError(f"unknown timeframe {timeframe!r} (expected e.g. '5m', '1h', '8h')") from None


def base_asset(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC``."""
    return symbol.split("/", 1)[0]
