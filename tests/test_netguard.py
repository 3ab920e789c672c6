"""The suite cannot leave the machine (issue 17, acceptance 3): a connection outside loopback is refused
before any packet leaves — in the test process and in the daemons it starts — with a message naming it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests._netguard.loopback_guard import LOG_ENV, NetworkGuardError

TEST_NET = "192.0.2.1"  # RFC 5737 TEST-NET-1: documentation only, never routed


@pytest.fixture
def own_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Refusals these tests provoke on purpose go to their own log, not the one that fails the test."""
    log = tmp_path / "refused.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def test_dialling_a_non_loopback_address_fails_naming_the_address(own_log: Path) -> None:
    with socket.socket() as s, pytest.raises(NetworkGuardError, match=rf"connection to {TEST_NET}:9 refused"):
        s.connect((TEST_NET, 9))
    with socket.socket() as s, pytest.raises(NetworkGuardError, match="loopback"):
        s.connect_ex((TEST_NET, 9))
    with socket.socket(socket.AF_INET6) as s, pytest.raises(NetworkGuardError, match="2001:db8::1"):
        s.connect(("2001:db8::1", 9, 0, 0))
    with socket.socket(type=socket.SOCK_DGRAM) as s, pytest.raises(NetworkGuardError, match=TEST_NET):
        s.sendto(b"x", (TEST_NET, 53))
    assert own_log.read_text().count("refused") == 4


def test_a_real_host_name_is_not_even_looked_up(own_log: Path) -> None:
    with pytest.raises(NetworkGuardError, match=r"DNS lookup of 'fapi\.binance\.com'"):
        socket.create_connection(("fapi.binance.com", 443), timeout=1)


async def test_an_asyncio_client_is_refused_too(own_log: Path) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError, match="network guard"):
            await session.get(f"http://{TEST_NET}:9/", timeout=aiohttp.ClientTimeout(total=5))
    assert TEST_NET in own_log.read_text()  # noqa: ASYNC240 - a small local file, after the loop's work


async def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=5):
            pass


def test_a_subprocess_the_tests_start_is_refused_and_the_refusal_is_recorded(own_log: Path) -> None:
    dial = (
        f"import socket\ntry:\n    socket.create_connection(({TEST_NET!r}, 9), timeout=1)\n"
        "except OSError:\n    pass\n"
    )
    proc = subprocess.run([sys.executable, "-c", dial], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr  # the refusal was swallowed, as a daemon's retry loop does...
    assert f"connection to {TEST_NET}:9 refused" in own_log.read_text()  # ...and still recorded


def test_a_test_that_swallows_the_refusal_still_fails(pytester: pytest.Pytester, own_log: Path) -> None:
    pytester.makeconftest("from tests.conftest import _no_connection_left_the_machine  # noqa: F401\n")
    pytester.makepyfile(
        f"""
        import socket

        def test_dials_out():
            try:
                socket.create_connection(({TEST_NET!r}, 9), timeout=1)
            except OSError:
                pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*this test tried to reach the network*", f"*connection to {TEST_NET}:9 refused*"]
    )
