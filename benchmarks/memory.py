"""Memory with charts: peak RSS (VmHWM) of the daemon's process and of its chart worker (a report).

Each measurement runs in a fresh subprocess so that nothing else inflates it:

* ``imports``: everything a daemon with a token loads (aiogram, ccxt.pro, every signalbots module), no data;
* ``daemon``: the same, plus a market history of 2,000 symbols with every ring full (the worst case: 120
  candles, a day of funding, 200 liquidation prints each), and one signal chart drawn by the worker process
  — the daemon's own peak, matplotlib excluded (it lives in the worker);
* ``worker``: the chart worker's peak after drawing that chart (the worker's VmHWM, read before it exits);
* ``in-process``: what it would cost to draw in the daemon's process instead (``backtest --plot`` does);
* ``imports`` (also alone: ``benchmarks/memory.py imports``): where the imports' MB go, each library's share
  measured in the order the daemon loads them (RSS after each step, one fresh interpreter), and two
  experiments that measure what upstream changes would save: ccxt importing only the daemon's exchanges
  (``ccxt-used-only``: each ccxt package's ``__init__`` run without its exchange imports — a measurement,
  not something the daemon does) and aiogram without building its models at import (``aiogram-unbuilt``:
  ``model_rebuild`` skipped; its methods are then unusable, so again only a measurement).

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
    ("ccxt: its base, and every exchange's sync module", ["ccxt"]),
    ("ccxt.async_support: every exchange's async module", ["ccxt.async_support"]),
    ("ccxt.pro: every exchange's websocket module", ["ccxt.pro"]),
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

# The same imports as each experiment, done normally: what the experiment compares with.
_ALONE = r"""
import importlib, sys
importlib.import_module(sys.argv[2])  # loaded before the measurement, as in the experiment
before = rss()
for m in sys.argv[3:]:
    importlib.import_module(m)
print(json.dumps({"mb": rss() - before}))
"""

# Experiment: the three ccxt packages' __init__ without their exchange imports, then only the exchanges named.
_CCXT_USED_ONLY = r"""
import importlib, importlib.util, re, sys, types
before = rss()
root = importlib.util.find_spec("ccxt").submodule_search_locations[0]
one_exchange = re.compile(r"^from ccxt\.(?:async_support\.|pro\.)?(\w+) import \1\b")
for name, sub in (("ccxt", ""), ("ccxt.async_support", "/async_support"), ("ccxt.pro", "/pro")):
    m = sys.modules[name] = types.ModuleType(name)
    m.__path__, m.__file__ = [root + sub], root + sub + "/__init__.py"
    lines = open(m.__file__).read().splitlines()
    kept = "\n".join(x for x in lines if not (one_exchange.match(x) and ".base." not in x))
    exec(compile(kept, m.__file__, "exec"), m.__dict__)
sys.modules["ccxt"].async_support = sys.modules["ccxt.async_support"]
sys.modules["ccxt"].pro = sys.modules["ccxt.pro"]
for ex in sys.argv[2:]:
    for pkg in ("ccxt.async_support", "ccxt.pro"):
        setattr(sys.modules[pkg], ex, getattr(importlib.import_module(f"{pkg}.{ex}"), ex))
print(json.dumps({"mb": rss() - before, "exchanges": sys.argv[2:]}))
"""

# Experiment: aiogram imported with pydantic's model_rebuild a no-op (aiogram.types calls it on every type).
_AIOGRAM_UNBUILT = r"""
import pydantic
before = rss()
pydantic.BaseModel.model_rebuild = classmethod(lambda cls, **kw: None)
import aiogram
print(json.dumps({"mb": rss() - before, "pydantic": pydantic.VERSION}))
"""

EXCHANGES = ("binanceusdm", "bybit", "okx", "mexc", "hyperliquid")  # the coverage benchmark's full market
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
    """Where the imports' MB go, and what the two upstream changes would save (see the docstring)."""
    print(f"imports, in the order the daemon loads them (pydantic {version('pydantic')}):")
    for label, mb in _python(_STEPS):
        print(f"  {label:<58}{mb:>7.1f} MB")
    used = list(dict.fromkeys(["binance", *EXCHANGES]))  # binanceusdm's classes extend binance's
    ccxt_only = _python(_CCXT_USED_ONLY, *used)["mb"]
    ccxt_all = _python(_ALONE, "json", "ccxt.pro")["mb"]
    print(
        f"experiment: ccxt.pro with only {', '.join(EXCHANGES)} imported: {ccxt_only:.1f} MB "
        f"instead of {ccxt_all:.1f} ({ccxt_only - ccxt_all:+.1f} MB)"
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
