"""The feed plan that ``run`` and ``record`` share: which exchanges' feeds start, with what candles."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalbots.needs import FeedKind
from signalbots.plan import feed_plan
from signalbots.settings import Settings, load_settings


def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "signalbots.toml"
    config.write_text(
        "[exchanges.binanceusdm]\nenabled = true\n[exchanges.bybit]\nenabled = false\n"
        "[exchanges.okx]\nenabled = true\n[exchanges.mexc]\nenabled = false\n"
        "[exchanges.hyperliquid]\nenabled = false\n"
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


def _load(tmp_path: Path, toml: str) -> Settings:
    config = tmp_path / "signalbots.toml"
    config.write_text(toml, encoding="utf-8")
    return load_settings(config, env_file=None)


def test_the_atr_timeframe_gets_its_own_candles_whatever_the_volume_timeframe(tmp_path: Path) -> None:
    s = _load(
        tmp_path, '[strategies.volume]\ntimeframe = "15m"\n[strategies.liquidation]\natr_timeframe = "1h"\n'
    )
    (plan, *_) = feed_plan(s)
    assert [c.timeframe for c in plan.needs.candles] == ["15m", "1h"]
    assert plan.needs.candles[1].history == s.strategies.liquidation.atr_period + 1


def test_one_timeframe_asked_twice_runs_once_with_the_lowest_floor(tmp_path: Path) -> None:
    s = _load(tmp_path, "[strategies.volume]\nliquidity_floor_usd = 50000000\n")
    (plan, *_) = feed_plan(s)
    assert [(c.timeframe, c.floor_usd) for c in plan.needs.candles] == [("5m", 5_000_000)]


def test_only_what_the_enabled_strategies_read_runs(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        "[strategies.liquidation]\nenabled = false\n[strategies.volume]\nenabled = false\n",
    )
    (plan, *_) = feed_plan(s)
    assert FeedKind.LIQUIDATIONS not in plan.needs.feeds  # no liquidation stream for a funding-only daemon
    assert plan.needs.feeds >= {FeedKind.FUNDING, FeedKind.TICKERS}
    # outcomes are still followed on closed candles
    assert [(c.timeframe, c.floor_usd) for c in plan.needs.candles] == [("5m", 5_000_000)]
    (recorded, *_) = feed_plan(s, every_strategy=True)  # a recording serves every strategy's backtest
    assert FeedKind.LIQUIDATIONS in recorded.needs.feeds


def test_the_defaults_run_every_feed_with_one_candle_series(tmp_path: Path) -> None:
    (plan, *_) = feed_plan(_load(tmp_path, ""))
    assert plan.needs.feeds == frozenset(FeedKind)
    assert [(c.timeframe, c.floor_usd) for c in plan.needs.candles] == [("5m", 5_000_000)]
