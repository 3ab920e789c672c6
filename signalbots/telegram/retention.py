"""Bounded disk: delivered outbox rows are history, kept for a retention period and then deleted.

Sent messages (their ``message_id`` lets a later reply answer them), dead letters and heartbeats collapsed
into a newer one are deleted once older than the retention period; pending and held rows never are. Signals
and their outcomes live in the ``signals`` table, which is never pruned: it is the statistics.
"""

from __future__ import annotations

import sqlite3


def prune(db: sqlite3.Connection, *, before: float) -> int:
    """Delete finished rows last touched before ``before`` (epoch seconds); returns how many."""
    return db.execute(
        "DELETE FROM outbox WHERE state IN ('sent', 'dead', 'superseded') "
        "AND COALESCE(sent, failed, created) < ?",
        (before,),
    ).rowcount
