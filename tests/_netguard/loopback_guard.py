"""Refuse every connection that would leave the machine, in this process (issue 17).

Tests talk to local simulators only. A daemon that still names a real host (an exchange left enabled
without a simulator URL) would otherwise dial it, and the failure is tolerated by design, so the test
passes while it sends traffic to the internet. The guard wraps the socket calls every client library
goes through (``socket.socket.connect``/``connect_ex``/``sendto`` and ``socket.getaddrinfo``, which is
what asyncio's ``create_connection`` and aiohttp's default resolver use), refuses before any packet or
DNS query leaves, and appends each refusal to the file named by ``TESTS_NETGUARD_LOG`` so that a refusal
swallowed by the code under test still fails the test (tests/conftest.py reads that file).

Kept free of any test-suite import: ``sitecustomize`` in this directory installs it in subprocesses.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any

ENABLE_ENV = "TESTS_NETGUARD"  # "1" in a subprocess: sitecustomize installs the guard
LOG_ENV = "TESTS_NETGUARD_LOG"  # refusals are appended here, one per line
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_INET = (socket.AF_INET, socket.AF_INET6)


class NetworkGuardError(ConnectionRefusedError):
    """A test tried to reach a host outside the loopback range: point it at a local simulator."""


def _is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(what: str) -> NetworkGuardError:
    message = (
        f"network guard: {what} refused — tests may only reach loopback (127.0.0.0/8, ::1); "
        "point the code at a local simulator (tests/config.py daemon_config) or disable it"
    )
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"pid {os.getpid()}: {message}\n")
    return NetworkGuardError(errno.ECONNREFUSED, message)


def check_address(family: int, address: Any) -> None:
    """Raise NetworkGuardError if ``address`` (a socket address of ``family``) is not loopback."""
    if family not in _INET or not isinstance(address, tuple) or not address:
        return  # Unix sockets (sd_notify, the chart worker) never leave the machine
    host = str(address[0])
    if not _is_loopback(host):
        raise _refuse(f"connection to {host}:{address[1] if len(address) > 1 else '?'}")


def check_lookup(host: Any) -> None:
    """Raise NetworkGuardError for a DNS lookup that would ask a resolver about a real name."""
    if host is None:
        return  # passive lookup, for binding a listening socket
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name == "" or _is_numeric(name) or name.lower().rstrip(".") in _LOCAL_NAMES:
        return
    if name.lower().rstrip(".").endswith(".localhost"):
        return
    raise _refuse(f"DNS lookup of {name!r}")


def install() -> None:
    """Wrap the socket calls; idempotent."""
    if getattr(socket.socket.connect, "loopback_guard", False):
        return  # the socket module is process-wide: wrap it once
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        check_address(self.family, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check_address(self.family, address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check_address(self.family, args[-1])
        return real_sendto(self, data, *args)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check_lookup(host)
        return real_getaddrinfo(host, *args, **kwargs)

    connect.loopback_guard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
