"""The systemd notify protocol (sd_notify(3)), without libsystemd.

Each message is one datagram of ``KEY=value`` lines to ``$NOTIFY_SOCKET`` (``@name`` is an abstract
socket). Without ``$NOTIFY_SOCKET`` (run by hand, in tests) every call is a no-op. A failed send is
logged once and never raised: the daemon's job is signals, not systemd bookkeeping.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog

from signalbots.clock import Clock

log = structlog.get_logger(__name__)


class SystemdNotifier:
    """``READY=1``, ``STATUS=``, ``WATCHDOG=1``, ``RELOADING=1``, ``STOPPING=1`` for ``Type=notify``."""

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        self._address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        self._watchdog = _watchdog_interval(environ)
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), None without a watchdog."""
        return self._watchdog if self.enabled else None

    def send(self, **fields: str | int) -> bool:
        """One datagram with every field (``send(READY=1, STATUS="up")``); True when it was sent."""
        if self._address is None or not fields:
            return False
        # A newline inside a value would start a new assignment.
        payload = "\n".join(f"{key}={str(value).replace(chr(10), ' ')}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(payload.encode("utf-8", "replace"), self._address)
        except OSError as err:
            if not self._failing:
                log.warning("sd_notify_failed", error=f"{type(err).__name__}: {err.strerror or err}")
            self._failing = True
            return False
        if self._failing:
            log.info("sd_notify_recovered")
            self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send(READY=1) if status is None else self.send(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def reloading(self) -> bool:
        # systemd ≥ 253 uses the timestamp to tell this reload from a stale READY=1; it must be
        # CLOCK_MONOTONIC (never an injected clock) and in the same datagram.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self, status: str | None = None) -> bool:
        return self.send(STOPPING=1) if status is None else self.send(STOPPING=1, STATUS=status)

    async def ping_watchdog(self, *, clock: Clock, on_ping: Callable[[], None] | None = None) -> None:
        """Send ``WATCHDOG=1`` every ``watchdog_interval()`` until cancelled (calling ``on_ping`` after
        each); returns at once without a watchdog. Run it as a task on the event loop, so a blocked loop
        stops the pings and systemd restarts us."""
        interval = self.watchdog_interval()
        if interval is None:
            return
        while True:
            self.watchdog()
            if on_ping is not None:
                on_ping()
            await clock.sleep(interval)


def _socket_address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    if value:
        log.warning("notify_socket_unsupported", notify_socket=value)
    return None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog is meant for another process (e.g. our parent)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None
