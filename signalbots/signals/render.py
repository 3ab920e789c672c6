"""Telegram texts for signals, outcomes, statistics and the daily summary (HTML; pure functions of data).

Every dynamic value goes through ``html.escape``; numbers are formatted for people ($68.2M, 2.56%, 3h 20m).
A message stays well under Telegram's 4096 characters: lists are cut with "… and N more".

Trigger facts (``Candidate.facts``, name → number) are shown by name. The layout of each kind lists the facts
it knows first, in its order; any other fact follows, formatted by its name:
``*_usd`` money · ``*_pct`` a signed percentage already in percent · ``*_z`` one decimal ·
``rate*`` / ``apr*`` / ``*_rate`` / ``*_apr`` / ``*_8h`` a fraction shown in percent · ``*_ms`` an epoch
time (UTC) or, below ~3 years, a duration · ``*_s`` seconds · ``hours_*`` hours as a duration · ``*_h``
hours · ``*_x`` / ``*multiple`` a multiple · ``count`` / ``prints`` / ``*_count`` an integer · ``atr`` /
``*price`` a price.

Over 400 lines on purpose: every text of the signal path (alerts, replies, lists, statistics) in one
place keeps numbers, emoji and wording consistent; each function is small and pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from html import escape as _html_escape

from signalbots.events import base_asset
from signalbots.exchange.venues import display_name
from signalbots.signals.model import Candidate, Direction, Signal, Status
from signalbots.signals.stats import ALL, Stats
from signalbots.signals.track_record import grade
from signalbots.strategies.registry import alert_for

escape = partial(_html_escape, quote=False)  # quotes need no escaping outside attributes; we write none

MAX_CHARS = 4096
_MAX_LINES = 30  # list entries per message; keeps /signals and /stats far below MAX_CHARS
_MINUS = "\u2212"

_HIDDEN = frozenset(
    {"baseline_mad_usd", "price_age_s", "stop_unfloored_price"}
)  # price age: on the entry line  # inputs of another number shown; noise to a trader
# The open interest context the desk adds to every alert where it is known: on a line of its own.
_OPEN_INTEREST = (
    ("oi_usd", "OI {}"),
    ("oi_change_1h_pct", "{} in 1h"),
    ("oi_share_pct", "{} of it"),
)
_STATUS = {
    Status.TARGET2: ("✅", "Target 2"),
    Status.TARGET1: ("✅", "Target 1"),
    Status.STOPPED: ("❌", "Stopped"),
    Status.EXPIRED: ("⌛", "Expired"),
    Status.OPEN: ("⏳", "Open"),
}


# numbers ---------------------------------------------------------------------------------------------
def money(value: float) -> str:
    """68_200_000 → ``$68.2M``; 250_000 → ``$250k``; 950 → ``$950``."""
    sign = _MINUS if value < 0 else ""
    v = abs(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= size:
            n = v / size
            return f"{sign}${n:.{2 if n < 10 else 1 if n < 100 else 0}f}{unit}"
    return f"{sign}${v:.0f}"


def signed(value: float, decimals: int = 2, suffix: str = "") -> str:
    text = f"{abs(value):.{decimals}f}"
    if float(text) == 0:
        return f"{text}{suffix}"
    return f"{'+' if value > 0 else _MINUS}{text}{suffix}"


def r_multiple(value: float) -> str:
    return signed(value, 1, "R")


def decimals_for(price: float) -> int:
    """Five significant digits, at least two decimals below 1000 (1.0950, 43,250.5, 0.000012340)."""
    if price == 0 or not math.isfinite(price):
        return 2
    digits = 4 - math.floor(math.log10(abs(price)))
    return max(1 if abs(price) >= 1000 else 2, digits)


def price(value: float, decimals: int | None = None) -> str:
    d = decimals_for(value) if decimals is None else decimals
    return f"{value:,.{d}f}"


def quantity(value: float) -> str:
    return f"{value:,.{max(0, 3 - math.floor(math.log10(abs(value))))}f}" if value else "0"


def duration(ms: float) -> str:
    """3h 20m, 2d 4h, 45m, 30s."""
    s = max(0, round(ms / 1000))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d {h}h" if h else f"{d}d"
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    if m:
        return f"{m}m"
    return f"{sec}s"


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def exchange_name(exchange: str) -> str:
    """``binanceusdm`` → ``Binance``; ``binanceusdm+bybit`` (a spread's two legs) → ``Binance + Bybit``."""
    return " + ".join(display_name(part) for part in exchange.split("+"))


def fact(name: str, value: float, decimals: int | None = None) -> str:
    """One trigger number, formatted by its name (see the module docstring). ``decimals``: the signal's
    price decimals, so that an ATR or a mark price reads like the entry it sits next to."""
    if not math.isfinite(value):
        return "n/a"
    if name.endswith("_usd"):
        return money(value)
    if name.endswith("_pct"):
        return signed(value, 2, "%")
    if name.startswith("threshold") and name.endswith("_8h"):
        return f"{value * 100:.4f}%"  # a threshold applies to both signs
    if name.startswith("apr") or name.endswith("_apr"):
        return signed(value * 100, 1, "%")
    if name.startswith("rate") or name.endswith(("_rate", "_8h")):
        return signed(value * 100, 4, "%")
    if name.endswith("_ms"):
        return utc(int(value)) if value > 1e11 else duration(value)
    if name.endswith("_s"):
        return duration(value * 1000)
    if name.startswith("hours_"):
        return duration(value * 3_600_000)
    if name.endswith("_h"):
        return f"{value:g}h"
    if name.endswith("_z"):
        return f"{value:.1f}"
    if name.endswith(("_x", "multiple")):
        return f"{value:.1f}×"
    if name in ("count", "prints") or name.endswith("_count"):
        return f"{value:,.0f}"
    if name == "atr" or name.endswith("price"):
        return price(value, decimals)
    return f"{value:,.4g}"


# signals ---------------------------------------------------------------------------------------------
def _direction(direction: Direction, kind: str = "") -> str:
    if direction is Direction.NONE:
        return "⚪ CARRY" if kind == "spread" else "⚪ ALERT"
    return "🟢 LONG" if direction is Direction.LONG else "🔴 SHORT"


def _level(label: str, level: float, entry: float, decimals: int) -> str:
    pct = (level - entry) / entry * 100 if entry else 0.0
    return f"{label} <code>{escape(price(level, decimals))}</code> ({signed(pct, 2, '%')})"


def _facts_lines(kind: str, facts: Mapping[str, float], decimals: int | None = None) -> list[str]:
    alert = alert_for(kind)
    layout = alert.layout if alert is not None else ()
    shown = {name for name, _ in layout} | _HIDDEN | {name for name, _ in _OPEN_INTEREST}
    if facts.get("interval_h") == 8:
        facts = {k: v for k, v in facts.items() if k != "rate"}  # the same number as the rate per 8h
    known = [
        escape(template.format(fact(name, facts[name], decimals)))
        for name, template in layout
        if name in facts
    ]
    other = [
        f"{escape(name.replace('_', ' '))} {escape(fact(name, v, decimals))}"
        for name, v in facts.items()
        if name not in shown
    ]
    return [" · ".join(part) for part in (known, other) if part]


def _open_interest_line(facts: Mapping[str, float]) -> list[str]:
    """``⚖️ OI $1.23B · −2.10% in 1h · 8.00% of it`` (a cascade's notional as a share of it), or nothing."""
    parts = [
        escape(template.format(f"{facts[name]:.2f}%" if name == "oi_share_pct" else fact(name, facts[name])))
        for name, template in _OPEN_INTEREST
        if name in facts
    ]
    return [f"⚖️ {' · '.join(parts)}"] if "oi_usd" in facts else []


def _title(c: Candidate) -> str:
    """The kind's title as its strategy's spec declares it (``📊 Volume spike``)."""
    alert = alert_for(c.kind)
    return alert.title if alert is not None else f"{c.strategy} {c.kind}"


def _symbol(c: Candidate) -> str:
    if c.kind != "spread":
        return c.symbol
    # A spread's "symbol" names both legs with exchange ids; show the names people know.
    return " ".join(display_name(word) for word in c.symbol.split(" "))


def signal(sig: Signal, *, record: str | None = None, caution: str | None = None) -> str:
    """The signal message: what, where, grade, the ``caution`` (see ``evidence``), levels with % distance,
    the strategy's ``record`` line (see ``track_record``), why (the numbers), size, when, notes."""
    c = sig.candidate
    title = f"{_title(c)} · grade {grade(c.strength)}"
    where = escape(exchange_name(c.exchange))
    lines = [f"{_direction(c.direction, c.kind)} <b>{escape(_symbol(c))}</b> · {where}", escape(title)]
    lines += [f"<b>{escape(caution)}</b>"] if caution else []
    d = decimals_for(c.entry)
    if c.direction is not Direction.NONE and c.stop is not None:
        age = c.facts.get("price_age_s")
        aged = f" ({duration(age * 1000)} old)" if age is not None else ""
        lines.append(
            f"Entry <code>{escape(price(c.entry, d))}</code>{aged} · {_level('Stop', c.stop, c.entry, d)}"
        )
        lines.append(" · ".join(_level(f"T{i}", t, c.entry, d) for i, t in enumerate(c.targets, 1)))
    elif c.entry > 0:
        lines.append(f"Price <code>{escape(price(c.entry, d))}</code>")
    if record is not None:
        lines.append(escape(record))
    lines += [f"📈 {line}" for line in _facts_lines(c.kind, c.facts, d if c.entry > 0 else None)]
    lines += _open_interest_line(c.facts)
    if sig.size_base is not None and c.risk:
        lines.append(
            f"💰 Size {escape(quantity(sig.size_base))} {escape(base_asset(c.symbol))} ≈ "
            f"{escape(money(sig.size_base * c.entry))} · risk {escape(money(sig.size_base * c.risk))}"
        )
    lines.append(f"⏰ {utc(c.time_ms)} · ⌛ valid {duration(c.expiry_ms - c.time_ms)}")
    lines += [f"<i>{escape(note)}</i>" for note in c.notes]
    return "\n".join(lines)


def compact(sig: Signal, *, record: str | None = None, caution: str | None = None) -> str:
    """The signal as one block of a coalesced message (a burst): direction, symbol, exchange, grade, the
    ``caution``, levels, its headline fact and the strategy's ``record`` line."""
    c = sig.candidate
    lines = [
        f"{_direction(c.direction, c.kind)} <b>{escape(_symbol(c))}</b> · {escape(exchange_name(c.exchange))}"
        f" · {escape(_title(c))} · grade {grade(c.strength)}"
    ]
    lines += [f"<b>{escape(caution)}</b>"] if caution else []
    d = decimals_for(c.entry)
    if c.direction is not Direction.NONE and c.stop is not None:
        targets = " · ".join(f"T{i} <code>{escape(price(t, d))}</code>" for i, t in enumerate(c.targets, 1))
        # The full form's note says why; here, that the stop is not the strategy's (``costs.floor_stop``).
        widened = " (widened for costs)" if "stop_unfloored_price" in c.facts else ""
        lines.append(
            f"Entry <code>{escape(price(c.entry, d))}</code> · Stop <code>{escape(price(c.stop, d))}</code>"
            + widened
            + (f" · {targets}" if targets else "")
        )
    elif c.entry > 0:
        lines.append(f"Price <code>{escape(price(c.entry, d))}</code>")
    facts = _facts_lines(c.kind, c.facts)
    if facts:
        lines.append("📈 " + facts[0].split(" · ")[0])
    if record is not None:
        lines.append(escape(record))
    return "\n".join(lines)


def _headline(sig: Signal) -> str:
    c = sig.candidate
    return f"<b>{escape(_symbol(c))}</b> {_direction(c.direction, c.kind)} · {escape(c.strategy)}"


def target1(sig: Signal, time_ms: int) -> str:
    """Progress reply: target 1 reached, the stop now sits at entry (breakeven)."""
    c = sig.candidate
    d = decimals_for(c.entry)
    target = c.targets[0] if c.targets else c.entry
    return (
        f"🎯 Target 1 reached · {_headline(sig)}\n"
        f"<code>{escape(price(target, d))}</code> after {duration(time_ms - c.time_ms)} · "
        f"stop moved to breakeven <code>{escape(price(c.entry, d))}</code>"
    )


def outcome(sig: Signal, *, stop_trigger: str = "last") -> str:
    """Final reply to a signal: ✅/❌/⌛, net R, exit and duration, then gross R and what it cost."""
    c = sig.candidate
    emoji, label = _STATUS[sig.status]
    r = sig.r_multiple if sig.r_multiple is not None else 0.0
    if sig.status is not Status.EXPIRED:
        emoji = "✅" if r >= 0 else "❌"
    if sig.status is Status.TARGET1 and sig.exit_price == c.entry:
        label = "Target 1, then breakeven"
    lines = [f"{emoji} {label} · <b>{r_multiple(r)}</b> net · {_headline(sig)}"]
    took = duration((sig.resolved_ms or c.time_ms) - c.time_ms)
    if sig.exit_price is None:
        lines.append(f"no price seen after the signal · {took}")
    else:
        d = decimals_for(c.entry)
        lines.append(
            f"Exit <code>{escape(price(sig.exit_price, d))}</code> · entry "
            f"<code>{escape(price(c.entry, d))}</code> · after {took}"
        )
    if sig.gross_r is not None:
        lines.append(
            f"gross {signed(sig.gross_r, 2, 'R')} · fees and slippage {signed(-(sig.fee_r or 0.0), 2, 'R')}"
            f" · funding {signed(sig.funding_r, 2, 'R')} · net {signed(r, 2, 'R')}"
            f" · stops on {escape(stop_trigger)} price"
        )
    return "\n".join(lines)


def loss_pause(strategy: str, loss_r: float, limit_r: float, day_ms: int) -> str:
    return (
        f"⏸ <b>{escape(strategy)}</b> paused for the rest of {day(day_ms)} UTC\n"
        f"Daily loss {r_multiple(loss_r)} reached the limit of {r_multiple(-limit_r)}; "
        f"signals resume at 00:00 UTC."
    )


# lists and statistics --------------------------------------------------------------------------------
def _fit(lines: Sequence[str]) -> str:
    """Whole lines (each one balanced HTML) up to MAX_CHARS: a list never makes a message Telegram refuses."""
    out = list(lines)
    while len(text := "\n".join(out)) > MAX_CHARS:
        out[-2:] = ["… (cut)"]
    return text


def _cut(lines: Sequence[str]) -> list[str]:
    shown = list(lines[:_MAX_LINES])
    if len(lines) > _MAX_LINES:
        shown.append(f"… and {len(lines) - _MAX_LINES} more")
    return shown


def open_signals(
    signals: Sequence[Signal], now_ms: int, last_prices: Mapping[tuple[str, str], float] | None = None
) -> str:
    """``/signals``: open signals, newest first, with the move so far in R when a price is known."""
    if not signals:
        return "📋 No open signals."
    rows: list[str] = []
    for sig in sorted(signals, key=lambda s: s.candidate.time_ms, reverse=True):
        c = sig.candidate
        d = decimals_for(c.entry)
        parts = [
            f"{_direction(c.direction).split()[0]} <b>{escape(_symbol(c))}</b>",
            escape(c.strategy),
            escape(exchange_name(c.exchange)),
            f"entry {escape(price(c.entry, d))}",
        ]
        last = (last_prices or {}).get((c.exchange, c.symbol))
        if last is not None and c.risk:
            move = (last - c.entry) if c.direction is Direction.LONG else (c.entry - last)
            parts.append(f"now {r_multiple(move / c.risk)}")
        parts.append(f"{duration(now_ms - c.time_ms)} ago")
        parts.append(f"ends in {duration(c.expiry_ms - now_ms)}")
        rows.append(" · ".join(parts))
    return _fit([f"📋 <b>Open signals</b> ({len(signals)})", *_cut(rows)])


def stats_line(name: str, s: Stats) -> str:
    if s.count == 0:
        return f"<b>{escape(name)}</b> no resolved signals"
    ci = ""
    if s.ci95_low is not None and s.ci95_high is not None:
        ci = f" (95% {signed(s.ci95_low, 2)}…{signed(s.ci95_high, 2)})"
    pf = f" · PF {s.profit_factor:.2f}" if s.profit_factor is not None else ""
    judge = "" if s.judged else " · <i>too few to judge</i>"
    return (
        f"<b>{escape(name)}</b> {s.count} · hit {s.hit_rate:.0%} · avg {r_multiple(s.avg_r)}{ci}{pf} · "
        f"total {r_multiple(s.total_r)} · max DD {s.max_drawdown_r:.1f}R{judge}"
    )


def stats(per_strategy: Mapping[str, Stats], days: int | None) -> str:
    """``/stats [days]``: one line per strategy, the total first."""
    span = f"last {days} day{'s' if days != 1 else ''}" if days else "all time"
    lines = [f"📊 <b>Signal stats</b> · {span}"]
    overall = per_strategy.get(ALL, Stats.empty())
    if overall.count == 0:
        lines.append("No resolved signals yet.")
        return "\n".join(lines)
    lines.append(stats_line(ALL, overall))
    lines += _cut([stats_line(n, s) for n, s in per_strategy.items() if n != ALL])
    lines.append("<i>net R: after fees, slippage and funding · R = risk to the stop</i>")
    return _fit(lines)


def daily_summary(
    day_start_ms: int, sent: Mapping[str, int], per_strategy: Mapping[str, Stats], open_count: int
) -> str:
    """The 00:00 UTC summary of one UTC day: signals sent, outcomes resolved that day, open now."""
    total_sent = sum(sent.values())
    by = " · ".join(f"{escape(n)} {k}" for n, k in sorted(sent.items()))
    lines = [
        f"🗓 <b>Daily summary</b> · {day(day_start_ms)} UTC",
        f"📨 Signals sent: {total_sent}" + (f" ({by})" if by else ""),
    ]
    overall = per_strategy.get(ALL, Stats.empty())
    if overall.count:
        lines.append(
            f"🏁 Resolved {overall.count} · hit {overall.hit_rate:.0%} · "
            f"total {r_multiple(overall.total_r)} · avg {r_multiple(overall.avg_r)}"
        )
        lines += _cut([f"• {stats_line(n, s)}" for n, s in per_strategy.items() if n != ALL])
    else:
        lines.append("🏁 Nothing resolved")
    lines.append(f"⏳ Open now: {open_count}")
    return _fit(lines)
