"""Memory with charts: peak RSS (VmHWM) of the daemon's process and of its chart worker (a report).

Each measurement runs in a fresh subprocess so that nothing else inflates it:

* ``imports``: everything a daemon with a token loads (aiogram, ccxt.pro, every signalbots module), no data;
* ``daemon``: the same, plus a market history of 2,000 symbols with every ring full (the worst case: 120
  candles, a day of funding, 200 liquidation prints each), and one signal chart drawn by the worker process
  — the daemon's own peak, matplotlib excluded (it lives in the worker);
* ``worker``: the chart worker's peak after drawing that chart (the worker's VmHWM, read before it exits);
* ``in-process``: what it would cost to draw in the daemon's process instead (``backtest --plot`` does);
* ``imports`` (also alone: ``benchmarks/memory.py imports``): where the imports' MB go, each library's share
  measured in the order the daemon loads them (RSS after each step, one fresh interpreter); ccxt as the
  daemon imports it (``signalbots.exchange.ccxt_modules``: the venue registry's exchanges only) beside
  ccxt in full (what a ``ccxt_full_import`` warning costs); and one experiment that measures what an
  upstream change would save: aiogram without building its models at import (``aiogram-unbuilt``:
  ``model_rebuild`` skipped; its methods are then unusable, so only a measurement).

Run: ``.venv/bin/python benchmarks/memory.py [imports]``
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from typing import Any

_CHILD = r"""
import asyncio, json, random, sys

def hwm(pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            yield line.split(":")[0], int(line.split()[1]) // 1024

mode = sys.argv[1]
SYMBOLS = int(sys.argv[2])
import aiogram  # noqa: F401 - what a daemon with a token has loaded
from signalbots.exchange.ccxt_modules import ccxt  # noqa: F401 - as the daemon imports it
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


_RSS = r"""
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
"""

# In the order the daemon loads them; each step's figure is what it adds to the ones before (shared
# dependencies count once, where first loaded).
_STEPS = r"""
import importlib, json
STEPS = [
    ("stdlib: asyncio, sqlite3, json, ssl, decimal", ["asyncio", "sqlite3", "json", "ssl", "decimal"]),
    ("pydantic, pydantic-settings", ["pydantic", "pydantic_settings"]),
    ("aiohttp", ["aiohttp"]),
    ("structlog", ["structlog"]),
    ("prometheus-client", ["prometheus_client"]),
    ("ccxt, async_support, pro: base, the registry's exchanges", ["signalbots.exchange.ccxt_modules"]),
    ("aiogram: Bot, every Bot API type and method built", ["aiogram", "aiogram.types", "aiogram.methods"]),
    ("signalbots: the daemon's own modules", ["signalbots.app", "signalbots.cli",
        "signalbots.telegram.outbox", "signalbots.telegram.commands", "signalbots.http"]),
]
out = [("interpreter", rss())]
for label, modules in STEPS:
    before = rss()
    for m in modules:
        importlib.import_module(m)
    out.append((label, rss() - before))
out.append(("total", rss()))
print(json.dumps(out))
"""

# What importing sys.argv[3:] adds once sys.argv[2] is loaded (the baseline both sides of a comparison share).
_ALONE = r"""
import importlib, sys
importlib.import_module(sys.argv[2])  # loaded before the measurement
before = rss()
for m in sys.argv[3:]:
    importlib.import_module(m)
print(json.dumps({"mb": rss() - before}))
"""

# Experiment: aiogram imported with pydantic's model_rebuild a no-op (aiogram.types calls it on every type).
_AIOGRAM_UNBUILT = r"""
import pydantic
before = rss()
pydantic.BaseModel.model_rebuild = classmethod(lambda cls, **kw: None)
import aiogram
print(json.dumps({"mb": rss() - before, "pydantic": pydantic.VERSION}))
"""

SYMBOLS = 2000  # about every perpetual on Binance, Bybit, OKX and MEXC


def run(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(SYMBOLS)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _python(code: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + _RSS + code, "-", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def imports() -> None:
    """Where the imports' MB go, what ccxt in full would cost, what aiogram unbuilt would save."""
    print(f"imports, in the order the daemon loads them (pydantic {version('pydantic')}):")
    for label, mb in _python(_STEPS):
        print(f"  {label:<58}{mb:>7.1f} MB")
    # After the registry (no ccxt in it) in both, so that the two differ only by the exchanges imported.
    ccxt_used = _python(_ALONE, "signalbots.exchange.venues", "signalbots.exchange.ccxt_modules")["mb"]
    ccxt_all = _python(_ALONE, "signalbots.exchange.venues", "ccxt.pro")["mb"]
    print(
        f"ccxt as the daemon imports it (the registry's exchanges only): {ccxt_used:.1f} MB; "
        f"in full (a ccxt_full_import warning): {ccxt_all:.1f} ({ccxt_used - ccxt_all:+.1f} MB)"
    )
    unbuilt = _python(_AIOGRAM_UNBUILT)["mb"]
    built = _python(_ALONE, "pydantic", "aiogram")["mb"]
    print(
        f"experiment: aiogram without building its models at import: {unbuilt:.1f} MB "
        f"instead of {built:.1f} ({unbuilt - built:+.1f} MB)"
    )


def main() -> None:
    if sys.argv[1:] == ["imports"]:
        imports()
        return
    imports()
    bare = run("imports")
    daemon = run("daemon")
    inproc = run("in-process")
    print(f"daemon process, everything imported, nothing held: {bare['self']} MB")
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
