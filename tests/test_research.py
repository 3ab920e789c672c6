"""``signalbots research``: walk-forward choices use only the past, the sweep replays as backtest does, and
the command reports in-sample beside out-of-sample net R (issue 24)."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signalbots.cli import main
from signalbots.marketdata import scan
from signalbots.research import data_sets, run_research
from signalbots.research_grid import BadGrid, RejectedSetting, apply, grids, parse_grid
from signalbots.research_run import sweep
from signalbots.research_walk import Outcome, Window, split, split_even, walk_forward
from signalbots.settings import Settings
from signalbots.strategies.registry import SPECS
from signalbots.strategies.registry import names as strategy_names
from signalbots.strategies.spec import InvalidSpec

ROOT = Path(__file__).resolve().parent.parent
MARKET = ROOT / "data" / "market"
DAY = 86_400_000


# the pure walk-forward -------------------------------------------------------------------------------------
def _flipping(windows: list[Window], seed: int = 3) -> list[list[Outcome]]:
    """Two settings over ``windows``: setting 0 wins in the first half, setting 1 in the second; each signal
    resolves a few hours after it is made (sometimes in the next window)."""
    rng = random.Random(seed)
    flip = windows[len(windows) // 2].start_ms
    settings: list[list[Outcome]] = [[], []]
    for w in windows:
        for _ in range(20):
            made = rng.randrange(w.start_ms, w.end_ms)
            early = made < flip
            for index in (0, 1):
                good = (index == 0) == early
                r = rng.uniform(0.2, 1.5) if good else rng.uniform(-1.2, 0.1)
                settings[index].append(Outcome(made, made + rng.randrange(1, DAY // 4), r))
    return settings


def _perturbed_after(outcomes: list[list[Outcome]], cut_ms: int, seed: int) -> list[list[Outcome]]:
    """Everything not known by ``cut_ms`` rewritten at random: R scrambled, some dropped, some added."""
    rng = random.Random(seed)
    out: list[list[Outcome]] = []
    for setting in outcomes:
        kept = [o for o in setting if o.resolved_ms < cut_ms]
        later = [o for o in setting if o.resolved_ms >= cut_ms]
        changed = [
            Outcome(o.created_ms, o.resolved_ms, rng.uniform(-5, 5)) for o in later if rng.random() < 0.7
        ]
        extra = [
            Outcome(t, max(t, cut_ms) + 1, rng.uniform(-5, 5))
            for t in (rng.randrange(cut_ms - DAY // 8, cut_ms + 10 * DAY) for _ in range(15))
        ]
        out.append(kept + changed + extra)
    return out


def test_the_choice_follows_the_flip_one_window_late() -> None:
    windows = split(0, 8 * DAY - 1, 8)
    choices = walk_forward(windows, _flipping(windows))
    assert [c.window for c in choices] == list(range(1, 8))
    # windows 1–4 chosen on the first half (setting 0); window 5 is chosen on window 4, after the flip
    assert [c.setting for c in choices] == [0, 0, 0, 0, 1, 1, 1]
    # the first window after the flip pays for choosing on the past: the old winner loses out-of-sample
    assert sum(choices[3].in_sample) > 0 > sum(choices[3].out_of_sample)


@pytest.mark.parametrize("k", range(1, 8))
def test_no_choice_depends_on_what_came_after_its_window_started(k: int) -> None:
    windows = split(0, 8 * DAY - 1, 8)
    outcomes = _flipping(windows)
    before = walk_forward(windows, outcomes)
    for seed in range(5):
        after = walk_forward(windows, _perturbed_after(outcomes, windows[k].start_ms, seed))
        # the choice for window k and every earlier one, and the evidence each stood on, are untouched
        assert [(c.setting, c.in_sample) for c in after[:k]] == [(c.setting, c.in_sample) for c in before[:k]]


def test_a_signal_still_open_when_a_window_starts_is_not_evidence_for_it() -> None:
    windows = split(0, 2 * DAY - 1, 2)
    late = windows[1].start_ms - 1
    outcomes = [
        [Outcome(10, 20, -1.0)],  # known: a loser
        [Outcome(late - 5, windows[1].start_ms + 60_000, 3.0)],  # a winner, but only known inside window 1
    ]
    (choice,) = walk_forward(windows, outcomes)
    assert choice.setting == 0 and choice.in_sample == (-1.0,)


def test_without_any_evidence_the_previous_choice_is_kept() -> None:
    windows = split(0, 4 * DAY - 1, 4)
    outcomes = [[Outcome(10, 20, 0.5), Outcome(2 * DAY + 5, 2 * DAY + 10, -2.0)], [Outcome(30, 40, 0.1)]]
    choices = walk_forward(windows, outcomes)
    assert [(c.setting, c.kept) for c in choices] == [(0, False), (0, True), (0, False)]
    assert choices[1].out_of_sample == (-2.0,)


def test_even_windows_follow_where_the_data_is() -> None:
    times = [*range(0, 100), *range(10_000, 10_100)]  # two bursts far apart
    cut = split_even(times, 4)
    assert [w.start_ms for w in cut] == [0, 50, 10_000, 10_050] and cut[-1].end_ms == 10_100
    assert len(split_even([5, 5, 5, 6], 4)) < 4  # repeated times cannot make empty windows


def test_windows_cover_the_span_without_gaps() -> None:
    cut = split(1000, 1999, 3)
    assert cut[0].start_ms == 1000 and cut[-1].end_ms == 2000
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(cut))
    with pytest.raises(ValueError, match="at least 2"):
        split(0, 10, 1)


# the grid --------------------------------------------------------------------------------------------------
def test_a_grid_is_every_combination_and_each_point_is_validated() -> None:
    settings = Settings()
    given = parse_grid(["strategies.volume.multiple=4,6", "strategies.volume.robust_z=6,8,10"])
    per = grids(["volume", "funding"], given, settings)
    assert len(per["volume"]) == 6
    assert len(per["funding"]) >= 2  # its own default grid, from its spec
    assert apply(settings, per["volume"][0]).strategies.model_dump()["volume"]["multiple"] == 4.0
    with pytest.raises(RejectedSetting, match=r"strategies\.volume\.multiple"):
        apply(settings, (("strategies.volume.multiple", "-1"),))
    for bad in (["strategies.volume.nope=1"], ["multiple"], ["strategies.volume=1,2"]):
        with pytest.raises(BadGrid):
            grids(["volume"], parse_grid(bad), settings)


def test_every_strategy_declares_a_default_grid_its_settings_accept() -> None:
    settings = Settings()
    per = grids(strategy_names(), {}, settings)
    for name, points in per.items():
        assert len(points) >= 2, f"{name} declares no grid worth researching"
        for point in points:
            apply(settings, point)  # raises when a default value is refused


def test_a_grid_naming_a_setting_the_strategy_lacks_is_refused_at_import() -> None:
    spec = SPECS[0]
    with pytest.raises(InvalidSpec, match="nope"):
        dataclasses.replace(spec, grid={"nope": (1.0, 2.0)})


# the sweep and the command, on the repository's data -------------------------------------------------------
def test_the_replay_behind_the_sweep_never_reads_ahead(tmp_path: Path) -> None:
    """Every file of data/market cut at a moment: the outcomes known before it are exactly those of the
    whole data, setting by setting (so the walk-forward's inputs are causal too)."""
    cut_ms = 1_637_280_000_000  # 2021-11-19 00:00 UTC, inside the 5m candles
    short = tmp_path / "short"
    short.mkdir()
    for f in MARKET.iterdir():
        lines = f.read_text().splitlines()
        kept = [lines[0]] + [row for row in lines[1:] if int(row.split(",")[0]) < cut_ms - 8 * 3_600_000]
        (short / f.name).write_text("\n".join(kept) + "\n")
    settings = Settings()
    per = grids(["volume"], parse_grid(["strategies.volume.multiple=3,4,6"]), settings)
    full = sweep(scan(MARKET), per, settings, jobs=1).outcomes["volume"]
    cut = sweep(scan(short), per, settings, jobs=2).outcomes["volume"]
    horizon = cut_ms - 8 * 3_600_000
    assert any(o.resolved_ms < horizon for setting in full for o in setting)  # the check has material
    for whole, part in zip(full, cut, strict=True):
        assert [o for o in whole if o.resolved_ms < horizon] == [o for o in part if o.resolved_ms < horizon]


def test_research_on_data_market_reports_in_and_out_of_sample_per_strategy() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_research(
        data=MARKET, grid=[], windows=4, jobs=2, settings=Settings(), out=out, err=err, as_json=True
    )
    assert code == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    (one,) = doc["sets"]
    for name, pooled in doc["strategies"].items():
        for sample in ("in_sample", "out_of_sample"):
            stat = pooled[sample]
            assert set(stat) >= {"n", "net_r_mean", "ci95"}
            assert (stat["net_r_mean"] is None) == (stat["n"] == 0)
        choices = one["strategies"][name]["choices"]
        assert [c["window"] for c in choices] == [2, 3, 4]
        assert pooled["out_of_sample"]["n"] == sum(c["out_of_sample"]["n"] for c in choices)
    assert doc["strategies"]["volume"]["in_sample"]["n"] > 0  # the XRP week does make volume signals
    assert err.getvalue() == ""  # not a terminal: no progress bar


def test_the_text_report_keeps_every_strategy_name_apart_from_its_figures() -> None:
    out = io.StringIO()
    code = run_research(
        data=MARKET,
        grid=[],
        windows=4,
        jobs=1,
        settings=Settings(),
        out=out,
        err=io.StringIO(),
        as_json=False,
    )
    assert code == 0
    rows = [line.split() for line in out.getvalue().splitlines()]
    names = {row[0] for row in rows if len(row) > 1 and row[1] == "in-sample"}
    assert names == {"liquidation", "funding", "volume", "open_interest"}  # not "open_interestin-sample"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_a_progress_bar_that_is_wiped_before_the_report() -> None:
    out, err = io.StringIO(), _Terminal()
    code = run_research(
        data=MARKET,
        grid=["strategies.volume.multiple=4,6"],
        strategies=["volume"],
        windows=3,
        jobs=1,
        settings=Settings(),
        out=out,
        err=err,
        as_json=False,
    )
    assert code == 0
    assert "researching [" in err.getvalue() and "100%" in err.getvalue()
    assert err.getvalue().endswith("\r")  # the bar's line is cleared, the report stays on stdout
    assert "researching" not in out.getvalue()


def test_a_directory_of_data_sets_is_researched_set_by_set(tmp_path: Path) -> None:
    for name in ("a", "b"):
        shutil.copytree(MARKET, tmp_path / name)
    (tmp_path / "empty").mkdir()
    assert data_sets(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    out = io.StringIO()
    code = run_research(
        data=tmp_path,
        grid=["strategies.volume.multiple=6"],
        windows=3,
        jobs=1,
        settings=Settings(),
        out=out,
        err=io.StringIO(),
        as_json=False,
    )
    assert code == 0
    text = out.getvalue()
    assert f"{tmp_path / 'a'}:" in text and f"{tmp_path / 'b'}:" in text and "all data sets (2):" in text
    assert "out-of-sample" in text


def test_exit_codes_say_what_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "--data", str(tmp_path / "missing")]) == 66
    assert main(["research", "--data", str(tmp_path)]) == 66  # no usable data
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binanceusdm_XRP-USDT-USDT_5m.csv").write_text("time,open\nx,1\n")
    assert main(["research", "--data", str(bad)]) == 65
    assert main(["research", "--data", str(MARKET), "--grid", "strategies.volume.multiple"]) == 64
    assert main(["research", "--data", str(MARKET), "--windows", "1"]) == 64
    assert main(["research", "--data", str(MARKET), "--grid", "strategies.volume.multiple=-1"]) == 78
    assert "strategies.volume.multiple" in capsys.readouterr().err


@pytest.mark.slow  # a subprocess running research over every data set
def test_the_evidence_table_in_signals_md_matches_a_fresh_research_run() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evidence.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stderr}\nrun: python scripts/evidence.py"
