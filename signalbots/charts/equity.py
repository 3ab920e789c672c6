"""``backtest --plot``: cumulative R per strategy over time, the signals marked, the statistics beside it.

Drawn from the backtest's report document (the same one ``--json`` prints), in-process: the backtest is a
command, not the event loop, and matplotlib is imported only here and only when ``--plot`` is given.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

_COLORS = ("#1e88e5", "#8e24aa", "#fb8c00", "#00897b", "#6d4c41")
_OUTCOME_MARKERS = {"target2": "*", "target1": "^", "stopped": "v", "expired": "s"}


def _x(ms: int) -> Any:
    import numpy as np

    return np.datetime64(int(ms), "ms")


def draw_equity(report: dict[str, Any], *, width: int = 1400, height: int = 700) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    replay = report.get("replay", {})
    fig.suptitle(
        f"signalbots backtest · {replay.get('from') or '?'} → {replay.get('to') or '?'} · "
        f"{replay.get('events', 0):,} events",
        fontsize=11,
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    ax = fig.add_axes((0.06, 0.1, 0.56, 0.78))
    table_ax = fig.add_axes((0.65, 0.1, 0.34, 0.78))
    table_ax.set_axis_off()
    signals: list[dict[str, Any]] = report.get("signals", [])
    names = [n for n in report.get("stats", {}) if n != "all"]
    resolved = sorted(
        (s for s in signals if s.get("r") is not None and s.get("resolved_ms") is not None),
        key=lambda s: (s["resolved_ms"], s["id"]),
    )
    start = replay_start(signals, resolved)
    for i, name in enumerate([*names, "all"]):
        mine = [s for s in resolved if name == "all" or s["strategy"] == name]
        if name != "all" and not any(s["strategy"] == name for s in signals):
            continue
        color = "black" if name == "all" else _COLORS[i % len(_COLORS)]
        times, curve, total = [_x(start)], [0.0], 0.0
        for s in mine:
            total += s["r"]
            times.append(_x(s["resolved_ms"]))
            curve.append(total)
        if name == "all" and len(names) < 2:
            continue  # one strategy: its own curve is the total
        ax.step(
            times,
            curve,
            where="post",
            color=color,
            linewidth=2.0 if name == "all" else 1.5,
            linestyle="--" if name == "all" else "-",
            label=f"{name} ({total:+.2f} R)",
        )
        if name == "all":
            continue
        # each signal: a tick where it fired, and its outcome where it resolved
        for s in (s for s in signals if s["strategy"] == name):
            ax.axvline(_x(s["time_ms"]), color=color, alpha=0.25, linewidth=1.0)
            level = sum(r["r"] for r in mine if r["resolved_ms"] <= s["time_ms"])
            ax.scatter(
                [_x(s["time_ms"])],
                [level],
                marker=">" if s["direction"] == "long" else ("<" if s["direction"] == "short" else "o"),
                color=color,
                s=45,
                zorder=3,
            )
            if s.get("r") is not None and s.get("resolved_ms") is not None:
                after = sum(
                    r["r"] for r in mine if (r["resolved_ms"], r["id"]) <= (s["resolved_ms"], s["id"])
                )
                ax.scatter(
                    [_x(s["resolved_ms"])],
                    [after],
                    marker=_OUTCOME_MARKERS.get(s["outcome"], "o"),
                    color=color,
                    edgecolors="black",
                    s=70,
                    zorder=4,
                )
                ax.annotate(
                    f"{s['r']:+.2f}R",
                    xy=(_x(s["resolved_ms"]), after),
                    xytext=(4, 6),
                    textcoords="offset points",
                    fontsize=7.5,
                    color=color,
                )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.grid(True, alpha=0.25)
    ax.set_ylabel("cumulative net R (after costs, in resolution order)")
    ax.set_xlabel("UTC · ▷/◁ signal (long/short) · ★ target 2 · ▲ target 1 · ▼ stopped · ■ expired")
    if signals:
        ax.legend(loc="upper left", fontsize=8.5)
    else:
        ax.text(0.5, 0.5, "no signals in this replay", ha="center", va="center", transform=ax.transAxes)
    format_time_axis(ax)
    _stats_table(table_ax, report.get("stats", {}))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def format_time_axis(ax: Any) -> None:
    """Dates a reader can place: every day tick names its month ("16 Nov"), every year tick its year, and the
    hours between say their day. matplotlib's concise default printed bare day numbers ("16", "17") and put
    the month only in an offset label at the far end of the axis, easy to miss or to lose."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%b %Y", "%d %b %Y", "%d %b", "%H:%M", "%H:%M"],
        offset_formats=["", "%Y", "%b %Y", "%d %b %Y", "%d %b %Y", "%d %b %Y %H:%M"],
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def replay_start(signals: list[dict[str, Any]], resolved: list[dict[str, Any]]) -> int:
    times = [s["time_ms"] for s in signals] + [s["resolved_ms"] for s in resolved]
    return min(times) if times else 0


def _stats_table(ax: Any, stats: dict[str, dict[str, Any]]) -> None:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("signals", lambda s: f"{s['signals']}"),
        ("resolved", lambda s: f"{s['count']}"),
        ("hit rate", lambda s: f"{s['hit_rate']:.0%}" if s["count"] else "–"),
        ("avg R", lambda s: f"{s['avg_r']:+.2f}" if s["count"] else "–"),
        ("expectancy R", lambda s: f"{s['expectancy']:+.2f}" if s["count"] else "–"),
        ("best R", lambda s: f"{s['best_r']:+.2f}" if s["count"] else "–"),
        ("worst R", lambda s: f"{s['worst_r']:+.2f}" if s["count"] else "–"),
        ("total R", lambda s: f"{s['total_r']:+.2f}"),
        ("max drawdown R", lambda s: f"{s['max_drawdown_r']:.2f}"),
        ("open / alerts", lambda s: f"{s['open']} / {s['alerts']}"),
    ]
    names = list(stats)
    if not names:
        return
    cells = [[label, *(fmt(stats[n]) for n in names)] for label, fmt in rows]
    table = ax.table(
        cellText=cells,
        colLabels=["", *(n.replace("_", "\n") for n in names)],  # "open_interest" on two lines
        loc="upper center",
        cellLoc="center",
        colWidths=[0.24] + [0.76 / len(names)] * len(names),
        bbox=(0.0, 0.3, 1.0, 0.65),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, _), cell in table.get_celld().items():
        if row == 0:  # strategy names: smaller, so that five columns fit their names
            cell.get_text().set_fontsize(7.5)
    ax.set_title("statistics per strategy", fontsize=10, loc="left")
