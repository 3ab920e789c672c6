"""Data files for replays: named by what they hold, validated line by line, merged in the order of knowing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalbots.events import Candle, FundingSnapshot, Ticker
from signalbots.marketdata import DataFile, FileKind, classify, scan
from signalbots.recording import write_recording
from signalbots.replay import replay_events

H = 3_600_000
M5 = 300_000
T0 = 1_637_193_600_000  # 2021-11-18 00:00 UTC


def candle_csv(
    path: Path,
    start: int,
    step: int,
    n: int,
    *,
    mark: bool = False,
    skip: tuple[int, ...] = (),
    quote: bool = False,
) -> None:
    header = (
        "timestamp,open,high,low,close" + ("" if mark else ",volume") + (",quote_volume" if quote else "")
    )
    rows = [header]
    for i in range(n):
        if i in skip:
            continue
        price = 1.0 + i / 100
        row = f"{start + i * step},{price},{price + 0.02},{price - 0.01},{price + 0.01}"
        rows.append(row + ("" if mark else f",{1000 + i}") + (f",{(1000 + i) * price}" if quote else ""))
    path.write_text("\n".join(rows) + "\n")


def funding_csv(path: Path, start: int, step: int, rates: list[float]) -> None:
    path.write_text(
        "timestamp,funding_rate\n" + "".join(f"{start + i * step},{r}\n" for i, r in enumerate(rates))
    )


def ignore(_: object) -> None:
    return None


def test_file_names_say_what_a_file_holds(tmp_path: Path) -> None:
    def kind(name: str) -> DataFile | str:
        return classify(tmp_path / name)

    assert kind("binanceusdm_XRP-USDT-USDT_5m.csv") == DataFile(
        tmp_path / "binanceusdm_XRP-USDT-USDT_5m.csv", FileKind.CANDLES, "binanceusdm", "XRP/USDT:USDT", "5m"
    )
    mark = kind("okx_1000PEPE-USDT-USDT_1h-mark.csv")
    assert isinstance(mark, DataFile) and (mark.kind, mark.symbol, mark.timeframe) == (
        FileKind.MARK,
        "1000PEPE/USDT:USDT",
        "1h",
    )
    funding = kind("bybit_BTC-USD-BTC_funding-4h.csv")
    assert isinstance(funding, DataFile) and (funding.kind, funding.symbol, funding.timeframe) == (
        FileKind.FUNDING,
        "BTC/USD:BTC",
        "4h",
    )
    assert isinstance(kind("events-20211116-10.jsonl.gz"), DataFile)
    assert isinstance(kind("anything.jsonl"), DataFile)
    for bad in (
        "README.md",
        "XRP_5m.csv",
        "binanceusdm_XRP-USDT_5m.csv",
        "binanceusdm_XRP-USDT-USDT_5x.csv",
        "binanceusdm_XRP-USDT-USDT_funding.csv",
        "data.csv.gz",
    ):
        reason = kind(bad)
        assert isinstance(reason, str) and "expected" in reason, bad


def test_a_clean_csv_loads_every_row(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_1h.csv", T0, H, 10, quote=True)
    data = scan(tmp_path)
    assert data.problems == [] and data.notes == []
    (series,) = data.candles
    assert len(series.candles) == 10
    first = series.candles[0]
    assert first == Candle("okx", "ETH/USDT:USDT", T0, "1h", 1.0, 1.02, 0.99, 1.01, 1000.0, 1000.0)


def test_columns_in_any_order_padding_and_a_blank_quote_volume_read_as_a_plain_row(tmp_path: Path) -> None:
    """The quick way to read a plain row and the general one that also names problems agree."""
    (tmp_path / "okx_ETH-USDT-USDT_1h.csv").write_text(
        "close,timestamp,quote_volume,open,volume,high,low\n"
        f"1.01,{T0},,1.0,1000,1.02,0.99\n"
        f" 1.02 , {T0 + H} ,  ,1.01,1001 ,1.03,1.0\n"
        f"1.03,{T0 + 2 * H},1030.5,1.02,1002,1.04,1.01\n"
    )
    data = scan(tmp_path)
    assert data.problems == []
    (series,) = data.candles
    assert series.candles == [
        Candle("okx", "ETH/USDT:USDT", T0, "1h", 1.0, 1.02, 0.99, 1.01, 1000.0, None),
        Candle("okx", "ETH/USDT:USDT", T0 + H, "1h", 1.01, 1.03, 1.0, 1.02, 1001.0, None),
        Candle("okx", "ETH/USDT:USDT", T0 + 2 * H, "1h", 1.02, 1.04, 1.01, 1.03, 1002.0, 1030.5),
    ]


def test_every_bad_line_is_listed_and_the_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "binanceusdm_XRP-USDT-USDT_5m.csv"
    candle_csv(path, T0, M5, 12)
    lines = path.read_text().splitlines()
    lines[4], lines[5] = lines[5], lines[4]  # a shuffled row: line 6 is earlier than line 5
    lines[8] = lines[7]  # line 9 repeats line 8's timestamp
    parts = lines[10].split(",")
    parts[4] = "NaN"
    lines[10] = ",".join(parts)  # line 11: close is NaN
    lines[11] = lines[11].replace(",", ";")  # line 12: wrong separator
    path.write_text("\n".join(lines) + "\n")
    data = scan(tmp_path)
    assert data.candles == []
    by_line = {p.line: p.message for p in data.problems if p.line}
    assert set(by_line) == {6, 9, 11, 12}
    assert "earlier than line 5" in by_line[6]
    assert "duplicate timestamp" in by_line[9] and "line 8" in by_line[9]
    assert "close is NaN" in by_line[11]
    assert "expected 6 fields" in by_line[12]
    assert all(p.path == path for p in data.problems)
    assert "rejected" in str(data.problems[-1])


def test_headers_and_timestamps_that_do_not_fit_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "okx_ETH-USDT-USDT_1h.csv").write_text("time,o,h,l,c,v\n1637193600000,1,1,1,1,1\n")
    (tmp_path / "okx_BTC-USDT-USDT_1h.csv").write_text(
        "timestamp,open,high,low,close,volume\n1637193600,1,1,1,1,1\n1637197200000,1,0.5,1,1,1\n"
    )
    (tmp_path / "okx_BTC-USDT-USDT_funding-8h.csv").write_text("timestamp,funding_rate\n1637193600000,1.5\n")
    (tmp_path / "okx_SOL-USDT-USDT_1h-mark.csv").write_text("timestamp,open,high,low,close,volume\n")
    problems = [str(p) for p in scan(tmp_path).problems]
    assert any("ETH-USDT-USDT_1h.csv:1: bad header" in p and "missing timestamp" in p for p in problems)
    assert any("BTC-USDT-USDT_1h.csv:2: timestamp 1637193600 looks like seconds" in p for p in problems)
    assert any("BTC-USDT-USDT_1h.csv:3: high 0.5 is below" in p for p in problems)
    assert any("funding-8h.csv:2: funding_rate 1.5" in p for p in problems)
    assert any("1h-mark.csv:1: bad header" in p and "unknown column(s) volume" in p for p in problems)


def test_a_gap_is_reported_with_its_lines_and_left_a_gap(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_5m.csv", T0, M5, 20, skip=(7, 8, 9))
    funding_csv(tmp_path / "okx_ETH-USDT-USDT_funding-8h.csv", T0, 8 * H, [0.0001])
    (tmp_path / "okx_ETH-USDT-USDT_funding-8h.csv").write_text(
        f"timestamp,funding_rate\n{T0},0.0001\n{T0 + 24 * H},0.0001\n"
    )
    data = scan(tmp_path)
    assert data.problems == []
    assert any(
        "ETH-USDT-USDT_5m.csv:9: gap of 3 candle(s)" in n and "after line 8" in n and "not interpolated" in n
        for n in data.notes
    )
    assert any("funding-8h.csv:3: gap of 2 settlement(s)" in n for n in data.notes)
    candles = [r.event for r in replay_events(data, on_problem=ignore) if isinstance(r.event, Candle)]
    assert len(candles) == 17
    assert [c.time_ms for c in candles][6:8] == [T0 + 6 * M5, T0 + 10 * M5]


def test_unknown_files_in_a_directory_are_ignored_by_name(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_1h.csv", T0, H, 3)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "old").mkdir()
    data = scan(tmp_path)
    assert data.problems == []
    assert any(str(tmp_path / "notes.txt") in n and "ignored" in n and "expected" in n for n in data.notes)
    assert any(str(tmp_path / "old") in n and "directory" in n for n in data.notes)


def test_events_come_when_they_are_known_candles_before_funding(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_8h.csv", T0, 8 * H, 3)
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_1h-mark.csv", T0 - 4 * H, H, 4, mark=True)
    funding_csv(tmp_path / "okx_ETH-USDT-USDT_funding-8h.csv", T0, 8 * H, [0.0001, -0.003, 0.0002])
    data = scan(tmp_path)
    replayed = list(replay_events(data, on_problem=ignore))
    kinds = [(r.at_ms, type(r.event).__name__) for r in replayed]
    assert kinds == [
        (T0, "FundingSnapshot"),
        (T0 + 8 * H, "Candle"),
        (T0 + 8 * H, "FundingSnapshot"),
        (T0 + 16 * H, "Candle"),
        (T0 + 16 * H, "FundingSnapshot"),
        (T0 + 24 * H, "Candle"),
    ]
    snaps = [r.event for r in replayed if isinstance(r.event, FundingSnapshot)]
    # settled at its own time; priced by the last candle closed at or before it: at T0 only the mark
    # candles (the last closing at T0) exist, later the traded 8h candle that closes at the settlement
    assert [(s.time_ms, s.next_funding_ms, s.interval_hours) for s in snaps] == [
        (T0, T0, 8.0),
        (T0 + 8 * H, T0 + 8 * H, 8.0),
        (T0 + 16 * H, T0 + 16 * H, 8.0),
    ]
    assert [s.mark_price for s in snaps] == [1.04, 1.01, 1.02]
    assert all(not isinstance(r.event, Candle) or r.event.timeframe == "8h" for r in replayed)


def test_the_tracker_sees_the_finest_candles_available_at_each_moment(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_5m.csv", T0, M5, 12 * 10)  # 10 hours of 5m
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_1h.csv", T0, H, 24)  # 24 hours of 1h
    replayed = list(replay_events(scan(tmp_path), on_problem=ignore))
    tracked = {
        (r.event.timeframe, r.event.time_ms) for r in replayed if isinstance(r.event, Candle) and r.track
    }
    hourly = sorted(t for tf, t in tracked if tf == "1h")
    assert len([t for tf, t in tracked if tf == "5m"]) == 120
    assert hourly == [T0 + h * H for h in range(10, 24)]
    # every candle still reaches the strategies
    assert len([r for r in replayed if isinstance(r.event, Candle)]) == 144


def test_a_recording_keeps_its_order_and_merges_with_csv_by_time(tmp_path: Path) -> None:
    candle_csv(tmp_path / "okx_ETH-USDT-USDT_1h.csv", T0, H, 3)
    events = [
        Ticker("okx", "ETH/USDT:USDT", T0 + H + 10, 1.5, None),
        Ticker("okx", "ETH/USDT:USDT", T0 + H + 5, 1.6, None),  # a little late: kept where it was received
        Ticker("okx", "ETH/USDT:USDT", T0 + 2 * H + 1, 1.7, None),
    ]
    write_recording(tmp_path / "events-20211118-00.jsonl.gz", events)
    replayed = list(replay_events(scan(tmp_path), on_problem=ignore))
    seq = [(type(r.event).__name__, r.event.time_ms) for r in replayed]
    assert seq == [
        ("Candle", T0),
        ("Ticker", T0 + H + 10),
        ("Ticker", T0 + H + 5),
        ("Candle", T0 + H),
        ("Ticker", T0 + 2 * H + 1),
        ("Candle", T0 + 2 * H),
    ]
    assert [r.at_ms for r in replayed] == sorted(r.at_ms for r in replayed)


_cells = st.one_of(
    st.integers(-10, 10**13).map(str), st.floats().map(str), st.sampled_from(["", "nan", "x", "1e400", "-0"])
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(_cells, min_size=0, max_size=7), max_size=12),
    header=st.sampled_from(["timestamp,open,high,low,close,volume", "timestamp,funding_rate", "a,b", ""]),
    name=st.sampled_from(
        ["okx_ETH-USDT-USDT_5m.csv", "okx_ETH-USDT-USDT_funding-8h.csv", "okx_ETH-USDT-USDT_5m-mark.csv"]
    ),
)
def test_property_any_csv_loads_or_names_its_bad_lines(
    tmp_path: Path, rows: list[list[str]], header: str, name: str
) -> None:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    data = scan(path)
    n_lines = 1 + len(rows)
    for p in data.problems:
        assert p.path == path and (p.line is None or 1 <= p.line <= n_lines)
    if not data.problems:
        events = list(replay_events(data, on_problem=ignore))
        assert [r.at_ms for r in events] == sorted(r.at_ms for r in events)
        assert len(events) == len([r for r in rows if any(c.strip() for c in r)])


def test_hourly_recordings_are_opened_as_the_replay_reaches_them(tmp_path: Path) -> None:
    """A long recording is thousands of hourly files: only those overlapping in time may be open at once."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("counting open files needs Linux's /proc")
    hours = 300
    for h in range(hours):
        ticks = [
            Ticker("okx", "ETH/USDT:USDT", T0 + h * H + i * 60_000, 1.0 + i / 100, None) for i in range(3)
        ]
        write_recording(tmp_path / f"events-{h:04d}.jsonl.gz", ticks)
    fds = Path("/proc/self/fd")
    before = len(list(fds.iterdir()))
    most = 0
    times = []
    for r in replay_events(scan(tmp_path), on_problem=ignore):
        most = max(most, len(list(fds.iterdir())) - before)
        times.append(r.event.time_ms)
    assert len(times) == 3 * hours and times == sorted(times)
    assert most <= 3
