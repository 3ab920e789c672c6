"""Messages are valid Telegram HTML with every value escaped, short, and say what a trader needs."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pytest
from signal_examples import CASCADE, EXAMPLES, EXTREME, SPIKE, SPREAD, STATS
from signals_support import DAY, T0, candidate

from signalbots.signals import render
from signalbots.signals.model import Direction, Signal, Status

DOC = Path(__file__).resolve().parents[2] / "docs" / "signals.md"
TELEGRAM_TAGS = {"b", "i", "code", "pre", "a", "u", "s"}


class _TagChecker(HTMLParser):
    """Fails on a tag Telegram would reject or on unbalanced tags; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, f"<{tag}> is not Telegram HTML"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(html: str) -> str:
    checker = _TagChecker()
    checker.feed(html)
    checker.close()
    assert checker.stack == [], f"unclosed {checker.stack}"
    return "".join(checker.text)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_is_valid_telegram_html_and_short(name: str) -> None:
    text = EXAMPLES[name]
    visible(text)
    assert len(text) < 1000


def test_hostile_values_are_escaped_everywhere() -> None:
    evil = "<&>"
    c = dataclasses.replace(
        candidate(symbol=f"X{evil}/USDT:USDT", exchange=f"ex{evil}", strategy=f"s{evil}", kind=f"k{evil}"),
        notes=(f"note {evil}</i><b>",),
        facts={f"f{evil}": 1.0},
    )
    sig = Signal(id=1, candidate=c, size_base=3.0)
    done = dataclasses.replace(
        sig, status=Status.STOPPED, resolved_ms=c.time_ms + 1000, exit_price=98.0, r_multiple=-1.0
    )
    texts = [
        render.signal(sig),
        render.outcome(done),
        render.target1(sig, c.time_ms + 1000),
        render.open_signals([sig], c.time_ms + 1000),
        render.loss_pause(f"s{evil}", -5.0, 5.0, T0),
        render.stats({f"s{evil}": STATS["all"], "all": STATS["all"]}, 3),
        render.daily_summary(T0, {f"s{evil}": 1}, {f"s{evil}": STATS["all"], "all": STATS["all"]}, 0),
    ]
    for text in texts:
        shown = visible(text)  # parses: no injected tag survived
        assert "&lt;&amp;&gt;" in text
        assert evil in shown  # and the user still reads the value as it was
    assert "note <&></i><b>" in visible(render.signal(sig))


def test_long_lists_stay_within_telegram_limits() -> None:
    many = [
        Signal(id=i, candidate=candidate(symbol=f"COIN{i}/USDT:USDT", time_ms=T0 + i, key=f"k{i}"))
        for i in range(500)
    ]
    text = render.open_signals(many, T0 + DAY // 2)
    assert len(text) <= render.MAX_CHARS and "… and 470 more" in text
    per = {f"strategy{i}": STATS["all"] for i in range(200)} | {"all": STATS["all"]}
    assert len(render.stats(per, None)) <= render.MAX_CHARS
    assert len(render.daily_summary(T0, {f"s{i}": 1 for i in range(200)}, per, 3)) <= render.MAX_CHARS


def test_each_kind_shows_its_trigger_numbers() -> None:
    spike = render.signal(SPIKE)
    assert "🔴 SHORT" in spike and "Volume spike" in spike and "20.1× median" in spike
    assert "body −3.87%" in spike and "$60.1M" in spike and "2021-11-16 10:10 UTC" in spike
    assert "Stop <code>1.0959</code> (+4.02%)" in spike and "T2 <code>0.9687</code> (−8.05%)" in spike
    cascade = render.signal(CASCADE)
    assert "🟢 LONG" in cascade and "$1.84M liquidated" in cascade and "lower bound" in cascade
    extreme = render.signal(EXTREME)
    assert (
        "funding −0.2193% per 8h" in extreme and "APR −240.2%" in extreme and "settles in 7h 45m" in extreme
    )
    spread = render.signal(SPREAD)
    assert "⚪ CARRY" in spread and "Binance + Bybit" in spread and "APR gap +43.1%" in spread
    assert "Stop" not in spread


def test_outcome_reply_marks() -> None:
    base = Signal(
        id=1,
        candidate=candidate(direction=Direction.SHORT),
        status=Status.EXPIRED,
        resolved_ms=T0 + DAY,
        exit_price=99.4,
        r_multiple=0.3,
    )
    assert render.outcome(base).startswith("⌛ Expired · <b>+0.3R</b>")
    win = dataclasses.replace(
        base, status=Status.TARGET2, resolved_ms=T0 + 12_000_000, exit_price=96.0, r_multiple=2.0
    )
    assert render.outcome(win).startswith("✅ Target 2 · <b>+2.0R</b>") and "after 3h 20m" in render.outcome(
        win
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (68_200_000, "$68.2M"),
        (250_000, "$250k"),
        (1_240_000_000, "$1.24B"),
        (950, "$950"),
        (-3_000, "−$3.00k"),
    ],
)
def test_money(value: float, text: str) -> None:
    assert render.money(value) == text


def test_numbers_for_people() -> None:
    assert render.duration(12_000_000) == "3h 20m" and render.duration(2 * DAY + 4 * 3_600_000) == "2d 4h"
    assert (
        render.r_multiple(2) == "+2.0R"
        and render.r_multiple(-1) == "−1.0R"
        and render.r_multiple(0) == "0.0R"
    )
    assert render.price(43_250.5) == "43,250.5" and render.price(1.095) == "1.0950"
    assert render.price(0.00001234) == "0.000012340"
    assert render.fact("rate_8h", -0.002193) == "−0.2193%" and render.fact("window_s", 300) == "5m"


def test_docs_show_what_the_code_renders() -> None:
    doc = DOC.read_text(encoding="utf-8")
    stale = [name for name, text in EXAMPLES.items() if f"```html\n{text}\n```" not in doc]
    assert not stale, (
        f"docs/signals.md is out of date for {stale}: run python tests/signals/signal_examples.py"
    )


def test_an_atr_and_a_mark_price_read_like_the_entry_they_sit_next_to() -> None:
    # "ATR 0.083017" under "Entry 34.919": a distance of the same instrument, shown with its decimals
    c = candidate(
        strategy="liquidation",
        kind="cascade",
        entry=34.919,
        risk=0.125,
        facts={
            "window_s": 300.0,
            "atr": 0.083017,
            "mark_price": 34.9,
        },
    )
    text = visible(render.signal(Signal(id=1, candidate=c)))
    assert "Entry 34.919" in text and "ATR 0.083\n" in text and "mark price 34.900" in text
