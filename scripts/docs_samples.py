"""Rewrite the output samples in docs/ from real runs, so that they cannot drift from the code.

A sample in a Markdown page is a marker line followed by a fenced block::

    <!-- sample: backtest-default -->
    ```
    $ signalbots backtest --data data/market
    ...
    ```

``SAMPLES`` says what each name runs; the block is replaced with the command line and what it printed
(stderr and stdout, in the order a terminal shows them). Commands run as a user runs them from the
repository root — ``python -m signalbots`` with the shipped ``config/`` and ``data/`` — but in a scratch
directory holding only those two, so that a developer's own ``.env`` or ``state/`` cannot leak in.

    python scripts/docs_samples.py            # the quick samples (backtest), ~5 s
    python scripts/docs_samples.py --demo     # also docs/demo.md (runs the two-minute demo)
    python scripts/docs_samples.py --check    # exit 1 listing the samples that differ; rewrite nothing

``tests/test_docs_samples.py`` runs ``--check`` for the quick samples; ``tests/test_demo.py`` compares the
demo sample's story (message headlines, in order) with a fresh default run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"(<!-- sample: (?P<name>[\w-]+) -->\n```[a-z]*\n)(?P<body>.*?)(\n```)", re.S)


def _bad_data(directory: Path) -> None:
    """A damaged candle file (a shuffled row, a duplicate timestamp, a NaN close) and a stray file."""
    source = (ROOT / "data" / "market" / "binanceusdm_XRP-USDT-USDT_5m.csv").read_text().splitlines()
    rows = source[:12]
    rows[4], rows[5] = rows[5], rows[4]  # line 6 earlier than line 5 (rows[0] is the header, line 1)
    rows[8] = rows[7]  # line 9 repeats line 8
    cells = rows[10].split(",")
    cells[4] = "NaN"  # line 11's close
    rows[10] = ",".join(cells)
    bad = directory / "bad"
    bad.mkdir()
    (bad / "binanceusdm_XRP-USDT-USDT_5m.csv").write_text("\n".join(rows) + "\n")
    (bad / "notes.txt").write_text("not data\n")


@dataclass(frozen=True)
class Sample:
    page: str  # under docs/
    args: tuple[str, ...]  # after `signalbots`
    setup: Callable[[Path], None] | None = None  # prepares the scratch directory
    show_exit: bool = False  # append `$ echo $?` and the code
    slow: bool = False


SAMPLES = {
    "backtest-default": Sample("backtest.md", ("backtest", "--data", "data/market")),
    "backtest-window": Sample(
        "backtest.md",
        (
            "backtest",
            "--data",
            "data/market",
            "--strategy",
            "volume",
            "--from",
            "2021-11-17",
            "--to",
            "2021-11-19",
        ),
    ),
    "backtest-json": Sample(
        "backtest.md", ("backtest", "--data", "data/market", "--strategy", "funding", "--json")
    ),
    "backtest-damaged": Sample("backtest.md", ("backtest", "--data", "bad"), setup=_bad_data, show_exit=True),
    "demo": Sample("demo.md", ("demo",), slow=True),
}


def run(name: str) -> str:
    """The block's new body: the command line and what it printed."""
    sample = SAMPLES[name]
    with tempfile.TemporaryDirectory(prefix="signalbots-docs-") as tmp:
        cwd = Path(tmp)
        for shared in ("config", "data"):
            (cwd / shared).symlink_to(ROOT / shared, target_is_directory=True)
        if sample.setup is not None:
            sample.setup(cwd)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}
        proc = subprocess.run(
            [sys.executable, "-m", "signalbots", *sample.args],
            cwd=cwd,
            env=env | {"PYTHONUNBUFFERED": "1", "COLUMNS": "110"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
    output = proc.stdout.rstrip("\n")
    lines = [f"$ signalbots {' '.join(sample.args)}", output]
    if sample.show_exit:
        lines += ["$ echo $?", str(proc.returncode)]
    elif proc.returncode != 0:
        raise RuntimeError(f"sample {name}: exit {proc.returncode}\n{output}")
    return "\n".join(lines)


def blocks(page: Path) -> dict[str, str]:
    """The samples a page holds now, by name."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(page.read_text(encoding="utf-8"))}


def rewrite(page: Path, fresh: dict[str, str]) -> None:
    text = page.read_text(encoding="utf-8")
    page.write_text(
        _BLOCK.sub(lambda m: m.group(1) + fresh.get(m["name"], m["body"]) + m.group(4), text),
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--demo", action="store_true", help="also the demo sample (runs for about two minutes)"
    )
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a sample differs")
    args = parser.parse_args(argv)
    chosen = {n: s for n, s in SAMPLES.items() if args.demo or not s.slow}
    stale = []
    for page_name in sorted({s.page for s in chosen.values()}):
        page = ROOT / "docs" / page_name
        present = blocks(page)
        fresh = {}
        for name, sample in chosen.items():
            if sample.page != page_name:
                continue
            if name not in present:
                raise SystemExit(f"docs/{page_name} has no '<!-- sample: {name} -->' block")
            fresh[name] = run(name)
            if fresh[name] != present[name]:
                stale.append(f"docs/{page_name}: {name}")
        if not args.check:
            rewrite(page, fresh)
    if stale:
        print(("out of date:\n  " if args.check else "rewrote:\n  ") + "\n  ".join(stale), file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
