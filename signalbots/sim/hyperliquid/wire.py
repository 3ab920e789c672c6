"""Hyperliquid's wire shapes: the ``metaAndAssetCtxs`` answer (universe entries and asset contexts, index for
index), candles (REST and websocket alike) and the request weights of ``POST /info``.

Prices carry at most five significant figures, sizes ``szDecimals`` decimals (Hyperliquid's tick and lot
rules); every number is a decimal string but the candle's ``t``/``T``/``n``.
"""

from __future__ import annotations

import math
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim.market import Bar, Listing, Market
from signalbots.sim.venue import fmt

EXCHANGE_ID = "hyperliquid"
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w")
LIGHT_TYPES = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
_OPEN_INTEREST_SHARE = 0.4  # open interest as a share of the day's notional


def weight(query: dict[str, str], candles: int = 0) -> float:
    """What a ``POST /info`` costs: 2, 60 (``userRole``) or 20, and a candle snapshot one more per 60
    candles it returns."""
    kind = query.get("type")
    if kind in LIGHT_TYPES:
        return 2.0
    if kind == "userRole":
        return 60.0
    return 20.0 + (math.ceil(min(candles, 5000) / 60) if kind == "candleSnapshot" else 0)


def price(x: float) -> str:
    """Five significant figures, written as Hyperliquid writes them ("71400.0", "108.04", "0.001604")."""
    if not math.isfinite(x) or x <= 0:
        return fmt(x)
    text = fmt(x, max(0, 4 - math.floor(math.log10(x))))
    return text if "." in text else text + ".0"


def sz_decimals(listing: Listing) -> int:
    """Lot decimals: a lot is worth well under a few dollars (BTC 5, ETH 4, SOL 2, a sub-cent coin 0)."""
    return max(0, min(5, round(math.log10(max(listing.price, 1e-9)))))


def size(x: float, listing: Listing) -> str:
    text = fmt(x, sz_decimals(listing))
    return text if "." in text else text + ".0"


def max_leverage(listing: Listing) -> int:
    """50 for the majors, 3 (isolated only) for the thin tail."""
    volume = listing.quote_volume_24h
    return 50 if volume >= 5e9 else 10 if volume >= 3e8 else 3


def universe_entry(listing: Listing) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": listing.base,
        "szDecimals": sz_decimals(listing),
        "maxLeverage": max_leverage(listing),
    }
    if entry["maxLeverage"] == 3:
        entry["onlyIsolated"] = True
    if listing.status != "trading":
        entry["isDelisted"] = True
    return entry


def meta(listings: list[Listing]) -> dict[str, Any]:
    return {
        "universe": [universe_entry(x) for x in listings],
        "marginTables": [
            [50, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 50}]}]
        ],
        "collateralToken": 0,
    }


def asset_ctx(market: Market, listing: Listing) -> dict[str, Any]:
    now = market.now_ms()
    last = market.last_price(listing)
    prev = market.price_at(listing, now - 86_400_000)
    return {
        "dayNtlVlm": fmt(listing.quote_volume_24h, 6),
        "funding": fmt(listing.funding_rate, 10),
        "impactPxs": [price(last * 0.9998), price(last * 1.0002)],
        "markPx": price(last),
        "midPx": price(last),
        "openInterest": size(listing.quote_volume_24h * _OPEN_INTEREST_SHARE / last, listing),
        "oraclePx": price(last * 0.9997),
        "premium": fmt(listing.funding_rate * 8, 8),
        "prevDayPx": price(prev),
    }


def candle(b: Bar, listing: Listing, timeframe: str) -> dict[str, Any]:
    """One candle, keys in the order Hyperliquid sends them; ``v`` counts the coin (no quote volume)."""
    return {
        "T": b.open_ms + timeframe_ms(timeframe) - 1,
        "c": price(b.close),
        "h": price(b.high),
        "i": timeframe,
        "l": price(b.low),
        "n": b.trades,
        "o": price(b.open),
        "s": listing.base,
        "t": b.open_ms,
        "v": size(b.volume, listing),
    }
