"""The real daemon with no network for 60 s: honest health, quiet logs (issue 10, acceptance 4 and 5).

``signalbots run`` as a subprocess, dry run (no token), every exchange pointed at a local port nobody
listens on, so every connection is refused as it is with the network down. It runs for a full minute —
measured by its first heartbeat (a minute is the shortest interval allowed) — while the supervisor retries
each exchange with doubling backoff and the breakers open. Then its output is counted.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.config import STRATEGIES, closed_endpoints, daemon_config, free_port
from tests.daemon_process import DaemonProcess

EXCHANGES = ("binanceusdm", "bybit", "okx", "mexc")
# Lines that say a state changed; anything else at info or above during the outage would be per-attempt noise.
STATE_CHANGES = {
    "task_failed",
    "task_failure_changed",
    "task_recovered",
    "breaker_opened",
    "breaker_half_open",
    "breaker_reopened",
    "breaker_recovered",
}
LIFECYCLE = {
    "dry_run",
    "http_listening",
    "telegram_dry_run",
    "ready",
    "strategy_started",
    "stopping",
    "stopped",
}


def test_a_minute_without_network_logs_each_state_change_once_and_says_what_is_down(
    tmp_path: Path, launch_daemon: Callable[..., DaemonProcess]
) -> None:
    closed, http = free_port(), free_port()
    config = daemon_config(
        tmp_path,
        daemon={"heartbeat_interval": "1m", "shutdown_timeout": "5s"},
        http=f"127.0.0.1:{http}",
        exchanges={ex: closed_endpoints(closed) for ex in EXCHANGES},
        strategies={name: {} for name in STRATEGIES},
    )
    daemon = launch_daemon(config, "run")
    daemon.wait_log("ready")
    # The first health check comes after one interval: then the minute without network has passed.
    beats = [
        daemon.wait_log(lambda e: e.get("event") == "telegram_dry_run" and e.get("kind") == "heartbeat", 120)
    ]
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10)
        raise AssertionError("/healthz answered 200 with every exchange down")
    except urllib.error.HTTPError as err:
        assert err.code == 503
        healthz: dict[str, Any] = json.loads(err.read())
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0

    # Acceptance 4, outside in: the heartbeat is red and names every exchange down.
    headline = beats[-1]["text"].splitlines()[0]
    assert headline == "🔴 signalbots — 4 exchanges down: binanceusdm, bybit, okx, mexc"
    assert "RUNNING" not in beats[-1]["text"]
    assert healthz["headline"].startswith("4 exchanges down")
    assert sorted(p.split(" ")[0] for p in healthz["problems"]) == sorted(EXCHANGES)  # each once

    entries = [json.loads(line) for line in daemon.lines if line.startswith("{")]
    raw = [line for line in daemon.lines if not line.startswith("{")]
    assert raw == []  # nothing printed around the logger (library warnings, bare tracebacks)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        if e.get("event") in LIFECYCLE:
            continue
        by_task[e.get("task") or f"exchange:{e.get('exchange')}"].append(e)
    report = {task: [e["event"] for e in lines] for task, lines in by_task.items()}
    print(f"{len(daemon.lines)} lines in all; per task: {report}")  # the figure for the record
    # Issue 21, finding 7: an expected failure is one short line naming it; its traceback only at debug.
    assert not [e for e in entries if e.get("exception")]
    sizes = [len(line) for line in daemon.lines if json.loads(line).get("event") in STATE_CHANGES]
    print(f"state-change lines: {len(sizes)}, longest {max(sizes)} bytes")  # the figure for the record
    assert max(sizes) < 1000
    for task, lines in by_task.items():
        assert all(e["event"] in STATE_CHANGES for e in lines), (task, report[task])
        # One line per state change: the same change twice would be an attempt logged, not a change.
        changes = Counter((e["event"], e.get("endpoint")) for e in lines)
        assert max(changes.values()) == 1, (task, report[task])
        assert all(e["level"] in ("warning", "info") for e in lines), (task, report[task])
    for ex in EXCHANGES:
        events = report[f"exchange:{ex}"]
        assert events[0] == "task_failed"
        # … while it kept trying: many attempts, few lines.
        assert healthz["tasks"][f"exchange:{ex}"]["restarts"] >= 5 > len(events)
