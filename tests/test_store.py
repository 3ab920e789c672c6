"""The state database: WAL, forward migrations, transactions that roll back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signalbots.store import _MIGRATIONS, Store


async def test_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    async with Store(path=tmp_path / "deep" / "signalbots.db") as store:
        assert store.schema_version == len(_MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_an_old_database_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    db.execute("INSERT INTO kv (key, value, updated) VALUES ('controls.pause.volume', 'true', 0)")
    db.commit()
    db.close()
    async with Store(path=path) as store:
        assert store.schema_version == len(_MIGRATIONS)
        assert store.get("controls.pause.volume") is True
        assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(_MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer than this signalbots"):
        async with Store(path=path):
            pass


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    async with Store(path=tmp_path / "s.db") as store:
        with pytest.raises(ValueError), store.transaction():
            store.put("a", 1, now=0)
            raise ValueError("boom")
        assert store.get("a") is None
        with store.transaction():
            store.put("a", 2, now=0)
        assert store.get("a") == 2
        assert store.items("a") == {"a": 2}
