"""Start to ``READY=1`` with a bot token, RSS at that moment, and the import cost of each heavy dependency.

The daemon is the real console entry (``python -m signalbots run``) with ``NOTIFY_SOCKET`` pointing at a
datagram socket here, as systemd's would; Telegram is the Bot API simulator, the exchanges the simulator
(Binance, 550 symbols, loaded after ``READY=1``). Each import is timed in a fresh
interpreter (wall time and RSS added by that import alone, after ``import signalbots``'s light core).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import ROOT, TOKEN, BenchClock, Inbox, config_text, rss_mb, telegram
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

REPEAT = 3
IMPORTS = (
    "aiogram",
    "signalbots.exchange.ccxt_modules",  # ccxt as the daemon imports it: the registry's exchanges only
    "aiohttp",
    "pydantic_settings",
    "structlog",
    "prometheus_client",
    "signalbots.app",
)

_IMPORT_PROBE = """
import json, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
before, t = rss(), time.perf_counter()
__import__(sys.argv[1])
print(json.dumps({"s": time.perf_counter() - t, "mb": rss() - before}))
"""


async def run(directory: Path) -> dict[str, Any]:
    clock = BenchClock()
    market = Market(clock=clock, seed=5, symbols=550, exchanges=("binanceusdm",))
    async with (
        ExchangeSim(market=market, clock=clock, exchanges=("binanceusdm",)) as sim,
        telegram(clock, Inbox()) as tg,
    ):
        config = directory / "bench.toml"
        config.write_text(config_text(state=directory / "state", sim=sim, tg=tg, exchanges=("binanceusdm",)))
        ready_s, rss = await _ready(config, directory)
    return {"summary": {"ready_s": ready_s, "rss_start_mb": rss}, "detail": {}}


async def _ready(config: Path, directory: Path) -> tuple[float, float]:
    path = directory / "notify.sock"
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}
    env |= {"NOTIFY_SOCKET": str(path), "SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN}
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    proc = _spawn([sys.executable, "-m", "signalbots", "run", "--config", str(config)], env, directory)
    try:
        async with asyncio.timeout(60):
            while True:
                data = await loop.sock_recv(sock, 4096)
                if b"READY=1" in data.split(b"\n"):
                    ready = time.perf_counter() - started
                    return ready, rss_mb(proc.pid)
    finally:
        sock.close()
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 15)
        except TimeoutError:
            proc.kill()


def _spawn(argv: list[str], env: dict[str, str], directory: Path) -> subprocess.Popen[bytes]:
    with (directory / "daemon.log").open("wb") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def imports() -> dict[str, dict[str, float]]:
    """Seconds and MB each heavy import costs in a fresh interpreter (after ``import signalbots``)."""
    out = {}
    for name in IMPORTS:
        probe = "import signalbots\n" + _IMPORT_PROBE
        done = subprocess.run(
            [sys.executable, "-c", probe, name], cwd=ROOT, capture_output=True, text=True, check=True
        )
        out[name] = json.loads(done.stdout)
    return out


if __name__ == "__main__":  # a quick look: python -m benchmarks.startup
    with tempfile.TemporaryDirectory() as tmp:
        print(asyncio.run(run(Path(tmp))))
    print(imports())
