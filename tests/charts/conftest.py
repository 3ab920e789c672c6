"""Market data and candidates for chart tests: a calm XRP-like series with one spike at the end."""

from __future__ import annotations

import random

import pytest

from signalbots.charts.history import MarketHistory
from signalbots.events import Candle, FundingSnapshot, Liquidation, Side
from signalbots.signals.model import Candidate, Direction

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 300_000
EX, SYM = "binanceusdm", "XRP/USDT:USDT"
N = 80
END = T0 + N * 300_000


@pytest.fixture
def history() -> MarketHistory:
    rng = random.Random(7)
    h = MarketHistory()
    p = 0.60
    for i in range(N):
        o = p
        c = p * (1 + rng.gauss(0, 0.003))
        qv = 1e6 * (1 + rng.random())
        if i == N - 1:
            c, qv = o * 1.02, 9e6
        h.on_event(
            Candle(EX, SYM, T0 + i * 300_000, "5m", o, max(o, c) * 1.002, min(o, c) * 0.998, c, qv / c, qv)
        )
        p = c
    for j in range(12):
        side = Side.SHORT if j % 4 == 0 else Side.LONG
        h.on_event(Liquidation(EX, SYM, END - 250_000 + j * 20_000, side, p * (1 - 0.001 * j), 1e5, 3e5))
    for k in range(100):
        t = END - (100 - k) * 600_000
        h.on_event(FundingSnapshot(EX, SYM, t, 0.0002 + k * 0.00001, 8, None, p))
        h.on_event(FundingSnapshot("bybit", SYM, t, 0.0001 - k * 0.000005, 4, None, p))
    return h


def candidate(kind: str, **kw: object) -> Candidate:
    base: dict[str, object] = {
        "strategy": {"spike": "volume", "cascade": "liquidation"}.get(kind, "funding"),
        "kind": kind,
        "exchange": EX,
        "symbol": SYM,
        "direction": Direction.LONG,
        "entry": 0.61,
        "stop": 0.60,
        "targets": (0.62, 0.63),
        "time_ms": END,
        "expiry_ms": END + 86_400_000,
        "dedupe_key": f"{kind}:{EX}:{SYM}:{END}",
        "facts": {},
    }
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


SPIKE_FACTS = {
    "volume_multiple": 6.3,
    "robust_z": 11.0,
    "body_pct": 2.0,
    "quote_volume_usd": 9e6,
    "baseline_median_usd": 1.45e6,
}
CASCADE_FACTS = {"window_notional_usd": 3.6e6, "prints": 12.0, "threshold_usd": 1e6, "window_s": 300.0}
