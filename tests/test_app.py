"""The daemon as systemd runs it: READY, WATCHDOG, reload, stop (a real subprocess)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess

BASE = """
[daemon]
state_dir = "{state}"
heartbeat_interval = "{heartbeat}"
shutdown_timeout = "5s"
[http]
listen = ""
[exchanges.binanceusdm]  # a closed local port: a daemon needs an exchange to watch; this one is offline
rest_url = "http://127.0.0.1:9"
ws_url = "ws://127.0.0.1:9"
[exchanges.bybit]
enabled = false
[exchanges.okx]
enabled = false
[exchanges.mexc]
enabled = false
[exchanges.hyperliquid]
enabled = false
"""


def config(tmp_path: Path, heartbeat: str = "1h", extra: str = "") -> Path:
    path = tmp_path / "signalbots.toml"
    path.write_text(BASE.format(state=tmp_path / "state", heartbeat=heartbeat) + extra)
    return path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    cfg = config(tmp_path)
    d = DaemonProcess(
        args=["--config", str(cfg), "run"],
        cwd=tmp_path,
        notify_socket=tmp_path / "notify.sock",
        env={"WATCHDOG_USEC": "200000"},
    )
    yield d
    d.close()


def test_ready_watchdog_reload_and_stop(daemon: DaemonProcess, tmp_path: Path) -> None:
    assert daemon.wait_datagram(lambda m: "READY=1" in m)
    daemon.wait_log("ready")
    # WATCHDOG_USEC=200ms: pings every 100 ms from a task on the event loop
    assert daemon.wait_datagram(lambda m: m == "WATCHDOG=1")
    assert daemon.wait_datagram(lambda m: m == "WATCHDOG=1")

    # a valid change: RELOADING=1 and MONOTONIC_USEC in one datagram, then READY=1, and the change applied
    config(tmp_path, heartbeat="30m")
    daemon.signal(signal.SIGHUP)
    reloading = daemon.wait_datagram(lambda m: "RELOADING=1" in m)
    fields = dict(line.split("=", 1) for line in reloading.split("\n"))
    assert fields["RELOADING"] == "1" and int(fields["MONOTONIC_USEC"]) > 0
    assert daemon.wait_datagram(lambda m: "READY=1" in m)
    applied = daemon.wait_log("settings_reloaded")
    assert applied["changed"] == ["daemon.heartbeat_interval"]
    assert applied["restarted"] == ["heartbeat"]

    # an invalid file: no reload, every problem logged, old settings kept
    (tmp_path / "signalbots.toml").write_text(
        (tmp_path / "signalbots.toml").read_text() + '\n[strategies.volume]\nmultiple = "lots"\nbogus = 1\n'
    )
    daemon.signal(signal.SIGHUP)
    rejected = daemon.wait_log("reload_rejected")
    assert any("strategies.volume.multiple" in p for p in rejected["problems"])
    assert any("strategies.volume.bogus" in p for p in rejected["problems"])
    # valid settings under which nothing can signal: rejected like invalid ones, the daemon keeps watching
    cfg = tmp_path / "signalbots.toml"
    config(tmp_path, heartbeat="30m")
    cfg.write_text(
        cfg.read_text().replace("[exchanges.binanceusdm]", "[exchanges.binanceusdm]\nenabled = false")
    )
    daemon.signal(signal.SIGHUP)
    rejected = daemon.wait_log("reload_rejected")
    assert any("every exchange is disabled" in p for p in rejected["problems"])
    # the old settings are still the ones in force: going back to the 30m file changes nothing
    config(tmp_path, heartbeat="30m")
    daemon.signal(signal.SIGHUP)
    assert daemon.wait_log("settings_reloaded")["changed"] == []

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_datagram(lambda m: "STOPPING=1" in m)
    assert daemon.wait(timeout=10) == 0
    stopped = daemon.wait_log("stopped")
    assert stopped["reason"] == "SIGTERM"


def test_sigint_stops_cleanly_and_next_start_reports_clean_previous_run(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    first = DaemonProcess(args=["--config", str(cfg), "run"], cwd=tmp_path)
    try:
        first.wait_log("ready")
        first.signal(signal.SIGINT)
        assert first.wait() == 0
    finally:
        first.close()
    second = DaemonProcess(args=["--config", str(cfg), "run"], cwd=tmp_path)
    try:
        assert second.wait_log("ready")["unclean_previous_run"] is False
        second.signal(signal.SIGKILL)
        second.wait()
    finally:
        second.close()
    third = DaemonProcess(args=["--config", str(cfg), "run"], cwd=tmp_path)
    try:
        assert third.wait_log("ready")["unclean_previous_run"] is True
        notice = third.wait_log(lambda e: e.get("event") == "telegram_dry_run" and e.get("kind") == "notice")
        assert "previous run ended uncleanly" in notice["text"]
        third.signal(signal.SIGTERM)
        assert third.wait() == 0
    finally:
        third.close()


def test_invalid_settings_exit_78_naming_the_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, extra="[daemon.extra]\n")
    d = DaemonProcess(args=["--config", str(cfg), "run"], cwd=tmp_path)
    try:
        assert d.wait() == 78
        assert "daemon.extra" in d.output()
    finally:
        d.close()
