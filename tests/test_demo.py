"""`signalbots demo`: the README's run command shows every strategy, an outcome and a heartbeat, offline."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

from signalbots.demo import _Chat, demo, summary
from signalbots.sim.telegram import SentMessage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from docs_samples import blocks  # noqa: E402  (scripts/ is not a package)


def test_default_demo_shows_the_whole_product_and_exits_0(tmp_path: Path) -> None:
    # The acceptance run: defaults, as a newcomer types it; "within three minutes" is the hard limit.
    proc = subprocess.run(
        [sys.executable, "-m", "signalbots", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for shown in (
        "📊 Volume spike",
        "💸 Funding extreme",
        "↔️ Funding spread",
        "💥 Liquidation cascade",
        "🌊 Open interest flush",
        "⚖️ OI $",  # the open interest line under the alerts where it is known
        "💚 signalbots — health check",
        "🚀 signalbots",
        "🛑 signalbots stopping: demo finished",
    ):
        assert shown in out, f"{shown!r} missing from the demo output"
    assert "· ↩ reply to #" in out  # an outcome reply to the signal it resolves
    assert "🖼 [chart: PNG 1000×640" in out  # and each signal's chart
    assert "demo incomplete" not in out
    assert "Traceback" not in out + proc.stderr
    # docs/demo.md's sample (scripts/docs_samples.py --demo) tells this very story: same messages, same order
    sample = blocks(ROOT / "docs" / "demo.md")["demo"]
    assert _story(sample) == _story(out), "docs/demo.md is out of date: python scripts/docs_samples.py --demo"


def _story(text: str) -> list[str]:
    """The messages' headlines in order (prices and counters follow real scheduling; the story must not).
    Charts are left out: drawn off the loop, their place among later alerts follows drawing time."""
    lines = text.splitlines()
    return [
        lines[i + 1]
        for i, line in enumerate(lines)
        if line.startswith("── #")
        and "admin chat" not in line
        and i + 1 < len(lines)
        and not lines[i + 1].startswith("🖼")
    ]


async def test_the_same_seed_tells_the_same_story() -> None:
    first, second = io.StringIO(), io.StringIO()
    chat1 = await demo(minutes=30, seed=11, telegram_real=False, out=first, speed=90)
    chat2 = await demo(minutes=30, seed=11, telegram_real=False, out=second, speed=90)
    story = _story(first.getvalue())
    assert story == _story(second.getvalue())
    assert any(h.startswith("🟢 LONG XRP/USDT:USDT") for h in story)
    assert any(h.startswith("✅ Target 2") for h in story)
    assert chat1.strategies == chat2.strategies
    text, complete = summary(chat1)
    assert complete, text


def test_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "signalbots", "demo"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # wait until the daemon is up: its startup notice reaches the chat
            seen.append(line)
            if "🚀 signalbots" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "🛑 signalbots stopping: SIGINT" in output
    assert "demo stopped early" in output
    assert "Traceback" not in output


def _shown(chat: _Chat, text: str, reply_to: int | None = None) -> None:
    n = len(chat.messages) + 1
    chat.show(SentMessage(1001, n, text, None, reply_to, False, 0.0))


def test_the_summary_counts_carry_alerts_apart_and_speaks_english() -> None:
    chat = _Chat(out=io.StringIO())
    _shown(chat, "🚀 signalbots 0.1.0 started")
    _shown(chat, "⚪ CARRY SOL long OKX / short Bybit · Bybit + OKX\n↔️ Funding spread")
    _shown(chat, "🟢 LONG DOGE/USDT:USDT · Binance\n💸 Funding extreme")
    _shown(chat, "🟢 LONG XRP/USDT:USDT · Binance\n📊 Volume spike")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (1000).to_bytes(4, "big") + (640).to_bytes(4, "big")
    chat.show(SentMessage(1001, 5, "📈 volume spike", "HTML", 4, True, 0.0, photo=png))  # a chart: no outcome
    _shown(chat, "✅ Target 2 · +2.0R · XRP/USDT:USDT 🟢 LONG · volume", reply_to=4)
    chat.finished = True
    text, complete = summary(chat)
    assert text.strip() == (
        "summary: 6 messages — 2 signals (liquidation 0, funding 1, volume 1, open_interest 0), "
        "1 carry alert, 1 outcome reply, 1 chart, 0 heartbeats, 1 notice\n"
        "demo incomplete: no liquidation signal, no open_interest signal, no heartbeat"
    )
    assert not complete
