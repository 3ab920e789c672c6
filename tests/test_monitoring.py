"""The monitoring drop-ins in deploy/: Prometheus rules (checked and unit-tested by promtool), the Grafana
dashboard (importable, datasource as a variable, valid PromQL), and every metric they name exported by a
running daemon's /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from signalbots.clock import SystemClock
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.telegram import TelegramSim
from tests.config import STRATEGIES, daemon_config, free_port, sim_endpoints
from tests.daemon_process import WAIT, DaemonProcess

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "signalbots-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "signalbots-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "signalbots-dashboard.json"
ALERTS = {
    "SignalbotsDown",
    "SignalbotsMetricsMissing",
    "SignalbotsFeedStale",
    "SignalbotsOutboxBacklogGrowing",
    "SignalbotsTelegramUnreachable",
    "SignalbotsBreakerOpen",
    "SignalbotsTaskRestarting",
    "SignalbotsRestWeightNearBudget",
    "SignalbotsAlertLatencyHigh",
}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"),
    reason="promtool not installed (apt-get install prometheus); .ci/run installs it",
)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is required on CI (.ci/run installs Debian's prometheus)"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def _exprs() -> list[str]:
    return [t["expr"] for p in _dashboard()["panels"] for t in p["targets"]]


def named_metrics() -> set[str]:
    text = RULES.read_text() + "\n".join(_exprs())
    return set(re.findall(r"\bsignalbots_[a-z0-9_]+", text)) - {"signalbots_rules"}


# rules --------------------------------------------------------------------------------------------------
@needs_promtool
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    check = promtool("check", "rules", str(RULES), cwd=RULES.parent)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in check.stdout
    tests = promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    assert tests.returncode == 0, tests.stdout + tests.stderr


@needs_promtool
def test_every_alert_has_a_unit_test_that_fires_it_and_the_tests_can_fail(tmp_path: Path) -> None:
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    defined = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    assert defined == ALERTS and tested == ALERTS
    # negative control: a rule file where one alert never fires makes promtool test fail
    (tmp_path / RULES.name).write_text(
        RULES.read_text().replace("> 0\n        for: 10m", "> 5\n        for: 10m")
    )
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    broken = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert broken.returncode != 0 and "SignalbotsBreakerOpen" in broken.stdout + broken.stderr


# dashboard ----------------------------------------------------------------------------------------------
def test_dashboard_is_importable_with_the_datasource_as_a_variable() -> None:
    dash = _dashboard()
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    assert "instance" in variables
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    assert "uid" in dash and dash["title"] == "signalbots"
    covered = " ".join(_exprs())
    for metric in (
        "signalbots_feed_events_total",  # events/s per exchange and feed
        "signalbots_feed_last_data_timestamp_seconds",  # data age
        "signalbots_bus_dropped_total",
        "signalbots_candidates_total",
        "signalbots_signals_total",
        "signalbots_suppressed_total",
        "signalbots_outcomes_total",
        "signalbots_outcome_r_won_total",
        "signalbots_outbox_depth",
        "signalbots_telegram_sends_total",
        "signalbots_breaker_open",
        "signalbots_rest_weight_total",
        "signalbots_rest_weight_budget_per_minute",
        "signalbots_task_restarts_total",
        "signalbots_alert_latency_seconds_bucket",
    ):
        assert metric in covered, metric


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:panel_{i}",
                        "expr": e.replace("$__rate_interval", "5m").replace("$instance", ".*"),
                    }
                    for i, e in enumerate(_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.json"  # JSON is YAML
    path.write_text(json.dumps(rules))
    check = promtool("check", "rules", str(path), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


# a running daemon exports them --------------------------------------------------------------------------
TOKEN = "123456789:AAHmonitoringTOKEN_for_the_simulator"
EX = "binanceusdm"


@pytest.fixture
async def exchange() -> AsyncIterator[ExchangeSim]:
    market = Market(clock=SystemClock(), seed=3, symbols=3, exchanges=(EX,))
    async with ExchangeSim(market=market, clock=SystemClock(), exchanges=(EX,)) as sim:
        yield sim


def _families(exposition: str) -> set[str]:
    names = set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.M))
    samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", exposition, flags=re.M))
    suffixes = ("_total", "_bucket", "_count", "_sum")  # counters' and histograms' series
    return names | samples | {n + suffix for n in names for suffix in suffixes}


async def test_every_metric_in_the_rules_and_dashboard_is_exported_by_a_running_daemon(
    tmp_path: Path, exchange: ExchangeSim, launch_daemon: Callable[..., DaemonProcess]
) -> None:
    port = free_port()
    async with TelegramSim(token=TOKEN) as telegram:
        config = daemon_config(
            tmp_path,
            daemon={"heartbeat_interval": "1d", "daily_summary": False},
            http=f"127.0.0.1:{port}",
            telegram={"api_url": telegram.url, "alert_chat_id": 1001, "commands": False},
            exchanges={EX: sim_endpoints(exchange, EX)},
            strategies={name: {} for name in STRATEGIES},
        )
        daemon = launch_daemon(config, "run", env={"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN})
        await daemon.await_log("ready")

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                body: bytes = answer.read()
                return body.decode()

        # Feeds label their series once they run; wait for the exchange's first data, not a time.
        async with asyncio.timeout(WAIT):
            while 'signalbots_feed_events_total{exchange="binanceusdm",feed="tickers"}' not in (  # noqa: ASYNC110
                text := await asyncio.to_thread(scrape)
            ):
                await asyncio.sleep(0.2)
        daemon.close()
    exported = _families(text)
    missing = sorted(named_metrics() - exported)
    assert not missing, f"named in deploy/ but not exported: {missing}"
    # the series the alerts compare exist from the start, not only after the first failure
    for series in (
        'signalbots_telegram_sends_total{result="ok"}',
        'signalbots_telegram_sends_total{result="error"}',
        'signalbots_feed_stale_after_seconds{exchange="binanceusdm",feed="liquidations"} 900.0',
        'signalbots_rest_weight_budget_per_minute{exchange="binanceusdm"}',
        "signalbots_outbox_depth ",
    ):
        assert series in text, series
