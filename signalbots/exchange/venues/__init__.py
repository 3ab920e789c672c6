"""Every exchange the daemon knows, one profile each (``<id>.py``), and the registry to find them.

Adding an exchange means one profile here, one simulator venue (``signalbots/sim``) and its real-payload
fixtures (``tests/fixtures/wire/<id>/``) — no branch elsewhere.
"""

from __future__ import annotations

from signalbots.exchange.venues import binanceusdm, bybit, hyperliquid, mexc, okx
from signalbots.exchange.venues._venue import (
    ExchangeBudget,
    LiquidationStream,
    OpenInterestFields,
    OpenInterestSource,
    RateLimitRule,
    Unit,
    Venue,
    VolumeField,
)

__all__ = [
    "VENUES",
    "ExchangeBudget",
    "LiquidationStream",
    "OpenInterestFields",
    "OpenInterestSource",
    "RateLimitRule",
    "Unit",
    "Venue",
    "VolumeField",
    "display_name",
    "venue",
]

VENUES: dict[str, Venue] = {
    v.id: v for v in (binanceusdm.VENUE, bybit.VENUE, okx.VENUE, mexc.VENUE, hyperliquid.VENUE)
}


def venue(exchange_id: str) -> Venue:
    """The profile of ``exchange_id`` (a ccxt id); ValueError naming the known ones otherwise."""
    try:
        return VENUES[exchange_id]
    except KeyError:
        raise ValueError(f"unknown exchange {exchange_id!r} (known: {', '.join(VENUES)})") from None


def display_name(exchange_id: str) -> str:
    found = VENUES.get(exchange_id)
    return found.name if found is not None else exchange_id
