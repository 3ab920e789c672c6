"""What the benchmarks share: one timeline for the simulators and the daemon, the simulators, the config that
points the daemon at them, and the daemon as a child process.

The daemon always runs in its own process (``benchmarks._child``: ``Daemon``, the wiring ``signalbots run``
uses, with the benchmark's clock and an observer on the bus), so its RSS and CPU are its own; the exchange and
Telegram simulators run in this process and talk to it over their wire protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.telegram import SentMessage, TelegramSim

TOKEN = "123456789:BENCH-token-for-the-local-simulator-only"
ALERT_CHAT, ADMIN_CHAT = 1001, 1002
ROOT = Path(__file__).resolve().parent.parent


class BenchClock:
    """Real time × ``speed`` from ``start``, anchored at ``real0`` (``time.monotonic()``, which is one clock
    for every process on Linux), so the simulators here and the daemon in its child share one timeline."""

    def __init__(self, *, speed: float = 1.0, start: float | None = None, real0: float | None = None) -> None:
        self.speed = speed
        self.real0 = time.monotonic() if real0 is None else real0
        self.start = time.time() if start is None else start

    def time(self) -> float:
        return self.start + (time.monotonic() - self.real0) * self.speed

    def monotonic(self) -> float:
        return (time.monotonic() - self.real0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def args(self) -> list[str]:
        return ["--speed", repr(self.speed), "--start", repr(self.start), "--real0", repr(self.real0)]


def trim_market(market: Market, counts: dict[str, int]) -> None:
    """Keep the ``counts[exchange]`` most liquid listings of each exchange (the market lists every base on
    every exchange when built with ``overlap=1``)."""
    for ex, n in counts.items():
        listings = market.listings[ex]
        ranked = sorted(listings.values(), key=lambda x: -x.quote_volume_24h)
        keep = {x.base for x in ranked[:n]}
        if len(keep) < n:
            raise RuntimeError(f"the market lists only {len(keep)} symbols on {ex}, {n} asked")
        for base in list(listings):
            if base not in keep:
                del listings[base]


def config_text(
    *,
    state: Path,
    sim: ExchangeSim,
    tg: TelegramSim | None,
    exchanges: tuple[str, ...],
    extra: str = "",
    exchange_extra: dict[str, str] | None = None,
    http: str = "",
) -> str:
    lines = [
        "[daemon]",
        f'state_dir = "{state}"',
        'heartbeat_interval = "1h"',
        'shutdown_timeout = "5s"',
        "[log]",
        'level = "warning"',
        'format = "json"',
        "[http]",
        f'listen = "{http}"',
    ]
    if tg is not None:
        lines += [
            "[telegram]",
            f'api_url = "{tg.url}"',
            f"alert_chat_id = {ALERT_CHAT}",
            f"admin_chat_id = {ADMIN_CHAT}",
        ]
    for ex in ("binanceusdm", "bybit", "okx", "mexc", "hyperliquid"):
        lines.append(f"[exchanges.{ex}]")
        if ex in exchanges:
            lines += [f'rest_url = "{sim.rest_url(ex)}"', f'ws_url = "{sim.ws_url(ex)}"', "enabled = true"]
            lines.append((exchange_extra or {}).get(ex, ""))
        else:
            lines.append("enabled = false")
    return "\n".join(lines) + "\n" + extra


# Risk gates off (they are the desk's business, not a speed limit): every completed cascade or spike must
# reach Telegram, so that each one is a latency sample.
RISK_OPEN = """
[risk]
max_open = 100000
max_open_per_strategy = 100000
daily_cap = 100000
strategy_daily_cap = 100000
daily_loss_limit_r = 100000
correlation = 1.0
"""


@dataclass
class Child:
    """The daemon process; ``reports`` are the observer's JSON lines, newest last."""

    proc: subprocess.Popen[bytes]
    report: Path
    log: Path
    reports: list[dict[str, Any]] = field(default_factory=list)
    _offset: int = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll_reports(self) -> list[dict[str, Any]]:
        if not self.report.exists():
            return []
        with self.report.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        fresh = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        self.reports += fresh
        return fresh

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"the daemon exited with {self.proc.returncode}; its log ends:\n{tail(self.log)}"
            )

    async def wait_report(
        self, predicate: Callable[[dict[str, Any]], bool], *, within: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check()
            for r in self.poll_reports():
                if predicate(r):
                    return r
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"no matching daemon report within {within:.0f} s; its log ends:\n{tail(self.log)}"
        )


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.asynccontextmanager
async def child(
    *,
    directory: Path,
    config: str,
    clock: BenchClock,
    token: bool = True,
    track: bool = True,
    every: float = 5.0,
    cpu: int | None = None,
) -> AsyncIterator[Child]:
    """Run the daemon (``benchmarks._child``) until the block ends, then stop it with SIGTERM."""
    report, log = directory / "report.jsonl", directory / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}
    if token:
        env["SIGNALBOTS_TELEGRAM__BOT_TOKEN"] = TOKEN
    cfg = directory / "bench.toml"
    argv = [sys.executable, "-m", "benchmarks._child", "--config", str(cfg), "--report", str(report)]
    argv += [*clock.args(), "--every", repr(every)] + ([] if track else ["--no-track"])
    proc = _spawn(argv, env=env, config=(cfg, config), log=log, cpu=cpu)
    handle = Child(proc=proc, report=report, log=log)
    profiler = _profile(proc.pid, directory.name)
    try:
        yield handle
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            await asyncio.to_thread(profiler.wait)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), 15)
            except TimeoutError:
                proc.kill()
                await asyncio.to_thread(proc.wait)


def _spawn(
    argv: list[str], *, env: dict[str, str], config: tuple[Path, str], log: Path, cpu: int | None
) -> subprocess.Popen[bytes]:
    config[0].parent.mkdir(parents=True, exist_ok=True)
    config[0].write_text(config[1])

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pin)


def _profile(pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """With ``BENCH_PROFILE=DIR``: sample the daemon with py-spy (collapsed stacks) into DIR."""
    where = os.environ.get("BENCH_PROFILE")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    out = Path(where) / f"{name}.txt"
    argv = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--nonblocking"]
    return subprocess.Popen([*argv, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Inbox:
    """What the Telegram simulator received, with the real time (``perf_counter``) it arrived."""

    messages: list[tuple[float, SentMessage]] = field(default_factory=list)

    def __call__(self, message: SentMessage) -> None:
        self.messages.append((time.perf_counter(), message))


def telegram(clock: BenchClock, inbox: Inbox) -> TelegramSim:
    return TelegramSim(token=TOKEN, clock=clock, on_message=inbox)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
