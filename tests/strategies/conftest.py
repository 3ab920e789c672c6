"""Loaders for the recorded market data in the repository's ``data/`` (tests only).

The product's loader lives with the backtest; this one only turns the CSVs into events.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from signalbots.events import Candle

DATA = Path(__file__).resolve().parents[2] / "data"
MARKET = DATA / "market"
XRP = "XRP/USDT:USDT"


def _rows(name: str) -> list[dict[str, str]]:
    path = MARKET / name
    if not path.is_file():
        # The data ships with the repository: a missing file is a broken checkout, never a quiet skip.
        pytest.fail(f"recorded market data not found at {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_candles(
    name: str, timeframe: str, *, exchange: str = "binanceusdm", symbol: str = XRP
) -> list[Candle]:
    """``timestamp,open,high,low,close,volume`` (volume in base units) → closed Candle events."""
    return [
        Candle(
            exchange=exchange,
            symbol=symbol,
            time_ms=int(r["timestamp"]),
            timeframe=timeframe,
            open=float(r["open"]),
            high=float(r["high"]),
            low=float(r["low"]),
            close=float(r["close"]),
            volume=float(r["volume"]),
        )
        for r in _rows(name)
    ]


def read_funding(name: str) -> list[tuple[int, float]]:
    """``timestamp,funding_rate`` → (settlement ms, rate per interval)."""
    return [(int(r["timestamp"]), float(r["funding_rate"])) for r in _rows(name)]


@pytest.fixture
def load_candles() -> Callable[..., list[Candle]]:
    return read_candles


@pytest.fixture
def load_funding() -> Callable[[str], list[tuple[int, float]]]:
    return read_funding
