"""The state database: WAL, forward migrations, transactions that roll back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from signalbots import recovery
from signalbots.cli import main
from signalbots.clock import ManualClock
from signalbots.settings import ConfigError
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


def scribble(path: Path) -> None:
    """Damage a database as a power cut or a failing disk does: the header intact, the other pages garbage."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(page, len(data), 7):
        data[offset] = (offset * 131) % 251
    path.write_bytes(bytes(data))


async def _filled(path: Path) -> None:
    async with Store(path=path) as store:
        for i in range(200):
            store.put(f"ban:{i}", {"until": i}, now=0)
        store.db.execute("INSERT INTO cooldowns (key, until_ms) VALUES ('volume:XRP', 1)")


async def test_a_damaged_database_is_kept_aside_and_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    path = tmp_path / "signalbots.db"
    await _filled(path)
    scribble(path)
    clock = ManualClock(start=1_764_000_000.0)  # 2025-11-24 16:00 UTC
    async with Store(path=path, clock=clock) as store:
        assert store.recovery is not None
        assert store.recovery.kept_as == tmp_path / "signalbots.db.damaged-20251124T160000Z"
        assert store.recovery.kept_as.exists()
        assert "malformed" in store.recovery.problem or "corrupt" in store.recovery.problem
        assert set(store.recovery.lost) == {"pending messages", "open signals", "cooldowns", "exchange bans"}
        assert store.get("ban:1") is None  # fresh
        store.put("a", 1, now=0)
        assert store.schema_version == len(_MIGRATIONS)
    notice = recovery.notice(store.recovery)
    assert "signalbots.db.damaged-20251124T160000Z" in notice and "Lost:" in notice
    async with Store(path=path, clock=clock) as again:
        assert again.recovery is None and again.get("a") == 1


async def test_damaged_on_two_starts_in_a_row_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "signalbots.db"
    await _filled(path)
    scribble(path)
    async with Store(path=path) as store:
        assert store.recovery is not None
        await _filled_more(store)
    scribble(path)
    with pytest.raises(ConfigError) as caught:  # the command line's exit 78
        async with Store(path=path):
            pass
    assert "damaged again" in str(caught.value) and "\n" not in str(caught.value)
    assert path.exists()  # the second damaged file is left where it is, for a person to look at


async def _filled_more(store: Store) -> None:
    for i in range(200):
        store.put(f"ban:{i}", {"until": i}, now=0)


def test_check_config_reads_a_damaged_database_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "signalbots.db"
    asyncio.run(_filled(path))
    assert recovery.inspect(path, read_only=True) is None
    scribble(path)
    before = path.read_bytes()
    problem = recovery.inspect(path, read_only=True)
    assert problem is not None
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signalbots.db"]


def test_check_config_warns_of_a_damaged_state_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    asyncio.run(_filled(state / "signalbots.db"))
    scribble(state / "signalbots.db")
    config = tmp_path / "signalbots.toml"
    config.write_text(f'[daemon]\nstate_dir = "{state}"\n')
    before = (state / "signalbots.db").read_bytes()
    assert main(["check-config", "--config", str(config)]) == 0
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("warning: state database") and "is damaged" in last
    assert (state / "signalbots.db").read_bytes() == before
