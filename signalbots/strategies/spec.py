"""``StrategySpec``: the one declaration of a strategy, beside its code — everything the rest of the daemon
needs to know about it, so that nothing outside the strategy's own module names it.

A spec holds the strategy's name (its ``[strategies.<name>]`` section, its task, its signals' ``strategy``),
its settings model, a factory, the feeds its signals come from (``inputs``) and everything it reads
(``needs``, from its settings: candle timeframes, symbol floors, history), its cooldown, and per kind of
candidate it proposes the message title, the facts shown first and the chart. ``registry`` lists the specs.

A spec that lacks a cooldown, a settings model with ``enabled``, a declared input or a way to show its
candidates is refused when it is built, that is when its module is imported: a strategy missing from the
desk's cooldowns would otherwise silently get none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel

from signalbots.needs import FeedKind, Needs
from signalbots.signals.model import Candidate
from signalbots.strategies.base import Tunable

if TYPE_CHECKING:
    from signalbots.charts.spec import ChartSpec, History
    from signalbots.settings.sections import RiskSettings

__all__ = ["Alert", "InvalidSpec", "Layout", "StrategySpec"]


class _Settings(Protocol):
    """The part of ``settings.Settings`` a spec reads (the settings are built from the specs: no import)."""

    @property
    def strategies(self) -> object: ...

    @property
    def risk(self) -> RiskSettings: ...


S = TypeVar("S", bound=BaseModel)

# Facts a kind of message shows first, in this order: (fact name, template for its formatted value).
Layout = tuple[tuple[str, str], ...]


class InvalidSpec(TypeError):
    """A strategy's declaration is incomplete: fix the spec (raised when its module is imported)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """How one kind of candidate (``Candidate.kind``) is shown: title, facts first, the chart's builder."""

    title: str
    layout: Layout
    chart: Callable[[Candidate, History], ChartSpec]


@dataclass(frozen=True, eq=False)
class StrategySpec(Generic[S]):
    """One strategy, declared once. ``cooldown(candidate, section, risk)`` → (key, seconds): keys are
    stored, so a strategy must keep its keys' shape across versions."""

    name: str
    settings: type[S]
    factory: Callable[[S], Tunable[S]]
    inputs: frozenset[FeedKind]  # the feeds its signals come from: none live, no signal possible
    needs: Callable[[S], Needs]  # everything it reads, inputs included
    cooldown: Callable[[Candidate, S, RiskSettings], tuple[str, float]]
    alerts: Mapping[str, Alert]  # candidate kind → how it is shown
    # `signalbots research`'s default grid: setting name → values worth comparing (none: the defaults only);
    # a choice setting (``direction``, ``stop_style``) by its words
    grid: Mapping[str, tuple[float | str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = list(self._problems()) or list(self._needs_problems())
        if problems:
            raise InvalidSpec(f"strategy spec {self.name!r}: {'; '.join(problems)}")

    def _problems(self) -> Iterator[str]:
        if not (self.name.isidentifier() and self.name.islower()):
            yield "name must be a lower-case identifier (it is a TOML table and an env name)"
        if not (isinstance(self.settings, type) and issubclass(self.settings, BaseModel)):
            yield "no settings model"
        elif "enabled" not in self.settings.model_fields:
            yield "its settings have no 'enabled'"
        if not callable(self.cooldown):
            yield "no cooldown (every candidate needs one, or the desk would let it repeat at will)"
        if not callable(self.factory):
            yield "no factory"
        if not self.inputs or not all(isinstance(k, FeedKind) for k in self.inputs):
            yield "no declared input (the FeedKinds its signals come from)"
        if not callable(self.needs):
            yield "no needs"
        for key in self.grid:
            if isinstance(self.settings, type) and key not in self.settings.model_fields:
                yield f"its research grid names {key!r}, which its settings lack"
        if not self.alerts:
            yield "no alert (title, layout, chart) for the candidates it proposes"
        else:
            for kind, alert in self.alerts.items():
                if not (alert.title and callable(alert.chart)):
                    yield f"alert {kind!r} lacks a title or a chart"

    def _needs_problems(self) -> Iterator[str]:
        # Only once the parts are there: the defaults must say what the strategy reads.
        try:
            needs = self.needs(self.settings())
        except Exception as err:  # said as the spec's problem, at import
            yield f"its needs cannot be read from its default settings ({err!r})"
            return
        if not self.inputs <= needs.feeds:
            yield "its needs do not include its inputs"

    def section(self, settings: _Settings) -> S:
        """This strategy's ``[strategies.<name>]`` section of ``settings``."""
        return cast(S, getattr(settings.strategies, self.name))

    def enabled(self, settings: _Settings) -> bool:
        return bool(getattr(self.section(settings), "enabled"))  # noqa: B009 - checked at import, not typed

    def build(self, settings: _Settings) -> Tunable[S]:
        return self.factory(self.section(settings))

    def needs_in(self, settings: _Settings) -> Needs:
        return self.needs(self.section(settings))

    def cooldown_of(self, candidate: Candidate, settings: _Settings) -> tuple[str, float]:
        return self.cooldown(candidate, self.section(settings), settings.risk)

    def refresh(self, current: Tunable[Any], settings: _Settings) -> None:
        """Re-parameterise a running instance (reload) so its baselines survive."""
        section = self.section(settings)
        if current.settings != section:
            current.reconfigure(section)
