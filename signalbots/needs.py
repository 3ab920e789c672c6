"""What a strategy needs from the market, typed: the kinds of feed it reads and the candle series it keeps.

A strategy's spec declares its needs (``strategies.spec``); the feed plan (``plan``) turns the enabled
strategies' needs into the feeds each exchange runs, and ``coverage`` checks them against what each venue
offers. A feed kind is an enum member, never a string matched by hand: ``FeedKind.CANDLES`` is what the
candle feed delivers (its ``kind`` and its health name stay the plain value, ``"candles"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CandleSeries", "FeedKind", "Needs"]


class FeedKind(StrEnum):
    """A kind of market data, as one feed per exchange delivers it (``exchange.feeds``)."""

    TICKERS = "tickers"
    FUNDING = "funding"
    CANDLES = "candles"
    LIQUIDATIONS = "liquidations"
    OPEN_INTEREST = "open_interest"


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """Closed candles of ``timeframe`` for every symbol whose 24h quote volume is at least ``floor_usd``;
    ``history`` is how many of them the strategy keeps per symbol (its baseline, its ATR period)."""

    timeframe: str
    floor_usd: float
    history: int


@dataclass(frozen=True, slots=True)
class Needs:
    """``feeds``: every kind read (the signal's own inputs and context such as tickers); ``candles``: the
    series it keeps, when ``feeds`` holds ``FeedKind.CANDLES``."""

    feeds: frozenset[FeedKind]
    candles: tuple[CandleSeries, ...] = ()

    def __post_init__(self) -> None:
        if self.candles and FeedKind.CANDLES not in self.feeds:
            raise ValueError("candle series declared without the candle feed")
