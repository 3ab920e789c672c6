"""Binance's own kline quote volume, which ccxt's OHLCV rows leave out.

A USDⓈ-M kline carries the quote-asset volume (REST ``/fapi/v1/klines`` index 7, websocket ``k.q``), but
ccxt builds ``[time, open, high, low, close, volume]`` from both. The gateway's ccxt class appends it as a
seventh element: ccxt's OHLCV caches, sorts and filters read only index 0, and its websocket cache replaces a
row's whole contents on an update, so the extra element is carried along; ``CandleFeed`` reads it as
``Candle.quote_volume``.
"""

from __future__ import annotations

import math
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def rest_quote_volume(raw: Any, market: Any) -> float | None:
    """Index 7 of a REST kline row; ``None`` for an inverse market, whose index 7 is base volume."""
    if not isinstance(raw, list) or len(raw) <= 7:
        return None
    if isinstance(market, dict) and market.get("inverse"):
        return None
    return _number(raw[7])


def attach_ws_quote_volume(exchange: Any, message: Any) -> None:
    """Give the cached row of a websocket ``kline`` event its ``q`` (after ccxt has stored the row).

    ccxt has already resolved the watchers when this runs, but resolving only schedules them: none of them
    reads the cache before this returns.
    """
    if not isinstance(message, dict) or message.get("e") != "kline":
        return  # mark/index price klines carry no volume
    kline = message.get("k")
    if not isinstance(kline, dict):
        return
    quote, open_ms = _number(kline.get("q")), kline.get("t")
    if quote is None or not isinstance(open_ms, int):
        return
    # The same lookup ccxt's handler makes, so the row found is the one it just stored.
    symbol = exchange.safe_symbol(kline.get("s"), None, None, "contract")
    timeframe = exchange.find_timeframe(kline.get("i"))
    stored = (getattr(exchange, "ohlcvs", None) or {}).get(symbol, {}).get(timeframe)
    for row in reversed(stored or ()):
        if isinstance(row, list) and row and row[0] == open_ms:
            del row[6:]
            row.append(quote)
            return
