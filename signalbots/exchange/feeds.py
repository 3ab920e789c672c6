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


def feeds_for(
    *,
    gateway: Gateway,
    bus: EventBus,
    liquidity: Liquidity,
    settings: ExchangeSettings,
    clock: Clock,
    metrics: Metrics,
    timeframe: str,
    floor_usd: float,
) -> list[Feed]:
    """Every feed an exchange supports (MEXC: no public liquidation stream; candles: REST but on Binance)."""
    common: dict[str, Any] = {
        "gateway": gateway,
        "bus": bus,
        "settings": settings,
        "clock": clock,
        "metrics": metrics,
    }
    feeds: list[Feed] = [TickerFeed(liquidity=liquidity, **common), FundingFeed(**common)]
    if gateway.venue.liquidation_stream is not None:
        feeds.append(LiquidationFeed(liquidity=liquidity, **common))
    feeds.append(CandleFeed(liquidity=liquidity, timeframe=timeframe, floor_usd=floor_usd, **common))
    interest = gateway.venue.open_interest
    if interest is not None and interest.call is not None:  # else the ticker feed publishes it
        feeds.append(OpenInterestFeed(liquidity=liquidity, **common))
    return feeds
