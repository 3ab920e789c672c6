"""Recordings: what ``record`` writes is what ``backtest`` reads, even when the recorder was killed."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalbots.clock import ManualClock
from signalbots.events import Candle, FundingSnapshot, Liquidation, MarketEvent, OpenInterest, Side, Ticker
from signalbots.recording import (
    RecordingError,
    RecordingWriter,
    decode_event,
    encode_event,
    hour_file_name,
    read_recording,
    write_recording,
)

T0 = 1_637_056_800.0  # 2021-11-16 10:00:00 UTC


def sample_events(n: int = 8, start_ms: int = 1_637_056_800_000) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    for i in range(n):
        t = start_ms + i * 1000
        out += [
            Liquidation(
                "binanceusdm",
                "XRP/USDT:USDT",
                t,
                Side.LONG if i % 2 else Side.SHORT,
                1.05 + i / 1000,
                12_345.6,
                12_962.88,
                received=100.25 + i,
            ),
            FundingSnapshot("bybit", "BTC/USDT:USDT", t, -0.0021937, 8.0, t + 3_600_000, None),
            FundingSnapshot("okx", "ETH/USDT:USDT", t, 0.0001, 4.0, None, 4123.5, received=1.5),
            Candle("okx", "1000PEPE/USDT:USDT", t - 300_000, "5m", 0.1, 0.12, 0.09, 0.11, 1e9, None),
            Candle("mexc", "XRP/USDT:USDT", t - 60_000, "1m", 1.0, 1.1, 0.9, 1.05, 3.0, 3.15, received=7.0),
            Ticker("binanceusdm", "XRP/USDT:USDT", t, 1.0734, 5.5e8),
            Ticker("bybit", "XRP/USDT:USDT", t, 1.0735, None),
            OpenInterest("okx", "SOL/USDT:USDT", t, 1_234_567.8, 176_543_210.5, received=2.25),
        ]
    return out


def test_every_event_type_survives_a_line_unchanged() -> None:
    for event in sample_events(2):
        line = encode_event(event)
        assert "\n" not in line
        assert json.loads(line)["type"] in {"liquidation", "funding", "candle", "ticker", "open_interest"}
        assert decode_event(line) == event


def test_the_line_format_is_plain_json_with_a_type_and_the_event_fields() -> None:
    line = encode_event(
        Liquidation("okx", "BTC/USDT:USDT", 1_700_000_000_000, Side.SHORT, 43_000.5, 0.5, 21_500.25)
    )
    assert json.loads(line) == {
        "type": "liquidation",
        "exchange": "okx",
        "symbol": "BTC/USDT:USDT",
        "time_ms": 1_700_000_000_000,
        "side": "short",
        "price": 43_000.5,
        "quantity": 0.5,
        "notional_usd": 21_500.25,
        "received": 0.0,
    }


def test_writer_and_reader_round_trip(tmp_path: Path) -> None:
    events = sample_events()
    clock = ManualClock(start=T0)
    with RecordingWriter(directory=tmp_path, clock=clock) as writer:
        for e in events:
            writer.write(e)
    assert [p.name for p in tmp_path.iterdir()] == ["events-20211116-10.jsonl.gz"]
    problems: list[str] = []
    assert (
        list(read_recording(tmp_path / "events-20211116-10.jsonl.gz", on_problem=problems.append)) == events
    )
    assert problems == []


def test_one_file_per_utc_hour_and_a_restart_never_overwrites(tmp_path: Path) -> None:
    clock = ManualClock(start=T0 + 3599)  # 10:59:59
    events = sample_events(3)
    with RecordingWriter(directory=tmp_path, clock=clock) as writer:
        writer.write(events[0])
        clock.advance(2)  # 11:00:01
        writer.write(events[1])
    with RecordingWriter(directory=tmp_path, clock=clock) as writer:  # restarted within the same hour
        writer.write(events[2])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "events-20211116-10.jsonl.gz",
        "events-20211116-11.2.jsonl.gz",
        "events-20211116-11.jsonl.gz",
    ]
    assert list(read_recording(tmp_path / names[0])) == [events[0]]
    assert list(read_recording(tmp_path / names[2])) == [events[1]]
    assert list(read_recording(tmp_path / names[1])) == [events[2]]
    assert hour_file_name(T0) == "events-20211116-10.jsonl.gz"


async def test_a_kill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    events = sample_events(6)
    first, second = events[:20], events[20:]
    async with RecordingWriter(directory=tmp_path, clock=clock) as writer:
        for e in first:
            writer.write(e)
        await clock.run_for(1.0)  # the background flush runs once a second
        for e in second:
            writer.write(e)  # less than a second after the flush: still in the compressor
        assert writer.path is not None
        killed = writer.path.read_bytes()  # what a SIGKILL right now leaves on disk
    problems: list[str] = []
    cut = tmp_path / "killed.jsonl.gz"
    cut.write_bytes(killed)
    assert list(read_recording(cut, on_problem=problems.append)) == first
    assert any("trailer" in p for p in problems)
    # and the writer closed normally has everything
    assert list(read_recording(writer.files[0])) == events


async def test_a_busy_stream_flushes_from_write_without_waiting_for_the_task(tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    events = sample_events(4)
    async with RecordingWriter(directory=tmp_path, clock=clock) as writer:
        writer.write(events[0])
        clock.advance(1.0)  # no await: the flush task has not run
        writer.write(events[1])  # a second after the last flush: this write flushes
        assert writer.path is not None
        killed = writer.path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(killed)
    assert list(read_recording(cut, on_problem=lambda _: None)) == events[:2]


def test_a_gzip_cut_at_any_byte_yields_a_prefix_and_never_raises(tmp_path: Path) -> None:
    events = sample_events(4)
    clock = ManualClock(start=T0)
    with RecordingWriter(directory=tmp_path / "rec", clock=clock) as writer:
        for i, e in enumerate(events):
            writer.write(e)
            if i % 5 == 4:
                writer.flush()
    whole = writer.files[0].read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    lengths = set()
    for size in range(0, len(whole) + 1):
        cut.write_bytes(whole[:size])
        got = list(read_recording(cut, on_problem=lambda _: None))
        assert got == events[: len(got)]
        lengths.add(len(got))
    # every flush point is a place a kill can leave complete lines behind
    assert {0, 5, 10, 15, 20, 25, len(events)} <= lengths


def test_a_plain_jsonl_with_a_half_written_last_line_loses_only_that_line(tmp_path: Path) -> None:
    events = sample_events(2)
    path = tmp_path / "r.jsonl"
    write_recording(path, events)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 17])
    problems: list[str] = []
    assert list(read_recording(path, on_problem=problems.append)) == events[:-1]
    assert len(problems) == 1 and f"line {len(events)}" in problems[0] and "incomplete" in problems[0]


def test_damage_in_the_middle_is_an_error_with_the_line_number(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    lines = [encode_event(e) for e in sample_events(1)]
    lines[3] = lines[3].replace('"close":', '"clise":')
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(RecordingError) as caught:
        list(read_recording(path))
    assert caught.value.line == 4 and "clise" in str(caught.value) and str(path) in str(caught.value)


def test_nan_is_refused_on_write_and_on_read() -> None:
    with pytest.raises(ValueError):
        encode_event(Ticker("okx", "BTC/USDT:USDT", 1, math.nan, None))
    with pytest.raises(ValueError, match=r"finite|NaN"):
        decode_event('{"type":"ticker","exchange":"okx","symbol":"BTC/USDT:USDT","time_ms":1,"last":NaN}')


_names = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=20)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_times = st.integers(min_value=0, max_value=2**53)
_events = st.one_of(
    st.builds(Liquidation, _names, _names, _times, st.sampled_from(Side), _floats, _floats, _floats, _floats),
    st.builds(
        FundingSnapshot,
        _names,
        _names,
        _times,
        _floats,
        _floats,
        st.none() | _times,
        st.none() | _floats,
        _floats,
    ),
    st.builds(
        Candle,
        _names,
        _names,
        _times,
        _names,
        _floats,
        _floats,
        _floats,
        _floats,
        _floats,
        st.none() | _floats,
        _floats,
    ),
    st.builds(Ticker, _names, _names, _times, _floats, st.none() | _floats, _floats),
    st.builds(OpenInterest, _names, _names, _times, _floats, _floats, _floats),
)


@given(_events)
def test_property_any_event_round_trips(event: MarketEvent) -> None:
    assert decode_event(encode_event(event)) == event


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["type", "exchange", "symbol", "time_ms", "last", "side", "x"]),
            st.one_of(
                st.none(),
                st.integers(),
                st.floats(),
                st.text(max_size=5),
                st.sampled_from(["ticker", "candle", "liquidation", "funding"]),
            ),
        ).map(json.dumps),
    )
)
def test_property_garbage_lines_are_refused_with_a_value_error(line: str | bytes) -> None:
    try:
        event = decode_event(line)
    except ValueError:
        return
    assert decode_event(encode_event(event)) == event  # whatever is accepted is a well-formed event
