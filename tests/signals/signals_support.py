"""Helpers for the signal tests: a recording notifier, hand-built candidates, a desk/tracker bench.

(A uniquely named module: several test folders have a ``conftest``; importing from it is ambiguous.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signalbots.clock import ManualClock
from signalbots.exchange.venues import VENUES
from signalbots.metrics import Metrics
from signalbots.notifier import Kind, Message
from signalbots.settings import ExchangeSettings, RiskSettings, Settings
from signalbots.signals.desk import Desk
from signalbots.signals.model import Candidate, Direction, Signal
from signalbots.signals.tracker import Tracker
from signalbots.store import Store

T0 = 1_637_020_800_000  # 2021-11-16 00:00 UTC
HOUR = 3_600_000
DAY = 86_400_000


class RecordingNotifier:
    """The notifier is a collaborator: record what would be sent, once per dedupe key (as the outbox does)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def submit(self, message: Message) -> bool:
        if any(m.dedupe_key == message.dedupe_key for m in self.messages):
            return False
        self.messages.append(message)
        return True

    def of(self, kind: Kind) -> list[Message]:
        return [m for m in self.messages if m.kind is kind]


def make_settings(*, costs: bool = False, **risk: Any) -> Settings:
    """Settings for a bench; without ``costs`` fees and slippage are zero, so net R is the move (the fill
    rules read plainly), with them the venue profiles' fees and the default slippage apply."""
    if costs:
        return Settings(_env_file=None, risk=RiskSettings(**risk))
    free = {name: ExchangeSettings(taker_fee=0.0, maker_fee=0.0) for name in VENUES}
    return Settings(_env_file=None, exchanges=free, risk=RiskSettings(**{"slippage_bps": 0.0, **risk}))


def candidate(
    *,
    strategy: str = "volume",
    kind: str = "spike",
    exchange: str = "binanceusdm",
    symbol: str = "XRP/USDT:USDT",
    direction: Direction = Direction.LONG,
    entry: float = 100.0,
    risk: float = 2.0,
    time_ms: int = T0,
    expiry_ms: int | None = None,
    key: str | None = None,
    strength: float = 1.0,
    facts: dict[str, float] | None = None,
    notes: tuple[str, ...] = (),
) -> Candidate:
    sign = {Direction.LONG: 1.0, Direction.SHORT: -1.0}.get(direction)
    return Candidate(
        strategy=strategy,
        kind=kind,
        exchange=exchange,
        symbol=symbol,
        direction=direction,
        entry=entry,
        stop=None if sign is None else entry - sign * risk,
        targets=() if sign is None else (entry + sign * risk, entry + sign * 2 * risk),
        time_ms=time_ms,
        expiry_ms=expiry_ms if expiry_ms is not None else time_ms + DAY,
        dedupe_key=key or f"{strategy}:{exchange}:{symbol}:{direction.value}:{time_ms}",
        facts=facts or {},
        notes=notes,
        strength=strength,
    )


@dataclass
class Bench:
    """Everything a desk and tracker need, on one state file that can be closed and reopened (a restart)."""

    path: Path
    settings: Settings
    notifier: RecordingNotifier
    metrics: Metrics
    clock: ManualClock
    store: Store

    followers: list[Tracker] = field(default_factory=list)

    def desk(self) -> Desk:
        """A desk that tells the trackers made so far (on the current store) of each new signal."""
        return Desk(
            store=self.store,
            settings=self.settings,
            clock=self.clock,
            metrics=self.metrics,
            notifier=self.notifier,
            on_signal=self._tell,
        )

    def _tell(self, sig: Signal) -> None:
        for tracker in self.followers:
            if tracker.store is self.store:  # a tracker of a closed store is a process that ended
                tracker.follow(sig)

    def tracker(self) -> Tracker:
        made = Tracker(
            store=self.store,
            settings=self.settings,
            clock=self.clock,
            metrics=self.metrics,
            notifier=self.notifier,
        )
        self.followers.append(made)
        return made

    def restart(self) -> None:
        """A new process: the state file reopened, new metrics, the same outbox (it is in the database)."""
        self.store.close()
        self.store = Store(path=self.path)
        self.store.open()
        self.metrics = Metrics()

    def suppressed(self, strategy: str, gate: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "signalbots_suppressed_total", {"strategy": strategy, "gate": gate}
        )
        return value or 0.0
