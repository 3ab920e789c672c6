"""A market-wide move is one idea, not five trades.

When the whole market moves, one strategy fires on many symbols at the same candle close in the same
direction. Left alone, the desk's caps keep whichever came first (in a replay: the first in alphabetical
order). Here the candidates of one **moment** — same strategy, kind, event time and direction — are
collected first; when at least ``risk.market_move_min`` symbols fired together, the strongest
``risk.market_move_top`` go to the desk as trades and one market-wide alert names them all, the rest too.

Two ways in: ``consider`` takes a whole moment at once (the replay hands it every candidate of one
instant); live, candidates of one candle close arrive one event at a time, so ``hold`` keeps those at a
candle close (a whole minute) for ``risk.market_move_grace`` and ``release`` hands back the moments whose
grace has ended (``due`` says when the next one does), on the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog

from signalbots.clock import Clock
from signalbots.events import base_asset
from signalbots.notifier import Kind, Message
from signalbots.signals import keys
from signalbots.signals.desk import Desk
from signalbots.signals.model import Candidate, Direction, Signal
from signalbots.signals.render import escape, exchange_name, utc
from signalbots.signals.track_record import grade
from signalbots.strategies.registry import alert_for

__all__ = ["MarketMove", "MarketMoves", "moment_of", "text"]

log = structlog.get_logger(__name__)

_MINUTE_MS = 60_000
_MAX_NAMED = 40  # keeps the alert short and far below Telegram's 4096 characters

Moment = tuple[str, str, int, Direction]  # (strategy, kind, event time ms, direction)


def moment_of(c: Candidate) -> Moment | None:
    """The moment a candidate shares with the rest of a market-wide move; None for an alert without a
    direction (a carry spread or a pure alert is its own idea)."""
    if c.direction is Direction.NONE:
        return None
    return (c.strategy, c.kind, c.time_ms, c.direction)


@dataclass(frozen=True, slots=True)
class MarketMove:
    """Symbols that fired together: ``sent`` became trades (strongest first), ``named`` did not."""

    strategy: str
    kind: str
    direction: Direction
    time_ms: int
    sent: tuple[Candidate, ...]
    named: tuple[Candidate, ...]

    @property
    def size(self) -> int:
        return len(self.sent) + len(self.named)


def _names(candidates: Sequence[Candidate]) -> str:
    shown = [f"{escape(base_asset(c.symbol))} ({grade(c.strength)})" for c in candidates[:_MAX_NAMED]]
    more = len(candidates) - len(shown)
    return ", ".join(shown) + (f" … and {more} more" if more > 0 else "")


def text(move: MarketMove) -> str:
    """The market-wide alert: how many fired, which were sent as trades, the others by name and grade."""
    side = "🟢 LONG" if move.direction is Direction.LONG else "🔴 SHORT"
    alert = alert_for(move.kind)
    title = alert.title if alert is not None else f"{move.strategy} {move.kind}"
    venues = sorted({part for c in (*move.sent, *move.named) for part in c.exchange.split("+")})
    lines = [
        f"🌐 <b>Market-wide move</b> · {side} · {move.size} symbols",
        f"{escape(title)} · {escape(', '.join(exchange_name(v) for v in venues))} · ⏰ {utc(move.time_ms)}",
    ]
    if move.sent:
        lines.append(f"Sent as trades: {_names(move.sent)}")
    if move.named:
        lines.append(f"{'Also fired' if move.sent else 'Fired'}: {_names(move.named)}")
    lines.append("<i>One move of the whole market, not separate ideas; grade A ≥ 2× threshold, B ≥ 1.5×.</i>")
    return "\n".join(lines)


class MarketMoves:
    """Ranks a moment's candidates by strength and sends a market-wide move as one idea.

    ``desk.settings`` is read at every call, so a reload applies at the next moment.
    """

    def __init__(self, *, desk: Desk, clock: Clock) -> None:
        self._desk = desk
        self._clock = clock
        self._held: dict[Moment, tuple[float, list[Candidate]]] = {}  # moment → (release at, candidates)

    # a whole moment --------------------------------------------------------------------------------------
    def consider(self, candidates: Iterable[Candidate]) -> list[Signal]:
        """Every candidate of one moment at once: market-wide moves ranked, the rest to the desk as usual."""
        risk = self._desk.settings.risk
        groups: dict[Moment | None, list[Candidate]] = {}
        for c in candidates:
            groups.setdefault(moment_of(c), []).append(c)
        alone = groups.pop(None, [])
        moves: list[list[Candidate]] = []
        for group in groups.values():
            symbols = {(c.exchange, c.symbol) for c in group}
            if risk.market_move_min and len(symbols) >= risk.market_move_min:
                moves.append(group)
            else:
                alone.extend(group)
        signals = self._desk.consider(alone) if alone else []
        for group in moves:
            signals += self._move(group, risk.market_move_top)
        return signals

    def _move(self, group: list[Candidate], top: int) -> list[Signal]:
        ranked = sorted(group, key=lambda c: c.strength, reverse=True)
        first = ranked[0]
        if self._desk.paused(first.strategy, first.time_ms):
            return self._desk.consider(ranked)  # the loss limit speaks for every one of them
        sent = self._desk.consider(ranked, at_most=top) if top else []
        taken = {s.candidate.dedupe_key for s in sent}
        named = tuple(c for c in ranked if c.dedupe_key not in taken)
        if not named:
            return sent
        move = MarketMove(
            strategy=first.strategy,
            kind=first.kind,
            direction=first.direction,
            time_ms=first.time_ms,
            sent=tuple(s.candidate for s in sent),
            named=named,
        )
        fresh = self._desk.notifier.submit(
            Message(
                kind=Kind.SIGNAL,
                text=text(move),
                dedupe_key=keys.market_move(move.strategy, move.kind, move.direction.value, move.time_ms),
                strategy=move.strategy,
            )
        )
        self._desk.metrics.suppressed.labels(move.strategy, "market_move").inc(len(named))
        if fresh:
            log.info(
                "market_move",
                strategy=move.strategy,
                kind=move.kind,
                direction=move.direction.value,
                symbols=move.size,
                sent=[c.symbol for c in move.sent],
            )
        return sent

    # live: one event at a time ---------------------------------------------------------------------------
    def hold(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        """Keep the candidates at a candle close until their moment's grace ends; return the others, which
        cannot be part of a market-wide move and go to the desk now (a liquidation print's own time)."""
        risk = self._desk.settings.risk
        now = self._clock.monotonic()
        at_once: list[Candidate] = []
        for c in candidates:
            moment = moment_of(c)
            if not risk.market_move_min or moment is None or c.time_ms % _MINUTE_MS:
                at_once.append(c)
                continue
            self._held.setdefault(moment, (now + risk.market_move_grace, []))[1].append(c)
        return at_once

    def due(self) -> float | None:
        """The monotonic time the next held moment is released; None when nothing is held."""
        return min((at for at, _ in self._held.values()), default=None)

    def release(self, *, everything: bool = False) -> list[Candidate]:
        """The candidates of every moment whose grace has ended (``everything``: all held, at shutdown)."""
        now = self._clock.monotonic()
        ready = [m for m, (at, _) in self._held.items() if everything or at <= now]
        return [c for m in ready for c in self._held.pop(m)[1]]
