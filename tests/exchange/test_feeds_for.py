"""``feeds_for`` takes the plan's needs: only the kinds asked for run, one candle feed per timeframe."""

from __future__ import annotations

from signalbots.clock import ManualClock
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity
from signalbots.exchange.feeds import CandleFeed, FundingFeed, TickerFeed, feeds_for
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.metrics import Metrics
from signalbots.needs import CandleSeries, FeedKind, Needs
from signalbots.settings import BreakerSettings, ExchangeSettings


def _feeds(exchange: str, needs: Needs) -> list[object]:
    clock, metrics, settings = ManualClock(start=0.0), Metrics(), ExchangeSettings()
    gateway = Gateway(  # built, never opened: no request leaves
        exchange_id=exchange,
        settings=settings,
        limiter=WeightLimiter.for_exchange(exchange, budget_fraction=0.5, clock=clock),
        breakers=BreakerRegistry(settings=BreakerSettings(), clock=clock, metrics=metrics),
        clock=clock,
        metrics=metrics,
    )
    return list(
        feeds_for(
            gateway=gateway,
            bus=EventBus(metrics=metrics),
            liquidity=Liquidity(),
            settings=settings,
            clock=clock,
            metrics=metrics,
            needs=needs,
        )
    )


def test_two_timeframes_run_two_candle_feeds_with_their_own_names() -> None:
    needs = Needs(
        feeds=frozenset(FeedKind),
        candles=(CandleSeries("15m", 2e6, 48), CandleSeries("1h", 5e6, 15)),
    )
    feeds = _feeds("binanceusdm", needs)
    assert [getattr(f, "kind", "") for f in feeds] == [
        "tickers",
        "funding",
        "liquidations",
        "candles",
        "candles@1h",
        "open_interest",  # Binance: its own paced feed (Bybit's and MEXC's ride on the tickers)
    ]
    candles = [f for f in feeds if isinstance(f, CandleFeed)]
    assert [(f.name, f.timeframe, f.floor_usd) for f in candles] == [
        ("binanceusdm candles", "15m", 2e6),
        ("binanceusdm candles@1h", "1h", 5e6),
    ]


def test_kinds_not_asked_for_do_not_run_and_the_venue_still_decides() -> None:
    funding_only = Needs(feeds=frozenset({FeedKind.FUNDING, FeedKind.TICKERS}))
    assert [type(f) for f in _feeds("okx", funding_only)] == [TickerFeed, FundingFeed]
    liquidations = Needs(feeds=frozenset({FeedKind.LIQUIDATIONS, FeedKind.TICKERS}))
    assert [type(f) for f in _feeds("mexc", liquidations)] == [TickerFeed]  # MEXC has no liquidation stream
