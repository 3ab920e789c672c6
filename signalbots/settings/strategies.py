"""``[strategies.*]``: one table per registered strategy, each the settings model its spec declares beside
the strategy (``strategies.registry``). TOML keys and env names follow the strategy's name, as before:
``[strategies.<name>]``, ``SIGNALBOTS_STRATEGIES__<NAME>__<KEY>``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import create_model

from signalbots.settings.sections import Section
from signalbots.strategies.registry import SPECS

__all__ = ["StrategiesSettings", "StrategySections", "strategy_settings"]


class StrategySections(Section):
    """The ``[strategies]`` table; its fields, one per strategy, are added from the registry. Code reads a
    strategy's section through its spec (``StrategySpec.section``), typed."""


def _build() -> type[StrategySections]:
    fields: dict[str, Any] = {spec.name: (spec.settings, spec.settings()) for spec in SPECS}
    return create_model("StrategiesSettings", __base__=StrategySections, **fields)


def strategy_settings() -> dict[str, type[Section]]:
    """Each strategy's settings model by its class name (``signalbots.settings`` re-exports them)."""
    return {spec.settings.__name__: spec.settings for spec in SPECS}


if TYPE_CHECKING:
    StrategiesSettings = StrategySections
else:
    StrategiesSettings = _build()
