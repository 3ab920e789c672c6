"""The exchange's own kline quote volume, which ccxt's OHLCV rows leave out.

Every exchange publishes a candle's quote turnover (Binance index 7 / websocket ``k.q``, Bybit ``turnover``,
OKX ``volCcyQuote``, MEXC ``amount``), but ccxt builds ``[time, open, high, low, close, volume]`` — and that
volume may count contracts. The gateway's ccxt class appends the quote volume as a seventh element: ccxt's
OHLCV caches, sorts and filters read only index 0, and its websocket cache replaces a row's whole contents on
an update, so the extra element is carried along; ``CandleFeed`` reads it as ``Candle.quote_volume``. An
eighth element, ``True``, marks a candle the exchange has closed (Binance ``k.x``, Bybit and OKX ``confirm``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from signalbots.exchange.venues import Venue


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def quote_volume(venue: Venue, raw: Any, market: Any) -> float | None:
    """The quote volume in a raw kline row; ``None`` for an inverse market (its turnover is in the base)."""
    if venue.kline_volume is None or not isinstance(raw, list):
        return None
    if isinstance(market, dict) and market.get("inverse"):
        return None
    return venue.kline_volume.quote(raw, price=None, contract_size=None)


def mark_closed(venue: Venue, raw: Any, row: Any) -> Any:
    """``row`` (ccxt's, with the quote volume at index 6 when known) marked closed — ``True`` at index 7 —
    where the raw kline carries the exchange's closed flag and says so (OKX ``confirm`` "1", Bybit ``confirm``
    true)."""
    stream = venue.candle_stream
    if stream is None or not isinstance(row, list) or not stream.closed_flag(raw):
        return row
    return [*row[:6], row[6] if len(row) > 6 else None, True]


def ws_row(venue: Venue, raw: Any, row: Any, market: Any) -> Any:
    """ccxt's row of a websocket kline object with the exchange's quote turnover (Bybit ``turnover``, MEXC
    ``a``) at index 6 and the closed mark at index 7 (``mark_closed``)."""
    stream = venue.candle_stream
    if stream is None or stream.volume is None or not isinstance(row, list):
        return row  # parsed by ``parse_ohlcv`` (OKX) or marked from the raw event (Binance)
    inverse = isinstance(market, dict) and bool(market.get("inverse"))
    quote = None
    if isinstance(raw, dict) and not inverse:
        quote = stream.volume.quote(raw, price=None, contract_size=None)
    marked = [*row[:6], quote]
    return mark_closed(venue, raw, marked) if stream.closed_flag(raw) else marked


def carry_column(venue: Venue, columns: Any, rows: Any) -> Any:
    """A column-wise kline answer (MEXC: ``{"time": [...], "amount": [...]}``): give each row its turnover."""
    if venue.kline_fields is None or not isinstance(columns, dict) or not isinstance(rows, list):
        return rows
    time_key, volume_key = venue.kline_fields
    times, volumes = columns.get(time_key), columns.get(volume_key)
    if not isinstance(times, list) or not isinstance(volumes, list) or len(volumes) != len(rows):
        return rows
    return [[*row[:6], volumes[i]] if isinstance(row, list) else row for i, row in enumerate(rows)]


@dataclass(frozen=True, slots=True)
class WsKline:
    """What a Binance websocket ``kline`` event says that ccxt's row leaves out."""

    market_id: str
    interval: str
    open_ms: int
    quote: float | None  # ``k.q``, the quote asset volume
    closed: bool  # ``k.x``: the exchange has closed this candle (its final update)


def ws_kline(message: Any) -> WsKline | None:
    """The quote volume (``k.q``) and closed flag (``k.x``) of a Binance websocket ``kline`` event, with
    where its row is cached."""
    if not isinstance(message, dict) or message.get("e") != "kline":
        return None  # mark/index price klines carry no volume
    kline = message.get("k")
    if not isinstance(kline, dict):
        return None
    open_ms, market_id, interval = kline.get("t"), kline.get("s"), kline.get("i")
    if not isinstance(open_ms, int) or not isinstance(market_id, str) or not isinstance(interval, str):
        return None
    closed = kline.get("x") is True
    return WsKline(market_id, interval, open_ms, _number(kline.get("q")), closed)


def mark_row(rows: Any, kline: WsKline) -> None:
    """Give the cached row of ``kline`` its quote volume (index 6) and, once the exchange has closed the
    candle, ``True`` at index 7 (after ccxt has stored the row; an update replaces the row's contents).

    ccxt has already resolved the watchers when this runs, but resolving only schedules them: none of them
    reads the cache before this returns.
    """
    for row in reversed(rows or ()):
        if isinstance(row, list) and row and row[0] == kline.open_ms:
            del row[6:]
            row.append(kline.quote)
            if kline.closed:
                row.append(True)
            return


def ws_market_id(venue: Venue, message: Any) -> str | None:
    """The exchange's market id in a websocket kline frame, where its profile says
    (``CandleStream.market_id``: Binance ``k.s``, …)."""
    stream = venue.candle_stream
    return stream.market_id(message) if stream is not None and stream.market_id is not None else None


def closed_by_exchange(row: Any) -> bool:
    """The exchange marked this cached row's candle closed (``mark_row``)."""
    return isinstance(row, list) and len(row) > 7 and row[7] is True
