"""The daemon under measurement: ``Daemon`` (what ``signalbots run`` runs) on the benchmark's clock, plus one
observer task on its bus that writes a JSON line every ``--every`` simulated seconds: RSS, events published
and handled per strategy, drops, REST weight per exchange, and (``--track``) every symbol's data age.

Run by ``benchmarks._harness.child``; not a user entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchClock
from signalbots.app import Daemon, Unit, _Runtime
from signalbots.health import TaskHealth
from signalbots.settings import Settings

_KINDS = {
    "Candle": "candle",
    "FundingSnapshot": "funding",
    "Ticker": "ticker",
    "Liquidation": "liquidation",
    "OpenInterest": "open_interest",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class ObservedDaemon(Daemon):
    def __init__(self, *, report: Path, every: float, track: bool, clock: BenchClock, **kwargs: Any) -> None:
        super().__init__(clock=clock, **kwargs)
        self._report = report
        self._every = every
        self._track = track
        self._bench_clock = clock

    def plan(self, settings: Settings, rt: _Runtime) -> list[Unit]:
        units = super().plan(settings, rt)
        return [*units, Unit("bench-observer", self._observer(rt), key="observer")]

    def _observer(self, rt: _Runtime) -> Callable[[TaskHealth], Awaitable[None]]:
        clock = self._bench_clock
        # (kind, exchange) → symbol → when its last event arrived: each group's ages are read with C-level
        # min/sort each second, not a Python loop over every symbol (profiled: the snapshot held the loop
        # ~300 ms at a time in the full-market candles run on a loaded machine)
        last: dict[tuple[str, str], dict[str, float]] = {}
        stalls: list[float] = []
        strategies = list(rt.settings.enabled_strategies())
        exchanges = list(rt.settings.enabled_exchanges())
        sample = rt.metrics.registry.get_sample_value

        observer_cpu = [0.0]  # the snapshots' own CPU seconds, so that a CPU figure can leave them out

        def snapshot() -> dict[str, Any]:
            spent = time.thread_time()
            try:
                return _snapshot()
            finally:
                observer_cpu[0] += time.thread_time() - spent

        def _snapshot() -> dict[str, Any]:
            now = clock.time()
            ages: dict[str, dict[str, list[float]]] = {}
            for (kind, ex), per_symbol in list(last.items()):
                ats = sorted(per_symbol.values())  # oldest first
                # count, the oldest age, the median age (as before: the upper median of the ages)
                ages.setdefault(kind, {})[ex] = [len(ats), now - ats[0], now - ats[(len(ats) - 1) // 2]]
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            stall = max(stalls, default=0.0)
            stalls.clear()
            return {
                "t": now,
                "real": time.monotonic(),
                "cpu_s": cpu.ru_utime + cpu.ru_stime,
                "observer_cpu_s": observer_cpu[0],
                "rss_mb": _rss_mb(),
                "stall_ms": round(stall * 1000, 1),
                "gc": gc.get_stats()[2]["collections"],
                "published": rt.bus.published,
                "handled": {s: sample("signalbots_events_total", {"strategy": s}) or 0.0 for s in strategies},
                "dropped": {
                    s: sample("signalbots_bus_dropped_total", {"subscriber": f"strategy:{s}"}) or 0.0
                    for s in strategies
                },
                "signals": {
                    s: sample("signalbots_signals_total", {"strategy": s}) or 0.0 for s in strategies
                },
                "weight": {
                    ex: sample("signalbots_rest_weight_total", {"exchange": ex}) or 0.0 for ex in exchanges
                },
                "ages": ages,
                # the five oldest without sorting every symbol's entry each second (profiled: 7 % of the
                # daemon's samples in the full-market candles run)
                "oldest": [
                    [k, ex, sym, round(now - at, 1)]
                    for at, k, ex, sym in heapq.nsmallest(
                        5,
                        (
                            (at, k, ex, sym)
                            for (k, ex), per_symbol in last.items()
                            for at, sym in heapq.nsmallest(
                                5, zip(per_symbol.values(), per_symbol, strict=True)
                            )
                        ),
                    )
                ],
            }

        async def consume() -> None:
            sub = rt.bus.subscribe("bench-observer", maxsize=1_000_000)
            try:
                while True:
                    event = await sub.get()
                    key = (_KINDS[type(event).__name__], event.exchange)
                    per_symbol = last.get(key)
                    if per_symbol is None:
                        per_symbol = last[key] = {}
                    per_symbol[event.symbol] = clock.time()
            finally:
                sub.close()

        async def lag() -> None:
            # How late a 10 ms sleep wakes: the longest stall of the event loop since the last report.
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                stalls.append(time.perf_counter() - before - 0.01)

        async def observe(health: TaskHealth) -> None:
            consumer = asyncio.create_task(consume()) if self._track else None
            prober = asyncio.create_task(lag())
            try:
                with self._report.open("a") as out:
                    while True:
                        out.write(json.dumps(snapshot()) + "\n")
                        out.flush()
                        if tracemalloc.is_tracing():  # BENCH_TRACEMALLOC=1: where the memory is
                            top = tracemalloc.take_snapshot().statistics("filename")[:40]
                            self._report.with_suffix(".malloc").write_text("\n".join(map(str, top)))
                        await clock.sleep(self._every)
            finally:
                prober.cancel()
                if consumer is not None:
                    consumer.cancel()

        return observe


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--report", required=True, type=Path)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--start", type=float, default=None)
    p.add_argument("--real0", type=float, default=None)
    p.add_argument("--every", type=float, default=5.0)
    p.add_argument("--no-track", dest="track", action="store_false")
    args = p.parse_args()
    if os.environ.get("BENCH_TRACEMALLOC"):
        tracemalloc.start(1)
    clock = BenchClock(speed=args.speed, start=args.start, real0=args.real0)
    daemon = ObservedDaemon(
        config=args.config, clock=clock, env_file=None, report=args.report, every=args.every, track=args.track
    )
    return asyncio.run(daemon.run())


if __name__ == "__main__":
    sys.exit(main())
