"""A state disk that fills up, for the tests of issue 20 ("a full disk costs no alert").

Handed to ``Store(connection=FillingDisk)``: while ``full``, every new row fails with SQLITE_FULL, as a full
disk does once SQLite needs a new page; everything else is real SQLite in tmp_path.
"""

from __future__ import annotations

import sqlite3
from typing import Any


class FillingDisk(sqlite3.Connection):
    """A connection whose disk can fill up: while ``full``, every new row fails with SQLITE_FULL."""

    full = False

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if self.full and sql.lstrip().upper().startswith("INSERT"):
            err = sqlite3.OperationalError("database or disk is full")
            err.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
            err.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
            raise err
        return super().execute(sql, parameters)
