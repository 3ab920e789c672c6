"""The registry: every strategy the daemon knows, one line each. Everything that must know the strategies
— settings (``[strategies.*]``), the daemon, ``backtest``, ``record``, ``demo``, the feed plan, coverage,
the desk's cooldowns, the messages and charts — reads them from here, through each one's ``StrategySpec``.

Adding a strategy: its module (the strategy, its settings and its ``SPEC``) and one line in ``SPECS``.
"""

from __future__ import annotations

from typing import Any

from signalbots.strategies import funding, liquidation, open_interest, volume
from signalbots.strategies.spec import Alert, InvalidSpec, StrategySpec

__all__ = ["SPECS", "alert_for", "names", "spec_for"]

# In this order in lists, the heartbeat and the startup notice.
SPECS: tuple[StrategySpec[Any], ...] = (
    liquidation.SPEC,
    funding.SPEC,
    volume.SPEC,
    open_interest.SPEC,
)


def _alerts(specs: tuple[StrategySpec[Any], ...]) -> dict[str, Alert]:
    # Messages and charts find a candidate's layout by its kind alone: kinds must not repeat.
    found: dict[str, Alert] = {}
    names: set[str] = set()
    for spec in specs:
        if spec.name in names:
            raise InvalidSpec(f"strategy {spec.name!r} is registered twice")
        names.add(spec.name)
        for kind, alert in spec.alerts.items():
            if kind in found:
                raise InvalidSpec(f"candidate kind {kind!r} of {spec.name!r} is another strategy's kind")
            found[kind] = alert
    return found


_ALERTS = _alerts(SPECS)
_BY_NAME = {spec.name: spec for spec in SPECS}


def names() -> list[str]:
    return [spec.name for spec in SPECS]


def spec_for(name: str) -> StrategySpec[Any] | None:
    return _BY_NAME.get(name)


def alert_for(kind: str) -> Alert | None:
    """How a candidate of ``kind`` is shown: title, layout and chart; None for a kind no strategy declares."""
    return _ALERTS.get(kind)
