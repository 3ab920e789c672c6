"""OKX v5's wire shapes: instrument ids, the answer envelope, error bodies, candle rows, liquidation entries.

Swap sizes are in contracts (``ctVal`` base units each; the coin-margined BTC-USD-SWAP/ETH-USD-SWAP: USD).
"""

from __future__ import annotations

from typing import Any

from signalbots.events import Side
from signalbots.sim.market import Bar, LiquidationPrint, Listing, Market
from signalbots.sim.venue import fmt

EXCHANGE_ID = "okx"
BARS = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6Hutc": "6h",
    "12Hutc": "12h",
    "1Dutc": "1d",
    "6H": "6h",
    "12H": "12h",
    "1D": "1d",
}
NO_INSTRUMENT = {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
NO_INST_ID = {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []}


def symbol_id(listing: Listing) -> str:
    return f"{listing.base}-USDT-SWAP"


def inverse_ct_val(listing: Listing) -> float:
    return 100.0 if listing.base == "BTC" else 10.0  # USD per contract (real: BTC-USD-SWAP 100)


def ok(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def candle_row(b: Bar, listing: Listing, now_ms: int, timeframe: str) -> list[str]:
    confirmed = "1" if b.closed(now_ms, timeframe) else "0"
    return [
        str(b.open_ms),
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume / listing.contract_size, 0),
        fmt(b.volume, 4),
        fmt(b.quote_volume, 4),
        confirmed,
    ]


def liquidation_entry(market: Market, liq: LiquidationPrint) -> dict[str, Any]:
    """One ``liquidation-orders`` entry: ``sz`` in contracts, ``posSide`` the liquidated position."""
    listing = market.find(EXCHANGE_ID, liq.base)
    size = liq.quantity / (listing.contract_size if listing else 1.0)
    long = liq.side is Side.LONG
    return {
        "details": [
            {
                "bkLoss": "0",
                "bkPx": fmt(liq.price),
                "ccy": "",
                "posSide": "long" if long else "short",
                "side": "sell" if long else "buy",
                "sz": fmt(size, 4),
                "ts": str(liq.time_ms),
            }
        ],
        "instFamily": f"{liq.base}-USDT",
        "instId": f"{liq.base}-USDT-SWAP",
        "instType": "SWAP",
        "uly": f"{liq.base}-USDT",
    }
