"""A market-wide move is one idea: the strongest few as trades, one alert naming them all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError
from signals_support import T0, Bench, candidate

from signalbots.notifier import Kind
from signalbots.settings import RiskSettings
from signalbots.signals.market_move import MarketMoves
from signalbots.signals.model import Candidate, Direction

# Alphabetical order is the order a replay used to offer them in; strength is the opposite.
_MOVE = {"AAVE": 1.0, "ADA": 1.1, "ALGO": 1.2, "ALICE": 1.3, "XLM": 2.4, "ZEC": 3.1}


def _moment(strengths: dict[str, float], **kw: object) -> list[Candidate]:
    return [
        candidate(symbol=f"{base}/USDT:USDT", direction=Direction.SHORT, strength=s, **kw)  # type: ignore[arg-type]
        for base, s in strengths.items()
    ]


def _market_alerts(bench: Bench) -> list[str]:
    return [m.text for m in bench.notifier.of(Kind.SIGNAL) if m.dedupe_key.startswith("market:")]


def test_six_symbols_in_one_moment_send_the_strongest_two_and_one_alert_naming_the_rest(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    signals = moves.consider(_moment(_MOVE))
    assert [s.candidate.symbol for s in signals] == ["ZEC/USDT:USDT", "XLM/USDT:USDT"]
    [alert] = _market_alerts(bench)
    assert "Market-wide move" in alert and "🔴 SHORT" in alert and "6 symbols" in alert
    assert "Sent as trades: ZEC (A), XLM (A)" in alert
    assert "Also fired: ALICE (C), ALGO (C), ADA (C), AAVE (C)" in alert
    assert len(bench.notifier.of(Kind.SIGNAL)) == 3  # two trades and the market-wide alert, not six
    assert bench.suppressed("volume", "market_move") == 4


def test_the_same_moment_again_sends_nothing_new(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    moves.consider(_moment(_MOVE))
    assert moves.consider(_moment(_MOVE)) == []
    assert len(_market_alerts(bench)) == 1


def test_fewer_symbols_than_the_minimum_are_separate_trades(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    signals = moves.consider(_moment({"AAVE": 1.0, "ADA": 1.5, "ALGO": 2.0}))
    assert len(signals) == 3 and _market_alerts(bench) == []


def test_top_zero_sends_only_the_market_wide_alert(bench_factory: Callable[..., Bench]) -> None:
    bench = bench_factory(market_move_top=0)
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    assert moves.consider(_moment(_MOVE)) == []
    [alert] = _market_alerts(bench)
    assert "Fired: ZEC (A), XLM (A), ALICE (C)" in alert and "Sent as trades" not in alert


def test_off_every_candidate_is_its_own_trade(bench_factory: Callable[..., Bench]) -> None:
    bench = bench_factory(market_move_min=0, max_open=10, max_open_per_strategy=10)
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    assert len(moves.consider(_moment(_MOVE))) == 6 and _market_alerts(bench) == []


def test_other_directions_and_other_closes_are_other_moments(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    mixed = [
        *_moment({"AAVE": 1.0, "ADA": 1.0}),
        *_moment({"ALGO": 1.0, "ALICE": 1.0}, time_ms=T0 + 300_000),
        candidate(symbol="ZEC/USDT:USDT", direction=Direction.LONG),
    ]
    assert len(moves.consider(mixed)) == 5 and _market_alerts(bench) == []


def test_live_candidates_of_one_close_wait_for_the_grace_then_go_ranked(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    arriving = _moment(_MOVE)
    for c in arriving[:3]:  # per symbol, one event at a time
        assert moves.hold([c]) == []
    bench.clock.advance(0.6)
    for c in arriving[3:]:
        assert moves.hold([c]) == []
    # the grace (1 s) runs from the moment's first candidate
    assert moves.release() == [] and moves.due() == 1.0
    bench.clock.advance(0.4)
    ready = moves.release()
    assert len(ready) == 6 and moves.due() is None
    assert [s.candidate.symbol for s in moves.consider(ready)] == ["ZEC/USDT:USDT", "XLM/USDT:USDT"]


def test_a_candidate_off_a_candle_close_is_not_held(bench: Bench) -> None:
    moves = MarketMoves(desk=bench.desk(), clock=bench.clock)
    print_time = candidate(direction=Direction.SHORT, time_ms=T0 + 1_234)  # a liquidation print's own time
    alert = candidate(symbol="ZEC/USDT:USDT", direction=Direction.NONE)
    assert moves.hold([print_time, alert]) == [print_time, alert] and moves.due() is None


def test_one_symbol_is_refused_as_a_market_wide_move() -> None:
    with pytest.raises(ValidationError, match="one symbol is not a market-wide move"):
        RiskSettings(market_move_min=1)
    with pytest.raises(ValidationError):
        RiskSettings(market_move_top=-1)
