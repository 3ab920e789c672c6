"""What every strategy is, and how a directional candidate is built.

A strategy is pure: ``on_event`` takes one ``MarketEvent`` and returns the candidates it triggers. It
never awaits, reads no clock (time comes from the events' ``time_ms``) and does no I/O, so the same
events always give the same candidates — live, in a backtest, or in a test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from signalbots.events import MarketEvent
from signalbots.signals.model import Candidate, Direction


class Strategy(Protocol):
    name: str

    def on_event(self, event: MarketEvent) -> list[Candidate]: ...


S = TypeVar("S")


class Tunable(Strategy, Protocol[S]):
    """A strategy with settings, re-parameterised on reload without losing what it has learnt."""

    @property
    def settings(self) -> S: ...

    def reconfigure(self, settings: S) -> None: ...


@runtime_checkable
class Stateful(Protocol):
    """A strategy with a little state that must survive a restart (e.g. funding hysteresis latches).

    ``state()`` is plain JSON-able data; ``restore()`` accepts what ``state()`` returned, ignoring
    anything it does not recognise (a state written by an older version must not stop the daemon).
    """

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


def dedupe_key(*parts: object) -> str:
    """``dedupe_key("volume", "binanceusdm", "XRP/USDT:USDT", 1637057100000)`` →
    ``"volume:binanceusdm:XRP/USDT:USDT:1637057100000"``."""
    return ":".join(str(p) for p in parts)


def finite_positive(*values: float | None) -> bool:
    # A plain loop, no generator: every candle of every replayed setting passes through here.
    for v in values:  # noqa: SIM110 - all() would build a generator again
        if v is None or not 0.0 < v < math.inf:  # NaN fails both comparisons
            return False
    return True


def directional(
    *,
    strategy: str,
    kind: str,
    exchange: str,
    symbol: str,
    direction: Direction,
    entry: float,
    stop: float | None,
    time_ms: int,
    expiry_s: float,
    key: str,
    facts: Mapping[str, float],
    notes: tuple[str, ...] = (),
    strength: float = 0.0,
) -> Candidate | None:
    """A candidate with targets at 1R and 2R, or None when the numbers cannot make a sane trade.

    ``Direction.NONE`` (alerts, spreads) gets no stop and no targets whatever ``stop`` says (entry 0.0
    there means "no price"). A
    directional one needs a finite positive entry, a stop strictly on the losing side, and both targets
    above zero; otherwise None, so a degenerate input never reaches a user as a signal. Non-finite
    facts are dropped for the same reason.
    """
    clean = {k: float(v) for k, v in facts.items() if math.isfinite(v)}
    targets: tuple[float, ...]
    if not math.isfinite(strength):
        strength = 0.0
    if direction is Direction.NONE:
        # An alert may have no price of its own (a carry spread): entry 0.0 means "none".
        if not (math.isfinite(entry) and entry >= 0):
            return None
        stop, targets = None, ()
    else:
        if not finite_positive(entry):
            return None
        if stop is None or not finite_positive(stop):
            return None
        risk = entry - stop if direction is Direction.LONG else stop - entry
        if not (math.isfinite(risk) and risk > 0):
            return None
        sign = 1.0 if direction is Direction.LONG else -1.0
        targets = (entry + sign * risk, entry + sign * 2.0 * risk)
        if not finite_positive(*targets):
            return None
    return Candidate(
        strategy=strategy,
        kind=kind,
        exchange=exchange,
        symbol=symbol,
        direction=direction,
        entry=entry,
        stop=stop,
        targets=targets,
        time_ms=time_ms,
        expiry_ms=time_ms + round(expiry_s * 1000),
        dedupe_key=key,
        facts=clean,
        notes=notes,
        strength=strength,
    )
