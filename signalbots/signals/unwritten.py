"""Signals the state disk refused (full, read-only, damaged): held in memory until it takes them again.

A full disk delays durability, never an alert (issue 20). When the desk cannot write a signal, it still sends
it (the outbox delivers from memory too) and hands the row here, so that the same dedupe key and cooldown
keep holding while the disk is refused, and the row reaches the ``signals`` table once a write succeeds. A
restart before that loses the held rows: the dedupe key of an already sent alert is then also kept by the
outbox, so the alert itself is never sent twice.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import structlog

from signalbots.recovery import is_damage
from signalbots.signals.model import Candidate
from signalbots.store import Store, cannot_write

log = structlog.get_logger(__name__)

INSERT_SIGNAL = (
    "INSERT INTO signals (dedupe_key, strategy, exchange, symbol, direction, candidate, "
    "created_ms, expiry_ms, size_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_COOLDOWN = (
    "INSERT INTO cooldowns (key, until_ms) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
    "SET until_ms = MAX(until_ms, excluded.until_ms)"
)


def candidate_json(c: Candidate) -> str:
    return json.dumps(
        {
            "strategy": c.strategy,
            "kind": c.kind,
            "exchange": c.exchange,
            "symbol": c.symbol,
            "direction": c.direction.value,
            "entry": c.entry,
            "stop": c.stop,
            "targets": list(c.targets),
            "time_ms": c.time_ms,
            "expiry_ms": c.expiry_ms,
            "dedupe_key": c.dedupe_key,
            "facts": c.facts,
            "notes": list(c.notes),
            "strength": c.strength,
        }
    )


def signal_row(c: Candidate, size: float | None) -> tuple[object, ...]:
    """``INSERT_SIGNAL``'s parameters for candidate ``c``."""
    return (
        c.dedupe_key,
        c.strategy,
        c.exchange,
        c.symbol,
        c.direction.value,
        candidate_json(c),
        c.time_ms,
        c.expiry_ms,
        size,
    )


def refused(err: sqlite3.DatabaseError) -> bool:
    """Whether ``err`` says the disk takes no writes now (as opposed to a bug in our SQL)."""
    return cannot_write(err) or is_damage(err)


@dataclass(frozen=True, slots=True)
class _Held:
    row: tuple[object, ...]  # INSERT_SIGNAL's parameters; row[0] is the dedupe key
    cooldown: tuple[str, int] | None  # (key, until ms)


class Unwritten:
    """The signals sent while the disk refused them, by dedupe key, in the order they were decided."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._ids = 0  # stand-in ids count down and never repeat: the tracker keys open signals by id

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, row: tuple[object, ...], cooldown: tuple[str, int] | None) -> int:
        """Keep ``row``; return the id the signal goes by meanwhile (negative: no row has it yet)."""
        key = str(row[0])
        if not self._held:
            log.warning("signals_not_durable", effect="sent from memory; written when the disk takes them")
        self._held[key] = _Held(row=row, cooldown=cooldown)
        self._ids -= 1
        return self._ids

    def holds(self, dedupe_key: str) -> bool:
        return dedupe_key in self._held

    def cooling(self, key: str, time_ms: int) -> bool:
        """Whether a held signal's cooldown ``key`` still runs at ``time_ms``."""
        return any(
            h.cooldown is not None and h.cooldown[0] == key and time_ms < h.cooldown[1]
            for h in self._held.values()
        )

    def write(self, store: Store) -> None:
        """Write every held row (and its cooldown) in one transaction; keep them while the disk refuses."""
        if not self._held:
            return
        try:
            with store.transaction() as db:
                for held in self._held.values():
                    db.execute(INSERT_SIGNAL.replace("INSERT", "INSERT OR IGNORE", 1), held.row)
                    if held.cooldown is not None:
                        db.execute(UPSERT_COOLDOWN, held.cooldown)
        except sqlite3.DatabaseError as err:
            if not refused(err):
                raise
            return
        log.info("signals_durable", written=len(self._held))
        self._held.clear()
