"""Cascade thresholds relative to the market (its liquidation flow, its open interest), summed over venues."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signalbots.events import Liquidation, OpenInterest, Side
from signalbots.needs import FeedKind
from signalbots.settings import LiquidationSettings
from signalbots.settings.sections import RiskSettings
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies._cascade import FlowBaseline
from signalbots.strategies.liquidation import SPEC, LiquidationStrategy

T0 = 1_699_999_800_000  # a multiple of 5 minutes: windows and flow buckets start here
SOL = "SOL/USDT:USDT"
BTC = "BTC/USDT:USDT"


def _liq(
    t_s: float,
    usd: float,
    *,
    ex: str = "binanceusdm",
    sym: str = SOL,
    side: Side = Side.LONG,
    price: float = 100.0,
) -> Liquidation:
    return Liquidation(ex, sym, T0 + round(t_s * 1000), side, price, usd / price, usd)


def _run(strategy: LiquidationStrategy, events: list[Liquidation]) -> list[Candidate]:
    return [c for e in events for c in strategy.on_event(e)]


def _settings(**kw: object) -> LiquidationSettings:
    return LiquidationSettings.model_validate(kw)


# Twelve 5-minute windows of $12k each: a mean flow of $12k per window over the hour.
BACKGROUND = [_liq(i * 300 + 10, 12_000) for i in range(12)]
FLOW = {"threshold": "flow", "flow_lookback": "1h", "flow_multiple": 10.0, "relative_floor_usd": 50_000.0}


def test_flow_fires_at_a_multiple_of_the_symbols_own_flow() -> None:
    strategy = LiquidationStrategy(settings=_settings(**FLOW))
    assert _run(strategy, BACKGROUND) == []
    # 10 × $12k = $120k: two prints of $60k fire, far under the absolute $250k tier
    (c,) = _run(strategy, [_liq(3700, 60_000), _liq(3710, 60_000)])
    assert c.direction is Direction.LONG
    assert c.facts["flow_mean_usd"] == pytest.approx(12_000)
    assert c.facts["threshold_usd"] == pytest.approx(120_000)
    assert c.strength == pytest.approx(1.0)
    assert any("10× the mean 5m of liquidations over the last 1h, at least $50,000" in n for n in c.notes)


def test_flow_stays_silent_under_the_multiple() -> None:
    strategy = LiquidationStrategy(settings=_settings(**FLOW))
    _run(strategy, BACKGROUND)
    assert _run(strategy, [_liq(3700, 50_000), _liq(3710, 60_000)]) == []  # $110k < $120k


def test_flow_uses_the_tier_until_a_whole_lookback_is_watched() -> None:
    strategy = LiquidationStrategy(settings=_settings(**FLOW))
    assert _run(strategy, [_liq(0, 60_000), _liq(10, 60_000)]) == []  # $120k: the $250k tier decides
    (c,) = _run(strategy, [_liq(600, 150_000), _liq(610, 150_000)])
    assert c.facts["threshold_usd"] == 250_000
    assert "flow_mean_usd" not in c.facts
    assert any("the tier, until 1h of flow is known" in n for n in c.notes)


def test_a_dead_symbols_prints_meet_the_floor_not_a_zero_baseline() -> None:
    strategy = LiquidationStrategy(settings=_settings(**FLOW))
    _run(strategy, BACKGROUND)  # SOL's flow; DOGE has none: its baseline is 0
    doge = "DOGE/USDT:USDT"
    assert _run(strategy, [_liq(3700, 20_000, sym=doge), _liq(3710, 20_000, sym=doge)]) == []
    (c,) = _run(strategy, [_liq(3720, 20_000, sym=doge)])  # $60k ≥ the $50k floor
    assert c.facts["threshold_usd"] == 50_000
    assert c.facts["flow_mean_usd"] == 0


def test_the_flow_baseline_excludes_the_current_window_and_forgets_the_old() -> None:
    flow = FlowBaseline(window_s=300, lookback_s=900)  # three buckets
    for t_s, usd in ((10, 300.0), (310, 600.0), (610, 900.0), (910, 5_000.0)):
        flow.add(("x", "y"), T0 + t_s * 1000, usd)
    assert flow.mean(("x", "y"), T0 + 910_000) == pytest.approx((300 + 600 + 900) / 3)
    assert flow.mean(("x", "y"), T0 + 1_210_000) == pytest.approx((600 + 900 + 5_000) / 3)


OI = {"threshold": "open_interest", "oi_pct": 0.5, "relative_floor_usd": 50_000.0}


def test_open_interest_fires_at_a_share_of_it() -> None:
    strategy = LiquidationStrategy(settings=_settings(**OI))
    strategy.on_event(OpenInterest("binanceusdm", SOL, T0, 400_000.0, 40_000_000.0))
    (c,) = _run(strategy, [_liq(10, 100_000), _liq(20, 100_000)])  # 0.5 % of $40M = $200k
    assert c.facts["threshold_usd"] == pytest.approx(200_000)
    assert c.facts["open_interest_usd"] == 40_000_000


def test_open_interest_unknown_falls_back_to_the_tier() -> None:
    strategy = LiquidationStrategy(settings=_settings(**OI))
    assert _run(strategy, [_liq(10, 100_000), _liq(20, 100_000)]) == []  # $200k < the $250k tier
    (c,) = _run(strategy, [_liq(30, 100_000)])
    assert c.facts["threshold_usd"] == 250_000
    assert any("open interest unknown" in n for n in c.notes)


def test_open_interest_is_read_only_when_its_threshold_is_chosen() -> None:
    assert FeedKind.OPEN_INTEREST in SPEC.needs(_settings(threshold="open_interest")).feeds
    assert FeedKind.OPEN_INTEREST not in SPEC.needs(_settings()).feeds


def test_flow_lookback_must_span_two_windows() -> None:
    with pytest.raises(ValidationError, match="flow_lookback"):
        _settings(window="5m", flow_lookback="8m")


# BTC on three venues, none alone at the $5M majors tier: $2.4M + $1.6M + $1.0M.
VENUES = [
    _liq(10, 1_200_000, ex="binanceusdm", sym=BTC, price=40_000),
    _liq(20, 1_600_000, ex="okx", sym=BTC, price=39_990),
    _liq(30, 1_000_000, ex="bybit", sym=BTC, price=39_980),
    _liq(40, 1_200_000, ex="binanceusdm", sym=BTC, price=39_950),
]


def test_one_venue_alone_does_not_reach_the_majors_tier() -> None:
    assert _run(LiquidationStrategy(settings=_settings()), VENUES) == []


def test_cross_venue_sums_the_base_and_names_the_largest_venue() -> None:
    strategy = LiquidationStrategy(settings=_settings(cross_venue=True))
    (c,) = _run(strategy, VENUES)
    assert (c.exchange, c.symbol, c.direction) == ("binanceusdm", BTC, Direction.LONG)
    assert c.entry == 39_950  # the largest venue's newest print
    assert c.facts["window_notional_usd"] == pytest.approx(5_000_000)
    assert c.facts["prints"] == 4
    assert c.facts["venue_binanceusdm_usd"] == pytest.approx(2_400_000)
    assert c.facts["venue_okx_usd"] == pytest.approx(1_600_000)
    assert c.facts["venue_bybit_usd"] == pytest.approx(1_000_000)
    (summed,) = [n for n in c.notes if n.startswith("summed across venues")]
    assert "Binance 48% (Binance publishes at most one liquidation per symbol per second" in summed
    assert "OKX 32% (OKX publishes at most one liquidation per contract per second" in summed
    assert "Bybit 20% (no sampling noted for its stream)" in summed
    assert c.dedupe_key == f"liquidation:all:BTC:long:{T0 + 40_000}"
    key, _ = SPEC.cooldown(c, _settings(cross_venue=True), RiskSettings())
    assert key == "liquidation:all:BTC:long"  # one cooldown per base, whichever venue led
