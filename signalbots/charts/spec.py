"""What a chart shows, as plain picklable data, built from a signal and the recent market data.

Building a spec is cheap and pure (copies of a few hundred numbers), so it happens on the event loop at
the moment the signal is accepted — the picture shows the market as the strategy saw it. Drawing it is
``draw``'s job, in a worker process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from signalbots.events import Candle, FundingSnapshot, Liquidation, timeframe_ms
from signalbots.signals.model import Candidate, Direction, Signal

# How much context a signal chart shows.
_CANDLES = 60
_CASCADE_CANDLES = 36
_CASCADE_MARGIN_MS = 60_000


@dataclass(frozen=True, slots=True)
class Levels:
    direction: str
    entry: float
    stop: float | None
    targets: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FundingLeg:
    """One market's funding history: (time_ms, rate per 8h as a fraction, mark price or None)."""

    label: str
    points: tuple[tuple[int, float, float | None], ...]


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """``kind``: spike | cascade | extreme | spread | market (``/chart``)."""

    kind: str
    title: str
    lines: tuple[str, ...] = ()  # the reason in numbers, printed on the chart
    candles: tuple[Candle, ...] = ()
    baseline_median: float | None = None  # quote volume
    highlight_ms: int | None = None  # open time of the candle that fired
    event_ms: int | None = None
    prints: tuple[Liquidation, ...] = ()
    window: tuple[int, int] | None = None  # the liquidation window (ms)
    funding: tuple[FundingLeg, ...] = ()
    threshold_8h: float | None = None
    levels: Levels | None = None
    exit: tuple[int, float] | None = None  # outcome charts: where the signal resolved
    width: int = 1000
    height: int = 640


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def market_chart(c: Candidate) -> ChartSpec:
    """A candidate of a kind no strategy draws: its title and levels."""
    return ChartSpec(kind="market", title=_title(c), event_ms=c.time_ms, levels=_levels(c))


def _levels(c: Candidate) -> Levels | None:
    if c.direction is Direction.NONE or c.stop is None:
        return None
    return Levels(c.direction.value, c.entry, c.stop, tuple(c.targets))


def _title(c: Candidate) -> str:
    side = f" · {c.direction.value.upper()}" if c.direction is not Direction.NONE else ""
    return f"{c.strategy} {c.kind} · {c.exchange} {c.symbol}{side} · {_utc(c.time_ms)}"


def _leg(label: str, points: list[FundingSnapshot]) -> FundingLeg:
    out = []
    for p in points:
        if p.interval_hours > 0:
            out.append((p.time_ms, p.rate * 8.0 / p.interval_hours, p.mark_price))
    return FundingLeg(label, tuple(out))


class History(Protocol):
    """What the chart builders read (``MarketHistory`` provides it)."""

    def candles(self, exchange: str, symbol: str, timeframe: str) -> list[Candle]: ...
    def timeframes(self, exchange: str, symbol: str) -> list[str]: ...
    def prints(self, exchange: str, symbol: str) -> list[Liquidation]: ...
    def funding(self, exchange: str, symbol: str) -> list[FundingSnapshot]: ...
    def funding_legs(
        self, base: str, exchanges: set[str]
    ) -> list[tuple[str, str, list[FundingSnapshot]]]: ...


def _shortest(history: History, exchange: str, symbol: str) -> list[Candle]:
    frames = sorted(history.timeframes(exchange, symbol), key=timeframe_ms)
    return history.candles(exchange, symbol, frames[0]) if frames else []


def spike_chart(c: Candidate, history: History) -> ChartSpec:
    """A volume spike: the candles up to the one that fired, with the baseline's median."""
    f = c.facts
    candles: list[Candle] = []
    for tf in history.timeframes(c.exchange, c.symbol):
        series = [x for x in history.candles(c.exchange, c.symbol, tf) if x.close_time_ms <= c.time_ms]
        if series and series[-1].close_time_ms == c.time_ms:
            candles = series
            break
    lines: tuple[str, ...] = (
        f"quote volume {f.get('quote_volume_usd', 0):,.0f} USD = "
        f"{f.get('volume_multiple', 0):.1f}× the median of the baseline",
        f"robust z {f.get('robust_z', 0):.1f} · body {f.get('body_pct', 0):+.2f}%",
    )
    return ChartSpec(
        kind="spike",
        title=_title(c),
        lines=lines,
        candles=tuple(candles[-_CANDLES:]),
        baseline_median=f.get("baseline_median_usd"),
        highlight_ms=candles[-1].time_ms if candles else None,
        event_ms=c.time_ms,
        levels=_levels(c),
    )


def cascade_chart(c: Candidate, history: History) -> ChartSpec:
    """A liquidation cascade: the window's prints over the shortest candles held."""
    f = c.facts
    window_ms = int(f.get("window_s", 300.0) * 1000)
    start = c.time_ms - window_ms
    prints = [p for p in history.prints(c.exchange, c.symbol) if start < p.time_ms <= c.time_ms]
    candles = [x for x in _shortest(history, c.exchange, c.symbol) if x.time_ms <= c.time_ms]
    count = _count(int(f.get("prints", len(prints))), "print")
    lines = (
        f"{count}, {f.get('window_notional_usd', 0):,.0f} USD "
        f"liquidated in {window_ms / 1000:g}s (threshold {f.get('threshold_usd', 0):,.0f} USD)",
    )
    return ChartSpec(
        kind="cascade",
        title=_title(c),
        lines=lines,
        candles=tuple(candles[-_CASCADE_CANDLES:]),
        prints=tuple(prints),
        window=(start, c.time_ms),
        event_ms=c.time_ms,
        levels=_levels(c),
    )


def extreme_chart(c: Candidate, history: History) -> ChartSpec:
    """A funding extreme: the market's funding history up to the snapshot, with the threshold."""
    f = c.facts
    points = [p for p in history.funding(c.exchange, c.symbol) if p.time_ms <= c.time_ms]
    leg = _leg(f"{c.exchange} {c.symbol}", points)
    if not leg.points or leg.points[-1][0] != c.time_ms:
        # The triggering snapshot itself, even when the history has not seen it yet.
        now = (c.time_ms, f.get("rate_8h", 0.0), f.get("mark_price"))
        leg = FundingLeg(leg.label, (*leg.points, now))
    lines = (
        f"funding {f.get('rate_8h', 0) * 100:+.4f}% per 8h (APR {f.get('apr', 0) * 100:+.1f}%), "
        f"threshold ±{f.get('threshold_8h', 0) * 100:.2f}%",
    )
    return ChartSpec(
        kind="extreme",
        title=_title(c),
        lines=lines,
        funding=(leg,),
        threshold_8h=f.get("threshold_8h"),
        event_ms=c.time_ms,
        levels=_levels(c),
    )


def spread_chart(c: Candidate, history: History) -> ChartSpec:
    """A funding spread: both legs' funding histories."""
    f = c.facts
    base = c.symbol.split(" ", 1)[0]
    legs = history.funding_legs(base, set(c.exchange.split("+")))
    lines = (
        f"APR spread {f.get('apr_spread', 0) * 100:.1f}%: "
        f"long leg {f.get('apr_long_leg', 0) * 100:+.1f}%, "
        f"short leg {f.get('apr_short_leg', 0) * 100:+.1f}%",
    )
    return ChartSpec(
        kind="spread",
        # the composite "symbol" of a spread names both legs: too long for a title, it goes below
        title=f"{c.strategy} spread · {base} · {c.exchange} · {_utc(c.time_ms)}",
        lines=(*lines, *c.notes[:1]),
        funding=tuple(
            _leg(f"{ex} {sym}", [p for p in pts if p.time_ms <= c.time_ms]) for ex, sym, pts in legs
        ),
        event_ms=c.time_ms,
    )


def for_outcome(sig: Signal, history: History, *, before: int = 12) -> ChartSpec:
    """A small picture of the path from the signal to its outcome: the held candles from a little before
    the signal to its resolution (the history holds hours, not days: a long path shows its recent part)."""
    c = sig.candidate
    end = sig.resolved_ms if sig.resolved_ms is not None else c.expiry_ms
    series = _shortest(history, c.exchange, c.symbol)
    step = timeframe_ms(series[0].timeframe) if series else 0
    candles = [x for x in series if c.time_ms - before * step <= x.time_ms < end]
    r = f" {sig.r_multiple:+.2f}R" if sig.r_multiple is not None else ""
    return ChartSpec(
        kind="outcome",
        title=f"{c.strategy} {c.kind} · {c.exchange} {c.symbol} · {sig.status.value}{r}",
        lines=(f"signal {_utc(c.time_ms)} → resolved {_utc(end)}",),
        candles=tuple(candles),
        event_ms=c.time_ms,
        levels=_levels(c),
        exit=(end, sig.exit_price) if sig.exit_price is not None else None,
        width=800,
        height=480,
    )


def resample(candles: list[Candle], timeframe: str) -> list[Candle]:
    """Candles of a longer ``timeframe`` built from shorter ones (only complete buckets)."""
    if not candles:
        return []
    size = timeframe_ms(timeframe)
    step = timeframe_ms(candles[0].timeframe)
    if size == step:
        return list(candles)
    if size < step or size % step:
        raise ValueError(f"cannot build {timeframe} candles from {candles[0].timeframe} ones")
    out: list[Candle] = []
    bucket: list[Candle] = []
    for c in candles:
        if bucket and c.time_ms // size != bucket[0].time_ms // size:
            out.append(_merge(bucket, timeframe))
            bucket = []
        bucket.append(c)
    if bucket:
        out.append(_merge(bucket, timeframe))
    if out and len([c for c in candles if c.time_ms // size == out[0].time_ms // size]) < size // step:
        out.pop(0)  # the first bucket began before the held candles: a partial candle would mislead
    return out


def _merge(bucket: list[Candle], timeframe: str) -> Candle:
    first, last = bucket[0], bucket[-1]
    quotes = [c.quote_volume_or_estimate() for c in bucket]
    return Candle(
        exchange=first.exchange,
        symbol=first.symbol,
        time_ms=first.time_ms - first.time_ms % timeframe_ms(timeframe),
        timeframe=timeframe,
        open=first.open,
        high=max(c.high for c in bucket),
        low=min(c.low for c in bucket),
        close=last.close,
        volume=sum(c.volume for c in bucket),
        quote_volume=sum(quotes),
    )


def for_market(
    history: History, exchange: str, symbol: str, timeframe: str | None, *, count: int = _CANDLES
) -> ChartSpec | None:
    """``/chart``: the recent candles (resampled to ``timeframe`` when asked) with volume and its median,
    the liquidation prints held and the funding history. None when nothing is held for the symbol."""
    frames = sorted(history.timeframes(exchange, symbol), key=timeframe_ms)
    candles: list[Candle] = []
    if frames:
        wanted = timeframe or frames[0]
        if wanted in frames:
            candles = history.candles(exchange, symbol, wanted)
        else:
            candles = resample(history.candles(exchange, symbol, frames[0]), wanted)
    funding = history.funding(exchange, symbol)
    if not candles and not funding:
        return None
    candles = candles[-count:]
    quotes = sorted(c.quote_volume_or_estimate() for c in candles)
    median = quotes[len(quotes) // 2] if quotes else None
    tf = candles[0].timeframe if candles else ""
    title = f"{exchange} {symbol} {tf}".rstrip()
    end = candles[-1].close_time_ms if candles else funding[-1].time_ms
    start = candles[0].time_ms if candles else funding[0].time_ms
    return ChartSpec(
        kind="market",
        title=f"{title} · {_utc(end)}",
        lines=(f"{len(candles)} candles; median quote volume {median:,.0f} USD" if median else "",),
        candles=tuple(candles),
        baseline_median=median,
        prints=tuple(p for p in history.prints(exchange, symbol) if p.time_ms >= start),
        funding=(_leg(f"{exchange} {symbol}", [p for p in funding if p.time_ms >= start]),)
        if funding
        else (),
        event_ms=end,
    )
