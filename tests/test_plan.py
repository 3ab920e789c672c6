"""The feed plan that ``run`` and ``record`` share: which exchanges' feeds start, with what candles."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalbots.plan import feed_plan
from signalbots.settings import Settings, load_settings


def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "signalbots.toml"
    config.write_text(
        "[exchanges.binanceusdm]\nenabled = true\n[exchanges.bybit]\nenabled = false\n"
        "[exchanges.okx]\nenabled = true\n[exchanges.mexc]\nenabled = false\n"
        '[strategies.volume]\ntimeframe = "15m"\nliquidity_floor_usd = 2000000\n',
        encoding="utf-8",
    )
    return load_settings(config, env_file=None)


def test_the_daemon_runs_the_enabled_exchanges_with_the_volume_strategys_candles(tmp_path: Path) -> None:
    s = settings(tmp_path)
    plan = feed_plan(s)
    assert [p.exchange for p in plan] == ["binanceusdm", "okx"]
    assert all(p.timeframe == "15m" and p.floor_usd == 2_000_000 for p in plan)
    assert plan[1].settings == s.exchanges["okx"]


def test_named_exchanges_run_even_when_disabled_each_once(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert [p.exchange for p in feed_plan(s, ["bybit", "okx", "bybit"])] == ["bybit", "okx"]
    assert feed_plan(s, []) == []
    with pytest.raises(KeyError):
        feed_plan(s, ["kraken"])
