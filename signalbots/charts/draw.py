"""``draw(spec) -> PNG bytes`` with matplotlib's Agg backend (no display, no pyplot global state).

matplotlib is imported inside ``draw`` so that importing this module costs nothing; the daemon calls it
only in its chart worker process, the backtest only when ``--plot`` is given.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from signalbots.charts.spec import ChartSpec, FundingLeg, Levels
from signalbots.events import Candle, Side, timeframe_ms

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_UP = "#26a69a"
_DOWN = "#ef5350"
_ENTRY = "#1e88e5"
_STOP = "#e53935"
_TARGET = "#43a047"
_DAY_MS = 86_400_000


def _x(ms: int) -> Any:
    import numpy as np

    return np.datetime64(int(ms), "ms")


def draw(spec: ChartSpec) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(spec.width / 100, spec.height / 100), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle(spec.title, fontsize=11, x=0.01, ha="left", fontweight="bold")
    text = "\n".join(line for line in spec.lines if line)
    if text:
        fig.text(0.01, 0.935, text, fontsize=8.5, va="top", ha="left", color="#444444")
    top = 0.86 if text else 0.92
    if spec.kind in ("spike", "market") and spec.candles:
        _candles_and_volume(fig, spec, top)
    elif spec.kind == "outcome":
        _outcome(fig, spec, top)
    elif spec.kind == "cascade":
        _cascade(fig, spec, top)
    elif spec.kind in ("extreme", "spread") or spec.funding:
        _funding(fig, spec, top)
    else:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no market data held for this chart", ha="center", va="center")
        ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _grid(fig: Any, top: float, ratios: Sequence[float], *, shared: bool = True) -> list[Axes]:
    gs = fig.add_gridspec(len(ratios), 1, height_ratios=list(ratios), hspace=0.08 if shared else 0.3)
    gs.update(left=0.08, right=0.86, top=top, bottom=0.09)
    axes: list[Axes] = []
    for i in range(len(ratios)):
        axes.append(fig.add_subplot(gs[i, 0], sharex=axes[0] if axes and shared else None))
    if shared:
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)
    for ax in axes:
        ax.grid(True, alpha=0.25)
    return axes


def _draw_candles(ax: Axes, candles: Sequence[Candle], highlight_ms: int | None) -> float:
    width_days = timeframe_ms(candles[0].timeframe) / _DAY_MS * 0.7
    import numpy as np

    for c in candles:
        color = _UP if c.close >= c.open else _DOWN
        mid = _x(c.time_ms + timeframe_ms(c.timeframe) // 2)
        ax.vlines(mid, c.low, c.high, color=color, linewidth=0.8)
        body = max(abs(c.close - c.open), (c.high - c.low) * 0.01, 1e-12)
        ax.bar(
            mid,
            body,
            width=np.timedelta64(int(width_days * _DAY_MS), "ms"),
            bottom=min(c.open, c.close),
            color=color,
            edgecolor="black" if c.time_ms == highlight_ms else color,
            linewidth=1.2 if c.time_ms == highlight_ms else 0.5,
        )
    ax.set_ylabel("price")
    return width_days


def _levels(ax: Axes, levels: Levels | None) -> None:
    if levels is None:
        return
    lines = [("entry", levels.entry, _ENTRY, "-")]
    if levels.stop is not None:
        lines.append(("stop", levels.stop, _STOP, "--"))
    lines += [(f"target {i}", t, _TARGET, "--") for i, t in enumerate(levels.targets, 1)]
    for label, y, color, style in lines:
        ax.axhline(y, color=color, linestyle=style, linewidth=1.0)
        ax.annotate(
            f"{label} {y:.6g}",
            xy=(1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=color,
            annotation_clip=False,
        )
    lo = min(y for _, y, _, _ in lines)
    hi = max(y for _, y, _, _ in lines)
    y0, y1 = ax.get_ylim()
    pad = (max(hi, y1) - min(lo, y0)) * 0.04
    ax.set_ylim(min(lo, y0) - pad, max(hi, y1) + pad)


def _candles_and_volume(fig: Any, spec: ChartSpec, top: float) -> None:
    with_funding = spec.kind == "market" and bool(spec.funding)
    axes = _grid(fig, top, (3, 1.3, 1.1) if with_funding else (3, 1.3))
    price, volume = axes[0], axes[1]
    candles = spec.candles
    import numpy as np

    _draw_candles(price, candles, spec.highlight_ms)
    if spec.kind == "market" and spec.prints:
        _print_dots(price, spec)
    _levels(price, spec.levels)
    step = timeframe_ms(candles[0].timeframe)
    width = np.timedelta64(int(step * 0.7), "ms")
    for c in candles:
        hit = c.time_ms == spec.highlight_ms
        volume.bar(
            _x(c.time_ms + step // 2),
            c.quote_volume_or_estimate(),
            width=width,
            color=("#ff9800" if hit else (_UP if c.close >= c.open else _DOWN)),
            alpha=1.0 if hit else 0.6,
        )
    if spec.baseline_median:
        volume.axhline(spec.baseline_median, color="#555555", linestyle=":", linewidth=1.2)
        volume.annotate(
            f"median {_usd(spec.baseline_median)}",
            xy=(1.0, spec.baseline_median),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            annotation_clip=False,
        )
    volume.set_ylabel("quote volume")
    volume.yaxis.set_major_formatter(_usd_formatter())
    if with_funding:
        _funding_lines(axes[2], spec.funding, None)
    _dates(axes[-1])


def _outcome(fig: Any, spec: ChartSpec, top: float) -> None:
    (price,) = _grid(fig, top, (1,))
    if spec.candles:
        _draw_candles(price, spec.candles, None)
    else:
        price.set_ylabel("price")
    if spec.event_ms is not None:
        price.axvline(_x(spec.event_ms), color=_ENTRY, linestyle=":", linewidth=1.0)
    if spec.exit is not None:
        price.scatter([_x(spec.exit[0])], [spec.exit[1]], marker="X", s=120, color="black", zorder=4)
        price.annotate(
            f"exit {spec.exit[1]:.6g}",
            xy=(_x(spec.exit[0]), spec.exit[1]),
            xytext=(-8, 10),
            textcoords="offset points",
            ha="right",
            fontsize=8,
        )
    _levels(price, spec.levels)
    _dates(price)


def _print_dots(ax: Axes, spec: ChartSpec) -> None:
    for side, color in ((Side.LONG, _DOWN), (Side.SHORT, _UP)):
        pts = [p for p in spec.prints if p.side is side]
        if pts:
            ax.scatter(
                [_x(p.time_ms) for p in pts],
                [p.price for p in pts],
                s=[max(8.0, min(200.0, p.notional_usd / 20_000)) for p in pts],
                color=color,
                alpha=0.7,
                edgecolors="black",
                linewidths=0.4,
                label=f"{side.value}s liquidated",
                zorder=3,
            )


def _cascade(fig: Any, spec: ChartSpec, top: float) -> None:
    # The price panel gives the context; the bars panel zooms into the window itself.
    price, bars = _grid(fig, top, (3, 1.6), shared=False)
    if spec.candles:
        _draw_candles(price, spec.candles, None)
    else:
        price.set_ylabel("price")
    _print_dots(price, spec)
    _levels(price, spec.levels)
    if spec.prints:
        price.legend(loc="upper left", fontsize=8)
    import numpy as np

    span = (spec.window[1] - spec.window[0]) if spec.window is not None else 300_000
    width = np.timedelta64(max(1_000, span // 60), "ms")
    for side, color, sign in ((Side.LONG, _DOWN, -1.0), (Side.SHORT, _UP, 1.0)):
        pts = [p for p in spec.prints if p.side is side]
        if pts:
            bars.bar(
                [_x(p.time_ms) for p in pts],
                [sign * p.notional_usd for p in pts],
                width=width,
                color=color,
                label=f"{side.value}s liquidated",
            )
    bars.axhline(0, color="black", linewidth=0.6)
    bars.set_ylabel("liquidated (USD)\nlongs ↓  shorts ↑")
    bars.yaxis.set_major_formatter(_usd_formatter(absolute=True))
    if spec.window is not None:
        for ax in (price, bars):
            ax.axvspan(_x(spec.window[0]), _x(spec.window[1]), color="#ffcc80", alpha=0.25)
        margin = max(30_000, (spec.window[1] - spec.window[0]) // 10)
        bars.set_xlim(_x(spec.window[0] - margin), _x(spec.window[1] + margin))
        if not spec.candles:
            price.set_xlim(_x(spec.window[0] - margin), _x(spec.window[1] + margin))
    bars.set_title("the window's liquidation prints", fontsize=8.5, loc="left")
    _dates(price)
    _dates(bars)


def _funding_lines(ax: Axes, legs: Sequence[FundingLeg], threshold: float | None) -> None:
    for i, leg in enumerate(legs):
        if leg.points:
            ax.step(
                [_x(t) for t, _, _ in leg.points],
                [r * 100 for _, r, _ in leg.points],
                where="post",
                label=leg.label,
                linewidth=1.4,
                linestyle=("-", "--", ":")[i % 3],  # legs at the same rate stay distinguishable
                marker="." if len(leg.points) < 40 else None,
            )
    if threshold:
        for sign in (1, -1):
            ax.axhline(sign * threshold * 100, color=_STOP, linestyle="--", linewidth=1.0)
        ax.annotate(
            f"±{threshold * 100:.2f}%",
            xy=(1.0, threshold * 100),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=_STOP,
            annotation_clip=False,
        )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("funding % / 8h")
    if legs:
        ax.legend(loc="upper left", fontsize=8)


def _funding(fig: Any, spec: ChartSpec, top: float) -> None:
    marks = [(t, m) for leg in spec.funding[:1] for t, _, m in leg.points if m is not None]
    if spec.kind == "extreme" and (marks or spec.levels is not None):
        rate, mark = _grid(fig, top, (2, 1.6))
        _funding_lines(rate, spec.funding, spec.threshold_8h)
        if marks:
            mark.plot([_x(t) for t, _ in marks], [m for _, m in marks], color="#6d4c41", linewidth=1.2)
        mark.set_ylabel("mark price")
        _levels(mark, spec.levels)
        _dates(mark)
        return
    (rate,) = _grid(fig, top, (1,))
    _funding_lines(rate, spec.funding, spec.threshold_8h)
    _dates(rate)


def _dates(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("UTC")


def _usd(v: float) -> str:
    v = abs(v)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"${v / div:.3g}{unit}"
    return f"${v:.3g}"


def _usd_formatter(*, absolute: bool = False) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: _usd(v) if (absolute or v >= 0) else "-" + _usd(v))
