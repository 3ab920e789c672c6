"""``python -m benchmarks [NAME]... [--json PATH] [--repeat N]``: the figures of docs/performance.md.

Each benchmark starts the exchange and Telegram simulators here and the daemon in its own process, talking
over the wire protocols; each runs ``REPEAT`` times (``--repeat`` overrides) and the table shows the median
with the spread (min–max) beside it. The JSON document holds the machine, the versions, every run and a flat
``summary`` of medians (``null`` for what was not measured). A benchmark that fails makes the exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

SUMMARY_KEYS = (
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "throughput_events_per_s",
    "rss_start_mb",
    "rss_full_market_mb",
    "rss_growth_mb",
    "ready_s",
    "weight_fraction_max",
    "candle_alert_p99_s",
    "cpu_core_share_real_cadence",
    "data_age_max_s",
    "symbols_covered",
    "limiter_acquire_us",
    "limiter_acquire_contended_us",
    "research_sweep_s",
)
# (comparison, bound) per key, from issue 12.
TARGETS: dict[str, tuple[str, float]] = {
    "latency_p99_ms": ("<=", 50.0),
    "throughput_events_per_s": (">=", 20_000.0),
    "rss_full_market_mb": ("<=", 300.0),
    "rss_growth_mb": ("<", 5.0),
    "ready_s": ("<=", 4.0),
    "weight_fraction_max": ("<=", 0.10),
    # issue 19: every exchange's candle close to its spike alert, and the daemon's CPU at real cadence
    "candle_alert_p99_s": ("<=", 2.0),
    "cpu_core_share_real_cadence": ("<=", 0.20),
    "symbols_covered": (">=", 2050.0),
    # the largest feed's interval + 5 s (candles, 5m); tickers and funding (60 s → 65 s) in coverage's detail
    "data_age_max_s": ("<=", 305.0),
    "limiter_acquire_us": ("<=", 5.0),
    "research_sweep_s": ("<=", 120.0),  # issue 24: 50 settings over 1 M candles on 2 cores
}
BENCHMARKS = ("limiter", "startup", "throughput", "latency", "coverage", "candles", "research")
# Details worth a line under each run (the JSON has them all).
_SHOWN = (
    "by_kind_ms",
    "loop_stall_max_ms",
    "daemon_cpu_share",
    "events_per_cpu_second",
    "data_age_max_s_by_kind",
    "weight_fraction_by_exchange",
    "full_coverage_after_sim_s",
    "asyncio_sleep0_us",
    "candle_settings_per_s",
    "open_interest",  # issue 18, acceptance 5 (coverage)
    "candle_alert_p99_s_by_exchange",
    "candle_alert_s",
)
PACKAGES = ("ccxt", "aiohttp", "aiogram", "pydantic", "pydantic-settings", "structlog", "prometheus-client")


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _met(key: str, value: float | None) -> str:
    if key not in TARGETS or value is None:
        return ""
    op, bound = TARGETS[key]
    ok = value <= bound if op == "<=" else value < bound if op == "<" else value >= bound
    return ("met" if ok else "MISSED") + f" ({op} {bound:g})"


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


async def _run_one(name: str, repeat: int | None, keep: bool) -> list[dict[str, Any]]:
    module = importlib.import_module(f"benchmarks.{name}")
    runs = []
    for i in range(repeat or module.REPEAT):
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            directory = Path(tmp)
            started = time.monotonic()
            try:
                result = await module.run(directory)
            except BaseException:
                if keep:
                    saved = Path(tempfile.mkdtemp(prefix=f"bench-{name}-failed-"))
                    shutil.copytree(tmp, saved, dirs_exist_ok=True)  # the daemon's log, config, reports
                    print(f"  (kept {saved})", file=sys.stderr)
                raise
            result["seconds"] = round(time.monotonic() - started, 1)
            runs.append(result)
            shown = ", ".join(f"{k} {_fmt(v)}" for k, v in result["summary"].items())
            print(f"  {name} run {i + 1}: {shown} ({result['seconds']} s)", flush=True)
            for key in _SHOWN:
                if key in result.get("detail", {}):
                    print(f"    {key}: {result['detail'][key]}", flush=True)
    return runs


def _table(
    summary: dict[str, float | None], spread: dict[str, tuple[float, float] | None], n: dict[str, int]
) -> str:
    rows = [f"{'figure':<30}{'median':>12}  {'spread (min–max)':<24}{'runs':>5}  target"]
    for key in SUMMARY_KEYS:
        s = spread.get(key)
        rng = f"{_fmt(s[0])} – {_fmt(s[1])}" if s and n.get(key, 0) > 1 else "—"
        rows.append(
            f"{key:<30}{_fmt(summary[key]):>12}  {rng:<24}{n.get(key, 0):>5}  {_met(key, summary[key])}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"some of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", type=Path, help="write the JSON document here")
    parser.add_argument("--repeat", type=int, help="runs per benchmark (default: each benchmark's own)")
    parser.add_argument("--keep", action="store_true", help="keep a failed run's directory (daemon log)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    names = args.names or list(BENCHMARKS)

    from signalbots.logs import configure_logging

    configure_logging(fmt="console", level="warning")  # the simulators log too
    started = time.time()
    doc: dict[str, Any] = {"machine": _machine(), "versions": _versions(), "benchmarks": {}}
    print(
        f"{doc['machine']['cpu_model']} × {doc['machine']['cores']}, Python {doc['versions']['python']}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    failed = []
    for name in names:
        print(f"{name}:", flush=True)
        try:
            runs = asyncio.run(_run_one(name, args.repeat, args.keep))
        except Exception as err:  # one benchmark failing must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            doc["benchmarks"][name] = {"error": f"{type(err).__name__}: {err}"}
            continue
        doc["benchmarks"][name] = {"runs": runs}
        if name == "startup":
            from benchmarks.startup import imports

            doc["imports"] = imports()
            print(
                "  import cost (fresh interpreter): "
                + ", ".join(f"{k} {v['s']:.2f} s / {v['mb']:.0f} MB" for k, v in doc["imports"].items()),
                flush=True,
            )
    values: dict[str, list[float]] = {k: [] for k in SUMMARY_KEYS}
    for bench in doc["benchmarks"].values():
        for run in bench.get("runs", []):
            for key, value in run["summary"].items():
                if value is not None:
                    values[key].append(float(value))
    summary = {k: (statistics.median(v) if v else None) for k, v in values.items()}
    spread = {k: ((min(v), max(v)) if v else None) for k, v in values.items()}
    doc["summary"] = summary
    doc["spread"] = {k: list(v) if v else None for k, v in spread.items()}
    doc["runs_per_figure"] = {k: len(v) for k, v in values.items()}
    doc["targets"] = {k: f"{op} {b:g}" for k, (op, b) in TARGETS.items()}
    doc["failed"] = failed
    doc["machine"]["load_average_at_end"] = os.getloadavg()
    doc["elapsed_s"] = round(time.time() - started, 1)
    print()
    print(_table(summary, spread, doc["runs_per_figure"]))
    print(
        f"\n{doc['elapsed_s']:.0f} s in all; load average {os.getloadavg()[0]:.2f}"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
