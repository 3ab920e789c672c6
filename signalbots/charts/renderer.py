"""Rendering off the event loop: one long-lived worker process, bounded in time and memory.

``ChartRenderer.render(spec)`` sends the spec to the worker (``charts/_worker.py``) and awaits the PNG.
A render that takes longer than ``timeout`` (a hang, a pathological spec) is abandoned: the worker is
killed and the next render starts a fresh one. Memory: the worker caps its own address space at
``memory_mb`` where setrlimit is allowed, and the parent kills it when its resident size passes
``memory_mb`` (checked every ``memory_poll`` seconds while it draws) — under the shipped systemd unit,
whose syscall filter refuses setrlimit, that watch is the bound.
matplotlib lives only in the worker, so the daemon's own memory never holds it. Renders are serialised
(one worker); charts are a side dish, and one at a time keeps the memory bound honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import structlog

from signalbots.charts.spec import ChartSpec

_log = structlog.get_logger(__name__)


class _OverMemory(Exception):
    pass


def _rss_mb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        return None
    return None


class ChartError(Exception):
    """This chart cannot be drawn (failed, timed out, worker died): send the alert without it."""


class Renderer(Protocol):
    async def render(self, spec: ChartSpec) -> bytes: ...


def worker_command(memory_mb: int) -> list[str]:
    return [sys.executable, "-m", "signalbots.charts._worker", "--memory-mb", str(memory_mb)]


class ChartRenderer:
    def __init__(
        self,
        *,
        timeout: float = 30.0,
        memory_mb: int = 512,
        command: Sequence[str] | None = None,
        cache_dir: Path | None = None,
        memory_poll: float = 0.1,
    ) -> None:
        self.timeout = timeout
        self._memory_mb = memory_mb
        self._memory_poll = memory_poll
        self._cache_dir = cache_dir
        self._command = list(command) if command is not None else worker_command(memory_mb)
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.rendered = 0
        self.failed = 0

    async def __aenter__(self) -> ChartRenderer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def render(self, spec: ChartSpec) -> bytes:
        async with self._lock:
            try:
                async with asyncio.timeout(self.timeout):
                    status, payload = await self._watched(self._exchange(spec))
            except _OverMemory as err:
                self.failed += 1
                await self._stop()
                raise ChartError(f"chart worker over its memory limit ({err}); worker restarted") from None
            except TimeoutError:
                self.failed += 1
                await self._stop()
                raise ChartError(f"chart not drawn within {self.timeout:g}s; worker restarted") from None
            except (OSError, EOFError, pickle.UnpicklingError, struct.error) as err:
                self.failed += 1
                await self._stop()
                raise ChartError(f"chart worker failed: {type(err).__name__}: {err}") from err
            except BaseException:
                await self._stop()  # cancelled mid-exchange: the pipe is out of step, start afresh
                raise
        if status != "ok" or not isinstance(payload, bytes):
            self.failed += 1
            raise ChartError(f"chart failed: {payload}")
        self.rendered += 1
        return payload

    async def _watched(self, exchange: Coroutine[Any, Any, tuple[str, object]]) -> tuple[str, object]:
        """The worker caps its own address space where it may; where it may not (systemd's
        ``SystemCallFilter=~@resources`` refuses setrlimit), its resident size is watched from here."""
        task = asyncio.ensure_future(exchange)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._memory_poll)
                if done:
                    return task.result()
                rss = _rss_mb(self._proc.pid) if self._proc is not None else None
                if rss is not None and rss > self._memory_mb:
                    raise _OverMemory(f"{rss} MB > {self._memory_mb} MB")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _exchange(self, spec: ChartSpec) -> tuple[str, object]:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            if self._cache_dir is not None:  # matplotlib's font cache, kept across starts (not in $HOME)
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                env["MPLCONFIGDIR"] = str(self._cache_dir)
            proc = self._proc = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=env,
            )
        assert proc.stdin is not None and proc.stdout is not None
        body = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.write(struct.pack(">I", len(body)) + body)
        await proc.stdin.drain()
        try:
            head = await proc.stdout.readexactly(4)
            answer = pickle.loads(await proc.stdout.readexactly(struct.unpack(">I", head)[0]))
        except asyncio.IncompleteReadError as err:
            raise EOFError(f"chart worker exited (code {proc.returncode})") from err
        if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str)):
            raise EOFError("chart worker answered garbage")
        return answer[0], answer[1]

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
