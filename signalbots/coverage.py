"""Whether a configuration can produce a signal at all: an enabled strategy whose inputs an enabled exchange
provides. One that cannot (every exchange off, every strategy off, or only strategies whose data no enabled
exchange has) is refused by ``check-config`` and ``run`` alike — a daemon that watches nothing would
otherwise look healthy (issue 21). ``record`` and ``backtest`` do not need it: they do not signal live.
"""

from __future__ import annotations

from signalbots.exchange.venues import VENUES, Venue
from signalbots.needs import FeedKind
from signalbots.settings import ConfigError, Settings
from signalbots.strategies.registry import SPECS

__all__ = ["NoSignalPossible", "no_signal_reason", "require_a_signal", "strategy_inputs", "venue_provides"]


class NoSignalPossible(ConfigError):
    """Valid settings under which no signal can ever come; exit 78 like any invalid setting, in one line."""

    def __init__(self, reason: str) -> None:
        Exception.__init__(self, f"no signal possible: {reason}")
        self.problems = [reason]


def strategy_inputs() -> dict[str, tuple[FeedKind, ...]]:
    """Each registered strategy's inputs (the feed kinds its signals come from), as its spec declares them."""
    return {spec.name: tuple(sorted(spec.inputs)) for spec in SPECS}


def venue_provides(venue: Venue) -> frozenset[FeedKind]:
    """The feed kinds an exchange's profile supports (the rule ``exchange.feeds.feeds_for`` applies)."""
    kinds = {FeedKind.TICKERS, FeedKind.FUNDING, FeedKind.CANDLES}
    if venue.liquidation_stream is not None:
        kinds.add(FeedKind.LIQUIDATIONS)
    if venue.open_interest is not None:
        kinds.add(FeedKind.OPEN_INTEREST)
    return frozenset(kinds)


def no_signal_reason(settings: Settings) -> str | None:
    """Why no signal can come from these settings, in one line; None when one can."""
    exchanges = settings.enabled_exchanges()
    strategies = settings.enabled_strategies()
    if not exchanges:
        return (
            f"every exchange is disabled ({', '.join(settings.exchanges)}: enabled = false); "
            "enable at least one in [exchanges.<id>]"
        )
    if not strategies:
        return (
            f"every strategy is disabled ({', '.join(strategy_inputs())}: enabled = false); "
            "enable at least one in [strategies.<name>]"
        )
    provided: set[FeedKind] = set().union(*(venue_provides(VENUES[ex]) for ex in exchanges))
    inputs = strategy_inputs()
    if any(set(inputs[name]) & provided for name in strategies):
        return None
    needs = ", ".join(f"{name} reads {'/'.join(inputs[name])}" for name in strategies)
    wanted = {kind for name in strategies for kind in inputs[name]}
    providers = [ex for ex, v in VENUES.items() if venue_provides(v) & wanted]
    return (
        f"no enabled strategy gets its data from the enabled exchanges ({', '.join(exchanges)}): {needs}; "
        f"enable {_either(providers)}, or another strategy"
    )


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def require_a_signal(settings: Settings) -> None:
    """``NoSignalPossible`` when ``no_signal_reason`` finds one."""
    if (reason := no_signal_reason(settings)) is not None:
        raise NoSignalPossible(reason)
