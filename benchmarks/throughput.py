"""Throughput: the highest rate of market events the feed → bus → strategies → desk path absorbs on one core
without a growing backlog.

The daemon runs pinned to one CPU (the simulators on the other), simulated Binance USDⓈ-M with 500 perpetuals,
every strategy on. The simulator sends liquidation prints as ``!forceOrder@arr`` websocket frames (one print
per frame, as Binance sends them; $50 each, so no cascade fires) at a stepped rate; ccxt parses them, the
liquidation feed normalises them onto the bus, and each strategy and the tracker consume them. The witness is
the backlog: frames sent minus events the slowest strategy has handled (whatever waits in socket buffers,
ccxt's cache or the bus). A rate is sustained when, over a ``STEP`` s step, the handled rate keeps up (≥ 97 %
of the offered) and the backlog at the end of the step is no larger than at its middle (+ 0.2 s worth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchClock, child, config_text
from signalbots.events import Side
from signalbots.sim.binance import force_order
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import LiquidationPrint, Market

EX = "binanceusdm"
SYMBOLS = 500
RATES = (2_000, 5_000, 10_000, 15_000, 20_000, 22_500, 25_000, 27_500, 30_000, 35_000, 40_000)
STEP = 4.0
REPEAT = 2

EXTRA = """
[strategies.volume]
liquidity_floor_usd = 1e15
[strategies.liquidation]
atr_floor_usd = 1e15
"""


async def _pump(sim: ExchangeSim, market: Market, rate: float, seconds: float, sent: list[int]) -> None:
    """Send ``rate`` frames per second for ``seconds`` (in 2 ms slices), counting into ``sent[0]``."""
    venue = sim.venue(EX)
    listings = market.trading(EX)
    conns = [c for c in venue.connections if "!forceOrder@arr" in c.subscriptions]
    if not conns:
        raise RuntimeError("the daemon has no !forceOrder@arr subscription")
    started = time.perf_counter()
    done = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        now_ms = market.now_ms()
        due = int(rate * elapsed) - done
        for k in range(due):
            x = listings[(done + k) % len(listings)]
            liq = LiquidationPrint(EX, x.base, Side.SHORT, x.price, 50.0 / x.price, now_ms)
            text = json.dumps(force_order(liq, now_ms), separators=(",", ":"))
            for conn in conns:
                await conn.ws.send_str(text)
        done += due
        sent[0] += due
        await asyncio.sleep(0.002)


async def run(directory: Path) -> dict[str, Any]:
    clock = BenchClock()
    market = Market(clock=clock, seed=33, symbols=SYMBOLS, exchanges=(EX,))
    for x in market.trading(EX):
        x.funding_rate = 0.0001
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("throughput needs two CPUs: one for the daemon, one for the simulators")
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[0]})
    try:
        async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
            config = config_text(state=directory / "state", sim=sim, tg=None, exchanges=(EX,), extra=EXTRA)
            async with child(
                directory=directory,
                config=config,
                clock=clock,
                token=False,
                track=False,
                every=0.1,
                cpu=cpus[1],
            ) as daemon:
                await sim.wait_until(lambda: "!forceOrder@arr" in sim.subscriptions(EX), within=60)
                await asyncio.sleep(3.0)  # markets loaded, first polls done
                steps = await _steps(sim, market, daemon)
    finally:
        os.sched_setaffinity(0, mine)
    good = [s for s in steps if s["sustained"]]
    best = max((s["handled_per_s"] for s in good), default=0.0)
    # The same path per second of the daemon's own CPU, at the busiest step: what one whole core absorbs when
    # other processes on the machine take part of it (the sustained figure above is wall time).
    busiest = max(steps, key=lambda s: s["cpu_share"] or 0.0, default=None)
    return {
        "summary": {"throughput_events_per_s": best},
        "detail": {
            "events_per_cpu_second": busiest["handled_per_cpu_s"] if busiest else None,
            "steps": steps,
            "generator_limited": bool(steps and steps[-1]["sent_per_s"] < steps[-1]["offered"] * 0.9),
        },
    }


def _handled(report: dict[str, Any]) -> float:
    return min(report["handled"].values()) + max(report["dropped"].values())


async def _steps(sim: ExchangeSim, market: Market, daemon: Any) -> list[dict[str, Any]]:
    sent = [0]
    out = []
    await asyncio.sleep(0.3)
    daemon.poll_reports()
    base = _handled(daemon.reports[-1])
    for rate in RATES:
        t0 = time.perf_counter()
        sent0 = sent[0]
        h0 = _handled(daemon.reports[-1]) - base
        cpu0 = daemon.reports[-1]["cpu_s"]
        pump = asyncio.create_task(_pump(sim, market, rate, STEP, sent))
        await asyncio.sleep(STEP / 2)
        daemon.poll_reports()
        mid_backlog = sent[0] - (_handled(daemon.reports[-1]) - base)
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        daemon.poll_reports()
        last = daemon.reports[-1]
        elapsed = time.perf_counter() - t0
        handled = _handled(last) - base - h0
        end_backlog = sent[0] - (_handled(last) - base)
        step = {
            "offered": rate,
            "sent_per_s": round((sent[0] - sent0) / elapsed),
            "handled_per_s": round(handled / elapsed),
            "backlog_mid": mid_backlog,
            "backlog_end": end_backlog,
            "dropped": max(last["dropped"].values()),
            "cpu_share": round((last["cpu_s"] - cpu0) / elapsed, 2),
            "handled_per_cpu_s": round(handled / max(1e-9, last["cpu_s"] - cpu0)),
        }
        step["sustained"] = (
            handled >= 0.97 * (sent[0] - sent0) and end_backlog <= max(mid_backlog, 0) + 0.2 * rate
        )
        out.append(step)
        print(f"    {rate:>6}/s offered: {step}", flush=True)
        if not step["sustained"]:
            break
        # let the backlog drain before the next step
        for _ in range(50):
            await asyncio.sleep(0.1)
            daemon.poll_reports()
            if sent[0] - (_handled(daemon.reports[-1]) - base) <= 0:
                break
    return out
