"""``signalbots research``: which settings would have worked, judged the honest way — walk-forward.

For every data set under ``--data`` (the directory itself and each sub-directory holding data files) and
every researched strategy, each point of a grid of settings is replayed with ``backtest``'s replay
(``research_run``); the data is cut into ``--windows`` windows holding equal shares of its candles and
settlements, and each window is traded with the setting that had the best net expectancy in the window
before it (``research_walk``). The report sets the in-sample figure (how good the winner looked when it
was picked) beside the out-of-sample one (what it then made): the gap between them is what tuning on the
past is worth.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from signalbots.events import timeframe_ms
from signalbots.logs import configure_logging
from signalbots.marketdata import DataFile, MarketData, classify, scan, utc
from signalbots.progress import Progress
from signalbots.research_grid import BadGrid, Point, RejectedSetting, apply, grids, label, parse_grid
from signalbots.research_run import Sweep, collector_paused, sweep
from signalbots.research_walk import Choice, Window, split, split_even, walk_forward
from signalbots.settings import Settings, load_settings
from signalbots.signals.stats import JUDGE_AT, compute
from signalbots.strategies.registry import names as strategy_names

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_CONFIG = 78

__all__ = ["add_arguments", "data_sets", "main", "run_research", "sample_json"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        metavar="DIR",
        help="a data set (a directory of candle/funding CSVs and recordings), or a directory of data sets "
        "(each sub-directory is one) (required)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        choices=strategy_names(),
        default=None,
        metavar="NAME",
        help=f"research only this strategy ({', '.join(strategy_names())}); repeatable; default: the "
        "enabled ones",
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="values to try for one setting, by its dotted key (e.g. strategies.volume.multiple=4,6,8); "
        "repeatable, every combination is tried (default: each strategy's own grid)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=6,
        metavar="N",
        help="windows per data set, each holding an equal share of its candles and settlements (of time, "
        "for recordings); each from the second on is traded with the setting that did best in the one "
        "before it (default: 6)",
    )
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="processes to use (default: 2)")
    parser.add_argument(
        "--json", dest="as_json", action="store_true", help="print one JSON document instead of tables"
    )


def main(args: argparse.Namespace) -> int:
    """Entry from the CLI: load settings (ConfigError propagates: exit 78) and run."""
    settings = load_settings(getattr(args, "config", None))
    # Each setting replays the desk, whose warnings (a daily loss limit reached) would repeat once per
    # setting and bury the report; errors still show.
    configure_logging(fmt=settings.log.format, level="error", stream=sys.stderr)
    return run_research(
        data=args.data,
        grid=args.grid,
        strategies=args.strategy,
        windows=args.windows,
        jobs=args.jobs,
        settings=settings,
        out=sys.stdout,
        err=sys.stderr,
        as_json=args.as_json,
    )


def data_sets(root: Path) -> list[Path]:
    """``root`` itself when it holds data files, then each sub-directory that does (sorted)."""
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    if root.is_file():
        return [root]

    def holds_data(directory: Path) -> bool:
        return any(p.is_file() and isinstance(classify(p), DataFile) for p in directory.iterdir())

    found = [root] if holds_data(root) else []
    return found + [p for p in sorted(root.iterdir()) if p.is_dir() and holds_data(p)]


def sample_json(values: list[float]) -> dict[str, Any]:
    """``n``, ``net_r_mean``, ``ci95`` ([low, high], None below 2), and whether n is enough to judge."""
    st = compute(values)
    ci = None if st.ci95_low is None or st.ci95_high is None else [_r(st.ci95_low), _r(st.ci95_high)]
    return {"n": st.count, "net_r_mean": _r(st.avg_r) if st.count else None, "ci95": ci, "judged": st.judged}


def _r(value: float) -> float:
    return round(value, 4)


@dataclass(frozen=True, slots=True)
class _SetResult:
    doc: dict[str, Any]
    in_r: dict[str, list[float]]
    out_r: dict[str, list[float]]


def _set_json(
    path: Path,
    found: Sweep,
    windows: list[Window],
    per: dict[str, list[Point]],
    choices: dict[str, list[Choice]],
) -> _SetResult:
    strategies: dict[str, Any] = {}
    in_r: dict[str, list[float]] = {}
    out_r: dict[str, list[float]] = {}
    for name, points in per.items():
        chosen = choices[name]
        in_r[name] = [r for c in chosen for r in c.in_sample]
        out_r[name] = [r for c in chosen for r in c.out_of_sample]
        strategies[name] = {
            "grid": [label(p) for p in points],
            "signals_per_setting": found.signals[name],
            "in_sample": sample_json(in_r[name]),
            "out_of_sample": sample_json(out_r[name]),
            "choices": [
                {
                    "window": c.window + 1,
                    "from": utc(windows[c.window].start_ms),
                    "to": utc(windows[c.window].end_ms),
                    "setting": None if c.setting is None else label(points[c.setting]),
                    "kept": c.kept,
                    "in_sample": sample_json(list(c.in_sample)),
                    "out_of_sample": sample_json(list(c.out_of_sample)),
                }
                for c in chosen
            ],
        }
    doc = {
        "data": str(path),
        "from": utc(windows[0].start_ms),
        "to": utc(windows[-1].end_ms),
        "windows": len(windows),
        "strategies": strategies,
    }
    return _SetResult(doc, in_r, out_r)


def run_research(
    *,
    data: Path,
    grid: list[str],
    windows: int,
    jobs: int,
    settings: Settings,
    out: TextIO,
    err: TextIO,
    as_json: bool,
    strategies: list[str] | None = None,
) -> int:
    """Research every data set at ``data``; the report to ``out``, notes and problems to ``err``.

    Exit codes: 0 done; 64 bad arguments; 65 a data file was rejected (nothing run) or damaged mid-way;
    66 no such path or no usable data; 78 a grid value the settings refuse.
    """
    if windows < 2 or jobs < 1:
        print("research: --windows must be at least 2 and --jobs at least 1", file=err)
        return EX_USAGE
    names = list(dict.fromkeys(strategies)) if strategies else settings.enabled_strategies()
    unknown = [n for n in names if n not in strategy_names()]
    if unknown or not names:
        known = ", ".join(strategy_names())
        print(
            f"research: unknown strategy {', '.join(unknown)} (known: {known})"
            if unknown
            else "research: no strategy enabled; name one with --strategy",
            file=err,
        )
        return EX_USAGE
    try:
        per = grids(names, parse_grid(grid), settings)
    except BadGrid as e:
        print(f"research: {e}", file=err)
        return EX_USAGE
    try:
        sets = data_sets(data)
    except FileNotFoundError as e:
        print(f"research: {e}", file=err)
        return EX_NOINPUT
    usable: dict[Path, MarketData] = {}
    for path in sets:
        with collector_paused():
            market = scan(path)
        if market.problems:
            for problem in market.problems:
                print(f"error: {problem}", file=err)
            print(f"research: data file(s) rejected in {path}; nothing run", file=err)
            return EX_DATAERR
        if not market.empty:
            usable[path] = market
    if not usable:
        print(f"research: no usable data at {data}", file=err)
        return EX_NOINPUT
    try:
        for points in per.values():
            for point in points:
                apply(settings, point)  # refused before hours of replay, not after
    except RejectedSetting as e:
        print(f"research: {e}", file=err)
        return EX_CONFIG

    progress = Progress(err, label="researching", parts=len(usable))
    results: list[_SetResult] = []
    damaged = False
    try:
        for index, path in enumerate(list(usable)):
            progress.start_part(index)
            market = usable.pop(path)  # each set's events are dropped once it is done
            times = _times(market)
            found = sweep(market, per, settings, jobs=jobs, progress=progress)
            del market
            for text in found.problems:
                print(f"error: {text}", file=err)
            damaged = damaged or bool(found.problems)
            if found.first_ms is None or found.last_ms is None or found.last_ms <= found.first_ms:
                print(f"note: {path}: too short a span to cut into windows; skipped", file=err)
                continue
            cut = (
                split(found.first_ms, found.last_ms, windows) if times is None else split_even(times, windows)
            )
            choices = {name: walk_forward(cut, found.outcomes[name]) for name in per}
            results.append(_set_json(path, found, cut, per, choices))
    finally:
        progress.done()
    doc = _document(results, per, windows)
    if as_json:
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(report_text(doc))
    out.flush()
    return EX_DATAERR if damaged else EX_OK


def _times(market: MarketData) -> list[int] | None:
    """When each candle and settlement became known; None when recordings (read only while replaying)
    hold events too: then the span is cut into equal lengths of time."""
    if market.recordings:
        return None
    times: list[int] = []
    for series in market.candles:
        name, tf = series.file.timeframe, timeframe_ms(series.file.timeframe)  # parsed once per file
        times += [c.time_ms + tf if c.timeframe == name else c.close_time_ms for c in series.candles]
    return times + [t for series in market.funding for t, _ in series.rows]


def _document(results: list[_SetResult], per: dict[str, list[Point]], windows: int) -> dict[str, Any]:
    pooled: dict[str, Any] = {}
    for name in per:
        pooled[name] = {
            "data": [r.doc["data"] for r in results],
            "in_sample": sample_json([v for r in results for v in r.in_r[name]]),
            "out_of_sample": sample_json([v for r in results for v in r.out_r[name]]),
        }
    return {
        "windows": windows,
        "cut": "windows of equal numbers of candles and settlements (equal lengths of time for recordings)",
        "selection": "highest mean net R in the previous window, counting only signals resolved before "
        "the window starts",
        "strategies": pooled,
        "sets": [r.doc for r in results],
    }


def _sample_cells(sample: dict[str, Any]) -> str:
    if sample["n"] == 0:
        return f"{0:>5}  {'-':>7}  {'-':>15}  no signal"
    mean = f"{sample['net_r_mean']:+.2f}"
    ci = "-" if sample["ci95"] is None else f"{sample['ci95'][0]:+.2f}…{sample['ci95'][1]:+.2f}"
    note = "" if sample["judged"] else "  too few to judge"
    return f"{sample['n']:>5}  {mean:>7}  {ci:>15}{note}"


def _table(strategies: dict[str, Any], indent: str) -> list[str]:
    w = max([len("strategy"), *map(len, strategies)]) + 2  # "open_interest" is longer than a fixed column
    lines = [f"{indent}{'strategy':<{w}}{'sample':<15}{'n':>5}  {'net R':>7}  {'95% CI':>15}"]
    for name, s in strategies.items():
        lines.append(f"{indent}{name:<{w}}{'in-sample':<15}{_sample_cells(s['in_sample'])}")
        lines.append(f"{indent}{'':<{w}}{'out-of-sample':<15}{_sample_cells(s['out_of_sample'])}")
    return lines


def report_text(doc: dict[str, Any]) -> str:
    """The tables of ``doc`` (the JSON document): per data set, then every set pooled."""
    lines: list[str] = []
    for s in doc["sets"]:
        lines.append(f"{s['data']}: {s['from']} → {s['to']}, {s['windows']} windows")
        lines.extend(_table(s["strategies"], "  "))
        for name, st in s["strategies"].items():
            lines.append(f"  {name}: setting chosen per window ({len(st['grid'])} compared)")
            settings = [
                ("no evidence yet" if c["setting"] is None else c["setting"])
                + (" (kept)" if c["kept"] else "")
                for c in st["choices"]
            ]
            w = max(
                [40, *map(len, settings)]
            )  # grids over words (direction, stop style) name longer settings
            for c, setting in zip(st["choices"], settings, strict=True):
                ins, oos = c["in_sample"], c["out_of_sample"]
                ins_r = "" if ins["n"] == 0 else f" {ins['net_r_mean']:+.2f}"
                oos_r = "" if oos["n"] == 0 else f" {oos['net_r_mean']:+.2f}"
                lines.append(
                    f"    {c['window']:>2}  {c['from'][:16]} → {c['to'][:16]}  {setting:<{w}}"
                    f"  in {ins['n']:>3}{ins_r:<7}  out {oos['n']:>3}{oos_r}"
                )
        lines.append("")
    if len(doc["sets"]) != 1:
        lines.append(f"all data sets ({len(doc['sets'])}):")
        lines.extend(_table(doc["strategies"], "  "))
        lines.append("")
    lines.append(
        "Net R per signal (after fees, slippage and funding); in-sample: the chosen setting in the window "
        "that chose it; out-of-sample: the same setting in the next window. "
        f"Below {JUDGE_AT}: too few to judge."
    )
    return "\n".join(lines) + "\n"
