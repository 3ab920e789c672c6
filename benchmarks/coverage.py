"""Coverage, REST weight and memory at full market: 550 Binance, 500 Bybit, 250 OKX, 750 MEXC and 180
Hyperliquid simulated perpetuals (about the real counts), every strategy on, a bot token, the liquidity floor
at 0 (every symbol's candles, the heaviest case).

The daemon runs on a clock ``SPEED`` × real time (so ``STEADY_MIN`` simulated minutes take a tenth of that);
the simulators share the timeline. Measured:

* every symbol's data age — since its last ticker, funding snapshot and closed candle, as the daemon's own bus
  delivered them — the largest over the steady run, against the feed's interval + 5 s;
* each exchange's REST weight per minute (the daemon's own count, in ccxt cost units) as a fraction of the
  exchange's budget, averaged over the steady run; MEXC's busiest endpoint against its per-endpoint limit;
* RSS once every symbol is covered and warmed up, and its growth over the second half of the steady run;
* open interest (issue 18, acceptance 5): Binance's per-symbol polling as a share of its weight budget (the
  requests that reached the simulator, weight 1 each), and every exchange's largest open interest age
  against its cadence + 5 s (Binance: 5 min, its 550 requests spread over 285 s; the others: their poll).

An exchange that covers no symbol fails the benchmark: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchClock, Inbox, child, config_text, telegram, trim_market
from signalbots.exchange.venues import venue
from signalbots.sim import mexc as mexc_sim
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

COUNTS = {"binanceusdm": 550, "bybit": 500, "okx": 250, "mexc": 750, "hyperliquid": 180}
SPEED = 10.0
WARMUP_MIN = 2.0  # simulated minutes after full coverage before the steady run starts
STEADY_MIN = 15.0  # ≥ 10 simulated minutes; a multiple of the 5m candle, so REST polls average fairly
INTERVALS = {"ticker": 60.0, "funding": 60.0, "candle": 300.0}  # the defaults: ticker_poll, funding_poll, 5m
KINDS = tuple(INTERVALS)
REPEAT = 1

EXCHANGE_EXTRA: dict[str, str] = {}  # per exchange TOML lines (for experiments)
EXTRA = """
[strategies.volume]
liquidity_floor_usd = 0
"""


def _covered(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(kind, ex): int(report["ages"].get(kind, {}).get(ex, [0])[0]) for kind in KINDS for ex in COUNTS}


async def run(directory: Path) -> dict[str, Any]:
    clock = BenchClock(speed=SPEED)
    market = Market(clock=clock, seed=12, symbols=max(COUNTS.values()), exchanges=tuple(COUNTS), overlap=1.0)
    trim_market(market, COUNTS)
    market.background_liquidations_per_minute = 30.0
    inbox = Inbox()
    async with (
        ExchangeSim(market=market, clock=clock, exchanges=tuple(COUNTS)) as sim,
        telegram(clock, inbox) as tg,
    ):
        config = config_text(
            state=directory / "state",
            sim=sim,
            tg=tg,
            exchanges=tuple(COUNTS),
            extra=EXTRA,
            exchange_extra=EXCHANGE_EXTRA,
        )
        async with child(directory=directory, config=config, clock=clock, every=10.0) as daemon:
            started = time.monotonic()
            want = {(kind, ex): n for kind in KINDS for ex, n in COUNTS.items()}
            try:
                full = await daemon.wait_report(lambda r: _covered(r) == want, within=900 / SPEED + 60)
            except TimeoutError as err:
                last = daemon.reports[-1] if daemon.reports else {}
                short = (
                    {k: f"{v}/{want[k]}" for k, v in _covered(last).items() if v < want[k]} if last else {}
                )
                raise RuntimeError(f"coverage never reached every symbol: {short}") from err
            coverage_s = full["t"] - daemon.reports[0]["t"]
            await clock.sleep(WARMUP_MIN * 60)
            steady = [r for r in daemon.poll_reports()][-1:] or [daemon.reports[-1]]
            begin = steady[0]
            while daemon.reports[-1]["t"] < begin["t"] + STEADY_MIN * 60:
                await asyncio.sleep(0.5)
                daemon.check()
                daemon.poll_reports()
            run = [r for r in daemon.reports if r["t"] >= begin["t"]]
            real_s = time.monotonic() - started
    figures = _figures(run, sim=sim, coverage_s=coverage_s, real_s=real_s, inbox=inbox)
    figures["detail"]["open_interest"] = _open_interest(run, sim=sim)
    return figures


def _open_interest(run: list[dict[str, Any]], *, sim: ExchangeSim) -> dict[str, Any]:
    """Acceptance 5 of issue 18: Binance's open interest polling ≤ 5 % of its weight budget at full market,
    and every symbol's figure no older than its cadence + 5 s (each exchange's)."""
    first, last = run[0], run[-1]
    minutes = (last["t"] - first["t"]) / 60
    ages = {ex: max(r["ages"].get("open_interest", {}).get(ex, [0, 0.0])[1] for r in run) for ex in COUNTS}
    covered = {ex: int(last["ages"].get("open_interest", {}).get(ex, [0])[0]) for ex in COUNTS}
    cadence: dict[str, float] = {}
    for ex in COUNTS:
        fields = venue(ex).open_interest
        assert fields is not None, f"{ex}: no open interest in its profile"
        per_symbol = fields.call is not None and fields.source.value == "per_symbol"
        poll = fields.interval if fields.call is not None else INTERVALS["ticker"]
        cadence[ex] = fields.cadence(venue(ex).budget, COUNTS[ex]) if per_symbol else poll
    budget = venue("binanceusdm").budget
    asked = [
        r for r in sim.requests("binanceusdm", path="/openInterest") if first["t"] <= r.time <= last["t"]
    ]
    share = len(asked) / minutes / (budget.units * 60 / budget.window)
    ok = share <= 0.05 and all(ages[ex] <= cadence[ex] + 5 for ex in COUNTS) and covered == COUNTS
    return {
        "binance_weight_share": round(share, 4),
        "binance_requests_per_minute": round(len(asked) / minutes, 1),
        "age_max_s_by_exchange": {ex: round(v, 1) for ex, v in ages.items()},
        "age_limit_s_by_exchange": {ex: round(v + 5, 1) for ex, v in cadence.items()},
        "symbols_covered": covered,
        # At SPEED × real time a stall of the daemon's loop of 0.1 s is 1 simulated second of age.
        "daemon_loop_stall_max_ms": max((float(r.get("stall_ms", 0.0)) for r in run), default=0.0),
        "acceptance_5": "PASS" if ok else "FAIL",
    }


def _oldest(run: list[dict[str, Any]]) -> list[list[Any]]:
    worst: dict[tuple[str, str, str], list[Any]] = {}
    for r in run:
        for kind, ex, symbol, age in r.get("oldest", []):
            if age > worst.get((kind, ex, symbol), [0, 0.0])[1]:
                worst[(kind, ex, symbol)] = [round(r["t"] - run[0]["t"], 1), age]
    ranked = sorted(worst.items(), key=lambda item: -item[1][1])[:10]
    return [[*key, age, at] for key, (at, age) in ranked]


def _figures(
    run: list[dict[str, Any]], *, sim: ExchangeSim, coverage_s: float, real_s: float, inbox: Inbox
) -> dict[str, Any]:
    first, last = run[0], run[-1]
    minutes = (last["t"] - first["t"]) / 60
    mid = min(run, key=lambda r: abs(r["t"] - (first["t"] + last["t"]) / 2))
    ages = {kind: max(r["ages"][kind][ex][1] for r in run for ex in COUNTS) for kind in KINDS}
    worst_ex = {
        kind: max(COUNTS, key=lambda ex, k=kind: max(r["ages"][k][ex][1] for r in run)) for kind in KINDS
    }
    fractions = {}
    for ex in COUNTS:
        budget = venue(ex).budget
        per_minute = (last["weight"][ex] - first["weight"][ex]) / minutes
        fractions[ex] = per_minute / (budget.units * 60 / budget.window)
    # MEXC also limits each endpoint (20 requests / 2 s): its busiest path, from what reached the simulator.
    t0, t1 = first["t"], last["t"]
    paths = Counter(
        r.path.rsplit("/", 1)[0] if "/kline/" in r.path or "/funding_rate/" in r.path else r.path
        for r in sim.requests("mexc")
        if t0 <= r.time <= t1
    )
    if paths:  # MEXC documents "20 times per 2 seconds" per endpoint, in requests
        path, n = paths.most_common(1)[0]
        limit_per_minute = mexc_sim.REQUESTS_PER_WINDOW * 60 / mexc_sim.WINDOW_SECONDS
        fractions["mexc endpoint " + path] = n / minutes / limit_per_minute
    covered = sum(_covered(last)[("ticker", ex)] for ex in COUNTS)
    refused = {
        ex: sum(1 for r in sim.requests(ex) if t0 <= r.time <= t1 and r.status != 200) for ex in COUNTS
    }
    requests = {ex: sum(1 for r in sim.requests(ex) if t0 <= r.time <= t1) for ex in COUNTS}
    signals = sum(last["signals"].values())
    return {
        "summary": {
            "rss_full_market_mb": first["rss_mb"],
            "rss_growth_mb": last["rss_mb"] - mid["rss_mb"],
            "weight_fraction_max": max(fractions.values()),
            "data_age_max_s": max(ages.values()),
            "symbols_covered": covered,
        },
        "detail": {
            "symbols_expected": sum(COUNTS.values()),
            "full_coverage_after_sim_s": round(coverage_s, 1),
            "steady_sim_minutes": round(minutes, 1),
            "real_seconds": round(real_s, 1),
            "data_age_max_s_by_kind": {k: round(v, 1) for k, v in ages.items()},
            "data_age_worst_exchange_by_kind": worst_ex,
            "data_age_max_s_by_exchange": {
                ex: {k: round(max(r["ages"][k][ex][1] for r in run), 1) for k in KINDS} for ex in COUNTS
            },
            "data_age_limit_s_by_kind": {k: v + 5 for k, v in INTERVALS.items()},
            "weight_fraction_by_exchange": {k: round(v, 4) for k, v in fractions.items()},
            "rest_requests_per_minute": {ex: round(n / minutes, 1) for ex, n in requests.items()},
            "rest_answers_not_200": refused,
            "mexc_busiest_endpoint_requests_per_minute": round(paths.most_common(1)[0][1] / minutes, 1)
            if paths
            else None,
            "rss_mb_series": [round(r["rss_mb"], 1) for r in run],
            "events_published": last["published"] - first["published"],
            "events_dropped": sum(last["dropped"].values()),
            "signals": signals,
            "telegram_messages": len(inbox.messages),
            # where the worst ages were: per symbol of any kind, its oldest age and when (sim seconds into the
            # steady run), the ten oldest; and each exchange's candle age over the run
            "oldest_symbols": _oldest(run),
            "candle_age_series_s": {
                ex: [[round(r["t"] - first["t"]), round(r["ages"]["candle"][ex][1])] for r in run]
                for ex in COUNTS
            },
            "daemon_cpu_share": round((last["cpu_s"] - first["cpu_s"]) / (last["real"] - first["real"]), 3),
        },
    }
