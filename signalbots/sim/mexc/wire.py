"""MEXC futures' wire shapes: symbol ids, paths, the answer envelope, ticker rows, candles and push frames.

Numbers travel as JSON numbers (rounded as MEXC rounds them), volumes in contracts of ``contractSize`` base
units; the shapes follow ``tests/fixtures/wire/mexc``.
"""

from __future__ import annotations

from typing import Any

from signalbots.sim.market import Bar, Listing, Market

EXCHANGE_ID = "mexc"
INTERVALS = {
    "Min1": "1m",
    "Min5": "5m",
    "Min15": "15m",
    "Min30": "30m",
    "Min60": "1h",
    "Hour4": "4h",
    "Hour8": "8h",
    "Day1": "1d",
}
CONTRACT = "/api/v1/contract/"
KLINE = CONTRACT + "kline/"
FUNDING = CONTRACT + "funding_rate/"
TOO_FREQUENT = {"code": 510, "msg": "Requests are too frequent"}
NO_CONTRACT = {"success": False, "code": 1001, "message": "Contract does not exist"}
PARAMETER_ERROR = {"success": False, "code": 600, "message": "Parameter error"}


def symbol_id(listing: Listing) -> str:
    return f"{listing.base}_USDT"


def num(x: float, digits: int = 8) -> float:
    return round(x, digits)


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "code": 0, "data": data}


def contract_id(market: Market, x: Listing) -> int:
    return 10 + sorted(market.listings[EXCHANGE_ID]).index(x.base)


def ticker_row(market: Market, x: Listing) -> dict[str, Any]:
    """A ``ticker`` answer's row (the push frames carry its fields too)."""
    now = market.now_ms()
    last, prev = market.last_price(x), market.price_at(x, now - 86_400_000)
    change = last / prev - 1
    return {
        "contractId": contract_id(market, x),
        "symbol": symbol_id(x),
        "lastPrice": num(last),
        "bid1": num(last * 0.9999),
        "ask1": num(last * 1.0001),
        "volume24": round(x.quote_volume_24h / last / x.contract_size),  # contracts
        "amount24": num(x.quote_volume_24h, 4),  # USDT
        "holdVol": round(x.quote_volume_24h / 4 / last / x.contract_size),
        "lower24Price": num(min(last, prev) * 0.99),
        "high24Price": num(max(last, prev) * 1.01),
        "riseFallRate": num(change, 4),
        "riseFallValue": num(last - prev),
        "indexPrice": num(last * 0.9998),
        "fairPrice": num(last),
        "fundingRate": num(x.funding_rate, 6),
        "maxBidPrice": num(last * 1.1),
        "minAskPrice": num(last * 0.9),
        "timestamp": now,
        "riseFallRates": {
            "zone": "UTC+8",
            "r": num(change, 4),
            "v": num(last - prev),
            "r7": 0,
            "r30": 0,
            "r90": 0,
            "r180": 0,
            "r365": 0,
        },
        "riseFallRatesOfTimezone": [num(change, 4), num(change, 4), num(change, 4)],
    }


def kline_columns(bars: list[Bar], contract_size: float) -> dict[str, list[Any]]:
    """MEXC's column-wise candles: ``time`` seconds, ``vol`` contracts, ``amount`` quote (USDT)."""
    return {
        "time": [b.open_ms // 1000 for b in bars],
        "open": [num(b.open) for b in bars],
        "close": [num(b.close) for b in bars],
        "high": [num(b.high) for b in bars],
        "low": [num(b.low) for b in bars],
        "vol": [float(round(b.volume / contract_size)) for b in bars],
        "amount": [num(b.quote_volume, 4) for b in bars],
    }


def ws_ticker_one(row: dict[str, Any]) -> dict[str, Any]:
    """``push.ticker``: the REST row's fields, ``zone`` on top and the rates as a list (as MEXC sends)."""
    rates = row["riseFallRates"]
    out = ws_ticker(row)
    out.update(
        bid1=row["bid1"],
        ask1=row["ask1"],
        holdVol=row["holdVol"],
        riseFallValue=row["riseFallValue"],
        fundingRate=row["fundingRate"],
        zone=rates["zone"],
        riseFallRates=[rates[k] for k in ("r", "r7", "r30", "r90", "r180", "r365")],
        riseFallRatesOfTimezone=row["riseFallRatesOfTimezone"],
    )
    return out


def ws_ticker(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "symbol",
        "lastPrice",
        "riseFallRate",
        "fairPrice",
        "indexPrice",
        "volume24",
        "amount24",
        "maxBidPrice",
        "minAskPrice",
        "lower24Price",
        "high24Price",
        "timestamp",
    )
    return {k: row[k] for k in keys}


def ws_kline(symbol: str, interval: str, b: Bar, listing: Listing, now_ms: int) -> dict[str, Any]:
    return {
        "channel": "push.kline",
        "data": {
            "a": num(b.quote_volume, 4),
            "c": num(b.close),
            "h": num(b.high),
            "interval": interval,
            "l": num(b.low),
            "o": num(b.open),
            "q": round(b.volume / listing.contract_size),
            "rc": num(b.close),
            "rh": num(b.high),
            "rl": num(b.low),
            "ro": num(b.open),
            "symbol": symbol,
            "t": b.open_ms // 1000,
        },
        "symbol": symbol,
        "ts": now_ms,
    }
