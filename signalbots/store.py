"""The state database: one SQLite file in WAL mode, opened once and shared.

Why synchronous sqlite3 on the event loop: every statement here touches a handful of rows in a small
local file (tens of microseconds in WAL mode with ``synchronous=NORMAL``); a thread hop would cost more
than the write. Long scans do not belong here.

Schema changes are forward migrations appended to ``_MIGRATIONS``; ``PRAGMA user_version`` records how
many have run. Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from signalbots import recovery
from signalbots.clock import Clock, SystemClock
from signalbots.recovery import Recovery

_log = structlog.get_logger(__name__)

_MIGRATIONS: tuple[str, ...] = (
    # 1: key/value state (run marker, pauses, mutes, exchange bans)
    """
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated REAL NOT NULL
    );
    """,
    # 2: the Telegram outbox
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        chat_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        silent INTEGER NOT NULL DEFAULT 0,
        reply_to_key TEXT,
        state TEXT NOT NULL DEFAULT 'pending',   -- pending | sending | sent | dead | held (+ 6)
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        sent REAL,
        message_id INTEGER,
        error TEXT
    );
    CREATE INDEX outbox_pending ON outbox (state, chat_id, id);
    """,
    # 3: signals (the desk writes, the tracker resolves) and desk memory
    """
    CREATE TABLE signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key TEXT NOT NULL UNIQUE,
        strategy TEXT NOT NULL,
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        direction TEXT NOT NULL,
        candidate TEXT NOT NULL,               -- the Candidate as JSON
        created_ms INTEGER NOT NULL,
        expiry_ms INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        resolved_ms INTEGER,
        exit_price REAL,
        r_multiple REAL
    );
    CREATE INDEX signals_open ON signals (status, strategy);
    CREATE TABLE cooldowns (
        key TEXT PRIMARY KEY,
        until_ms INTEGER NOT NULL
    );
    """,
    # 4: the tracker's progress (target 1 reached → stop at breakeven) and the position size in the message
    """
    ALTER TABLE signals ADD COLUMN t1_ms INTEGER;
    ALTER TABLE signals ADD COLUMN size_base REAL;
    """,
    # 5: outbox delivery progress (split messages, plain-text fallback) and when a row was dead-lettered
    """
    ALTER TABLE outbox ADD COLUMN sent_upto INTEGER NOT NULL DEFAULT 0;     -- characters of text delivered
    ALTER TABLE outbox ADD COLUMN part_limit INTEGER NOT NULL DEFAULT 4096; -- lowered on "message too long"
    ALTER TABLE outbox ADD COLUMN plain INTEGER NOT NULL DEFAULT 0;         -- 1 after "can't parse entities"
    ALTER TABLE outbox ADD COLUMN failed REAL;                              -- when it was dead-lettered
    """,
    # 6: what the outbox knows of the signal a row carries (lateness, expiry, coalescing, latency),
    # heartbeats collapsed into a newer one, and the retention prune's index. New states: superseded (a
    # heartbeat replaced by a newer one), carried (a signal inside a pending coalesced message)
    """
    ALTER TABLE outbox ADD COLUMN strategy TEXT;
    ALTER TABLE outbox ADD COLUMN exchange TEXT;
    ALTER TABLE outbox ADD COLUMN symbol TEXT;
    ALTER TABLE outbox ADD COLUMN ref_price REAL;        -- the signal's entry
    ALTER TABLE outbox ADD COLUMN event_time REAL;       -- exchange time of the triggering market event
    ALTER TABLE outbox ADD COLUMN expires REAL;          -- a signal delivered later says it expired
    ALTER TABLE outbox ADD COLUMN strength REAL;         -- strongest first in a coalesced message
    ALTER TABLE outbox ADD COLUMN compact TEXT;          -- the signal as one block of a coalesced message
    ALTER TABLE outbox ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;  -- older heartbeats collapsed into it
    ALTER TABLE outbox ADD COLUMN carrier INTEGER;       -- the coalesced row that delivers this one
    ALTER TABLE outbox ADD COLUMN rank INTEGER;          -- its place, strongest first, in that message
    ALTER TABLE outbox ADD COLUMN seq REAL;              -- delivery order when not its id (a coalesced row)
    CREATE INDEX outbox_done ON outbox (state, sent);
    CREATE INDEX outbox_carrier ON outbox (carrier) WHERE carrier IS NOT NULL;
    """,
    # 7: a chart (PNG) sent with sendPhoto as a reply to its signal; cleared once sent
    """
    ALTER TABLE outbox ADD COLUMN photo BLOB;
    """,
    # 8: outcomes in R split into gross, costs (fees and slippage) and funding; r_multiple stays and is net
    """
    ALTER TABLE signals ADD COLUMN gross_r REAL;
    ALTER TABLE signals ADD COLUMN fee_r REAL;
    ALTER TABLE signals ADD COLUMN funding_r REAL NOT NULL DEFAULT 0;
    """,
)


_NO_SPACE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR")


def cannot_write(err: BaseException) -> bool:
    """Whether a SQLite error says the state disk takes no writes now (full, read-only, failing I/O)."""
    name = str(getattr(err, "sqlite_errorname", ""))
    return isinstance(err, sqlite3.OperationalError) and name.startswith(_NO_SPACE)


class Store:
    """Async context manager around one sqlite3 connection.

    A damaged file found at open is kept aside and replaced (``recovery``); ``self.recovery`` then says
    what happened, for whoever tells the admin chat (the outbox)."""

    def __init__(
        self,
        *,
        path: Path,
        clock: Clock | None = None,
        connection: type[sqlite3.Connection] = sqlite3.Connection,
    ) -> None:
        """``connection``: the sqlite3 connection class (a test's stand-in for a disk that fills up)."""
        self.path = path
        self._clock = clock or SystemClock()
        self._connection = connection
        self._db: sqlite3.Connection | None = None
        self.recovery: Recovery | None = None

    async def __aenter__(self) -> Store:
        self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        problem = recovery.inspect(self.path)
        if problem is None:
            recovery.healthy(self.path)
        else:
            self.recovery = recovery.recover(self.path, problem, now=self._clock.time())
            _log.error(
                "state_database_damaged",
                problem=problem,
                kept_as=str(self.recovery.kept_as),
                lost=self.recovery.lost,
                effect="started on a fresh state database",
            )
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, factory=self._connection
        )
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        self._db = db
        self._migrate()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > len(_MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {current}, newer than this signalbots "
                f"({len(_MIGRATIONS)}); upgrade signalbots or restore a matching database"
            )
        # executescript() commits implicitly, so each migration runs as one explicit script transaction.
        for version in range(current, len(_MIGRATIONS)):
            self.db.executescript(
                f"BEGIN IMMEDIATE;\n{_MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # key/value state ---------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def put(self, key: str, value: Any, *, now: float) -> None:
        self.db.execute(
            "INSERT INTO kv (key, value, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            (key, json.dumps(value), now),
        )

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM kv WHERE key = ?", (key,))

    def items(self, prefix: str) -> dict[str, Any]:
        rows = self.db.execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
        ).fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}
