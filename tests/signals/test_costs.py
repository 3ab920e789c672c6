"""Costs in R: the worked example of docs/signals.md, per exchange, through the real tracker (issue 23, 2).

A LONG at 60,000 with its stop at 59,880 (1R = 120, 0.2 % of price, a typical cascade stop) reaches target 2
(60,240) after spanning one funding settlement at +0.01 % (mark 60,100): the long pays it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from signals_support import HOUR, T0, Bench, candidate

from signalbots.events import FundingSnapshot
from signalbots.exchange.venues import VENUES
from signalbots.settings import ExchangeSettings, RiskSettings, Settings
from signalbots.signals import render
from signalbots.signals.costs import Costs, Fees, floor_stop, round_trip
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
    # The example shows what a 0.2 % stop costs: the floor, which would widen it, is off here.
    row = _row(bench_factory(costs=True, stop_floor_cost_multiple=0.0), exchange)
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


# the stop floor ------------------------------------------------------------------------------------------
BINANCE = Fees(taker=0.0005, maker=0.0002, slippage=0.0002)  # round trip 2 × (0.05 % + 0.02 %) = 0.14 %


@pytest.mark.parametrize(
    ("direction", "stop", "targets"),
    [
        # 3 × 0.14 % of 60,000 = 252: the stop moves from 120 to 252 away, the targets by 252 and 504.
        (Direction.LONG, 60_000.0 - 252.0, (60_252.0, 60_504.0)),
        (Direction.SHORT, 60_000.0 + 252.0, (59_748.0, 59_496.0)),
    ],
)
def test_a_stop_inside_three_round_trips_is_widened_and_the_targets_keep_their_r(
    direction: Direction, stop: float, targets: tuple[float, float]
) -> None:
    tight = candidate(symbol=BTC, entry=60_000.0, risk=120.0, direction=direction, notes=("first",))
    floored = floor_stop(tight, BINANCE, 3.0)
    assert floored.stop == pytest.approx(stop)
    assert floored.targets == pytest.approx(targets)
    assert floored.facts["stop_unfloored_price"] == tight.stop
    assert floored.notes[0] == "first"
    assert floored.notes[1] == (
        "stop widened to 0.42% from entry (3× the round trip's fees and slippage); the strategy's was "
        "0.20%, targets moved to keep 1R and 2R"
    )
    assert round_trip(BINANCE) == pytest.approx(0.0014)


def test_a_stop_beyond_the_floor_or_with_the_floor_off_is_left_alone() -> None:
    wide = candidate(symbol=BTC, entry=60_000.0, risk=300.0)
    assert floor_stop(wide, BINANCE, 3.0) is wide
    tight = candidate(symbol=BTC, entry=60_000.0, risk=120.0)
    assert floor_stop(tight, BINANCE, 0.0) is tight
    alert = candidate(symbol=BTC, direction=Direction.NONE)
    assert floor_stop(alert, BINANCE, 3.0) is alert
    wrong_side = dataclasses.replace(tight, stop=60_100.0)  # the desk refuses it; the floor must not mend it
    assert floor_stop(wrong_side, BINANCE, 3.0) is wrong_side


def test_the_desk_floors_the_stop_says_so_and_a_stop_out_then_costs_a_third_of_an_r(
    bench_factory: Callable[..., Bench],
) -> None:
    bench = bench_factory(costs=True)  # Binance's fees, 2 bps slippage, the default floor of 3 round trips
    tracker = bench.tracker()
    [sig] = bench.desk().consider([candidate(symbol=BTC, entry=60_000.0, risk=120.0)])
    assert sig.candidate.stop == pytest.approx(59_748.0)
    assert sig.candidate.targets == pytest.approx((60_252.0, 60_504.0))
    [message] = bench.notifier.messages
    assert "Stop <code>59,748" in message.text and "stop widened to 0.42% from entry" in message.text
    assert "unfloored" not in message.text  # the old stop is kept for the record, not shown
    # In a coalesced burst (one block a signal, no notes) the stop still says it is not the strategy's.
    assert "Stop <code>59,748.0</code> (widened for costs)" in render.compact(sig)
    assert "widened" not in render.compact(
        dataclasses.replace(sig, candidate=candidate(symbol=BTC, risk=300.0))
    )
    # Stopped: gross −1R; taker + slippage on both fills, (0.0007 × 60,000 + 0.0007 × 59,748) ÷ 252.
    [done] = tracker.on_price("binanceusdm", BTC, T0 + HOUR, 59_700.0, 59_700.0, 59_700.0)
    assert done.status is Status.STOPPED
    assert done.fee_r == pytest.approx(0.0007 * (60_000 + 59_748) / 252)
    assert done.r_multiple == pytest.approx(-1.0 - 0.0007 * (60_000 + 59_748) / 252)


def test_the_floor_uses_the_exchanges_own_fees() -> None:
    settings = Settings(
        _env_file=None,
        exchanges={"bybit": ExchangeSettings(taker_fee=0.001, maker_fee=0.0)},
        risk=RiskSettings(slippage_bps=0.0, stop_floor_cost_multiple=2.0),
    )
    floored = Costs(settings=settings).floor(candidate(exchange="bybit", entry=100.0, risk=0.1))
    assert floored.stop == pytest.approx(100.0 - 2 * 2 * 0.001 * 100.0)  # 2 × round trip of 0.2 %
