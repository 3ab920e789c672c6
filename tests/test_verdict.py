"""A strategy is judged by the feeds that deliver its inputs, wherever each exchange delivers them: Bybit's,
MEXC's and Hyperliquid's open interest comes in the bulk ticker (no open interest feed runs there), so for
the open interest strategy their ticker feed is an input like Binance's or OKX's open interest feed."""

from __future__ import annotations

from signalbots.clock import ManualClock
from signalbots.health import Health, Severity, TaskStatus
from signalbots.heartbeat import compose_heartbeat
from tests.test_health import ALL_FEEDS, exchange_up

UP = TaskStatus.RUNNING
STALE = TaskStatus.DEGRADED


def open_interest_strategy(health: Health) -> None:
    t = health.task("strategy:open_interest", kind="strategy")
    t.set(TaskStatus.RUNNING)
    t.inputs = ("open_interest",)


def row(health: Health) -> str:
    return next(line for line in compose_heartbeat(health).splitlines()[1:] if " open_interest " in line)


def test_open_interest_only_in_the_tickers_is_a_live_input_while_the_ticker_feed_runs() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    open_interest_strategy(health)
    exchange_up(health, "bybit", clock, feeds=ALL_FEEDS)
    exchange_up(health, "mexc", clock, feeds=ALL_FEEDS)
    [view] = health.assess().strategies
    assert (view.severity, view.state) == (Severity.OK, "running")
    # One exchange's ticker feed goes stale: half of the open interest is missing, and the row says so.
    health.task("feed:mexc:tickers", kind="feed").set(STALE, "stale: no data for 130s")
    [view] = health.assess().strategies
    assert view.severity is Severity.DEGRADED and "1/2 live" in view.detail
    # Both stale: no open interest arrives at all, so the strategy has no data (it said "running" before).
    health.task("feed:bybit:tickers", kind="feed").set(STALE, "stale: no data for 130s")
    verdict = health.assess()
    assert verdict.strategies[0].state == "no data" and verdict.severity is Severity.DOWN
    assert row(health).startswith("🔴 open_interest NO DATA")


def test_a_stale_binance_open_interest_feed_leaves_the_strategy_fed_by_bybit_tickers() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    open_interest_strategy(health)
    exchange_up(health, "binanceusdm", clock, feeds=ALL_FEEDS | {"open_interest": STALE})
    exchange_up(health, "bybit", clock, feeds=ALL_FEEDS)
    verdict = health.assess()
    [view] = verdict.strategies
    # Partly fed (Bybit's figure is live), not "no live input" (what it said before).
    assert view.severity is Severity.DEGRADED and "1/2 live" in view.detail
    assert not any("no live input" in p.text for p in verdict.problems)
    assert row(health).startswith("🟡 open_interest")


def test_a_ticker_feed_does_not_feed_a_strategy_whose_input_it_does_not_carry() -> None:
    """MEXC has no liquidation stream and its ticker carries none: the liquidation strategy has no input
    there (the exchanges with one decide), whatever its ticker feed does."""
    clock = ManualClock()
    health = Health(clock=clock)
    t = health.task("strategy:liquidation", kind="strategy")
    t.set(TaskStatus.RUNNING)
    t.inputs = ("liquidations",)
    exchange_up(health, "binanceusdm", clock, feeds=ALL_FEEDS | {"liquidations": STALE})
    exchange_up(health, "mexc", clock, feeds={"tickers": UP, "funding": UP, "candles": UP})
    [view] = health.assess().strategies
    assert view.state == "no data" and "every liquidations feed stale or down" in view.detail
