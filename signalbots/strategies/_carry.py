"""A funding carry alert: the same base asset on two exchanges whose funding differs by at least a threshold.

``funding`` decides when two legs make a spread; this module says it — the facts, the headline naming both
legs, and what their APRs hide when the legs differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from signalbots.events import base_asset
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies.base import dedupe_key, directional

__all__ = ["Leg", "carry_alert", "unlike"]


@dataclass(frozen=True, slots=True)
class Leg:
    """One market's latest funding: rate per 8h, APR, mark price, and its own interval in hours."""

    exchange: str
    symbol: str
    time_ms: int
    rate_8h: float
    apr: float
    mark: float | None
    interval_h: float = 8.0


def carry_alert(
    strategy: str,
    time_ms: int,
    low: Leg,
    high: Leg,
    diff: float,
    hour_ms: int,
    volumes: tuple[float | None, float | None],
    entry: float,
    expiry_s: float,
    spread_apr: float,
) -> Candidate | None:
    """Long the ``low``-APR leg, short the ``high`` one (Direction NONE), made by the snapshot of ``time_ms``.
    ``volumes``: the legs' 24h quote volumes; ``entry``: the short leg's price (0.0: none known);
    ``hour_ms``: the hour it is deduplicated in."""
    base = base_asset(low.symbol)
    low_key, high_key = (low.exchange, low.symbol), (high.exchange, high.symbol)
    first, second = sorted((low_key, high_key))
    facts = {
        "apr_long_leg": low.apr,
        "apr_short_leg": high.apr,
        "apr_spread": diff,
        "rate_8h_long_leg": low.rate_8h,
        "rate_8h_short_leg": high.rate_8h,
    }
    for name, volume in zip(("volume_long_leg_usd", "volume_short_leg_usd"), volumes, strict=True):
        if volume is not None:
            facts[name] = volume
    return directional(
        strategy=strategy,
        kind="spread",
        exchange=f"{first[0]}+{second[0]}",
        symbol=f"{base} long {low.exchange} {low.symbol} / short {high.exchange} {high.symbol}",
        direction=Direction.NONE,
        entry=entry,
        stop=None,
        time_ms=time_ms,
        expiry_s=expiry_s,
        key=dedupe_key(strategy, "spread", *first, *second, hour_ms),
        facts=facts,
        # The legs, their names and APRs are in the headline and the facts, rendered for people.
        notes=("carry: entry is the short leg's price", *unlike(low, high)),
        strength=diff / spread_apr,
    )


def unlike(low: Leg, high: Leg) -> tuple[str, ...]:
    """What the APRs hide when the legs differ: how often each pays, and in which currency it settles."""
    notes = []
    if low.interval_h != high.interval_h:
        notes.append(
            f"funding every {low.interval_h:g}h on the long leg, every {high.interval_h:g}h on the short "
            "leg: compared as APR"
        )
    low_ccy, high_ccy = (leg.symbol.rpartition(":")[2] for leg in (low, high))
    if low_ccy != high_ccy:
        notes.append(f"the legs settle in {low_ccy} and {high_ccy}: the carry also bears their exchange rate")
    return tuple(notes)
