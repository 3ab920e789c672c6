"""Stop styles and trade direction shared by the strategies, and their settings refused when misspelt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signalbots.events import Candle
from signalbots.settings import ConfigError, load_settings
from signalbots.signals.model import Direction
from signalbots.strategies._stops import atr, extreme_stop, place_stop, trade_direction


def _candles(*ohlc: tuple[float, float, float, float]) -> list[Candle]:
    return [
        Candle("okx", "X/USDT:USDT", i * 300_000, "5m", o, h, low, c, 1.0)
        for i, (o, h, low, c) in enumerate(ohlc)
    ]


def test_follow_keeps_the_moves_direction_and_fade_turns_it() -> None:
    assert trade_direction(Direction.LONG, "follow") is Direction.LONG
    assert trade_direction(Direction.LONG, "fade") is Direction.SHORT
    assert trade_direction(Direction.SHORT, "fade") is Direction.LONG
    assert trade_direction(Direction.NONE, "fade") is Direction.NONE


def test_each_style_places_the_stop_on_the_losing_side() -> None:
    # entry 100, span high 104 / low 99 (range 5), ATR 2
    for direction, atr_stop, extreme, fixed in (
        (Direction.LONG, 100 - 1.5 * 2, 99 - 0.5 * 5, 98.0),
        (Direction.SHORT, 100 + 1.5 * 2, 104 + 0.5 * 5, 102.0),
    ):
        common = {"pct": 2.0, "atr_value": 2.0, "atr_multiple": 1.5, "span": (104.0, 99.0), "range_k": 0.5}
        assert place_stop("atr", direction, 100.0, **common) == (pytest.approx(atr_stop), "atr")  # type: ignore[arg-type]
        assert place_stop("extreme", direction, 100.0, **common) == (pytest.approx(extreme), "extreme")  # type: ignore[arg-type]
        assert place_stop("fixed", direction, 100.0, **common) == (pytest.approx(fixed), "fixed")  # type: ignore[arg-type]


def test_atr_and_extreme_without_their_data_fall_back_to_the_fixed_percentage() -> None:
    assert place_stop("atr", Direction.LONG, 100.0, pct=2.0, atr_value=None) == (pytest.approx(98.0), "fixed")
    assert place_stop("extreme", Direction.SHORT, 100.0, pct=2.0, span=None) == (
        pytest.approx(102.0),
        "fixed",
    )
    assert extreme_stop(Direction.LONG, 104.0, 99.0, 0.0) == 99.0  # k = 0: the extreme itself


def test_the_atr_counts_a_trigger_under_way_as_the_newest_candle() -> None:
    calm = _candles((100, 100.1, 99.9, 100), (100, 100.1, 99.9, 100), (100, 100.1, 99.9, 100))
    assert atr(calm, 2) == pytest.approx(0.2)  # two true ranges of 0.2
    # With a cascade from 100 down to 96 still under way: one closed range and the trigger's, 4 against 100.
    assert atr(calm, 2, trigger=(99.0, 96.0)) == pytest.approx((0.2 + 4.0) / 2)
    # ATR(2) with a trigger needs one closed true range: two closed candles, not three.
    assert atr(calm[:2], 2) is None and atr(calm[:2], 2, trigger=(99.0, 96.0)) == pytest.approx(2.1)
    assert atr(calm[:1], 2, trigger=(99.0, 96.0)) is None
    assert atr([], 2, trigger=(99.0, 96.0)) is None  # no close to measure the trigger from


@pytest.mark.parametrize(
    ("toml", "key", "says"),
    [
        ('[strategies.volume]\ndirection = "fad"', "strategies.volume.direction", "'fade' or 'follow'"),
        ('[strategies.funding]\ndirection = "long"', "strategies.funding.direction", "'fade' or 'follow'"),
        (
            '[strategies.volume]\nstop_style = "atrr"',
            "strategies.volume.stop_style",
            "'atr', 'extreme' or 'fixed'",
        ),
        ('[strategies.liquidation]\nstop_style = "ext"', "strategies.liquidation.stop_style", "'extreme'"),
        (
            '[strategies.open_interest]\nstop_style = "atr"',
            "strategies.open_interest.stop_style",
            "'extreme' or 'fixed'",
        ),
        (
            "[strategies.volume]\nstop_range_k = -1",
            "strategies.volume.stop_range_k",
            "greater than or equal to 0",
        ),
        (
            "[risk]\nstop_floor_cost_multiple = -3",
            "risk.stop_floor_cost_multiple",
            "greater than or equal to 0",
        ),
    ],
)
def test_a_misspelt_or_impossible_rule_is_a_config_error_naming_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, key: str, says: str
) -> None:
    for name in [k for k in os.environ if k.startswith("SIGNALBOTS_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "s.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env_file=None)
    (problem,) = err.value.problems
    assert problem.startswith(key + " ") and says in problem, problem
