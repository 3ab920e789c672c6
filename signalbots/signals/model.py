"""Signal candidates (from strategies) and signals (accepted by the desk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"
    NONE = "none"  # pure alerts and carry spreads: nothing for the tracker to resolve


class Status(StrEnum):
    OPEN = "open"
    TARGET1 = "target1"
    TARGET2 = "target2"
    STOPPED = "stopped"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a strategy proposes. Pure data; the desk decides whether it becomes a Signal.

    For a directional candidate: stop on the losing side of entry, targets at 1R and 2R.
    For ``Direction.NONE``: stop and targets are None and the tracker ignores it.
    ``facts`` holds the numbers that triggered it (name → number), shown in the message.
    ``strength`` orders candidates when a daily cap must keep the strongest ones.
    """

    strategy: str
    kind: str  # e.g. "cascade", "extreme", "spread", "spike"
    exchange: str
    symbol: str
    direction: Direction
    entry: float
    stop: float | None
    targets: tuple[float, ...]
    time_ms: int
    expiry_ms: int
    dedupe_key: str
    facts: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    strength: float = 0.0

    @property
    def risk(self) -> float | None:
        """Distance entry→stop (1R) in price units."""
        return None if self.stop is None else abs(self.entry - self.stop)


@dataclass(slots=True)
class Signal:
    """An accepted candidate, persisted; followed by the tracker until it resolves."""

    id: int
    candidate: Candidate
    status: Status = Status.OPEN
    message_id: int | None = None
    chat_id: int | None = None
    resolved_ms: int | None = None
    exit_price: float | None = None
    r_multiple: float | None = None  # net R: what the trader kept (gross − costs + funding)
    size_base: float | None = None
    gross_r: float | None = None  # the move between entry and exit, in R
    fee_r: float | None = None  # fees and slippage, in R (≥ 0 but for maker rebates)
    funding_r: float = 0.0  # funding received (+) or paid (−) while open, in R
