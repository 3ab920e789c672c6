"""Breakers: nothing leaves while open, one probe when half-open, a bad symbol never silences its endpoint."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from signalbots.clock import ManualClock
from signalbots.errors import CircuitOpen
from signalbots.exchange.breaker import BreakerRegistry, BreakerState
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings

EX, EP = "binanceusdm", "fetch_ohlcv"
SETTINGS = BreakerSettings(failures=5, cooldown=30.0, cooldown_max=120.0)


def make(clock: ManualClock) -> tuple[BreakerRegistry, Metrics]:
    metrics = Metrics()
    return BreakerRegistry(settings=SETTINGS, clock=clock, metrics=metrics), metrics


def passes(reg: BreakerRegistry, symbol: str | None = None) -> bool:
    try:
        reg.check(EX, EP, symbol)
    except CircuitOpen:
        return False
    return True


def transitions(metrics: Metrics, state: str) -> float:
    value = metrics.registry.get_sample_value(
        "signalbots_breaker_transitions_total", {"exchange": EX, "endpoint": EP, "state": state}
    )
    return value or 0.0


def test_lifecycle_open_half_open_probe_reopen_doubled_then_recover() -> None:
    clock = ManualClock()
    reg, metrics = make(clock)
    with capture_logs() as logs:
        for _ in range(4):
            reg.record_failure(EX, EP)
        assert passes(reg)
        reg.record_failure(EX, EP)
        assert reg.open_circuits() == ["binanceusdm fetch_ohlcv"]
        assert not passes(reg)
        [snap] = reg.snapshot()
        assert snap | {"retry_in": 30.0} == snap and snap["state"] == "open" and snap["failures"] == 5
        clock.advance(29.9)
        assert not passes(reg)
        clock.advance(0.1)
        assert passes(reg)  # the probe
        assert [passes(reg) for _ in range(3)] == [False, False, False]
        reg.record_failure(EX, EP)  # probe failed: cool-down doubles
        assert reg.snapshot()[0]["retry_in"] == 60.0
        clock.advance(59.0)
        assert not passes(reg)
        clock.advance(1.0)
        assert passes(reg)
        reg.record_success(EX, EP)
        assert reg.open_circuits() == [] and reg.snapshot() == []
        assert all(passes(reg) for _ in range(10))
        # Cool-down reset: the next opening waits 30 s again, not 120.
        for _ in range(5):
            reg.record_failure(EX, EP)
        assert reg.snapshot()[0]["retry_in"] == 30.0
    events = [e["event"] for e in logs]
    assert events == [
        "breaker_opened",
        "breaker_half_open",
        "breaker_reopened",
        "breaker_half_open",
        "breaker_recovered",
        "breaker_opened",
    ]
    assert all(e["exchange"] == EX and e["endpoint"] == EP for e in logs)
    assert transitions(metrics, "open") == 3 and transitions(metrics, "closed") == 1


def test_cooldown_doubles_up_to_cap() -> None:
    clock = ManualClock()
    reg, _ = make(clock)
    for _ in range(5):
        reg.record_failure(EX, EP)
    seen = []
    for _ in range(5):
        clock.advance(reg.snapshot()[0]["retry_in"])
        assert passes(reg)
        reg.record_failure(EX, EP)
        seen.append(reg.snapshot()[0]["retry_in"])
    assert seen == [60.0, 120.0, 120.0, 120.0, 120.0]


def test_symbol_breaker_blocks_only_that_symbol() -> None:
    clock = ManualClock()
    reg, _ = make(clock)
    for _ in range(5):
        reg.record_failure(EX, EP, "FOO/USDT:USDT")
    assert not passes(reg, "FOO/USDT:USDT")
    assert passes(reg, "BTC/USDT:USDT") and passes(reg)
    assert reg.open_circuits() == ["binanceusdm fetch_ohlcv FOO/USDT:USDT"]
    assert reg.snapshot()[0]["symbol"] == "FOO/USDT:USDT"


def test_open_endpoint_blocks_every_symbol_and_keeps_symbol_probe_unspent() -> None:
    clock = ManualClock()
    reg, _ = make(clock)
    for _ in range(5):
        reg.record_failure(EX, EP, "FOO/USDT:USDT")
    clock.advance(20.0)
    for _ in range(5):
        reg.record_failure(EX, EP)
    clock.advance(10.0)  # the symbol breaker may probe now, the endpoint breaker not yet
    assert not passes(reg, "FOO/USDT:USDT")
    assert reg.state(EX, EP, "FOO/USDT:USDT") is BreakerState.OPEN  # the refused request spent no probe
    clock.advance(20.0)
    assert passes(reg, "FOO/USDT:USDT")  # one request probes both
    assert not passes(reg, "BTC/USDT:USDT")
    reg.record_success(EX, EP, "FOO/USDT:USDT")
    assert reg.open_circuits() == []


def test_unreported_probe_is_given_up_after_a_cooldown() -> None:
    clock = ManualClock()
    reg, _ = make(clock)
    for _ in range(5):
        reg.record_failure(EX, EP)
    clock.advance(30.0)
    assert passes(reg)  # this caller is cancelled and never reports
    clock.advance(29.0)
    assert not passes(reg)
    clock.advance(1.0)
    assert passes(reg)


# -- properties --------------------------------------------------------------------------------------------

Op = tuple[str, float]
# Failures are frequent and waits span the cool-down, so sequences reach open, half-open and re-open often.
ops = st.lists(
    st.tuples(
        st.sampled_from(["fail", "fail", "fail", "ok", "check", "check", "check", "wait"]),
        st.floats(min_value=0.0, max_value=70.0),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops)
@example(
    ops=[
        ("fail", 0.0),
        ("fail", 0.0),
        ("wait", 31.0),
        ("check", 0.0),
        ("check", 0.0),
        ("wait", 29.0),
        ("check", 0.0),
        ("fail", 0.0),
        ("check", 0.0),
        ("wait", 60.0),
        ("check", 0.0),
        ("ok", 0.0),
        ("check", 0.0),
    ]
)
def test_no_request_passes_while_open_and_one_probe_when_half_open(ops: list[Op]) -> None:
    clock = ManualClock()
    reg = BreakerRegistry(
        settings=BreakerSettings(failures=2, cooldown=30.0, cooldown_max=120.0),
        clock=clock,
        metrics=Metrics(),
    )
    probe_at: float | None = None  # when a request passed a non-closed breaker, until someone reports
    for op, arg in ops:
        if op == "fail":
            reg.record_failure(EX, EP)
            probe_at = None
        elif op == "ok":
            reg.record_success(EX, EP)
            probe_at = None
        elif op == "wait":
            clock.advance(arg)
        else:
            before = reg.snapshot()
            ok = passes(reg)
            if before and before[0]["state"] == "open" and before[0]["retry_in"] > 0:
                assert not ok, "a request left while the breaker was open"
            if probe_at is not None and clock.monotonic() - probe_at < before[0]["cooldown"]:
                assert not ok, "a second probe left while the first had not reported"
            if ok and before:
                probe_at = clock.monotonic()
            if not before:
                assert ok, "a closed breaker refused a request"


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT"]),
            st.booleans(),
            st.floats(0.0, 100.0),
        ),
        max_size=60,
    )
)
def test_symbol_failures_never_open_the_endpoint(events: list[tuple[str, bool, float]]) -> None:
    clock = ManualClock()
    reg, _ = make(clock)
    for symbol, failed, wait in events:
        clock.advance(wait)
        if passes(reg, symbol):
            if failed:
                reg.record_failure(EX, EP, symbol)
            else:
                reg.record_success(EX, EP, symbol)
        assert reg.state(EX, EP) is BreakerState.CLOSED
        assert passes(reg) and passes(reg, "OTHER/USDT:USDT")
        assert all(s["symbol"] is not None for s in reg.snapshot())


@pytest.mark.parametrize("failures", [1, 3])
def test_threshold_from_settings(failures: int) -> None:
    reg = BreakerRegistry(settings=BreakerSettings(failures=failures), clock=ManualClock(), metrics=Metrics())
    for _ in range(failures - 1):
        reg.record_failure("mexc", "fetch_ohlcv")
    assert reg.open_circuits() == []
    reg.record_failure("mexc", "fetch_ohlcv")
    assert reg.open_circuits() == ["mexc fetch_ohlcv"]
