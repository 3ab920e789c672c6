"""A strategy's declaration is complete or its module does not import."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from signalbots.needs import FeedKind, Needs
from signalbots.strategies.registry import SPECS
from signalbots.strategies.spec import InvalidSpec, StrategySpec
from signalbots.strategies.volume import SPEC as VOLUME


def _without(**changes: Any) -> StrategySpec[Any]:
    return replace(VOLUME, **changes)


def test_a_spec_without_a_cooldown_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="no cooldown"):
        _without(cooldown=None)


def test_a_spec_without_a_settings_model_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="no settings model"):
        _without(settings=None)


def test_settings_without_enabled_are_refused() -> None:
    class NoSwitch(BaseModel):
        threshold: float = 1.0

    with pytest.raises(InvalidSpec, match="no 'enabled'"):
        _without(settings=NoSwitch)


def test_a_spec_without_a_declared_input_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="no declared input"):
        _without(inputs=frozenset())
    with pytest.raises(InvalidSpec, match="no declared input"):
        _without(inputs=frozenset({"candles"}))  # a string matched by hand is not a FeedKind


def test_inputs_must_be_among_what_it_reads() -> None:
    with pytest.raises(InvalidSpec, match="do not include its inputs"):
        _without(needs=lambda s: Needs(feeds=frozenset({FeedKind.TICKERS})))


def test_a_spec_that_cannot_show_its_candidates_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="no alert"):
        _without(alerts={})


def test_every_registered_spec_names_its_section_and_kinds_once() -> None:
    assert [s.name for s in SPECS] == ["liquidation", "funding", "volume", "open_interest"]
    kinds = [kind for s in SPECS for kind in s.alerts]
    assert len(kinds) == len(set(kinds))
    for spec in SPECS:
        section = spec.settings()
        assert spec.needs(section).feeds >= spec.inputs
        assert spec.factory(section).name == spec.name


@pytest.mark.parametrize(
    "module",
    ["signalbots.strategies.volume", "signalbots.strategies.registry", "signalbots.settings.sections"],
)
def test_any_module_can_be_imported_first(module: str) -> None:
    # The settings build [strategies.*] from the registry, which imports the strategy modules, which
    # import settings types: whichever a program imports first, the whole comes up.
    import subprocess
    import sys

    code = (
        f"import {module}; from signalbots.settings import Settings; print(Settings().enabled_strategies())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['liquidation', 'funding', 'volume', 'open_interest']"


def test_a_strategys_settings_keep_their_old_import_path() -> None:
    from signalbots import settings

    assert settings.VolumeSettings is VOLUME.settings  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = settings.NoSuchSettings  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_kind_a_strategy_proposes_has_a_cooldown_and_a_title(spec: StrategySpec[Any]) -> None:
    from signalbots.charts.history import MarketHistory
    from signalbots.settings import Settings
    from signalbots.signals.model import Direction
    from signalbots.strategies.base import directional

    settings = Settings()
    for kind, alert in spec.alerts.items():
        c = directional(
            strategy=spec.name,
            kind=kind,
            exchange="binanceusdm",
            symbol="XRP/USDT:USDT",
            direction=Direction.LONG,
            entry=1.0,
            stop=0.9,
            time_ms=0,
            expiry_s=60.0,
            key="k",
            facts={},
        )
        assert c is not None
        key, seconds = spec.cooldown_of(c, settings)
        assert key.startswith(f"{spec.name}:") and seconds > 0
        assert alert.title and alert.chart(c, MarketHistory()).title
