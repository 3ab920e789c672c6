"""/healthz and /metrics as a monitoring system and `signalbots status` see them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp
import pytest

from signalbots.cli import main
from signalbots.clock import ManualClock
from signalbots.health import Health, TaskStatus
from signalbots.http import HttpServer, describe_health, fetch_health
from signalbots.metrics import Metrics
from tests.config import daemon_config, free_port
from tests.daemon_process import DaemonProcess


async def test_healthz_is_200_when_all_run_and_503_with_the_reason_otherwise() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    metrics = Metrics()
    feed = health.task("feed:binanceusdm:liquidations", kind="feed")
    feed.set(TaskStatus.RUNNING)
    feed.event(3)
    health.task("strategy:volume", kind="strategy").set(TaskStatus.RUNNING)
    health.add_section("outbox", lambda: {"pending": 2, "dead": 0})
    async with HttpServer(host="127.0.0.1", port=0, health=health, metrics=metrics) as server:
        listen = f"127.0.0.1:{server.port}"
        clock.advance(12)
        status, data = await fetch_health(listen)
        assert status == 200 and data["status"] == "ok"
        assert data["tasks"]["feed:binanceusdm:liquidations"]["last_event_age"] == 12
        assert data["outbox"] == {"pending": 2, "dead": 0}

        feed.set(TaskStatus.DEGRADED, "stale for 2m")
        feed.error("websocket silent for 120 s")
        status, data = await fetch_health(listen)
        assert status == 503
        assert data["problems"] == ["feed:binanceusdm:liquidations degraded: stale for 2m"]
        text = describe_health(status, data)
        assert "unhealthy (HTTP 503" in text and text.count("stale for 2m") == 1

        metrics.task_restarts.labels(task="strategy:volume").inc()
        metrics.signals.labels(strategy="volume").inc(2)
        async with aiohttp.ClientSession() as session, session.get(f"http://{listen}/metrics") as resp:
            body = await resp.text()
        assert resp.status == 200
        assert 'signalbots_task_restarts_total{task="strategy:volume"} 1.0' in body
        assert 'signalbots_signals_total{strategy="volume"} 2.0' in body


async def test_status_reports_an_unreachable_daemon() -> None:
    try:
        await fetch_health("127.0.0.1:1", within=2)
    except ConnectionError as err:
        assert "no daemon answering at http://127.0.0.1:1/healthz" in str(err)
    else:
        raise AssertionError("expected ConnectionError")


def test_status_command_exits_non_zero_when_no_daemon_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[http]\nlisten = "127.0.0.1:1"\n')
    assert main(["status", "--config", str(cfg)]) == 1
    assert "no daemon answering at http://127.0.0.1:1/healthz" in capsys.readouterr().err


@pytest.mark.parametrize("level", ["info", "debug"])
def test_a_port_in_use_is_one_error_line_and_exit_1_its_traceback_only_at_debug(
    tmp_path: Path, level: str
) -> None:
    """Issue 21, finding 7: it was `critical` with a full traceback around a message that says it all."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        closed = f"127.0.0.1:{free_port()}"  # an exchange to watch (offline): a daemon needs one to start
        cfg = daemon_config(
            tmp_path,
            exchanges={"binanceusdm": {"rest_url": f"http://{closed}", "ws_url": f"ws://{closed}"}},
            strategies={"volume": {}},
            http=f"127.0.0.1:{port}",
        )
        daemon = DaemonProcess(
            args=["--config", str(cfg), "run"], cwd=tmp_path, env={"SIGNALBOTS_LOG__LEVEL": level}
        )
        try:
            assert daemon.wait() == 1
        finally:
            daemon.close()
    entries = [json.loads(line) for line in daemon.lines]
    (error,) = [e for e in entries if e["level"] in ("error", "critical")]
    assert error["event"] == "cannot_start"
    assert error["error"].startswith(
        f"cannot listen on 127.0.0.1:{port} ([http] listen): Address already in use"
    )
    assert "exception" not in error
    traced = [e for e in entries if "exception" in e]
    if level == "info":
        assert traced == [] and len(daemon.output()) < 1000
    else:
        (traceback,) = traced
        assert traceback["level"] == "debug" and traceback["of"] == "cannot_start"
