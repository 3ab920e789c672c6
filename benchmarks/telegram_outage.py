"""Outside in: the real daemon against an independent Bot API stand-in that fails the way Telegram does.

Starts a minimal Bot API stand-in written for this script (not ``signalbots/sim/telegram.py``) and the real
daemon (``python -m signalbots run``, no exchange, heartbeat every 2 s). After a healthy start the stand-in
drops every connection for 20 s, then answers the next requests with 429 retry_after=3, a 502 HTML page,
a 500 and a dropped connection, and is healthy from then on. After 20 s more the daemon gets SIGTERM.

Prints heartbeats composed (rows in the daemon's outbox) vs delivered, heartbeats accounted for (delivered
plus the ones a delivered heartbeat says it replaced), duplicates, requests during the outage, and seconds
from the last fault to the first delivery. Goals (not asserts): every heartbeat accounted for, none twice,
resumed within 10 s.

Run: ``.venv/bin/python benchmarks/telegram_outage.py``
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botapi_standin import TOKEN, StandIn

CHAT = 4242
HEALTHY_BEFORE = 7.0
OUTAGE = 20.0
AFTER = 20.0
_SKIPPED = re.compile(r"(\d+) health checks? skipped")

CONFIG = """
[daemon]
state_dir = "{state}"
heartbeat_interval = "2s"
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
enabled = false
[exchanges.bybit]
enabled = false
[exchanges.okx]
enabled = false
[exchanges.mexc]
enabled = false
[strategies.liquidation]
enabled = false
[strategies.funding]
enabled = false
[strategies.volume]
enabled = false
"""


async def main() -> None:
    stand_in = StandIn()
    runner, port = await stand_in.serve()

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        config = Path(tmp) / "signalbots.toml"
        config.write_text(CONFIG.format(state=state, api=f"http://127.0.0.1:{port}", chat=CHAT))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALBOTS_", "NOTIFY_SOCKET"))}
        env |= {"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN, "SIGNALBOTS_LOG__FORMAT": "json"}
        log = open(Path(tmp) / "daemon.log", "w")  # noqa: SIM115, ASYNC230 — closed below; before serving
        daemon = subprocess.Popen(  # noqa: ASYNC220 — a long-lived child, not awaited here
            [sys.executable, "-m", "signalbots", "run", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            started = time.monotonic()
            while not stand_in.delivered:
                if daemon.poll() is not None or time.monotonic() - started > 60:
                    raise SystemExit(f"the daemon did not start: {(Path(tmp) / 'daemon.log').read_text()}")
                await asyncio.sleep(0.1)
            await asyncio.sleep(HEALTHY_BEFORE)
            stand_in.dropping = True
            outage_start = time.monotonic()
            await asyncio.sleep(OUTAGE)
            stand_in.script = ["429", "502", "500", "drop"]
            stand_in.dropping = False
            outage_end = time.monotonic()
            await asyncio.sleep(AFTER)
            daemon.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(daemon.wait, 30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
            log.close()
        await runner.cleanup()

        db = sqlite3.connect(state / "signalbots.db")
        rows = db.execute(
            "SELECT state, COUNT(*), SUM(skipped) FROM outbox WHERE kind = 'heartbeat' GROUP BY state"
        )
        by_state = {s: (n, skipped or 0) for s, n, skipped in rows}
        db.close()
        daemon_log = [
            json.loads(line)
            for line in (Path(tmp) / "daemon.log").read_text().splitlines()
            if line[:1] == "{"
        ]

    heartbeats = [d for d in stand_in.delivered if "health check" in d.text]
    said_skipped = sum(int(m.group(1)) for d in heartbeats if (m := _SKIPPED.search(d.text)))
    composed = sum(n for n, _ in by_state.values())
    sent_rows = by_state.get("sent", (0, 0))[0]
    during = [t for t, answer in stand_in.requests if outage_start <= t < outage_end]
    after_fault = [d.time for d in stand_in.delivered if stand_in.last_fault and d.time > stand_in.last_fault]
    resume = (after_fault[0] - stand_in.last_fault) if after_fault and stand_in.last_fault else None
    faults = [a for t, a in stand_in.requests if t >= outage_end and a != "200"]
    report: dict[str, Any] = {
        "exit_code": code,
        "heartbeats_composed": composed,
        "heartbeats_delivered": len(heartbeats),
        "heartbeats_said_skipped": said_skipped,
        "heartbeats_accounted": len(heartbeats) + said_skipped,
        "heartbeat_rows_by_state": {s: n for s, (n, _) in by_state.items()},
        "duplicates": len(heartbeats) - sent_rows,
        "messages_delivered": len(stand_in.delivered),
        "requests_during_outage": len(during),
        "outage_seconds": OUTAGE,
        "faults_after_outage": faults,
        "seconds_last_fault_to_first_delivery": None if resume is None else round(resume, 2),
        "seconds_outage_end_to_first_request": round(
            min((t for t, _ in stand_in.requests if t >= outage_end), default=outage_end) - outage_end, 2
        ),
        "shutdown_notice_delivered": any("stopping" in d.text for d in stand_in.delivered),
        "log_lines": len(daemon_log),
    }
    if "-v" in sys.argv:
        t0 = stand_in.requests[0][0]
        for t, answer in stand_in.requests:
            print(f"{t - t0:7.2f} {answer}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
