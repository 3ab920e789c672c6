"""``signalbots demo``: the whole product, offline, in about two minutes.

Starts the exchange simulator (every exchange in the registry) and the Telegram Bot API simulator,
drives a seeded synthetic market at ``_SPEED`` × real time with a scripted scenario — a volume spike that runs
to its second target, a funding extreme, a cross-exchange funding spread, an open interest flush and a
liquidation cascade (open interest shown in each alert where it is known) — and
runs the real daemon (limiter, breakers, feeds, strategies, desk, tracker, outbox, heartbeat) against
them. Every message the chats receive is printed as Telegram would show it.

With ``--telegram-real`` the messages go to the real chats in ``SIGNALBOTS_TELEGRAM__*`` instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from signalbots.app import Daemon
from signalbots.clock import ScaledClock
from signalbots.events import Side
from signalbots.exchange.venues import VENUES, display_name
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market
from signalbots.sim.telegram import SentMessage, TelegramSim
from signalbots.strategies.registry import SPECS, names
from signalbots.telegram.text import to_plain

_SPEED = 30.0  # simulated seconds per real second: the default hour of market runs in two minutes
_START = datetime(2025, 12, 9, 0, 0, tzinfo=UTC).timestamp()  # fixed, so a seed always tells the same story
_TOKEN = "123456789:DEMO-token-for-the-local-simulator-only"
_ALERT_CHAT, _ADMIN_CHAT = 1001, 1002
_EXCHANGES = tuple(VENUES)
_MIN = 60.0


@dataclass(frozen=True)
class _Step:
    at: float  # simulated seconds after the start
    what: str
    act: Callable[[Market], None]


def _scenario(market: Market) -> list[_Step]:
    """What happens in the demo hour. Symbols are the simulator's seeded majors, on two or three exchanges."""
    t0_ms = int(market.clock.time() * 1000)
    # Calm funding everywhere, so only the scripted moments stand out.
    for ex in market.exchanges:
        for listing in market.trading(ex):
            market.set_funding(ex, listing.symbol, 0.0001, interval_hours=8)
    # The scripted symbols move calmly (±0.3%), so their outcomes follow the script, not the random wave.
    for ex, base in (("binanceusdm", "XRP"), ("binanceusdm", "DOGE"), ("binanceusdm", "AVAX")):
        market.set_volatility(ex, base, 0.1)
    # DOGE trades thinly beyond Binance and Bybit (under the spread's volume floor): the DOGE extreme makes
    # one carry alert (against Bybit), not several racing each other, so the story stays the same each run.
    for ex in market.exchanges:
        if ex not in ("binanceusdm", "bybit") and market.find(ex, "DOGE") is not None:
            market.set_volume_24h(ex, "DOGE", 5_000_000.0)
    spike_ms = (
        t0_ms // 300_000 + 1
    ) * 300_000  # the first 5m candle after the start; 60 backfilled precede it
    xrp = market.listing("binanceusdm", "XRP")
    market.set_volume_24h("binanceusdm", "XRP", 600_000_000.0)
    p = market.price_at(xrp, spike_ms)
    # A typical 5m candle trades ~2M at 600M a day; the spike trades 30× that and closes +3%.
    market.script_candle(
        "binanceusdm",
        "XRP",
        "5m",
        spike_ms,
        open=p,
        high=p * 1.032,
        low=p * 0.995,
        close=p * 1.03,
        quote_volume=60_000_000.0,
    )
    risk = p * 1.03 - p * 0.995
    follow = [
        (p * 1.03, p * 1.03 + 2.3 * risk, p * 1.028, p * 1.03 + 2.1 * risk),
        (p * 1.03 + 2.1 * risk, p * 1.03 + 2.4 * risk, p * 1.03 + 1.8 * risk, p * 1.03 + 2.2 * risk),
    ]
    for i, (o, h, lo, c) in enumerate(follow, start=1):
        market.script_candle(
            "binanceusdm",
            "XRP",
            "5m",
            spike_ms + i * 300_000,
            open=o,
            high=h,
            low=lo,
            close=c,
            quote_volume=2_500_000.0,
        )

    def after_spike(m: Market) -> None:
        m.set_price("binanceusdm", "XRP", p * 1.03)  # tickers follow the breakout

    def funding_extreme(m: Market) -> None:
        m.set_funding("binanceusdm", "DOGE", -0.0025)

    def funding_spread(m: Market) -> None:
        for ex in ("bybit", "okx"):
            m.set_volume_24h(ex, "SOL", 80_000_000.0)
        # 38% APR on Bybit against −11% on OKX: a 49% gap; Binance (+11%) is within 30% of both.
        m.set_funding("bybit", "SOL", 0.00035)
        m.set_funding("okx", "SOL", -0.0001)

    # The cross-interval spread: Binance's 8-hourly BTC leg against the first venue in the registry whose BTC
    # settles more often (its simulated listing says how often).
    unlike = [
        ex
        for ex in market.exchanges
        if ex != "binanceusdm" and (x := market.find(ex, "BTC")) is not None and x.funding_interval_hours < 8
    ]
    carry = unlike[0] if unlike else None
    warm = [ex for ex in market.exchanges if ex not in ("binanceusdm", carry)]

    def btc_warms(m: Market) -> None:
        for ex in warm:  # 38% APR: within 30% of Binance's 11% and of what comes next
            m.set_funding(ex, "BTC", 0.00035)

    def btc_carry(m: Market) -> None:
        # 0.05% per 8h (hourly: 0.00625% each hour) = 55% APR, against Binance's 8-hourly 0.01% (11%): a 44%
        # gap. The market converts the rate to the venue's own interval.
        assert carry is not None
        m.set_funding(carry, "BTC", 0.0005, interval_hours=8)

    eth = market.listing("bybit", "ETH")
    market.set_volatility("bybit", "ETH", 0.05)  # calm before and after: the flush is the only move

    def flush(m: Market) -> None:  # positions closed in a hurry: open interest −8 % as the price drops 3 %
        m.set_open_interest("bybit", "ETH", m.open_interest(eth) * 0.92)
        m.set_price("bybit", "ETH", m.last_price(eth) * 0.97)

    def cascade(m: Market) -> None:
        m.set_volume_24h("binanceusdm", "AVAX", 120_000_000.0)  # tier: others, $250k in 5 minutes
        m.liquidate("binanceusdm", "AVAX", Side.LONG, notional_usd=140_000.0)

    def cascade_more(m: Market) -> None:
        m.liquidate("binanceusdm", "AVAX", Side.LONG, notional_usd=160_000.0)

    return [
        _Step(1 * _MIN, "DOGE funding turns deeply negative on Binance", funding_extreme),
        _Step(10 * _MIN, "XRP breaks out after its volume spike", after_spike),
        _Step(18 * _MIN, "SOL funding diverges between Bybit and OKX", funding_spread),
        _Step(20 * _MIN, "ETH longs flushed on Bybit: open interest −8 % as the price drops 3 %", flush),
        _Step(24 * _MIN, "AVAX longs start getting liquidated on Binance", cascade),
        _Step(24.5 * _MIN, "…and more AVAX longs", cascade_more),
        _Step(
            28 * _MIN,
            f"BTC funding rises to 0.035% per 8h on {_and([display_name(ex) for ex in warm])}",
            btc_warms,
        ),
    ] + (
        []
        if carry is None
        else [_Step(30 * _MIN, f"{_every(market, carry)} BTC funding runs hotter than Binance's", btc_carry)]
    )


def _every(market: Market, exchange: str) -> str:
    """The venue and how often it settles BTC's funding ("<name>'s hourly")."""
    hours = market.listing(exchange, "BTC").funding_interval_hours
    return f"{display_name(exchange)}'s {'hourly' if hours == 1 else f'{hours:g}-hourly'}"


def _config(directory: Path, *, sim: ExchangeSim, telegram_url: str | None) -> Path:
    lines = [
        "[daemon]",
        f'state_dir = "{directory / "state"}"',
        'heartbeat_interval = "20m"',
        "[log]",
        'level = "warning"',
        'format = "console"',
        "[http]",
        'listen = ""',
    ]
    if telegram_url is not None:
        lines += [
            "[telegram]",
            f'api_url = "{telegram_url}"',
            f"alert_chat_id = {_ALERT_CHAT}",
            f"admin_chat_id = {_ADMIN_CHAT}",
            "commands = false",
        ]
    for ex in _EXCHANGES:
        lines += [f"[exchanges.{ex}]", f'rest_url = "{sim.rest_url(ex)}"', f'ws_url = "{sim.ws_url(ex)}"']
    path = directory / "demo.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Chat:
    """Prints messages as the chat shows them, and counts what was shown."""

    def __init__(self, *, out: TextIO) -> None:
        self._out = out
        self.kinds: Counter[str] = Counter()
        self.strategies: Counter[str] = Counter()
        self.messages: list[SentMessage] = []
        self.finished = False  # False: stopped early (Ctrl-C)

    def show(self, msg: SentMessage) -> None:
        self.messages.append(msg)
        text = to_plain(msg.text) if msg.parse_mode and msg.parse_mode.lower() == "html" else msg.text
        chat = {_ALERT_CHAT: "alerts", _ADMIN_CHAT: "admin"}.get(msg.chat_id, str(msg.chat_id))
        head = f"── #{msg.message_id} · {chat} chat"
        if msg.reply_to_message_id:
            head += f" · ↩ reply to #{msg.reply_to_message_id}"
        if msg.disable_notification:
            head += " · silent"
        print(f"\n{head} " + "─" * max(4, 72 - len(head)), file=self._out)
        if msg.photo is not None:  # a chart replying to its signal: say what the picture is
            size = f"{int.from_bytes(msg.photo[16:20], 'big')}×{int.from_bytes(msg.photo[20:24], 'big')}"
            print(f"🖼 [chart: PNG {size}, {len(msg.photo) // 1024} KB] {text}", file=self._out, flush=True)
            self.kinds["chart"] += 1
            return
        print(text, file=self._out, flush=True)
        self._count(text, is_reply=msg.reply_to_message_id is not None)

    def _count(self, text: str, *, is_reply: bool) -> None:
        first = text.splitlines()[0] if text else ""
        if "health check" in first:
            self.kinds["heartbeat"] += 1
        elif is_reply:
            self.kinds["outcome"] += 1
        elif first.startswith("⚪ CARRY"):  # a carry alert has no entry, stop or outcome: not a signal
            self.kinds["carry"] += 1
        elif first.startswith(("🟢", "🔴", "⚪")):
            self.kinds["signal"] += 1
            # Which strategy: its spec's title for the kind, as the message shows it ("📊 Volume spike").
            for spec in SPECS:
                if any(alert.title in text for alert in spec.alerts.values()):
                    self.strategies[spec.name] += 1
                    break
        else:
            self.kinds["notice"] += 1


async def _drive(market: Market, clock: ScaledClock, steps: list[_Step], out: TextIO) -> None:
    start = clock.monotonic()
    for step in steps:
        await clock.sleep(step.at - (clock.monotonic() - start))
        print(f"\n   ⚙ [market {datetime.fromtimestamp(clock.time(), UTC):%H:%M} UTC] {step.what}", file=out)
        step.act(market)


async def demo(
    *, minutes: float, seed: int, telegram_real: bool, out: TextIO, speed: float = _SPEED
) -> _Chat:
    clock = ScaledClock(speed=speed, start=_START)
    market = Market(clock=clock, seed=seed, symbols=36, exchanges=_EXCHANGES)
    market.background_liquidations_per_minute = 1.0  # a live market's trickle of small liquidations
    # …small indeed: a trickle never adds up to a cascade (the smallest tier is $250k in 5 minutes), so the
    # same seed tells the same story however the venues' ticks interleave.
    market.background_liquidation_cap_usd = 20_000.0
    chat = _Chat(out=out)
    steps = _scenario(market)
    with tempfile.TemporaryDirectory(prefix="signalbots-demo-") as tmp:
        directory = Path(tmp)
        async with (
            ExchangeSim(market=market, clock=clock, exchanges=_EXCHANGES) as sim,
            TelegramSim(token=_TOKEN, clock=clock, on_message=chat.show) as tg,
        ):
            config = _config(directory, sim=sim, telegram_url=None if telegram_real else tg.url)
            env_file = directory / ".env"
            if not telegram_real:
                env_file.write_text(f"SIGNALBOTS_TELEGRAM__BOT_TOKEN={_TOKEN}\n")
                env_file.chmod(0o600)
            print(
                f"signalbots demo: {_listed(market)} perpetuals "
                f"(simulated, seed {seed}); "
                f"{minutes:g} market minutes at {speed:g}× speed (≈{minutes * 60 / speed:.0f} s).",
                file=out,
                flush=True,
            )
            daemon = Daemon(config=str(config), clock=clock, env_file=str(env_file))
            running = asyncio.create_task(daemon.run(), name="daemon")
            driver = asyncio.create_task(_drive(market, clock, steps, out), name="market")
            try:
                chat.finished = await _race(running, clock.sleep(minutes * _MIN))
                daemon.request_stop("demo finished")
                await running
            finally:
                driver.cancel()
                running.cancel()
                await asyncio.gather(driver, running, return_exceptions=True)
    return chat


async def _race(task: asyncio.Task[int], timer: Awaitable[None]) -> bool:
    """Wait for ``timer`` unless the daemon stops first (Ctrl-C, a failure); True when the timer won."""
    waiter = asyncio.ensure_future(timer)
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    return not task.done()


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary(chat: _Chat) -> tuple[str, bool]:
    missing = [f"{name} signal" for name in names() if not chat.strategies[name]]
    missing += [k for k in ("outcome", "heartbeat") if not chat.kinds[k]]
    per = ", ".join(f"{name} {chat.strategies[name]}" for name in names())
    k = chat.kinds
    text = (
        f"\nsummary: {_count(len(chat.messages), 'message', 'messages')} — "
        f"{_count(k['signal'], 'signal', 'signals')} ({per}), "
        f"{_count(k['carry'], 'carry alert', 'carry alerts')}, "
        f"{_count(k['outcome'], 'outcome reply', 'outcome replies')}, "
        f"{_count(k['chart'], 'chart', 'charts')}, "
        f"{_count(k['heartbeat'], 'heartbeat', 'heartbeats')}, {_count(k['notice'], 'notice', 'notices')}"
    )
    if not chat.finished:
        return text + "\ndemo stopped early", True
    if missing:
        text += "\ndemo incomplete: no " + ", no ".join(missing)
    return text, not missing


def _listed(market: Market) -> str:
    """``36 Binance, 32 Bybit, 28 OKX and 30 MEXC``."""
    return _and([f"{len(market.symbols(ex))} {display_name(ex)}" for ex in _EXCHANGES])


def _and(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def run_demo(*, minutes: float, seed: int, telegram_real: bool, config: str | None = None) -> int:
    """``minutes`` > 0 (the CLI refuses anything else with exit 64)."""
    if not minutes > 0:
        raise ValueError("minutes must be more than 0")
    if telegram_real and not os.environ.get("SIGNALBOTS_TELEGRAM__BOT_TOKEN"):
        print(
            "demo --telegram-real needs SIGNALBOTS_TELEGRAM__BOT_TOKEN and "
            "SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID",
            file=sys.stderr,
        )
        return 78
    from signalbots.logs import configure_logging

    configure_logging(fmt="console", level="warning")  # the simulators log too: quietly, like the daemon
    chat = asyncio.run(demo(minutes=minutes, seed=seed, telegram_real=telegram_real, out=sys.stdout))
    text, complete = summary(chat)
    print(text)
    return 0 if complete or telegram_real else 1
