"""Live market data → normalised ``MarketEvent``s on one internal stream (the ``EventBus``).

Four feeds per exchange, each a supervised task (``async def run(health)``), each in its own module:

* ``LiquidationFeed`` (``liquidations``) — websocket liquidation streams.
* ``FundingFeed`` (``funding``) — bulk REST funding rates every ``funding_poll``.
* ``CandleFeed`` (``candles``) — closed candles above the liquidity floor: Binance kline streams, elsewhere
  batched REST after each close.
* ``TickerFeed`` (``tickers``) — bulk 24h tickers every ``ticker_poll``; also fills ``Liquidity``.
* ``OpenInterestFeed`` (``open_interest``) — where the venue's ticker does not carry open interest: one
  bulk call (OKX) or paced per-symbol requests (Binance).

What they share (staleness watchdog, bad-payload accounting, backoff) is in ``_feed``. ``feeds_for`` is the
one entry point: every feed an exchange supports.
"""

from __future__ import annotations

from typing import Any

from signalbots.clock import Clock
from signalbots.exchange._feed import Feed
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.funding import FundingFeed
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.liquidations import LiquidationFeed
from signalbots.exchange.open_interest import OpenInterestFeed
from signalbots.exchange.tickers import TickerFeed
from signalbots.metrics import Metrics
from signalbots.needs import CandleSeries, FeedKind, Needs
from signalbots.settings import ExchangeSettings

__all__ = [
    "CandleFeed",
    "Feed",
    "FundingFeed",
    "LiquidationFeed",
    "OpenInterestFeed",
    "TickerFeed",
    "feeds_for",
]


class _SeriesCandles(CandleFeed):
    """Candles of a further timeframe (a plan asking for more than one): their own task, health and metric
    names, ``candles@15m``."""

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(**kwargs)


def feeds_for(
    *,
    gateway: Gateway,
    bus: EventBus,
    liquidity: Liquidity,
    settings: ExchangeSettings,
    clock: Clock,
    metrics: Metrics,
    timeframe: str = "5m",
    floor_usd: float = 0.0,
    needs: Needs | None = None,
) -> list[Feed]:
    """The feeds ``needs`` asks for that the exchange supports (MEXC: no public liquidation stream; candles:
    REST but on Binance), one candle feed per series. Without ``needs``: every feed it supports, candles of
    ``timeframe`` above ``floor_usd``."""
    if needs is None:
        needs = Needs(feeds=frozenset(FeedKind), candles=(CandleSeries(timeframe, floor_usd, 0),))
    common: dict[str, Any] = {
        "gateway": gateway,
        "bus": bus,
        "settings": settings,
        "clock": clock,
        "metrics": metrics,
    }
    feeds: list[Feed] = []
    # Open interest needs the tickers too: Bybit's and MEXC's figure is in them, their prices value Binance's.
    if needs.feeds & {FeedKind.TICKERS, FeedKind.OPEN_INTEREST}:
        feeds.append(TickerFeed(liquidity=liquidity, **common))
    if FeedKind.FUNDING in needs.feeds:
        feeds.append(FundingFeed(**common))
    if FeedKind.LIQUIDATIONS in needs.feeds and gateway.venue.liquidation_stream is not None:
        feeds.append(LiquidationFeed(liquidity=liquidity, **common))
    if FeedKind.CANDLES in needs.feeds:
        for i, series in enumerate(needs.candles):
            kind = f"{FeedKind.CANDLES}@{series.timeframe}"
            candle = _SeriesCandles if i else CandleFeed
            extra: dict[str, Any] = {"kind": kind} if i else {}
            feeds.append(
                candle(
                    liquidity=liquidity,
                    timeframe=series.timeframe,
                    floor_usd=series.floor_usd,
                    **extra,
                    **common,
                )
            )
    interest = gateway.venue.open_interest
    if FeedKind.OPEN_INTEREST in needs.feeds and interest is not None and interest.call is not None:
        feeds.append(OpenInterestFeed(liquidity=liquidity, **common))  # else the ticker feed publishes it
    return feeds
