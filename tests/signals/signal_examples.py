"""The example messages in docs/signals.md, built with the real render code.

``python tests/signals/signal_examples.py`` prints the examples section to paste into the doc;
``test_render.py`` fails when the doc and the code disagree.
"""

from __future__ import annotations

from signalbots.signals import render
from signalbots.signals.costs import Fees, trade_r
from signalbots.signals.model import Candidate, Direction, Signal, Status
from signalbots.signals.stats import by_strategy, compute
from signalbots.signals.track_record import record_line

SPIKE_CLOSE = 1_637_057_400_000  # the XRP candle opened 2021-11-16 10:05 UTC, closed 10:10
FUNDING_TIME = 1_638_604_800_000  # 2021-12-04 08:00 UTC settlement of −0.2193%
DAY = 86_400_000


def _directional(direction: Direction, entry: float, stop: float, **kw: object) -> Candidate:
    risk = abs(entry - stop)
    sign = 1.0 if direction is Direction.LONG else -1.0
    time_ms = int(kw.pop("time_ms"))  # type: ignore[call-overload]
    return Candidate(
        direction=direction,
        entry=entry,
        stop=stop,
        targets=(entry + sign * risk, entry + sign * 2 * risk),
        time_ms=time_ms,
        expiry_ms=time_ms + DAY,
        **kw,  # type: ignore[arg-type]
    )


SPIKE = Signal(
    id=1,
    candidate=_directional(
        Direction.SHORT,
        1.0535,
        1.0959,
        strategy="volume",
        kind="spike",
        exchange="binanceusdm",
        symbol="XRP/USDT:USDT",
        time_ms=SPIKE_CLOSE,
        dedupe_key="volume:binanceusdm:XRP/USDT:USDT:1637057100000",
        facts={
            "volume_multiple": 20.07,
            "robust_z": 41.3,
            "body_pct": -3.869,
            "quote_volume_usd": 60_140_000.0,
            "baseline_median_usd": 2_995_000.0,
            "baseline_mad_usd": 1_020_000.0,
            "quote_volume_24h_usd": 1_240_000_000.0,
        },
        notes=("quote volume estimated as base volume × typical price",),
        strength=3.3,
    ),
    size_base=2358.5,
)
CASCADE = Signal(
    id=2,
    candidate=_directional(
        Direction.LONG,
        186.42,
        184.74,
        strategy="liquidation",
        kind="cascade",
        exchange="binanceusdm",
        symbol="SOL/USDT:USDT",
        time_ms=1_637_083_530_000,
        dedupe_key="liquidation:binanceusdm:SOL/USDT:USDT:long:1637083530000",
        facts={
            "window_notional_usd": 1_843_000.0,
            "prints": 7.0,
            "threshold_usd": 1_000_000.0,
            "window_s": 300.0,
            "largest_print_usd": 612_000.0,
            "quote_volume_24h_usd": 2_150_000_000.0,
            "atr": 1.12,
            # the open interest context the desk adds (OpenInterestBook)
            "oi_usd": 612_400_000.0,
            "oi_change_1h_pct": -4.31,
            "oi_share_pct": 0.301,
        },
        notes=(
            "7 longs liquidated within 5m",
            "Binance publishes at most one liquidation per symbol per second: the sum is a lower bound",
        ),
        strength=1.84,
    ),
)
FLUSH = Signal(
    id=5,
    candidate=_directional(
        Direction.LONG,
        141.87,
        138.31,
        strategy="open_interest",
        kind="flush",
        exchange="bybit",
        symbol="SOL/USDT:USDT",
        time_ms=1_637_083_800_000,
        dedupe_key="open_interest:bybit:SOL/USDT:USDT:1637083800000",
        facts={
            "oi_change_pct": -7.42,
            "price_change_pct": -4.86,
            "within_s": 1380.0,
            "closed_usd": 24_600_000.0,
            "oi_peak_usd": 349_100_000.0,
            "threshold_pct": -5.0,
            "oi_usd": 306_900_000.0,
            "oi_change_1h_pct": -8.15,
        },
        notes=("longs flushed: open interest fell while the price ran",),
        strength=1.48,
    ),
)
EXTREME = Signal(
    id=3,
    candidate=_directional(
        Direction.LONG,
        0.7920,
        0.77616,
        strategy="funding",
        kind="extreme",
        exchange="binanceusdm",
        symbol="XRP/USDT:USDT",
        time_ms=FUNDING_TIME,
        dedupe_key="funding:binanceusdm:XRP/USDT:USDT:1638604800000",
        facts={
            "rate": -0.0021933,
            "rate_8h": -0.0021933,
            "apr": -2.4017,
            "interval_h": 8.0,
            "threshold_8h": 0.001,
            "hours_to_settlement": 7.75,
            "mark_price": 0.7918,
        },
        notes=("negative funding: shorts pay longs, so the crowded side is short",),
        strength=2.19,
    ),
)
SPREAD = Signal(
    id=4,
    candidate=Candidate(
        strategy="funding",
        kind="spread",
        exchange="binanceusdm+bybit",
        symbol="XRP long binanceusdm XRP/USDT:USDT / short bybit XRP/USDT:USDT",
        direction=Direction.NONE,
        entry=0.7931,
        stop=None,
        targets=(),
        time_ms=FUNDING_TIME,
        expiry_ms=FUNDING_TIME + DAY,
        dedupe_key="funding:spread:binanceusdm:XRP/USDT:USDT:bybit:XRP/USDT:USDT:1638604800000",
        facts={
            "apr_long_leg": -2.4017,
            "apr_short_leg": -1.9710,
            "apr_spread": 0.4307,
            "rate_8h_long_leg": -0.0021933,
            "rate_8h_short_leg": -0.0018000,
            "volume_long_leg_usd": 1_240_000_000.0,
            "volume_short_leg_usd": 380_000_000.0,
        },
        notes=("carry: entry is the short leg's price",),
        strength=1.44,
    ),
)
_FEES = Fees(taker=0.0005, maker=0.0002, slippage=0.0002)  # Binance's published fees, 2 bps slippage
_SPIKE_FEE_R = trade_r(SPIKE.candidate, 0.9687, _FEES, maker_exit=True)
SPIKE_OUTCOME = Signal(
    id=1,
    candidate=SPIKE.candidate,
    status=Status.TARGET2,
    resolved_ms=SPIKE_CLOSE + 12_000_000,
    exit_price=0.9687,
    r_multiple=2.0 - _SPIKE_FEE_R - 0.01,
    gross_r=2.0,
    fee_r=_SPIKE_FEE_R,
    funding_r=-0.01,
)
_CASCADE_FEE_R = trade_r(CASCADE.candidate, 184.74, _FEES, maker_exit=False)
CASCADE_OUTCOME = Signal(
    id=2,
    candidate=CASCADE.candidate,
    status=Status.STOPPED,
    resolved_ms=CASCADE.candidate.time_ms + 2_460_000,
    exit_price=184.74,
    r_multiple=-1.0 - _CASCADE_FEE_R,
    gross_r=-1.0,
    fee_r=_CASCADE_FEE_R,
)
STATS = by_strategy(
    [
        ("volume", 2.0),
        ("liquidation", -1.0),
        ("funding", 0.0),
        ("volume", -1.0),
        ("liquidation", 2.0),
        ("volume", 0.43),
    ]
)
DAY_START = 1_637_020_800_000  # 2021-11-16

EXAMPLES: dict[str, str] = {
    "Volume spike": render.signal(SPIKE, record=record_line(compute([2.0] * 22 + [-1.0] * 18))),
    "Liquidation cascade": render.signal(CASCADE, record=record_line(compute([]))),
    "Open interest flush": render.signal(FLUSH, record=record_line(compute([]))),
    "Funding extreme": render.signal(EXTREME, record=record_line(compute([1.9, -1.1, -1.1, 0.0]))),
    "Funding spread (carry alert)": render.signal(SPREAD),
    "Target 1 reached (progress reply)": render.target1(SPIKE, SPIKE_CLOSE + 5_400_000),
    "Outcome reply: target 2": render.outcome(SPIKE_OUTCOME),
    "Outcome reply: stopped": render.outcome(CASCADE_OUTCOME),
    "Daily loss limit notice": render.loss_pause("liquidation", -5.2, 5.0, DAY_START),
    "/stats 7": render.stats(STATS, 7),
    "/signals": render.open_signals(
        [SPIKE, CASCADE], CASCADE.candidate.time_ms + 4_800_000, {("binanceusdm", "SOL/USDT:USDT"): 187.10}
    ),
    "Daily summary": render.daily_summary(DAY_START, {"volume": 3, "liquidation": 2, "funding": 1}, STATS, 2),
}


if __name__ == "__main__":
    for title, text in EXAMPLES.items():
        print(f"### {title}\n\n```html\n{text}\n```\n")
