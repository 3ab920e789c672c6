"""Bybit v5's wire shapes: symbol ids, the answer envelope, kline rows and the websocket frames."""

from __future__ import annotations

from typing import Any

from signalbots.events import Side
from signalbots.sim.market import Bar, LiquidationPrint, Listing, Market
from signalbots.sim.venue import fmt

EXCHANGE_ID = "bybit"
INTERVALS = {
    "1": "1m",
    "3": "3m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "120": "2h",
    "240": "4h",
    "360": "6h",
    "720": "12h",
    "D": "1d",
}


def symbol_id(listing: Listing) -> str:
    return f"{listing.base}USDT"


def wrap(market: Market, result: Any) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": market.now_ms()}


def error(market: Market, code: int, msg: str) -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": market.now_ms()}


def kline_row(b: Bar) -> list[str]:
    return [
        str(b.open_ms),
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume, 3),
        fmt(b.quote_volume, 4),
    ]


def ws_kline(b: Bar, span: int, interval: str, now_ms: int, confirm: bool) -> dict[str, Any]:
    return {
        "start": b.open_ms,
        "end": b.open_ms + span - 1,
        "interval": interval,
        "open": fmt(b.open),
        "close": fmt(b.close),
        "high": fmt(b.high),
        "low": fmt(b.low),
        "volume": fmt(b.volume, 3),
        "turnover": fmt(b.quote_volume, 4),
        "confirm": confirm,
        "timestamp": now_ms,
    }


def liquidation_frame(topic: str, liq: LiquidationPrint, now_ms: int) -> dict[str, Any]:
    """``allLiquidation.<symbol>``: ``S=Buy`` when a long was liquidated."""
    return {
        "topic": topic,
        "type": "snapshot",
        "ts": now_ms,
        "data": [
            {
                "T": liq.time_ms,
                "s": f"{liq.base}USDT",
                "S": "Buy" if liq.side is Side.LONG else "Sell",
                "v": fmt(liq.quantity, 3),
                "p": fmt(liq.price),
            }
        ],
    }
