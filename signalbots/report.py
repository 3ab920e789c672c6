"""The backtest's report: each replayed signal and its outcome, statistics per strategy, as JSON or tables.

The JSON document is the contract (``signalbots backtest --json``); the text tables are rendered from it, so
both always say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from signalbots.signals import render
from signalbots.signals.model import Direction, Signal, Status
from signalbots.signals.stats import ALL, Stats, by_strategy


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def outcome(sig: Signal) -> str:
    """``target2`` / ``target1`` / ``stopped`` / ``expired``; ``alert`` for a signal with no direction;
    ``open`` when the data ended before it resolved."""
    if sig.candidate.direction is Direction.NONE:
        return "alert"
    return sig.status.value


def tidy(value: Any) -> Any:
    """Floats to 10 significant digits, recursively: ``0.9687000000000001`` is float noise, not data, and
    two statistics computed two ways (``avg_r``, ``expectancy``) must not differ in the 16th digit."""
    if isinstance(value, float):
        return float(f"{value:.10g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    return value


def signal_json(sig: Signal) -> dict[str, Any]:
    c = sig.candidate
    doc: dict[str, Any] = tidy(
        {
            "id": sig.id,
            "time": _iso(c.time_ms),
            "time_ms": c.time_ms,
            "strategy": c.strategy,
            "kind": c.kind,
            "exchange": c.exchange,
            "symbol": c.symbol,
            "direction": c.direction.value,
            "entry": c.entry,
            "stop": c.stop,
            "targets": list(c.targets),
            "expiry_ms": c.expiry_ms,
            "outcome": outcome(sig),
            "status": sig.status.value,
            "resolved": _iso(sig.resolved_ms),
            "resolved_ms": sig.resolved_ms,
            "exit_time": _iso(sig.resolved_ms),
            "exit_price": sig.exit_price,
            "gross_r": sig.gross_r,
            "fee_r": sig.fee_r,
            "funding_r": sig.funding_r if sig.gross_r is not None else None,
            "net_r": sig.r_multiple,
            "r": sig.r_multiple,  # net R, as everywhere
            "facts": c.facts,
            "dedupe_key": c.dedupe_key,
        }
    )
    return doc


def _resolved(signals: list[Signal]) -> list[Signal]:
    """Signals with an outcome in R, in the order they resolved (drawdown follows that order)."""
    done = [
        s
        for s in signals
        if s.status is not Status.OPEN and s.r_multiple is not None and math.isfinite(s.r_multiple)
    ]
    return sorted(done, key=lambda s: (s.resolved_ms or 0, s.id))


_UNDEFINED_WITHOUT_OUTCOMES = (
    "hit_rate",
    "avg_r",
    "expectancy",
    "avg_win_r",
    "avg_loss_r",
    "best_r",
    "worst_r",
)


def stats_json(signals: list[Signal], names: list[str]) -> dict[str, dict[str, Any]]:
    per: dict[str, Stats] = by_strategy(
        (s.candidate.strategy, s.r_multiple or 0.0) for s in _resolved(signals)
    )
    out: dict[str, dict[str, Any]] = {}
    for name in [*names, *sorted({s.candidate.strategy for s in signals} - set(names)), ALL]:
        subset = signals if name == ALL else [s for s in signals if s.candidate.strategy == name]
        st = per.get(name, Stats.empty())
        doc = tidy(asdict(st)) | {"judged": st.judged}
        if st.count == 0:  # "no outcomes" is not 0 %: a script must be able to tell them apart
            doc |= dict.fromkeys(_UNDEFINED_WITHOUT_OUTCOMES)
        out[name] = {
            "signals": len(subset),
            "open": sum(outcome(s) == "open" for s in subset),
            "alerts": sum(outcome(s) == "alert" for s in subset),
        } | doc
    return out


def build_report(
    signals: list[Signal],
    names: list[str],
    *,
    events: int,
    first_ms: int | None,
    last_ms: int | None,
    messages: int,
) -> dict[str, Any]:
    """The ``--json`` document: ``signals`` (each with its levels, facts and outcome: the audit trail),
    ``stats`` per strategy (and ``all``) in net R, and the ``replay``. A statistic that needs an outcome
    (hit rate, average R, …) is null when there is none."""
    return {
        "signals": [signal_json(s) for s in signals],
        "stats": stats_json(signals, names),
        "replay": {
            "strategies": names,
            "events": events,
            "from": _iso(first_ms),
            "to": _iso(last_ms),
            "messages": messages,
        },
    }


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]


def _interval(st: dict[str, Any]) -> str:
    low, high = st.get("ci95_low"), st.get("ci95_high")
    return "-" if low is None or high is None else f"{low:+.2f}…{high:+.2f}"


def report_text(report: dict[str, Any]) -> str:
    """The human version of :func:`build_report`'s document: a signal table, a statistics table, notes."""
    rp = report["replay"]
    lines = [
        f"backtest: {rp['events']:,} events, {(rp['from'] or '-')} → {(rp['to'] or '-')}, "
        f"strategies {', '.join(rp['strategies'])}",
        "",
    ]
    rows = []
    # One symbol, one number of decimals in every row (enough for its lowest price): 0.74970 and 1.05350,
    # not 0.74970 and 1.0535.
    places: dict[tuple[str, str], int] = {}
    for s in report["signals"]:
        key = (s["exchange"], s["symbol"])
        places[key] = max(places.get(key, 0), render.decimals_for(s["entry"]) if s["entry"] else 2)
    for s in report["signals"]:
        d = places[(s["exchange"], s["symbol"])]
        rows.append(
            [
                s["time"][:16].replace("T", " "),
                s["strategy"],
                f"{s['exchange']} {s['symbol']}",
                s["direction"],
                render.price(s["entry"], d) if s["entry"] else "-",
                render.price(s["stop"], d) if s["stop"] is not None else "-",
                " / ".join(render.price(t, d) for t in s["targets"]) or "-",
                s["outcome"],
                f"{s['r']:+.2f}" if s["r"] is not None else "-",
            ]
        )
    if rows:
        lines += _table(
            ["time (UTC)", "strategy", "symbol", "dir", "entry", "stop", "targets", "outcome", "R"],
            rows,
            {4, 5, 6, 8},
        )
    else:
        lines.append("no signals")
    lines.append("")
    stat_rows = [
        [
            name,
            str(st["signals"]),
            str(st["count"]),
            f"{st['hit_rate']:.0%}" if st["count"] else "-",
            f"{st['avg_r']:+.2f}" if st["count"] else "-",
            f"{st['expectancy']:+.2f}" if st["count"] else "-",
            _interval(st),
            f"{st['profit_factor']:.2f}" if st["profit_factor"] is not None else "-",
            f"{st['total_r']:+.2f}",
            f"{st['max_drawdown_r']:.2f}",
            "" if st["judged"] or not st["count"] else "too few to judge",
        ]
        for name, st in report["stats"].items()
    ]
    lines += _table(
        [
            "strategy",
            "signals",
            "resolved",
            "hit rate",
            "avg R",
            "expectancy",
            "95% CI",
            "PF",
            "total R",
            "max DD R",
            "",
        ],
        stat_rows,
        {1, 2, 3, 4, 5, 6, 7, 8, 9},
    )
    lines.append(
        "R is net: after fees, slippage and funding (per signal: gross_r, fee_r, funding_r in --json)."
    )
    still_open = report["stats"][ALL]["open"]
    if still_open:
        lines.append(f"\n{still_open} signal(s) still open when the data ended: not in the statistics.")
    lines.append(f"\n{rp['messages']} Telegram message(s) would have been sent.")
    return "\n".join(lines) + "\n"
