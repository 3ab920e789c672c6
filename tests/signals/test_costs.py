"""Costs in R: the worked example of docs/signals.md, per exchange, through the real tracker (issue 23, 2).

A LONG at 60,000 with its stop at 59,880 (1R = 120, 0.2 % of price, a typical cascade stop) reaches target 2
(60,240) after spanning one funding settlement at +0.01 % (mark 60,100): the long pays it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from signals_support import HOUR, T0, Bench, candidate

from signalbots.events import FundingSnapshot
from signalbots.exchange.venues import VENUES
from signalbots.settings import ExchangeSettings, RiskSettings, Settings
from signalbots.signals.costs import Costs, Fees
from signalbots.signals.model import Direction, Status

DOC = Path(__file__).resolve().parents[2] / "docs" / "signals.md"
BTC = "BTC/USDT:USDT"


def _minus(x: float) -> str:
    text = f"{abs(x):.2f}"
    return text if float(text) == 0 else f"{'+' if x > 0 else '−'}{text}"


def _row(bench: Bench, exchange: str) -> str:
    tracker = bench.tracker()
    bench.desk().consider([candidate(exchange=exchange, symbol=BTC, entry=60_000.0, risk=120.0)])
    settle = FundingSnapshot(exchange, BTC, T0 + HOUR, 0.0001, 8.0, T0 + HOUR, 60_100.0)
    assert tracker.on_funding(settle) == []
    [sig] = tracker.on_price(exchange, BTC, T0 + 2 * HOUR, 60_300.0, 60_300.0, 60_300.0)
    assert sig.status is Status.TARGET2 and sig.gross_r is not None and sig.fee_r is not None
    fees = bench.settings.exchanges[exchange]
    venue = VENUES[exchange]
    taker = venue.taker_fee if fees.taker_fee == "venue" else fees.taker_fee
    maker = venue.maker_fee if fees.maker_fee == "venue" else fees.maker_fee
    slippage_r = bench.settings.risk.slippage_bps / 10_000 * 60_000 / 120
    fee_only = sig.fee_r - slippage_r
    assert sig.r_multiple == pytest.approx(sig.gross_r - fee_only - slippage_r + sig.funding_r)
    return (
        f"| {venue.name} (`{exchange}`) | {taker * 100:.3f} % | {maker * 100:.3f} % | "
        f"{_minus(sig.gross_r)} | "
        f"{_minus(-fee_only)} | {_minus(-slippage_r)} | {_minus(sig.funding_r)} | {_minus(sig.r_multiple)} |"
    )


@pytest.mark.parametrize("exchange", sorted(VENUES))
def test_the_worked_cost_example_in_the_docs_is_what_the_tracker_books(
    bench_factory: Callable[..., Bench], exchange: str
) -> None:
    row = _row(bench_factory(costs=True), exchange)
    assert row in DOC.read_text(encoding="utf-8"), f"docs/signals.md should have the row\n{row}"


def test_a_short_receives_positive_funding_and_settlements_after_the_exit_do_not_count(
    bench_factory: Callable[..., Bench],
) -> None:
    bench = bench_factory()
    tracker = bench.tracker()
    short = candidate(symbol="ETH/USDT:USDT", entry=100.0, risk=2.0, direction=Direction.SHORT)
    bench.desk().consider([short])
    tracker.on_funding(
        FundingSnapshot("binanceusdm", "ETH/USDT:USDT", T0 + HOUR, 0.001, 8.0, T0 + HOUR, 100.0)
    )
    [done] = tracker.on_price("binanceusdm", "ETH/USDT:USDT", T0 + 2 * HOUR, 96.0, 96.0, 96.0)
    assert done.funding_r == pytest.approx(0.05)  # 0.1 % of 100 = 0.1 received, 1R = 2
    assert done.r_multiple == pytest.approx(2.05)
    tracker.on_funding(
        FundingSnapshot("binanceusdm", "ETH/USDT:USDT", T0 + 9 * HOUR, 0.001, 8.0, T0 + 9 * HOUR, 100.0)
    )
    assert tracker.stats(None, T0 + 10 * HOUR)["volume"].total_r == pytest.approx(2.05)


def test_a_live_announced_settlement_counts_once_it_has_passed(bench_factory: Callable[..., Bench]) -> None:
    bench = bench_factory()
    tracker = bench.tracker()
    bench.desk().consider([candidate(symbol=BTC, entry=100.0, risk=2.0)])
    # live snapshots every minute announce the next settlement at T0 + 1h and the rate that will apply
    for minute in (10, 30, 59):
        tracker.on_funding(
            FundingSnapshot("binanceusdm", BTC, T0 + minute * 60_000, 0.001, 8.0, T0 + HOUR, 100.0)
        )
    tracker.on_funding(
        FundingSnapshot("binanceusdm", BTC, T0 + 61 * 60_000, 0.0005, 8.0, T0 + 9 * HOUR, 100.0)
    )
    [sig] = tracker.on_price("binanceusdm", BTC, T0 + 2 * HOUR, 97.0, 97.0, 97.0)
    assert sig.funding_r == pytest.approx(-0.05)  # the long paid 0.1 % of 100 once
    assert sig.r_multiple == pytest.approx(-1.05)


def test_settings_override_a_venues_fees_per_exchange() -> None:
    settings = Settings(
        _env_file=None,
        exchanges={"bybit": ExchangeSettings(taker_fee=0.001, maker_fee=-0.0001)},
        risk=RiskSettings(slippage_bps=5.0),
    )
    costs = Costs(settings=settings)
    assert costs.fees("bybit") == Fees(taker=0.001, maker=-0.0001, slippage=0.0005)
    assert costs.fees("okx") == Fees(
        taker=VENUES["okx"].taker_fee, maker=VENUES["okx"].maker_fee, slippage=0.0005
    )
    long = candidate(exchange="bybit", entry=100.0, risk=2.0)
    # entry: (0.001 + 0.0005) × 100; a target is a maker fill at 104 earning the rebate
    assert costs.trade_r(long, 104.0, maker_exit=True) == pytest.approx((0.15 - 0.0104) / 2)
