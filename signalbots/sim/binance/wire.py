"""Binance USDⓈ-M's wire shapes: symbol ids, error bodies, kline rows and the websocket events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from signalbots.events import Side
from signalbots.sim.market import Bar, LiquidationPrint, Listing, Market
from signalbots.sim.venue import fmt

EXCHANGE_ID = "binanceusdm"
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}


def symbol_id(listing: Listing) -> str:
    return f"{listing.base}USDT"


def quarter_expiry_ms(now_ms: int) -> int:
    """Binance's current-quarter delivery: the last Friday of March/June/September/December, 08:00 UTC."""
    day = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC).date()
    for months_ahead in range(0, 15):
        year, month = day.year + (day.month - 1 + months_ahead) // 12, (day.month - 1 + months_ahead) % 12 + 1
        if month % 3:
            continue
        last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        friday = last - dt.timedelta(days=(last.weekday() - 4) % 7)
        expiry = dt.datetime.combine(friday, dt.time(8), tzinfo=dt.UTC)
        if expiry.timestamp() * 1000 > now_ms:
            return int(expiry.timestamp() * 1000)
    raise AssertionError("a quarter ends within 15 months")


def delivery_id(listing: Listing, expiry_ms: int) -> str:
    """``BTCUSDT_250926``."""
    return f"{symbol_id(listing)}_{dt.datetime.fromtimestamp(expiry_ms / 1000, tz=dt.UTC):%y%m%d}"


def kline_row(b: Bar, span: int) -> list[Any]:
    return [
        b.open_ms,
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume, 3),
        b.open_ms + span - 1,
        fmt(b.quote_volume, 4),
        b.trades,
        fmt(b.volume / 2, 3),
        fmt(b.quote_volume / 2, 4),
        "0",
    ]


def kline_event(
    symbol_id: str, interval: str, b: Bar, span: int, now_ms: int, *, closed: bool
) -> dict[str, Any]:
    return {
        "e": "kline",
        "E": now_ms,
        "s": symbol_id,
        "k": {
            "t": b.open_ms,
            "T": b.open_ms + span - 1,
            "s": symbol_id,
            "i": interval,
            "f": 1,
            "L": b.trades,
            "o": fmt(b.open),
            "c": fmt(b.close),
            "h": fmt(b.high),
            "l": fmt(b.low),
            "v": fmt(b.volume, 3),
            "n": b.trades,
            "x": closed,
            "q": fmt(b.quote_volume, 4),
            "V": fmt(b.volume / 2, 3),
            "Q": fmt(b.quote_volume / 2, 4),
            "B": "0",
        },
    }


def force_order(liq: LiquidationPrint, now_ms: int) -> dict[str, Any]:
    # The liquidation engine closes the position: SELL closes a long, BUY closes a short.
    side = "SELL" if liq.side is Side.LONG else "BUY"
    return {
        "e": "forceOrder",
        "E": now_ms,
        "o": {
            "s": f"{liq.base}USDT",
            "S": side,
            "o": "LIMIT",
            "f": "IOC",
            "q": fmt(liq.quantity, 3),
            "p": fmt(liq.price * (0.995 if side == "SELL" else 1.005)),
            "ap": fmt(liq.price),
            "X": "FILLED",
            "l": fmt(liq.quantity, 3),
            "z": fmt(liq.quantity, 3),
            "T": liq.time_ms,
        },
    }


def mark_price_update(market: Market, x: Listing, now_ms: int) -> dict[str, Any]:
    mark = market.last_price(x)
    return {
        "e": "markPriceUpdate",
        "E": now_ms,
        "s": symbol_id(x),
        "p": fmt(mark),
        "i": fmt(mark * 0.9998),
        "P": fmt(mark * 0.9999),
        "r": fmt(x.funding_rate),
        "T": market.next_funding_ms(x),
    }
