"""Memory with charts: peak RSS (VmHWM) of the daemon's process and of its chart worker (a report).

Each measurement runs in a fresh subprocess so that nothing else inflates it:

* ``imports``: everything a daemon with a token loads (aiogram, ccxt.pro, every signalbots module), no data;
* ``daemon``: the same, plus a market history of 2,000 symbols with every ring full (the worst case: 120
  candles, a day of funding, 200 liquidation prints each), and one signal chart drawn by the worker process
  — the daemon's own peak, matplotlib excluded (it lives in the worker);
* ``worker``: the chart worker's peak after drawing that chart (the worker's VmHWM, read before it exits);
* ``in-process``: what it would cost to draw in the daemon's process instead (``backtest --plot`` does).

Run: ``.venv/bin/python benchmarks/memory.py``
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import asyncio, json, random, sys

def hwm(pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            yield line.split(":")[0], int(line.split()[1]) // 1024

mode = sys.argv[1]
SYMBOLS = int(sys.argv[2])
import aiogram, ccxt.pro  # noqa: F401 - what a daemon with a token has loaded
import signalbots.app, signalbots.cli, signalbots.telegram.outbox, signalbots.telegram.commands  # noqa: F401
from signalbots.charts.history import MarketHistory
from signalbots.charts.signal_chart import for_signal
from signalbots.events import Candle, FundingSnapshot, Liquidation, Side
from signalbots.signals.model import Candidate, Direction

rng = random.Random(1)
h = MarketHistory()
if mode == "imports":
    SYMBOLS = 0
t0 = 1_700_000_000_000
for s in range(SYMBOLS):
    sym = f"S{s}/USDT:USDT"
    p = 1.0
    for i in range(120):
        c = p * (1 + rng.gauss(0, 0.003))
        h.on_event(Candle("binanceusdm", sym, t0 + i * 300_000, "5m", p, max(p, c), min(p, c), c, 1e6, 1e6))
        p = c
    for i in range(120):
        h.on_event(FundingSnapshot("binanceusdm", sym, t0 + i * 300_000, 1e-4, 8, None, p))
    for i in range(200):
        h.on_event(Liquidation("binanceusdm", sym, t0 + 119 * 300_000 + i * 1000, Side.LONG, p, 1, 1e5))
end = t0 + 120 * 300_000
c = Candidate("volume", "spike", "binanceusdm", "S0/USDT:USDT", Direction.LONG, 1.0, 0.99, (1.01, 1.02),
              end, end + 86_400_000, "k", {"baseline_median_usd": 1e6, "volume_multiple": 7.0})
spec = for_signal(c, h)
out = {}
if mode == "imports":
    pass
elif mode == "daemon":
    from signalbots.charts.renderer import ChartRenderer

    async def main():
        async with ChartRenderer() as r:
            png = await r.render(spec)
            out["png_bytes"] = len(png)
            out["worker"] = dict(hwm(r._proc.pid))
            out["matplotlib_in_daemon"] = "matplotlib" in sys.modules
    asyncio.run(main())
else:
    from signalbots.charts.draw import draw
    out["png_bytes"] = len(draw(spec))
out["self"] = dict(hwm())
print(json.dumps(out))
"""


SYMBOLS = 2000  # about every perpetual on Binance, Bybit, OKX and MEXC


def run(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(SYMBOLS)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    imports = run("imports")
    daemon = run("daemon")
    inproc = run("in-process")
    print(f"daemon process, everything imported, nothing held: {imports['self']} MB")
    print(
        f"daemon process, everything imported, history of {SYMBOLS} symbols with every ring full "
        f"(120 candles, funding, 200 prints), one chart drawn by the worker: {daemon['self']} MB"
    )
    print(f"chart worker process after drawing it: {daemon['worker']} MB")
    print(f"matplotlib imported in the daemon process: {daemon['matplotlib_in_daemon']}")
    print(f"drawing in-process instead (backtest --plot): {inproc['self']} MB")
    print(f"PNG: {daemon['png_bytes']} bytes")


if __name__ == "__main__":
    main()
