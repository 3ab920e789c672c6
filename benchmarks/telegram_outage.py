"""Outside in: the real daemon against an independent Bot API stand-in that fails the way Telegram does.

Serves the exchange simulator (Binance) and the Bot API stand-in written for the benchmarks
(``botapi_standin.py``, not ``signalbots/sim/telegram.py``), and starts the real daemon
(``python -m signalbots run``, liquidation strategy). A liquidation cascade on a new symbol every 2 s makes an
alert every 2 s. (The issue's scenario used a heartbeat every 2 s; the heartbeat interval is now validated at
>= 1 minute, and alerts are the stricter load: they are never collapsed, each must arrive.) After a healthy
start the stand-in drops every connection for 20 s, then answers the next requests with 429
retry_after=3, a 502 HTML page, a 500 and a dropped connection, and is healthy from then on. Cascades stop
20 s later; the daemon gets SIGTERM once every alert arrived (or after 60 s).

Prints alerts composed (signals the daemon accepted) vs delivered (symbols visible in the chat), symbols
shown twice, requests during the outage, seconds from the outage's end to the next request and from the last
fault to the first delivery. Goals (not asserts): every alert, none twice, resumed within 10 s.

Run: ``.venv/bin/python benchmarks/telegram_outage.py [-v]``
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
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
CHAT = 4242
EVERY = 2.0
HEALTHY_BEFORE = 8.0
OUTAGE = 20.0
AFTER = 20.0

CONFIG = """
[daemon]
state_dir = "{state}"
shutdown_timeout = "10s"
daily_summary = false
[http]
listen = ""
[telegram]
api_url = "{api}"
alert_chat_id = {chat}
commands = false
request_timeout = "10s"
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


async def main() -> None:
    clock = SystemClock()
    market = Market(clock=clock, seed=7, symbols=40, exchanges=(EX,))
    bases = [s.split("/")[0] for s in market.symbols(EX)]
    stand_in = StandIn()
    runner, port = await stand_in.serve()
    fired: dict[str, float] = {}

    async def cascades() -> None:
        for base in bases:
            market.liquidate(EX, base, Side.LONG, notional_usd=6e6)
            fired[base] = time.monotonic()
            await asyncio.sleep(EVERY)

    def seen(base: str) -> list[float]:
        return [d.time for d in stand_in.delivered if f"<b>{base}/USDT:USDT</b>" in d.text]

    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as exchange:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state"
            config = Path(tmp) / "signalbots.toml"
            api = f"http://127.0.0.1:{port}"
            rest, ws = exchange.rest_url(EX), exchange.ws_url(EX)
            config.write_text(CONFIG.format(state=state, api=api, chat=CHAT, rest=rest, ws=ws))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALBOTS_", "NOTIFY_SOCKET"))}
            env |= {"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN, "SIGNALBOTS_LOG__FORMAT": "json"}
            with (Path(tmp) / "daemon.log").open("w") as log:
                daemon = subprocess.Popen(  # noqa: ASYNC220 — a long-lived child, stopped below
                    [sys.executable, "-m", "signalbots", "run", "--config", str(config)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    await exchange.wait_until(
                        lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=60
                    )
                    await asyncio.sleep(2.0)  # the first ticker poll sets the liquidity tiers
                    firing = asyncio.create_task(cascades())
                    await asyncio.sleep(HEALTHY_BEFORE)
                    stand_in.dropping = True
                    outage_start = time.monotonic()
                    await asyncio.sleep(OUTAGE)
                    stand_in.script = ["429", "502", "500", "drop"]
                    stand_in.dropping = False
                    outage_end = time.monotonic()
                    await asyncio.sleep(AFTER)
                    firing.cancel()
                    deadline = time.monotonic() + 60
                    while not all(seen(b) for b in fired) and time.monotonic() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
                    daemon.terminate()
                    code = await asyncio.to_thread(daemon.wait, 30)
                finally:
                    if daemon.poll() is None:
                        daemon.kill()
            db = sqlite3.connect(state / "signalbots.db")
            composed = db.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
            coalesced = db.execute(
                "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE 'coalesced:%'"
            ).fetchone()[0]
            db.close()
    await runner.cleanup()

    last_fault = stand_in.last_fault
    after_fault = [d.time for d in stand_in.delivered if last_fault is not None and d.time > last_fault]
    during = [t for t, _ in stand_in.requests if outage_start <= t < outage_end]
    next_request = min((t for t, _ in stand_in.requests if t >= outage_end), default=outage_end)
    delays = [min(seen(b)) - fired[b] for b in fired if seen(b)]
    report: dict[str, Any] = {
        "exit_code": code,
        "alerts_composed": composed,
        "alerts_delivered": sum(1 for b in fired if seen(b)),
        "alerts_shown_twice": sum(1 for b in fired if len(seen(b)) > 1),
        "coalesced_messages": coalesced,
        "messages_delivered": len(stand_in.delivered),
        "requests_during_outage": len(during),
        "outage_seconds": OUTAGE,
        "faults_after_outage": [a for t, a in stand_in.requests if t >= outage_end and a != "200"],
        "seconds_outage_end_to_next_request": round(next_request - outage_end, 2),
        "seconds_last_fault_to_first_delivery": round(after_fault[0] - last_fault, 2)
        if after_fault and last_fault is not None
        else None,
        "max_seconds_cascade_to_visible": round(max(delays), 1) if delays else None,
        "shutdown_notice_delivered": any("stopping" in d.text for d in stand_in.delivered),
    }
    if "-v" in sys.argv:
        t0 = stand_in.requests[0][0]
        for t, answer in stand_in.requests:
            print(f"{t - t0:7.2f} {answer}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
