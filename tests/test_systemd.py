"""sd_notify as systemd sees it: datagrams on the socket named by NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from signalbots.clock import ManualClock
from signalbots.systemd import SystemdNotifier


def _receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def _nothing_waiting(sock: socket.socket) -> bool:
    try:
        sock.recv(4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    return False


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        yield sock, path


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"signalbots-test-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        yield sock, "@" + name


@pytest.mark.parametrize("which", ["path_socket", "abstract_socket"])
def test_lifecycle_messages_arrive_one_datagram_each(which: str, request: pytest.FixtureRequest) -> None:
    sock, address = request.getfixturevalue(which)
    notify = SystemdNotifier(env={"NOTIFY_SOCKET": address})
    assert notify.enabled

    assert notify.ready()
    assert _receive(sock) == "READY=1"
    assert notify.status("3 tasks running · outbox 0\nsecond line")
    assert _receive(sock) == "STATUS=3 tasks running · outbox 0 second line"
    assert notify.watchdog()
    assert _receive(sock) == "WATCHDOG=1"

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notify.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = _receive(sock).split("\n")
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
    assert len(lines) == 2

    assert notify.ready(status="reloaded")
    assert _receive(sock) == "READY=1\nSTATUS=reloaded"
    assert notify.stopping()
    assert _receive(sock) == "STOPPING=1"
    assert _nothing_waiting(sock)


def test_without_notify_socket_nothing_is_sent() -> None:
    notify = SystemdNotifier(env={"WATCHDOG_USEC": "30000000"})
    assert not notify.enabled
    assert not notify.ready()
    assert not notify.reloading()
    assert not notify.stopping()
    # No socket, no watchdog: systemd would not be listening for pings anyway.
    assert notify.watchdog_interval() is None


def test_send_failure_is_logged_once_not_raised_and_recovery_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    notify = SystemdNotifier(env={"NOTIFY_SOCKET": str(path)})
    with capture_logs() as logs:
        assert not notify.ready()
        assert not notify.watchdog()
        assert not notify.watchdog()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
            assert notify.watchdog()
            assert _receive(sock) == "WATCHDOG=1"
    assert [entry["event"] for entry in logs] == ["sd_notify_failed", "sd_notify_recovered"]
    assert logs[0]["log_level"] == "warning"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(extra: dict[str, str], expected: float | None) -> None:
    notify = SystemdNotifier(env={"NOTIFY_SOCKET": "/run/systemd/notify", **extra})
    assert notify.watchdog_interval() == expected


async def test_ping_watchdog_pings_every_half_interval(path_socket: tuple[socket.socket, str]) -> None:
    sock, address = path_socket
    clock = ManualClock()
    notify = SystemdNotifier(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000000"})
    task = asyncio.create_task(notify.ping_watchdog(clock=clock))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert _receive(sock) == "WATCHDOG=1"  # the first ping goes out at once
        await clock.run_for(9.0)
        assert _nothing_waiting(sock)
        await clock.run_for(1.0)
        assert _receive(sock) == "WATCHDOG=1"
        await clock.run_for(30.0)
        assert [_receive(sock) for _ in range(3)] == ["WATCHDOG=1"] * 3
        assert _nothing_waiting(sock)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_ping_watchdog_returns_without_a_watchdog() -> None:
    notify = SystemdNotifier(env={"NOTIFY_SOCKET": "@unused"})
    await asyncio.wait_for(notify.ping_watchdog(clock=ManualClock()), timeout=5)
