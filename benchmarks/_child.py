"""The daemon under measurement: ``Daemon`` (what ``signalbots run`` runs) on the benchmark's clock, plus one
observer task on its bus that writes a JSON line every ``--every`` simulated seconds: RSS, events published
and handled per strategy, drops, REST weight per exchange, and (``--track``) every symbol's data age.

Where the memory is: ``BENCH_TRACEMALLOC=1`` writes tracemalloc's largest allocations by file next to the
report at each report; ``BENCH_MEMORY=N`` every N reports writes ``memoryK.txt`` (into ``BENCH_MEMORY_DIR``,
else next to the report): RSS beside glibc's and pymalloc's own accounts, the MB each owner reaches (ccxt's
caches and markets, chart history, each strategy, tracker) and the rest by type; with ``BENCH_TRIM=1`` what
``gc.collect()`` and ``malloc_trim(0)`` give back, with ``BENCH_TRACEMALLOC=F`` tracemalloc by line and by
traceback of F frames. Each costs the daemon time and memory: for locating, not for the figures.

Run by ``benchmarks._harness.child``; not a user entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import heapq
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import types
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchClock
from signalbots.app import Daemon, Unit, _Runtime
from signalbots.health import TaskHealth
from signalbots.settings import Settings
from signalbots.task import TaskName

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
        return [*units, Unit(TaskName.for_worker("bench-observer"), self._observer(rt), key="observer")]

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

        previous: list[tracemalloc.Snapshot] = []  # the last report's, for what grew since
        memory_every = int(os.environ.get("BENCH_MEMORY", "0"))  # every N reports (and BENCH_TRACEMALLOC)

        async def observe(health: TaskHealth) -> None:
            consumer = asyncio.create_task(consume()) if self._track else None
            prober = asyncio.create_task(lag())
            reports = 0
            try:
                with self._report.open("a") as out:
                    while True:
                        out.write(json.dumps(snapshot()) + "\n")
                        out.flush()
                        reports += 1
                        if tracemalloc.is_tracing() and not memory_every:  # BENCH_TRACEMALLOC alone
                            top = tracemalloc.take_snapshot().statistics("filename")[:40]
                            self._report.with_suffix(".malloc").write_text("\n".join(map(str, top)))
                        if memory_every and reports % memory_every == 0:  # BENCH_MEMORY=N: where it is
                            where = Path(os.environ.get("BENCH_MEMORY_DIR", self._report.parent))
                            where = where / f"memory{reports}.txt"
                            where.write_text(_where_memory_is(previous))
                        await clock.sleep(self._every)
            finally:
                prober.cancel()
                if consumer is not None:
                    consumer.cancel()

        return observe


def _where_memory_is(previous: list[tracemalloc.Snapshot]) -> str:
    """Where the memory is: RSS beside the allocators' own accounts (glibc's free bytes and pymalloc's empty
    blocks are slack), what was built since startup's ``gc.freeze`` by owner and by type, and (with
    ``BENCH_TRACEMALLOC=N``, N frames) tracemalloc's live bytes by line and traceback, what grew since."""
    out = [f"rss_mb {_rss_mb():.1f}"]
    out += [f"glibc {k}_mb {v / 2**20:.1f}" for k, v in _mallinfo().items()]
    out += _pymalloc()
    if os.environ.get("BENCH_TRIM"):  # what a collection and glibc's malloc_trim(0) give back, in turn
        gc.collect()
        out.append(f"rss_mb after gc.collect() {_rss_mb():.1f}")
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        out.append(f"rss_mb after malloc_trim(0) {_rss_mb():.1f}")
        out += [f"glibc {k}_mb {v / 2**20:.1f}" for k, v in _mallinfo().items()]
        out += _pymalloc()
    out += ["", *_census()]
    if not tracemalloc.is_tracing():
        return "\n".join(out) + "\n"
    snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    traced, peak = tracemalloc.get_traced_memory()
    out += ["", f"traced_mb {traced / 2**20:.1f} peak_mb {peak / 2**20:.1f}"]
    out += ["", "## by line"] + [str(s) for s in snap.statistics("lineno")[:80]]
    if tracemalloc.get_traceback_limit() > 1:
        out += ["", "## by traceback"]
        for stat in snap.statistics("traceback")[:25]:
            out += [f"{stat.size / 2**20:.2f} MB {stat.count} blocks", *stat.traceback.format(), ""]
    if previous:
        out += ["", "## grew since the last report, by line"]
        out += [str(s) for s in snap.compare_to(previous[-1], "lineno")[:30]]
        previous.clear()
    previous.append(snap)
    return "\n".join(out) + "\n"


_OWNERS = (  # (name, class name, attributes): each reached object counts for the first owner that reaches it
    ("ccxt ohlcvs", "Gateway", ("exchange.ohlcvs",)),
    ("ccxt liquidations", "Gateway", ("exchange.liquidations",)),
    ("ccxt tickers, trades caches", "Gateway", ("exchange.tickers", "exchange.trades")),
    ("ccxt markets", "Gateway", ("exchange.markets",)),
    ("ccxt markets_by_id", "Gateway", ("exchange.markets_by_id",)),
    ("ccxt currencies", "Gateway", ("exchange.currencies", "exchange.currencies_by_id")),
    ("ccxt symbols, ids", "Gateway", ("exchange.symbols", "exchange.ids", "exchange.codes")),
    ("ccxt last response", "Gateway", ("exchange.last_http_response", "exchange.last_response_headers")),
    ("ccxt ws clients", "Gateway", ("exchange.clients",)),
    ("ccxt exchange, the rest", "Gateway", ("exchange",)),
    ("gateway, the rest", "Gateway", ("",)),
    ("chart history", "MarketHistory", ("",)),
    ("strategy volume", "VolumeStrategy", ("",)),
    ("strategy liquidation", "LiquidationStrategy", ("",)),
    ("strategy funding", "FundingStrategy", ("",)),
    ("strategy open_interest", "OpenInterestStrategy", ("",)),
    ("open interest context (desk)", "OpenInterestBook", ("",)),
    ("strategy runners, the rest", "StrategyRunner", ("",)),
    ("tracker", "TrackerRunner", ("",)),
    ("desk", "Desk", ("",)),
    ("feeds", "ExchangeService", ("",)),
    ("bus", "EventBus", ("",)),
    ("metrics", "Metrics", ("",)),
    ("runtime", "Runtime", ("",)),
)


def _census() -> list[str]:
    """Shallow sizes of what each owner (``_OWNERS``) reaches, then of what else was built since startup's
    ``gc.freeze`` (generations 0–2), by type. Modules, classes, functions, code and module globals are not
    followed: they are the imports'."""
    live = gc.get_objects()
    by_class: dict[str, list[Any]] = {}
    for o in live:
        by_class.setdefault(type(o).__name__, []).append(o)
    skip = {id(m.__dict__) for m in list(sys.modules.values()) if m is not None}
    # not followed: the imports' (modules, classes, functions, code), and what only points at owners (a
    # frame's locals, a task, a bound method, a callback)
    opaque: tuple[type, ...] = (type, types.ModuleType, types.FunctionType, types.CodeType, types.FrameType)
    opaque += (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType, asyncio.Future)
    opaque += (types.MethodType, asyncio.Handle, types.CellType)
    seen: set[int] = set()

    def reach(roots: list[Any]) -> tuple[int, Counter[str], Counter[str]]:
        size, sizes, counts = 0, Counter[str](), Counter[str]()
        stack = list(roots)
        while stack:
            o = stack.pop()
            if id(o) in seen or id(o) in skip or isinstance(o, opaque):
                continue
            seen.add(id(o))
            n = sys.getsizeof(o)
            size += n
            sizes[type(o).__name__] += n
            counts[type(o).__name__] += 1
            stack.extend(gc.get_referents(o))
        return size, sizes, counts

    out = ["## by owner (MB, objects): the first owner to reach an object counts it"]
    for name, cls, attrs in _OWNERS:
        roots = []
        for inst in _instances(cls, by_class):
            for path in attrs:
                obj = inst
                for part in filter(None, path.split(".")):
                    obj = getattr(obj, part, None)
                if obj is not None:
                    roots.append(obj)
        size, sizes, counts = reach(roots)
        top = ", ".join(f"{t} {v / 2**20:.1f}/{counts[t]}" for t, v in sizes.most_common(5))
        out.append(f"{size / 2**20:8.2f} {sum(counts.values()):>9}  {name}: {top}")
    size, sizes, counts = reach(live)
    out.append(f"{size / 2**20:8.2f} {sum(counts.values()):>9}  the rest built since startup")
    out += ["", "## the rest, by type (MB, objects)"]
    out += [f"{v / 2**20:8.2f} {counts[t]:>9}  {t}" for t, v in sizes.most_common(25)]
    return out


def _instances(cls: str, by_class: dict[str, list[Any]]) -> list[Any]:
    """Instances of the class named ``cls``, frozen by ``gc.freeze`` or not (the gateways are: the exchange
    service freezes what it loaded)."""
    if cls not in by_class:
        gc.unfreeze()  # a measuring run only: everything is frozen again below, this run's too
        try:
            by_class[cls] = [o for o in gc.get_objects() if type(o).__name__ == cls]
        finally:
            gc.freeze()
    return by_class[cls]


def _pymalloc() -> list[str]:
    """pymalloc's arenas: bytes in blocks in use against arenas held (``sys._debugmallocstats`` on fd 2)."""
    with tempfile.TemporaryFile("w+") as f:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()
    keep = (  # the lines that add up
        "arenas allocated current",
        "bytes in allocated blocks",
        "bytes in available blocks",
        "unused pools",
        "bytes lost to",
        "Total",
    )
    return [
        "pymalloc " + " ".join(line.split()) for line in text.splitlines() if any(k in line for k in keep)
    ]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks")
    ] + [(name, ctypes.c_size_t) for name in ("fordblks", "keepcost")]


def _mallinfo() -> dict[str, int]:
    """glibc's heap: ``arena`` bytes from sbrk, ``hblkhd`` mmapped, ``uordblks`` in use, ``fordblks`` free."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):
        return {}
    info = libc.mallinfo2()
    return {k: int(getattr(info, k)) for k in ("arena", "hblkhd", "uordblks", "fordblks", "keepcost")}


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
        tracemalloc.start(max(1, int(os.environ["BENCH_TRACEMALLOC"])))
    clock = BenchClock(speed=args.speed, start=args.start, real0=args.real0)
    daemon = ObservedDaemon(
        config=args.config, clock=clock, env_file=None, report=args.report, every=args.every, track=args.track
    )
    return asyncio.run(daemon.run())


if __name__ == "__main__":
    sys.exit(main())
