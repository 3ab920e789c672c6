"""Binance's open interest, one symbol a request, against the simulator on a ManualClock: every symbol once
per five minutes, evenly spaced, within its share of the weight budget, and on after a rate limit."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalbots.events import OpenInterest
from signalbots.exchange.open_interest import OpenInterestFeed
from signalbots.exchange.venues import VENUES
from tests.exchange.test_feeds import EX, Rig, rig

PATH = "/fapi/v1/openInterest"


def test_the_spacing_spreads_the_interval_and_never_exceeds_the_budget_share() -> None:
    fields = VENUES[EX].open_interest
    assert fields is not None
    budget = VENUES[EX].budget  # 2400 a minute: 5 % is 2 requests a second
    # 550 symbols: a round in 285 s (95 % of 5 minutes, slack for late answers), one request every 0.518 s
    assert fields.spacing(budget, 550) == pytest.approx(285 / 550)
    assert fields.cadence(budget, 550) == 300.0  # no figure older than 5 minutes
    assert 550 / 285 * 60 / 2400 < 0.05  # 116 weight a minute: 4.8 %
    assert fields.spacing(budget, 40) == pytest.approx(7.125)
    assert fields.spacing(budget, 700) == 0.5  # more symbols: a longer round (5 m 50 s), the same share
    assert fields.cadence(budget, 700) == pytest.approx(350.0)


async def test_every_symbol_once_per_interval_evenly_spaced_and_valued_at_the_ticker() -> None:
    async with rig(symbols=40) as r:
        symbols = sorted(r.gateway.markets)
        prices = {s: 10.0 for s in symbols}
        r.liquidity.update(EX, {s: 1e9 - i for i, s in enumerate(symbols)}, prices)
        r.sim.market.set_open_interest(EX, symbols[0], 123_456.0)
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.sim.requests(EX, path=PATH)) == 1, "the first request at once")
        for step in range(1, 40):  # 285 s / 40 symbols: one request every 7.125 s
            r.clock.advance(7.125)
            await r.until(lambda: len(r.sim.requests(EX, path=PATH)) == step + 1, f"request {step}")  # noqa: B023
            assert len(r.sim.requests(EX, path=PATH)) == step + 1  # never two at once
        events = r.events(OpenInterest)
        assert sorted(e.symbol for e in events) == symbols  # each once, in one interval
        first = next(e for e in events if e.symbol == symbols[0])
        assert (first.base, first.usd) == (123_456.0, 1_234_560.0)  # coins × the ticker's 10.0
        r.clock.advance(7.125)  # the next round begins, most liquid first again
        await r.until(lambda: len(r.events(OpenInterest)) == 41, "the second round")
        assert r.events(OpenInterest)[-1].symbol == symbols[0]


async def test_a_rate_limit_pauses_the_round_and_it_carries_on_without_a_burst() -> None:
    async with rig(symbols=20) as r:
        symbols = sorted(r.gateway.markets)
        r.liquidity.update(EX, {s: 1e9 - i for i, s in enumerate(symbols)}, dict.fromkeys(symbols, 5.0))
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(OpenInterest)) == 1, "the first figure")
        r.sim.inject(EX, "rate_limit", path="openInterest", retry_after=30)
        r.clock.advance(14.25)  # 285 s / 20 symbols: the second request is due
        await r.until(lambda: r.gateway.paused_for() > 0, "the 429 pauses the exchange")
        asked = len(r.sim.requests(EX, path=PATH))
        r.clock.advance(31.0)  # the pause is over: one request, then the schedule again
        await r.until(lambda: len(r.events(OpenInterest)) == 2, "carried on")
        assert len(r.sim.requests(EX, path=PATH)) == asked + 1


def _reads(r: Rig) -> dict[str, list[float]]:
    """Each symbol's request times (the simulator's clock: the test's), by the exchange's symbol id."""
    out: dict[str, list[float]] = {}
    for request in r.sim.requests(EX, path=PATH):
        out.setdefault(str(request.query["symbol"]), []).append(request.monotonic)
    return out


async def _step(r: Rig, seconds: float, asked: int) -> None:
    r.clock.advance(seconds)
    await r.until(lambda: len(r.sim.requests(EX, path=PATH)) == asked, f"{asked} requests")


async def test_a_symbol_is_read_one_round_after_its_last_read_whatever_the_liquidity_did() -> None:
    async with rig(symbols=40) as r:
        symbols = sorted(r.gateway.markets)
        prices = dict.fromkeys(symbols, 10.0)
        r.liquidity.update(EX, {s: 1e9 - i for i, s in enumerate(symbols)}, prices)
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await _step(r, 0.0, 1)
        start = r.clock.monotonic()
        for asked in range(2, 21):
            await _step(r, 7.125, asked)
        # The ranking turns upside down during the round: the most liquid symbol becomes the least.
        r.liquidity.update(EX, {s: 1e9 + i for i, s in enumerate(symbols)}, prices)
        for asked in range(21, 81):
            await _step(r, 7.125, asked)
        reads = _reads(r)
        assert sorted(reads) == sorted(r.gateway.markets[s]["id"] for s in symbols)
        for times in reads.values():  # each symbol once a round, 285 s (95 % of the 5 minutes) apart
            assert len(times) == 2
            assert times[1] - times[0] == pytest.approx(285.0)
        last_of_round = max(times[0] for times in reads.values())
        assert last_of_round - start == pytest.approx(39 * 7.125)  # the round within 285 s of its 300


async def test_a_slow_answer_does_not_hold_the_next_symbol_back() -> None:
    async with rig(symbols=20, request_timeout=600.0) as r:
        symbols = sorted(r.gateway.markets)
        r.liquidity.update(EX, {s: 1e9 - i for i, s in enumerate(symbols)}, dict.fromkeys(symbols, 5.0))
        r.sim.inject(EX, "hang", path="openInterest", symbol=r.gateway.markets[symbols[1]]["id"])
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await _step(r, 0.0, 1)
        r.clock.advance(14.25)  # the second symbol's request: no answer (the simulator logs it when it ends)
        await _step(r, 14.25, 2)  # the third leaves at its slot all the same
        assert r.sim.requests(EX, path=PATH)[-1].query["symbol"] == r.gateway.markets[symbols[2]]["id"]
        await r.until(lambda: len(r.events(OpenInterest)) == 2, "the third symbol's figure")
        assert sorted(e.symbol for e in r.events(OpenInterest)) == sorted([symbols[0], symbols[2]])


async def test_late_wake_ups_neither_exceed_the_budget_share_nor_age_a_figure_past_the_cadence() -> None:
    async with rig(symbols=600) as r:  # above 588 the budget share, not the interval, sets the spacing
        symbols = sorted(r.gateway.markets)
        r.liquidity.update(EX, {s: 1e9 - i for i, s in enumerate(symbols)}, dict.fromkeys(symbols, 5.0))
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await _step(r, 0.0, 1)
        start = r.clock.monotonic()
        for jump in range(1, 73):  # every wake-up up to 5 s late, for a round and a minute
            await _step(r, 5.0, 10 * jump + 1)  # a request every 0.5 s: the ones due go at once
        reads = _reads(r)
        assert len(reads) == 600 and all(times[0] - start <= 300.0 for times in reads.values())
        again = [times for times in reads.values() if len(times) == 2]
        assert len(again) == 121 and all(t[1] - t[0] == pytest.approx(300.0) for t in again)
        budget = VENUES[EX].budget
        per_minute = Counter(int((t - start) // 60) for times in reads.values() for t in times)
        assert max(per_minute.values()) <= 0.05 * budget.units * 60 / budget.window  # 120 weight a minute


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "inf", "-1", "1e400", "12.5"]),
)


@given(
    raw=st.one_of(
        st.dictionaries(st.sampled_from(["openInterest", "oiCcy", "oiUsd", "holdVol", "ts"]), _values),
        _values,
    ),
    price=st.one_of(st.none(), st.floats()),
    size=st.one_of(st.none(), st.floats()),
)
def test_property_any_entry_reads_as_a_finite_figure_or_none(
    raw: object, price: float | None, size: float | None
) -> None:
    for fields in (v.open_interest for v in VENUES.values()):
        assert fields is not None
        got = fields.read(raw, price=price, contract_size=size)
        assert got is None or all(math.isfinite(x) and x >= 0 for x in got)
        fields.time_ms(raw)  # never raises
