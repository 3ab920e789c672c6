"""A damaged state database is kept aside and replaced, and said — never a restart loop.

The state database is precious but not vital: losing it costs pending messages, cooldowns, open signals
and exchange bans, while refusing to start costs every alert from now on. So a start that finds the file
damaged (a power cut, a failing disk: SQLite answers "database disk image is malformed" or "file is not
a database", or ``PRAGMA quick_check`` finds broken pages) renames it — with its ``-wal`` and ``-shm`` —
to ``signalbots.db.damaged-<UTC time>`` beside it, starts on a fresh database, and says what happened, what
was lost and where the damaged file is (the log at error, and the admin chat through the outbox).

A second damaged start in a row (the fresh database damaged again before any start found it healthy) is
not retried: a disk that damages every database needs a person. It raises ``StateDamagedAgain``, which
the command line turns into exit 78 with one line, so systemd does not loop.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from signalbots.settings import ConfigError

_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_SIDECARS = ("-wal", "-shm")


class StateDamagedAgain(ConfigError):
    """The state database was damaged on two starts in a row: exit 78 (a person must look)."""

    def __init__(self, line: str) -> None:
        super().__init__([line])
        self.line = line

    def __str__(self) -> str:
        return self.line


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a start did about a damaged state database."""

    problem: str  # SQLite's words
    kept_as: Path  # the damaged file, renamed
    lost: dict[str, int | None]  # what it held, by name; None where it could not be read


def is_damage(err: BaseException) -> bool:
    """Whether a SQLite error says the file itself is damaged (not busy, full, read-only or missing)."""
    return isinstance(err, sqlite3.DatabaseError) and getattr(err, "sqlite_errorname", "") in _DAMAGED


def inspect(path: Path, *, read_only: bool = False) -> str | None:
    """SQLite's words when ``path`` is damaged; None when it is healthy or absent.

    ``read_only`` opens it without writing anything (``check-config`` beside a running daemon)."""
    if not path.exists():
        return None
    # Without a -wal beside it, ``immutable`` keeps SQLite from creating one (or a -shm) to read it.
    live = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro{'' if live else '&immutable=1'}" if read_only else str(path)
    try:
        db = sqlite3.connect(uri, uri=read_only, isolation_level=None)
    except sqlite3.DatabaseError as err:
        if is_damage(err):
            return str(err)
        raise
    try:
        rows = db.execute("PRAGMA quick_check(20)").fetchall()
        verdict = [line for r in rows for line in str(r[0]).splitlines() if line.strip()]
        if verdict == ["ok"]:
            return None
        found = [line for line in verdict if not line.startswith("***")] or verdict
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return f"integrity check: {found[0][:200]}{more}"
    except sqlite3.DatabaseError as err:
        if is_damage(err):
            return str(err)
        raise
    finally:
        db.close()


def describe_state(path: Path) -> str | None:
    """``check-config``'s line about the state database when it is damaged (read only); None when fine."""
    try:
        problem = inspect(path, read_only=True)
    except sqlite3.Error as err:
        return f"state database {path} could not be checked: {err}"
    if problem is None:
        return None
    return (
        f"state database {path} is damaged ({problem}); the next start keeps it aside as "
        f"{path.name}.damaged-<time> and starts on a fresh one"
    )


def marker(path: Path) -> Path:
    """The file that says the last start replaced a damaged database (removed once one is found healthy)."""
    return path.with_name(path.name + ".recovered")


def recover(path: Path, problem: str, *, now: float) -> Recovery:
    """Keep the damaged ``path`` aside (with its -wal/-shm) and record it; a fresh one is made by the caller.

    Raises ``StateDamagedAgain`` when the previous start already replaced a damaged database."""
    flag = marker(path)
    if flag.exists():
        before = flag.read_text().strip() or "an earlier copy"
        raise StateDamagedAgain(
            f"state database {path} is damaged again ({problem}); the last start already replaced a damaged "
            f"one (kept as {before}): check the disk, then move {path.name} away and start again"
        )
    lost = _inventory(path)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(kept)
    for suffix in _SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    flag.write_text(f"{kept}\n")
    return Recovery(problem=problem, kept_as=kept, lost=lost)


def healthy(path: Path) -> None:
    """A start found the database healthy: a later damage is a first one again."""
    with contextlib.suppress(FileNotFoundError):
        marker(path).unlink()


_LOST = {
    "pending messages": "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending', 'held')",
    "open signals": "SELECT COUNT(*) FROM signals WHERE status = 'open'",
    "cooldowns": "SELECT COUNT(*) FROM cooldowns",
    "exchange bans": "SELECT COUNT(*) FROM kv WHERE key LIKE 'ban:%'",
}


def _inventory(path: Path) -> dict[str, int | None]:
    """What the damaged file still shows of what it held (best effort: a count SQLite cannot read is None)."""
    out: dict[str, int | None] = dict.fromkeys(_LOST)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return out
    try:
        for name, sql in _LOST.items():
            with contextlib.suppress(sqlite3.Error):
                out[name] = int(db.execute(sql).fetchone()[0])
    finally:
        db.close()
    return out


def notice(recovery: Recovery) -> str:
    """The admin chat's message (HTML): what happened, what was lost, where the damaged file is."""
    lost = ", ".join(f"{name}: {'unknown' if n is None else n}" for name, n in recovery.lost.items())
    return (
        "🛠 <b>State database was damaged — started on a fresh one</b>\n"
        f"SQLite said: {escape(recovery.problem)}\n"
        f"Lost: {escape(lost)}\n"
        f"The damaged file is kept as <code>{escape(str(recovery.kept_as))}</code>\n"
        "Check the disk (dmesg, smartctl); signals and alerts carry on."
    )
