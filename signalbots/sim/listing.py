"""How each simulated venue lists a contract: its quote currency, its contract size and its funding interval,
as the real exchanges do (the market behind them is the same for all; these are the venues' conventions)."""

from __future__ import annotations

import math

QUOTES = {"hyperliquid": "USDC"}  # the margin (and quote) currency where it is not USDT
_FUNDING_HOURS = {"hyperliquid": 1}  # exchanges whose funding interval is fixed for every listing


def contract_size_for(exchange: str, price: float) -> float:
    """Base units per contract. OKX sizes contracts so one is worth roughly $1-$100 (real: BTC 0.01,
    ETH 0.1, DOGE 1000); MEXC roughly $1-$10 (real: BTC 0.0001, ETH 0.01); Binance and Bybit quote in base
    units (1)."""
    worth = {"okx": 100.0, "mexc": 10.0}.get(exchange)
    if worth is None or price <= 0:
        return 1.0
    return float(10 ** math.floor(math.log10(max(1e-9, worth / price))))


def funding_interval(exchange: str, hours: int, rate: float) -> tuple[int, float]:
    """(interval, rate per interval) as ``exchange`` settles: a fixed interval (Hyperliquid: every hour) takes
    the rate meant for ``hours`` pro rata."""
    fixed = _FUNDING_HOURS.get(exchange)
    return (hours, rate) if fixed is None else (fixed, rate * fixed / hours)
