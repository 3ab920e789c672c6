"""The feed plan: which exchanges' feeds run, and with which parameters, derived from the strategies' needs.

``signalbots run`` and ``signalbots record`` both start one ``ExchangeService`` per entry, so a recording
holds what the daemon's strategies would see. What runs is what the enabled strategies' specs say they read
(``StrategySpec.needs``: feed kinds, candle timeframes and symbol floors) plus what the daemon itself reads
to follow signals to their outcomes; the venue then decides which of those it can offer
(``exchange.feeds.feeds_for``). Candle series on the same timeframe are merged, the lowest floor winning,
so each strategy gets at least the symbols it asked for, and a strategy's candles (an ATR's) run on their
own timeframe whatever another strategy's is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from signalbots.events import timeframe_ms
from signalbots.needs import CandleSeries, FeedKind, Needs
from signalbots.settings import ExchangeSettings, Settings
from signalbots.strategies.registry import SPECS

__all__ = ["OUTCOMES", "ExchangeFeeds", "feed_plan", "merged_needs"]

# What the daemon reads whatever the strategies: tickers (liquidity floors, last prices), funding (what an
# open signal pays or earns), closed candles (fills, gaps, correlations) — the strategies' candles when
# they ask for any, else these — and open interest (the context line of every alert).
OUTCOMES = Needs(
    feeds=frozenset({FeedKind.TICKERS, FeedKind.FUNDING, FeedKind.CANDLES, FeedKind.OPEN_INTEREST}),
    candles=(CandleSeries("5m", 5_000_000.0, 0),),
)


@dataclass(frozen=True)
class ExchangeFeeds:
    """One exchange's feeds. Compared whole on reload: an exchange whose entry changed is restarted."""

    exchange: str  # ccxt id
    settings: ExchangeSettings
    needs: Needs  # the kinds asked for and the candle series, widest (lowest floor) first

    @property
    def timeframe(self) -> str:
        """The widest candle series' timeframe."""
        return self.needs.candles[0].timeframe if self.needs.candles else ""

    @property
    def floor_usd(self) -> float:
        return self.needs.candles[0].floor_usd if self.needs.candles else 0.0


def merged_needs(needs: Iterable[Needs]) -> Needs:
    """One ``Needs`` for them all: every kind, one candle series per timeframe with the lowest floor and the
    longest history; widest series first, then the shorter timeframe."""
    kinds: set[FeedKind] = set()
    series: dict[str, CandleSeries] = {}
    for need in needs:
        kinds |= need.feeds
        for s in need.candles:
            old = series.get(s.timeframe)
            series[s.timeframe] = (
                s
                if old is None
                else CandleSeries(s.timeframe, min(s.floor_usd, old.floor_usd), max(s.history, old.history))
            )
    ordered = sorted(series.values(), key=lambda s: (s.floor_usd, timeframe_ms(s.timeframe)))
    return Needs(feeds=frozenset(kinds), candles=tuple(ordered))


def _wanted(settings: Settings, every_strategy: bool) -> Needs:
    strategies = merged_needs(
        spec.needs_in(settings) for spec in SPECS if every_strategy or spec.enabled(settings)
    )
    if strategies.candles:
        return merged_needs([strategies, Needs(feeds=OUTCOMES.feeds)])
    return merged_needs([strategies, OUTCOMES])


def feed_plan(
    settings: Settings, exchanges: Sequence[str] | None = None, *, every_strategy: bool = False
) -> list[ExchangeFeeds]:
    """The enabled exchanges' feeds, or those of ``exchanges`` (each once, in order, enabled or not: what
    ``record --exchange`` names), for the enabled strategies — or for every registered one with
    ``every_strategy`` (``record``: a recording any strategy can be replayed on). Raises KeyError for an
    exchange the settings do not know."""
    chosen = settings.enabled_exchanges() if exchanges is None else list(dict.fromkeys(exchanges))
    needs = _wanted(settings, every_strategy)
    return [ExchangeFeeds(exchange=ex, settings=settings.exchanges[ex], needs=needs) for ex in chosen]
