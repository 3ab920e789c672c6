"""Run ``signalbots`` as a real subprocess, the way systemd does, and watch what it says.

Logs are read as JSON lines from its output; sd_notify datagrams arrive on a socket bound by the test.
Waiting is always on an event (a log line, a datagram, the exit) with a generous timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

WAIT = 30.0  # generous: a loaded CI machine is slow, but an event that never comes still fails the test


class DaemonProcess:
    def __init__(
        self,
        *,
        args: list[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        notify_socket: Path | None = None,
    ) -> None:
        self.notify: socket.socket | None = None
        full_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SIGNALBOTS_", "NOTIFY_SOCKET", "WATCHDOG_", "JOURNAL_STREAM"))
        }
        full_env |= {"SIGNALBOTS_LOG__FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        if notify_socket is not None:
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(str(notify_socket))
            full_env["NOTIFY_SOCKET"] = str(notify_socket)
        full_env |= dict(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signalbots", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"event": "_raw", "line": line}
            self._queue.put(entry)
        self._queue.put(None)

    def wait_log(
        self, predicate: Callable[[dict[str, Any]], bool] | str, timeout: float = WAIT
    ) -> dict[str, Any]:
        match = (lambda e: e.get("event") == predicate) if isinstance(predicate, str) else predicate
        for seen in self.logs:
            if match(seen):
                self.logs.remove(seen)
                return seen
        while True:
            try:
                entry = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no log line matching {predicate!r}; output:\n{self.output()}"
                ) from None
            if entry is None:
                raise AssertionError(f"daemon exited before logging {predicate!r}; output:\n{self.output()}")
            if match(entry):
                return entry
            self.logs.append(entry)

    async def await_log(
        self, predicate: Callable[[dict[str, Any]], bool] | str, timeout: float = WAIT
    ) -> dict[str, Any]:
        """``wait_log`` off the event loop, for tests that serve simulators from that loop."""
        return await asyncio.to_thread(self.wait_log, predicate, timeout)

    def datagram(self, timeout: float = WAIT) -> str:
        assert self.notify is not None
        self.notify.settimeout(timeout)
        return self.notify.recv(4096).decode()

    def wait_datagram(self, predicate: Callable[[str], bool], timeout: float = WAIT) -> str:
        while True:
            msg = self.datagram(timeout)
            if predicate(msg):
                return msg

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = WAIT) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    async def await_exit(self, timeout: float = WAIT) -> int:
        """``wait`` off the event loop."""
        return await asyncio.to_thread(self.wait, timeout)

    def output(self) -> str:
        return "".join(self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.notify is not None:
            self.notify.close()
