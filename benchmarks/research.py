"""A 50-setting walk-forward sweep over 1,000,000 candles: seconds for ``signalbots research`` end to end
(issue 24's target: ≤ 2 minutes on 2 cores).

The data is synthetic and written to the run's directory first (not timed): 100 perpetuals × 10,000 5m
candles (about five weeks each), a random walk with a volume spike now and then so the strategy signals.
The sweep is the volume strategy's ``multiple`` × ``robust_z`` (10 × 5 = 50 settings), 6 windows, 2
processes — ``run_research``, the code behind the command, with its report discarded.

Run alone: ``python -m benchmarks research``. ``BENCH_RESEARCH_SYMBOLS=10`` (and ``BENCH_RESEARCH_JOBS=1``)
run a smaller sweep, e.g. to profile it in one process; the figures then say what they measured.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import resource
import time
from pathlib import Path
from typing import Any

from signalbots.research import run_research
from signalbots.settings import Settings

REPEAT = 1
SYMBOLS = 100
CANDLES = 10_000
JOBS = 2
_START_MS = 1_700_000_000_000 // 300_000 * 300_000
GRID = [
    "strategies.volume.multiple=3,3.5,4,4.5,5,5.5,6,7,8,10",
    "strategies.volume.robust_z=4,6,8,10,12",
]


def write_candles(directory: Path, symbols: int = SYMBOLS, candles: int = CANDLES, seed: int = 24) -> int:
    """CSV files of 5m candles as ``backtest`` reads them; returns the number of candles written."""
    rng = random.Random(seed)
    for n in range(symbols):
        price = rng.uniform(0.5, 500.0)
        rows = ["timestamp,open,high,low,close,volume"]
        for i in range(candles):
            spike = rng.random() < 0.002
            move = rng.gauss(0, 0.004 if not spike else 0.02)
            close = price * (1 + move)
            high = max(price, close) * (1 + abs(rng.gauss(0, 0.001)))
            low = min(price, close) * (1 - abs(rng.gauss(0, 0.001)))
            volume = rng.lognormvariate(13, 0.3) / price * (12 if spike else 1)
            rows.append(
                f"{_START_MS + i * 300_000},{price:.6g},{high:.6g},{low:.6g},{close:.6g},{volume:.6g}"
            )
            price = close
        (directory / f"binanceusdm_S{n:03d}-USDT-USDT_5m.csv").write_text("\n".join(rows) + "\n")
    return symbols * candles


def _sweep(data: Path, jobs: int) -> tuple[float, dict[str, Any]]:
    settings = Settings()
    out, err = io.StringIO(), io.StringIO()
    cpu = _cpu_s()
    started = time.monotonic()
    code = run_research(
        data=data,
        grid=GRID,
        windows=6,
        jobs=jobs,
        settings=settings,
        out=out,
        err=err,
        as_json=False,
        strategies=["volume"],
    )
    seconds = time.monotonic() - started
    cpu = _cpu_s() - cpu
    if code != 0:
        raise RuntimeError(f"research exited {code}: {err.getvalue()}")
    # CPU seconds of this process and its finished workers: less sensitive to other load than wall clock
    return seconds, {"cpu_s": round(cpu, 1), "report_lines": out.getvalue().count("\n")}


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def run(directory: Path) -> dict[str, Any]:
    data = directory / "candles"
    data.mkdir()
    symbols = int(os.environ.get("BENCH_RESEARCH_SYMBOLS", SYMBOLS))
    jobs = int(os.environ.get("BENCH_RESEARCH_JOBS", JOBS))
    written = write_candles(data, symbols=symbols)
    load = os.getloadavg()[0]
    seconds, detail = await asyncio.to_thread(_sweep, data, jobs)
    return {
        "summary": {"research_sweep_s": round(seconds, 1)},
        "detail": {
            "candles": written,
            "settings": 50,
            "jobs": jobs,
            "candle_settings_per_s": round(written * 50 / seconds),
            "load_average_before": load,
        }
        | detail,
    }
