"""Restart safety end to end: real daemon processes, SIGKILLed mid-flight, restarted on the same state.

Each test serves the Binance and Telegram simulators from its own event loop on 127.0.0.1 and runs the daemon
as systemd does (``python -m signalbots --config X run``, a subprocess), kills it with SIGKILL and starts it
again on the same state directory. Everything runs on the real clock: the daemon decides which candles are
closed by its own wall clock, so the simulated market has to share it.

What "acknowledged before the kill" means is made exact with a fence. The outbox delivers a chat's messages
one at a time in commit order and records each as sent before it starts the next; so once the request for
the next message has reached the simulator and hangs there (Telegram accepts nothing more), every earlier
message is committed as sent. The kill then finds no message in the outbox's documented crash window
(accepted by Telegram, not yet recorded), and "each message exactly once" can be asserted strictly.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from signalbots.clock import SystemClock
from signalbots.events import Side
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.telegram import Fault, FaultKind, SentMessage, TelegramSim
from tests.daemon_process import WAIT, DaemonProcess

TOKEN = "123456789:AAHrestartTOKEN_for_the_simulator_only"
CHAT = 1001  # alerts and, with no admin chat set, notices too: one chat, one delivery order
EX = "binanceusdm"
FIVE_MINUTES_MS = 300_000

CONFIG = """
[daemon]
state_dir = "{state}"
heartbeat_interval = "1d"
shutdown_timeout = "10s"
daily_summary = false
[http]
listen = ""
[telegram]
api_url = "{telegram}"
alert_chat_id = {chat}
commands = false
charts = false  # these tests count every message around a crash; charts have their own tests
request_timeout = "60s"
[exchanges.binanceusdm]
rest_url = "{rest}"
ws_url = "{ws}"
ticker_poll = "3s"
[exchanges.bybit]
enabled = false
[exchanges.okx]
enabled = false
[exchanges.mexc]
enabled = false
[strategies.funding]
enabled = false
"""


@pytest.fixture
async def exchange() -> AsyncIterator[ExchangeSim]:
    clock = SystemClock()
    market = Market(clock=clock, seed=11, symbols=4, exchanges=(EX,))  # BTC, ETH, SOL, XRP
    market.set_volume_24h(EX, "XRP", 600_000_000.0)  # a 5m candle trades ~2M
    async with ExchangeSim(market=market, clock=clock, exchanges=(EX,)) as sim:
        yield sim


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramSim]:
    async with TelegramSim(token=TOKEN) as sim:
        yield sim


@pytest.fixture
def start_daemon(
    tmp_path: Path, exchange: ExchangeSim, telegram: TelegramSim
) -> Iterator[Callable[..., DaemonProcess]]:
    """``start(strategies, level=...)``: a daemon process on this test's state directory and simulators."""
    started: list[DaemonProcess] = []

    def start(strategies: str, *, level: str = "info") -> DaemonProcess:
        config = tmp_path / "signalbots.toml"
        config.write_text(
            CONFIG.format(
                state=tmp_path / "state",
                telegram=telegram.url,
                chat=CHAT,
                rest=exchange.rest_url(EX),
                ws=exchange.ws_url(EX),
            )
            + strategies
        )
        daemon = DaemonProcess(
            args=["--config", str(config), "run"],
            cwd=tmp_path,
            env={"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN, "SIGNALBOTS_LOG__LEVEL": level},
        )
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def signals_about(sent: list[SentMessage], base: str, title: str) -> list[SentMessage]:
    """Signal messages (not replies) for ``base`` whose title is ``title``."""
    return [
        m
        for m in sent
        if m.reply_to_message_id is None and title in m.text and f"<b>{base}/USDT:USDT</b>" in m.text
    ]


def accepted(base: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the log line of the desk accepting a signal on ``base`` (its message is in the outbox)."""
    return lambda e: e.get("event") == "signal_accepted" and e.get("symbol") == f"{base}/USDT:USDT"


async def kill(daemon: DaemonProcess) -> None:
    daemon.signal(signal.SIGKILL)
    assert await daemon.await_exit() == -signal.SIGKILL


async def stop(daemon: DaemonProcess) -> None:
    daemon.signal(signal.SIGTERM)
    assert await daemon.await_exit() == 0


CASCADES = """
[strategies.volume]
enabled = false
[strategies.liquidation]
min_prints = 1
atr_multiple = 5.0
"""
CASCADE = "💥 Liquidation cascade"


async def test_sigkill_with_messages_pending_delivers_them_after_restart_and_repeats_none(
    exchange: ExchangeSim, telegram: TelegramSim, start_daemon: Callable[..., DaemonProcess]
) -> None:
    market = exchange.market
    first = start_daemon(CASCADES)
    await first.await_log("ready")
    await exchange.wait_until(lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=WAIT)
    market.liquidate(EX, "SOL", Side.LONG, notional_usd=6e6)
    await telegram.wait_for(lambda: len(signals_about(telegram.sent, "SOL", CASCADE)) == 1, within=WAIT)
    acknowledged = list(telegram.sent)
    assert any("started" in m.text for m in acknowledged)

    # Telegram stops answering: the next request hangs, and the signals after it wait in the outbox.
    telegram.inject(Fault(FaultKind.HANG), times=None)
    pending = ("ETH", "XRP", "BTC")
    for base in pending:
        market.liquidate(EX, base, Side.LONG, notional_usd=6e6)
    for base in pending:
        await first.await_log(accepted(base))
    await telegram.wait_for(lambda: telegram.hanging == 1, within=WAIT)
    await kill(first)
    telegram.clear_faults()
    telegram.release()  # the hung request of the dead process ends without delivering anything
    assert telegram.sent == acknowledged

    second = start_daemon(CASCADES)
    # The request that hung was in flight at the kill: sent again, since Telegram never accepted it.
    assert (await second.await_log("outbox_resending"))["count"] == 1
    assert (await second.await_log("ready"))["unclean_previous_run"] is True
    await telegram.wait_for(
        lambda: (
            all(signals_about(telegram.sent, b, CASCADE) for b in pending)
            and any("uncleanly" in m.text for m in telegram.sent)
        ),
        within=WAIT,
    )
    # A clean stop flushes the outbox; its shutdown notice is the newest message, so nothing is left behind.
    await stop(second)
    assert "stopping: SIGTERM" in telegram.sent[-1].text

    after = telegram.sent[len(acknowledged) :]
    for base in pending:
        assert len(signals_about(after, base, CASCADE)) == 1, base
    assert not {m.text for m in acknowledged} & {m.text for m in after}
    repeated = [text for text, n in Counter(m.text for m in telegram.sent).items() if n > 1]
    assert repeated == []
    # and nothing else: the signals, plus the second run's start and stop notices
    assert len(telegram.sent) == len(acknowledged) + len(pending) + 2


VOLUME = """
[strategies.liquidation]
enabled = false
"""
SPIKE = "📊 Volume spike"


async def test_signal_sent_before_sigkill_is_not_resent_and_its_outcome_replies_to_it(
    exchange: ExchangeSim, telegram: TelegramSim, start_daemon: Callable[..., DaemonProcess]
) -> None:
    market = exchange.market
    xrp = market.listing(EX, "XRP")
    entry = market.last_price(xrp)
    # The newest closed 5m candle is a +3% spike on 30× the usual volume; the daemon's start-up backfill
    # reads it (and reads it again after the restart).
    spike_open = (market.now_ms() // FIVE_MINUTES_MS - 1) * FIVE_MINUTES_MS
    low = entry / 1.03 * 0.995
    market.script_candle(
        EX,
        "XRP",
        "5m",
        spike_open,
        open=entry / 1.03,
        high=entry * 1.001,
        low=low,
        close=entry,
        quote_volume=60_000_000.0,
    )
    risk = entry - low  # LONG: stop at the spike's low, targets at 1R and 2R above the entry

    first = start_daemon(VOLUME)
    await telegram.wait_for(lambda: len(signals_about(telegram.sent, "XRP", SPIKE)) == 1, within=WAIT)
    [original] = signals_about(telegram.sent, "XRP", SPIKE)

    # Target 1 is touched while Telegram hangs: the reply's request fences the signal as recorded sent.
    telegram.inject(Fault(FaultKind.HANG), times=None)
    market.set_price(EX, "XRP", entry + 1.5 * risk)
    await first.await_log("signal_target1")
    await telegram.wait_for(lambda: telegram.hanging == 1, within=WAIT)
    await kill(first)
    telegram.clear_faults()
    telegram.release()
    before_restart = list(telegram.sent)
    market.set_price(EX, "XRP", entry + 2.6 * risk)  # target 2 is passed while the daemon is down

    second = start_daemon(VOLUME, level="debug")
    assert (await second.await_log("outbox_resending"))["count"] == 1  # the reply in flight at the kill
    # The restarted daemon sees the same spike in its backfill; the desk knows it and sends nothing.
    again = await second.await_log(
        lambda e: (
            e.get("event") == "candidate_suppressed"
            and e.get("strategy") == "volume"
            and e.get("symbol") == "XRP/USDT:USDT"
        )
    )
    assert again["gate"] == "dedupe"
    await telegram.wait_for(lambda: any("Target 2" in m.text for m in telegram.sent), within=WAIT)
    await stop(second)  # flushes the outbox: anything the restart had queued is delivered by now
    assert "stopping: SIGTERM" in telegram.sent[-1].text

    assert signals_about(telegram.sent, "XRP", SPIKE) == [original]
    assert [m for m in telegram.sent if m.text == original.text] == [original]
    replies = [m for m in telegram.sent if m.reply_to_message_id is not None]
    assert [m.reply_to_message_id for m in replies] == [original.message_id, original.message_id]
    target1, target2 = replies
    assert "Target 1 reached" in target1.text and target1 not in before_restart
    assert "Target 2" in target2.text and "XRP/USDT:USDT" in target2.text


async def test_a_damaged_state_database_is_kept_aside_and_a_second_damaged_start_exits_78(
    tmp_path: Path, exchange: ExchangeSim, telegram: TelegramSim, start_daemon: Callable[..., DaemonProcess]
) -> None:
    from tests.test_store import scribble

    market = exchange.market
    db = tmp_path / "state" / "signalbots.db"
    first = start_daemon(CASCADES)
    await first.await_log("ready")
    await exchange.wait_until(lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=WAIT)
    market.liquidate(EX, "SOL", Side.LONG, notional_usd=6e6)
    await telegram.wait_for(lambda: len(signals_about(telegram.sent, "SOL", CASCADE)) == 1, within=WAIT)
    await stop(first)
    scribble(db)  # a power cut: the header intact, the pages garbage

    second = start_daemon(CASCADES)
    damaged = await second.await_log("state_database_damaged")
    await second.await_log("ready")
    kept = Path(damaged["kept_as"])
    assert kept.parent == db.parent and kept.name.startswith("signalbots.db.damaged-")
    assert await asyncio.to_thread(kept.exists)
    await telegram.wait_for(lambda: any("State database was damaged" in m.text for m in telegram.sent))
    [notice] = [m for m in telegram.sent if "State database was damaged" in m.text]
    for lost in ("pending messages", "cooldowns", "open signals", "exchange bans", kept.name):
        assert lost in notice.text
    await exchange.wait_until(lambda: "!forceOrder@arr" in exchange.subscriptions(EX), within=WAIT)
    market.liquidate(EX, "ETH", Side.LONG, notional_usd=6e6)  # alerts flow on the fresh database
    await telegram.wait_for(lambda: len(signals_about(telegram.sent, "ETH", CASCADE)) == 1, within=WAIT)
    await stop(second)

    scribble(db)  # damaged again before any start found it healthy: a disk that needs a person
    third = start_daemon(CASCADES)
    assert await third.await_exit() == 78
    lines = [line for line in third.output().splitlines() if line.strip()]
    assert len(lines) == 1 and "damaged again" in lines[0] and str(db) in lines[0]
