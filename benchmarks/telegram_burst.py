"""Outside in: a market-wide burst — 25 liquidation cascades on 25 symbols within 15 s — alerted to a group.

Serves the exchange simulator (Binance, 30 symbols) and the independent Bot API stand-in
(``botapi_standin.py``, which enforces Telegram's 20 messages a minute per group with 429s), starts the real
daemon (``python -m signalbots run``, liquidation strategy only, alerts to a group chat), fires the 25
cascades one every 0.6 s and waits until every symbol is visible in the group.

Prints, per run: seconds from the last cascade until each symbol was visible (max and median), messages
sent to the group, the charts (photos) sent and how many came before the last signal, pacing violations
(429s the stand-in had to give) and symbols shown twice. Run with ``--no-coalesce`` for the one-by-one
behaviour (``telegram.coalesce_group = 0``) to compare. Charts are on (the default with a token).
Goal (not an assert): every symbol visible within 10 s of the last cascade, 0 violations.

Run: ``.venv/bin/python benchmarks/telegram_burst.py [--no-coalesce]``
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botapi_standin import TOKEN, StandIn

from signalbots.clock import SystemClock
from signalbots.events import Side
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

EX = "binanceusdm"
GROUP = -1001234
ADMIN = 4242
CASCADES = 25
SPACING = 0.6  # seconds between cascades: 25 within 15 s
WAIT = 120.0
CHARTS_WAIT = 30.0  # after every symbol is visible, how long the charts are given to follow

CONFIG = """
[daemon]
state_dir = "{state}"
heartbeat_interval = "1h"
shutdown_timeout = "10s"
daily_summary = false
[http]
listen = ""
[telegram]
api_url = "{api}"
alert_chat_id = {group}
admin_chat_id = {admin}
commands = false
coalesce_group = {coalesce}
[exchanges.binanceusdm]
rest_url = "{rest}"
ws_url = "{ws}"
[exchanges.bybit]
enabled = false
[exchanges.okx]
enabled = false
[exchanges.mexc]
enabled = false
[exchanges.hyperliquid]
enabled = false
[strategies.funding]
enabled = false
[strategies.volume]
enabled = false
[strategies.liquidation]
min_prints = 1
atr_multiple = 5.0
[risk]
max_open = 100
max_open_per_strategy = 100
daily_cap = 100
strategy_daily_cap = 100
correlation = 1.0
"""


async def run(coalesce: bool) -> dict[str, Any]:
    clock = SystemClock()
    market = Market(clock=clock, seed=5, symbols=CASCADES + 5, exchanges=(EX,))
    bases = [s.split("/")[0] for s in market.symbols(EX)][:CASCADES]
    stand_in = StandIn()
    runner, port = await stand_in.serve()
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as exchange:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "signalbots.toml"
            config.write_text(
                CONFIG.format(
                    state=Path(tmp) / "state",
                    api=f"http://127.0.0.1:{port}",
                    group=GROUP,
                    admin=ADMIN,
                    coalesce=3 if coalesce else 0,
                    rest=exchange.rest_url(EX),
                    ws=exchange.ws_url(EX),
                )
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALBOTS_", "NOTIFY_SOCKET"))}
            env |= {"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN, "SIGNALBOTS_LOG__FORMAT": "json"}
            log = Path(tmp) / "daemon.log"
            with log.open("w") as out:
                daemon = subprocess.Popen(  # noqa: ASYNC220 — a long-lived child, stopped below
                    [sys.executable, "-m", "signalbots", "run", "--config", str(config)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                try:
                    await exchange.wait_until(
                        lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=60
                    )
                    await asyncio.sleep(2.0)  # the first ticker poll sets the liquidity tiers
                    for base in bases:
                        market.liquidate(EX, base, Side.LONG, notional_usd=6e6)
                        await asyncio.sleep(SPACING)
                    last = time.monotonic() - SPACING

                    def seen(base: str) -> list[float]:
                        tag = f"<b>{base}/USDT:USDT</b>"
                        return [
                            d.time
                            for d in stand_in.delivered
                            if d.chat == GROUP and tag in d.text and not d.photo
                        ]

                    deadline = time.monotonic() + WAIT
                    while not all(seen(b) for b in bases) and time.monotonic() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(CHARTS_WAIT)  # the charts that follow the burst
                finally:
                    daemon.terminate()
                    await asyncio.to_thread(daemon.wait, 30)
            await runner.cleanup()
            accepted = sum(1 for line in log.read_text().splitlines() if '"signal_accepted"' in line)
    visible = {b: min(seen(b)) - last for b in bases if seen(b)}
    # charts (on by default with a token) must come after every signal of the burst
    photos = [d.time for d in stand_in.delivered if d.chat == GROUP and d.photo]
    last_signal = max((min(seen(b)) for b in bases if seen(b)), default=0.0)
    return {
        "coalesce": coalesce,
        "signals_accepted": accepted,
        "symbols_visible": f"{len(visible)}/{len(bases)}",
        "max_seconds_after_last_cascade": round(max(visible.values()), 1) if visible else None,
        "median_seconds_after_last_cascade": round(statistics.median(visible.values()), 1)
        if visible
        else None,
        "messages_to_group": sum(1 for d in stand_in.delivered if d.chat == GROUP),
        "photos_to_group": len(photos),
        "photos_before_last_signal": sum(1 for t in photos if t < last_signal),
        "pacing_violations": stand_in.violations,
        "symbols_shown_twice": sum(1 for b in bases if len(seen(b)) > 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(coalesce="--no-coalesce" not in sys.argv)), indent=2))
