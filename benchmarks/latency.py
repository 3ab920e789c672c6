"""Alert latency under load: from the simulator sending the frame that completes a signal to the Telegram
simulator receiving its ``sendMessage``, in real time.

Simulated Binance USDⓈ-M with 1,000 perpetuals, the daemon on the real clock with every strategy on (volume on
1m candles so that spikes come once a minute; candles streamed for the 250 most liquid). Background load:
2,000 websocket events per second across the 1,000 symbols — every symbol's liquidation print once a second on
``!forceOrder@arr`` (Binance's own cap: one per symbol per second; $50 each, far below any cascade) and the
250 streamed symbols' open-candle updates four times a second (Binance's 250 ms kline cadence).

Samples: a **cascade** every ``SPACING`` s on a fresh symbol — a $150k long liquidation, then 0.5 s later a
second one that takes the 5-minute window past the $250k tier threshold (t0: that frame's send); a **spike**
at each minute boundary — the closing 1m candle scripted at 40× the usual volume, +3% (t0: the closed kline
frame's send). Cascades keep 3.5 s clear of a spike (its alert and chart photo take two of the chat's
one-a-second slots). Risk gates are opened wide so that every sample is alerted; the alert chat is private
(Telegram: one message a second), the samples spaced so that pacing adds nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    RISK_OPEN,
    BenchClock,
    Inbox,
    child,
    config_text,
    percentile,
    telegram,
)
from signalbots.events import Side, timeframe_ms
from signalbots.sim.binance import force_order, kline_event
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import LiquidationPrint, Listing, Market
from signalbots.sim.venue import Connection

EX = "binanceusdm"
SYMBOLS = 1000
STREAMED = 250
LIQ_RATE = 1000.0  # background prints per second (each symbol once a second)
KLINE_RATE = 1000.0  # background open-candle updates per second (250 symbols × 4)
WINDOW = 75.0  # seconds of sampling: at least one minute boundary, usually two
SPACING = 2.5  # seconds between cascades
REPEAT = 2

EXTRA = (
    """
[strategies.volume]
timeframe = "1m"
liquidity_floor_usd = {floor}
[strategies.liquidation]
atr_timeframe = "1m"
atr_floor_usd = {floor}
"""
    + RISK_OPEN
)


def _frame(conn: Connection, stream: str, data: Any) -> str:
    return json.dumps(
        {"stream": stream, "data": data} if "/stream" in conn.path else data, separators=(",", ":")
    )


class _Load:
    """Background frames at a steady rate, plus the timed frames of the samples."""

    def __init__(
        self, *, sim: ExchangeSim, market: Market, quiet: list[Listing], streamed: list[Listing]
    ) -> None:
        self.venue = sim.venue(EX)
        self.market = market
        self.quiet = quiet
        self.streamed = streamed
        self.sent = 0

    def _liq_conns(self) -> list[Connection]:
        return [c for c in self.venue.connections if "!forceOrder@arr" in c.subscriptions]

    async def print_frame(self, liq: LiquidationPrint) -> float:
        """Send one liquidation print now; returns the real time just before it left."""
        conns = self._liq_conns()
        if not conns:
            raise RuntimeError("the daemon has no !forceOrder@arr subscription")
        now_ms = self.market.now_ms()
        t0 = time.perf_counter()
        for conn in conns:
            await self.venue.send(conn, _frame(conn, "!forceOrder@arr", force_order(liq, now_ms)))
        return t0

    async def run(self) -> None:
        started = time.perf_counter()
        i = j = 0
        span = timeframe_ms("1m")
        while True:
            await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            now_ms = self.market.now_ms()
            liq_conns = self._liq_conns()
            while i < LIQ_RATE * elapsed:
                x = self.quiet[i % len(self.quiet)]
                liq = LiquidationPrint(
                    EX, x.base, Side.SHORT, self.market.last_price(x), 50.0 / x.price, now_ms
                )
                for conn in liq_conns:
                    await self.venue.send(conn, _frame(conn, "!forceOrder@arr", force_order(liq, now_ms)))
                i += 1
            while j < KLINE_RATE * elapsed:
                x = self.streamed[j % len(self.streamed)]
                stream = f"{x.base.lower()}usdt@kline_1m"
                bar = self.market.bar(x, "1m", now_ms // span * span)
                event = kline_event(f"{x.base}USDT", "1m", bar, span, now_ms, closed=False)
                for conn in self.venue.connections:
                    if stream in conn.subscriptions:
                        await self.venue.send(conn, _frame(conn, stream, event))
                j += 1
            self.sent = i + j


async def run(directory: Path) -> dict[str, Any]:
    clock = BenchClock()
    market = Market(clock=clock, seed=21, symbols=SYMBOLS, exchanges=(EX,))
    ranked = sorted(market.trading(EX), key=lambda x: -x.quote_volume_24h)
    floor = (ranked[STREAMED - 1].quote_volume_24h + ranked[STREAMED].quote_volume_24h) / 2
    spikers = [x for x in ranked[12:STREAMED] if x.quote_volume_24h >= 40e6][:6]
    cascaders = ranked[300 : 300 + int(WINDOW / SPACING) + 5]
    sampled = {x.base for x in spikers + cascaders}
    for x in spikers + cascaders:
        x.volatility = 0.1  # calm prices: the scripted moves are the only news
    for x in ranked:
        x.funding_rate = 0.0001  # calm funding: no extremes or spreads crowding the alert chat
    quiet = [x for x in ranked if x.base not in sampled]
    inbox = Inbox()
    spike_t0: dict[str, float] = {}
    async with (
        ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim,
        telegram(clock, inbox) as tg,
    ):
        venue = sim.venue(EX)
        spike_ids = {f"{x.base}USDT": x.base for x in spikers}
        original_send = venue.send

        async def timed_send(conn: Connection, payload: Any) -> None:
            # t0 of a spike: the closed kline of a scripted candle leaving the simulator
            data = payload.get("data", payload) if isinstance(payload, dict) else None
            k = data.get("k") if isinstance(data, dict) else None
            if isinstance(k, dict) and k.get("x") and (k.get("s"), k.get("t")) in scripted:
                spike_t0.setdefault(spike_ids[k["s"]], time.perf_counter())
            await original_send(conn, payload)

        venue.send = timed_send  # type: ignore[method-assign]  # instrumentation of the simulator only
        # The spiking symbols' candles come from the simulator's own pushes only, so that the frame closing
        # the scripted candle is the one that completes it (the next candle's first update follows at once).
        streamed = [x for x in ranked[:STREAMED] if x.base not in sampled]
        scripted: set[tuple[str, int]] = set()
        load = _Load(sim=sim, market=market, quiet=quiet, streamed=streamed)
        config = config_text(
            state=directory / "state", sim=sim, tg=tg, exchanges=(EX,), extra=EXTRA.format(floor=floor)
        )
        async with child(directory=directory, config=config, clock=clock, every=1.0) as daemon:
            await daemon.wait_report(
                lambda r: (
                    r["ages"].get("candle", {}).get(EX, [0])[0] >= STREAMED
                    and r["ages"].get("ticker", {}).get(EX, [0])[0] >= SYMBOLS
                ),
                within=120,
            )
            background = asyncio.create_task(load.run())
            try:
                await asyncio.sleep(5.0)
                sent0, t_start, real0 = load.sent, time.perf_counter(), time.monotonic()
                cascades = await _sample(load, market, spikers, cascaders, scripted)
                rate = (load.sent - sent0) / (time.perf_counter() - t_start)
                daemon.poll_reports()
                window = [r for r in daemon.reports if r["real"] >= real0]
                cpu_share = (window[-1]["cpu_s"] - window[0]["cpu_s"]) / (
                    window[-1]["real"] - window[0]["real"]
                )
                await asyncio.sleep(3.0)  # the last alerts
                daemon.check()
            finally:
                background.cancel()
    samples = {"cascade": _latencies(cascades, inbox), "spike": _latencies(spike_t0, inbox)}
    every = [v for vs in samples.values() for v in vs]
    missing = {k: (len(cascades) if k == "cascade" else len(spike_t0)) - len(v) for k, v in samples.items()}
    if not samples["cascade"] or not samples["spike"]:
        raise RuntimeError(f"no alert for a kind of sample: { ({k: len(v) for k, v in samples.items()}) }")
    return {
        "summary": {
            "latency_p50_ms": percentile(every, 50),
            "latency_p99_ms": percentile(every, 99),
            "latency_max_ms": max(every),
        },
        "detail": {
            "samples": {k: len(v) for k, v in samples.items()},
            "not_alerted": missing,
            "by_kind_ms": {
                k: {"p50": round(percentile(v, 50), 1), "max": round(max(v), 1)}
                for k, v in samples.items()
                if v
            },
            "background_events_per_s": round(rate),
            "daemon_cpu_share": round(cpu_share, 3),
            "loop_stall_max_ms": max(r["stall_ms"] for r in window),
            "gen2_collections": window[-1]["gc"] - window[0]["gc"],
            "latencies_ms": {k: [round(x, 1) for x in v] for k, v in samples.items()},
        },
    }


async def _sample(
    load: _Load,
    market: Market,
    spikers: list[Listing],
    cascaders: list[Listing],
    scripted: set[tuple[str, int]],
) -> dict[str, float]:
    """Fire cascades every SPACING s and script a spike for every minute that closes within the window."""
    span = timeframe_ms("1m")
    now_ms = market.now_ms()
    end_ms = now_ms + int(WINDOW * 1000)
    for n, open_ms in enumerate(range(now_ms // span * span, end_ms, span)):
        if n >= len(spikers):
            break
        x = spikers[n]
        p = market.price_at(x, open_ms)
        typical = x.quote_volume_24h / 1440
        scripted.add((f"{x.base}USDT", open_ms))
        market.script_candle(
            EX,
            x.base,
            "1m",
            open_ms,
            open=p,
            high=p * 1.032,
            low=p * 0.995,
            close=p * 1.03,
            quote_volume=40 * typical,
        )
    t0s: dict[str, float] = {}
    started = time.perf_counter()
    for x in cascaders:
        if time.perf_counter() - started > WINDOW:
            break
        to_boundary = (span - market.now_ms() % span) / 1000
        if to_boundary < 2.0 or to_boundary > 56.5:
            # Keep clear of the spike's alert and its chart photo: Telegram takes one message a second per
            # chat, so an alert right behind them waits up to a second (measured: 0.4 and 0.8 s).
            await asyncio.sleep(to_boundary + 3.5 if to_boundary < 2.0 else 3.5 - (60 - to_boundary))
        px = market.last_price(x)
        first = LiquidationPrint(EX, x.base, Side.LONG, px, 150_000 / px, market.now_ms())
        await load.print_frame(first)
        await asyncio.sleep(0.5)
        second = LiquidationPrint(EX, x.base, Side.LONG, px, 150_000 / px, market.now_ms())
        t0s[x.base] = await load.print_frame(second)
        await asyncio.sleep(SPACING - 0.5)
    return t0s


def _latencies(t0s: dict[str, float], inbox: Inbox) -> list[float]:
    out = []
    for base, t0 in t0s.items():
        pattern = re.compile(rf"\b{re.escape(base)}\b")
        arrived = next((t for t, m in inbox.messages if t >= t0 and pattern.search(m.text)), None)
        if arrived is not None:
            out.append((arrived - t0) * 1000)
    return out
