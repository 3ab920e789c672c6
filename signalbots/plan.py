"""The feed plan: which exchanges' feeds run, and with which parameters, derived from the settings.

``signalbots run`` and ``signalbots record`` both start one ``ExchangeService`` per entry, so a recording
holds what the daemon's strategies would see. Today every planned exchange runs every feed its venue
offers (``exchange.feeds.feeds_for``); candles follow the volume strategy's timeframe and liquidity floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signalbots.settings import ExchangeSettings, Settings


@dataclass(frozen=True)
class ExchangeFeeds:
    """One exchange's feeds. Compared whole on reload: an exchange whose entry changed is restarted."""

    exchange: str  # ccxt id
    settings: ExchangeSettings
    timeframe: str  # the closed candles' timeframe
    floor_usd: float  # candles only for symbols above this 24h quote volume


def feed_plan(settings: Settings, exchanges: Sequence[str] | None = None) -> list[ExchangeFeeds]:
    """The enabled exchanges' feeds, or those of ``exchanges`` (each once, in order, enabled or not: what
    ``record --exchange`` names). Raises KeyError for an exchange the settings do not know."""
    chosen = settings.enabled_exchanges() if exchanges is None else list(dict.fromkeys(exchanges))
    volume = settings.strategies.volume
    return [
        ExchangeFeeds(
            exchange=ex,
            settings=settings.exchanges[ex],
            timeframe=volume.timeframe,
            floor_usd=volume.liquidity_floor_usd,
        )
        for ex in chosen
    ]
