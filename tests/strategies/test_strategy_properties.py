"""Properties every strategy keeps, on arbitrary event streams (including junk numbers).

* deterministic: the same events give the same candidates, from a fresh instance or a restored one;
* event time only: every candidate's time is an event's time (or a candle's close), and its expiry
  follows from it — nothing comes from a clock; the modules do not even import one;
* sane: no non-finite number anywhere, stops on the losing side, targets at 1R and 2R.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import signalbots.strategies as strategies_pkg
from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, Side, Ticker
from signalbots.settings import FundingSettings, LiquidationSettings, VolumeSettings
from signalbots.signals.model import Candidate, Direction
from signalbots.strategies.base import Strategy
from signalbots.strategies.funding import FundingStrategy
from signalbots.strategies.liquidation import LiquidationStrategy
from signalbots.strategies.volume import VolumeStrategy

T0 = 1_700_000_000_000

# Loose settings so that random streams actually produce candidates.
VOLUME = VolumeSettings(
    baseline=5,
    multiple=1.5,
    robust_z=1.0,
    min_body_pct=0.0,
    min_quote_volume_usd=0.0,
    liquidity_floor_usd=0.0,
)
LIQUIDATION = LiquidationSettings(
    other_threshold_usd=1_000.0, liquid_threshold_usd=5_000.0, major_threshold_usd=50_000.0, atr_period=2
)
FUNDING = FundingSettings(extreme_per_8h=0.0005, spread_apr=0.1, spread_volume_floor_usd=0.0)

_junk = st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf, 1e-300, 1e300])
_good_price = st.floats(min_value=0.01, max_value=1000.0)
_good_size = st.floats(min_value=1.0, max_value=1e7)
# mostly sane numbers (so candidates happen), sometimes junk (so it is refused cleanly)
_price = st.one_of(_good_price, _good_price, _good_price, _junk)
_size = st.one_of(_good_size, _good_size, _good_size, _junk)
# a small, lopsided universe, so that windows and baselines of one key fill up while spreads and
# other keys still occur
_key = st.sampled_from(
    [("binanceusdm", "SOL/USDT:USDT")] * 4
    + [("okx", "SOL/USDT:USDT")] * 2
    + [("binanceusdm", "DOGE/USDT:USDT"), ("okx", "DOGE/USDT:USDT")]
)


@st.composite
def _candle(draw: st.DrawFn, open_ms: int) -> Candle:
    o, c = draw(_price), draw(_price)
    spread = draw(st.floats(min_value=0.0, max_value=0.2))
    finite = [x for x in (o, c) if math.isfinite(x)]
    hi = max(finite, default=1.0) * (1 + spread)
    lo = min(finite, default=1.0) * (1 - spread)
    exchange, symbol = draw(_key)
    return Candle(
        exchange=exchange,
        symbol=symbol,
        time_ms=open_ms,
        timeframe="5m",
        open=o,
        high=draw(st.just(hi) | _price),
        low=draw(st.just(lo) | _price),
        close=c,
        volume=draw(_size),
        quote_volume=draw(st.none() | _size),
    )


@st.composite
def _event(draw: st.DrawFn, kind: str, t: int) -> MarketEvent:
    exchange, symbol = draw(_key)
    if kind == "ticker":
        return Ticker(exchange, symbol, t, draw(_price), draw(st.none() | _size))
    if kind == "liquidation":
        price, qty = draw(_price), draw(_size)
        return Liquidation(exchange, symbol, t, draw(st.sampled_from(Side)), price, qty, price * qty)
    interval = draw(st.sampled_from([1.0, 4.0, 8.0, 0.0, math.nan]))
    rate = draw(st.floats(min_value=-0.005, max_value=0.005) | _junk)
    next_ms = draw(st.none() | st.just(t + 3_600_000))
    return FundingSnapshot(exchange, symbol, t, rate, interval, next_ms, draw(st.none() | _price))


@st.composite
def _stream(draw: st.DrawFn, min_gap: int = -5_000) -> list[MarketEvent]:
    """A time-ordered mix; a candle event closes the current 5m candle and moves the clock to the next.

    Small negative gaps: events of one feed may arrive slightly out of order.
    """
    kinds = draw(
        st.lists(st.sampled_from(["candle", "ticker", "liquidation", "funding"]), min_size=40, max_size=100)
    )
    events: list[MarketEvent] = []
    t = T0
    for kind in kinds:
        if kind == "candle":
            candle_open = t - t % 300_000
            events.append(draw(_candle(candle_open)))
            t = candle_open + 300_000
        else:
            t += draw(st.integers(min_value=min_gap, max_value=60_000))
            events.append(draw(_event(kind, t)))
    return events


def _fresh() -> list[Strategy]:
    return [
        VolumeStrategy(settings=VOLUME),
        LiquidationStrategy(settings=LIQUIDATION),
        FundingStrategy(settings=FUNDING),
    ]


def _run(strategy: Strategy, events: Sequence[MarketEvent]) -> list[tuple[int, Candidate]]:
    return [(i, c) for i, e in enumerate(events) for c in strategy.on_event(e)]


def _check(c: Candidate, event: MarketEvent, expiry_s: float) -> None:
    numbers = [c.entry, c.strength, *c.targets, *c.facts.values()]
    if c.stop is not None:
        numbers.append(c.stop)
    assert all(math.isfinite(x) for x in numbers), c
    allowed = {event.time_ms}
    if isinstance(event, Candle):
        allowed.add(event.close_time_ms)
    assert c.time_ms in allowed
    assert c.expiry_ms == c.time_ms + expiry_s * 1000
    if c.direction is Direction.NONE:
        assert (c.stop, c.targets) == (None, ())
        return
    assert c.stop is not None and c.entry > 0 and c.stop > 0
    risk = c.entry - c.stop if c.direction is Direction.LONG else c.stop - c.entry
    assert risk > 0, c
    sign = 1 if c.direction is Direction.LONG else -1
    assert len(c.targets) == 2
    assert math.isclose(c.targets[0], c.entry + sign * risk, rel_tol=1e-9)
    assert math.isclose(c.targets[1], c.entry + 2 * sign * risk, rel_tol=1e-9)
    assert all(t > 0 for t in c.targets)


@settings(max_examples=60, deadline=None)
@given(events=_stream())
def test_strategies_are_deterministic_sane_and_event_timed(events: list[MarketEvent]) -> None:
    expiry = {"volume": VOLUME.expiry, "liquidation": LIQUIDATION.expiry, "funding": FUNDING.expiry}
    for first, second in zip(_fresh(), _fresh(), strict=True):
        a, b = _run(first, events), _run(second, events)
        assert a == b
        for i, c in a:
            assert c.strategy == first.name
            _check(c, events[i], expiry[first.name])


@settings(max_examples=30, deadline=None)
@given(events=_stream(min_gap=0), cut=st.integers(min_value=0, max_value=120))
def test_funding_restored_from_state_continues_like_the_original(events: list[MarketEvent], cut: int) -> None:
    # Only the latches persist; the spread legs are rebuilt, so compare extremes.
    only_funding = [e for e in events if isinstance(e, FundingSnapshot)]
    head, tail = only_funding[:cut], only_funding[cut:]
    original = FundingStrategy(settings=FUNDING)
    _run(original, head)
    restored = FundingStrategy(settings=FUNDING)
    restored.restore(original.state())
    extremes = [[c for _, c in _run(s, tail) if c.kind == "extreme"] for s in (original, restored)]
    assert extremes[0] == extremes[1]


def test_the_strategy_modules_read_no_clock_and_do_no_io() -> None:
    forbidden = {
        "time",
        "datetime",
        "asyncio",
        "signalbots.clock",
        "random",
        "os",
        "socket",
        "aiohttp",
        "ccxt",
    }
    root = Path(strategies_pkg.__file__).parent
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = {n for n in names if n.split(".")[0] in forbidden or n in forbidden}
            assert not bad, f"{path.name} imports {bad}"
            assert not isinstance(node, ast.AsyncFunctionDef | ast.Await), f"{path.name} awaits"
