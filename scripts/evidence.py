"""Rewrite the evidence table in docs/signals.md and the daemon's ``signalbots/signals/evidence.json`` from
one fresh research run, so that neither can drift from the code or the data, nor from each other.

The table sits between ``<!-- evidence: begin -->`` and ``<!-- evidence: end -->``; both are rendered from
``signalbots research --data data --json`` run as a user runs it from the repository root (the shipped
``config/`` and ``data/``, in a scratch directory holding only those two, no ``SIGNALBOTS_*`` variables).
The JSON holds each strategy's pooled out-of-sample figure (n, net R mean, 95 % interval, data sets) and
the commit the run was made on; the daemon marks the alerts of a strategy whose interval lies wholly below
zero as experimental (``signalbots/signals/evidence.py``).

    python scripts/evidence.py            # rewrite both (a few seconds per data set)
    python scripts/evidence.py --check    # exit 1 when either differs from a fresh run; rewrite nothing

``tests/test_research.py`` runs ``--check``; ``tests/signals/test_evidence.py`` holds the two in agreement.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "signals.md"
DATA_FILE = ROOT / "signalbots" / "signals" / "evidence.json"
COMMAND = ("research", "--data", "data", "--json")
_BLOCK = re.compile(r"(<!-- evidence: begin -->\n)(?P<body>.*?)(<!-- evidence: end -->)", re.S)


def research() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="signalbots-evidence-") as tmp:
        cwd = Path(tmp)
        for shared in ("config", "data"):
            (cwd / shared).symlink_to(ROOT / shared, target_is_directory=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}
        proc = subprocess.run(
            [sys.executable, "-m", "signalbots", *COMMAND],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    if proc.returncode != 0:
        raise SystemExit(f"signalbots {' '.join(COMMAND)}: exit {proc.returncode}\n{proc.stderr}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _mean_ci(sample: dict[str, Any]) -> str:
    if sample["n"] == 0:
        return "—"
    ci = sample["ci95"]
    interval = "" if ci is None else f" ({ci[0]:+.2f} to {ci[1]:+.2f})"
    return f"{sample['net_r_mean']:+.2f}{interval}"


def _verdict(sample: dict[str, Any]) -> str:
    ci = sample["ci95"]
    if sample["n"] == 0:
        return "no out-of-sample signal"
    if not sample["judged"]:
        return "too few to judge"
    if ci is not None and ci[1] < 0:
        return "loses: interval wholly below zero"
    if ci is not None and ci[0] > 0:
        return "gains: interval wholly above zero"
    return "no edge shown: interval spans zero"


def out_of_sample_cells(sample: dict[str, Any]) -> tuple[str, str, str]:
    """The table's out-of-sample columns (n, net R with its interval, verdict), from a research sample or
    the data file's record of it: the one rendering both are checked against."""
    return str(sample["n"]), _mean_ci(sample), _verdict(sample)


def data_file(doc: dict[str, Any], commit: str) -> dict[str, Any]:
    """What the daemon reads: per strategy the pooled out-of-sample sample and the data sets it came from."""
    return {
        "generated_from": {
            "command": f"signalbots {' '.join(COMMAND)}",
            "commit": commit,
            "sets": [{"data": s["data"], "from": s["from"], "to": s["to"]} for s in doc["sets"]],
        },
        "strategies": {
            name: {**pooled["out_of_sample"], "data": pooled["data"]}
            for name, pooled in doc["strategies"].items()
        },
    }


def _commit() -> str:
    """The commit the research ran on; ``+changes`` when the code or data differ from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        [
            *git,
            "status",
            "--porcelain",
            "--",
            "signalbots",
            "config",
            "data",
            f":!{DATA_FILE.relative_to(ROOT)}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _same_evidence(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for the commit: a later commit of the same code and data changes no figure."""

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "generated_from": {**d.get("generated_from", {}), "commit": None}}

    return strip(a) == strip(b)


def table(doc: dict[str, Any]) -> str:
    """The Markdown the block holds."""
    lines = [
        f"Generated by `scripts/evidence.py` from `signalbots {' '.join(COMMAND)}` ({doc['windows']} "
        f"walk-forward windows per data set, {doc['cut']}; the setting chosen by {doc['selection']}). "
        "Data sets:",
        "",
    ]
    for s in doc["sets"]:
        lines.append(f"- `{s['data']}`: {s['from']} → {s['to']} UTC")
    lines += [
        "",
        "| strategy | data | settings compared | in-sample n | in-sample net R (95 % CI) "
        "| out-of-sample n | out-of-sample net R (95 % CI) | verdict |",
        "|---|---|---:|---:|---|---:|---|---|",
    ]
    for name, pooled in doc["strategies"].items():
        compared = {len(s["strategies"][name]["grid"]) for s in doc["sets"]}
        data = ", ".join(f"`{d}`" for d in pooled["data"]) or "—"
        ins = pooled["in_sample"]
        n, mean_ci, verdict = out_of_sample_cells(pooled["out_of_sample"])
        lines.append(
            f"| {name} | {data} | {'/'.join(map(str, sorted(compared))) or '—'} | {ins['n']} "
            f"| {_mean_ci(ins)} | {n} | {mean_ci} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the table differs")
    args = parser.parse_args(argv)
    text = PAGE.read_text(encoding="utf-8")
    found = _BLOCK.search(text)
    if found is None:
        raise SystemExit("docs/signals.md has no '<!-- evidence: begin -->' … '<!-- evidence: end -->' block")
    doc = research()
    fresh = table(doc)
    evidence = data_file(doc, _commit())
    table_ok = fresh == found["body"]
    try:
        file_ok = _same_evidence(json.loads(DATA_FILE.read_text(encoding="utf-8")), evidence)
    except (OSError, ValueError):
        file_ok = False
    if args.check:
        stale = [
            what
            for what, ok in (("docs/signals.md evidence table", table_ok), (DATA_FILE.name, file_ok))
            if not ok
        ]
        for what in stale:
            print(f"out of date: {what} (run: python scripts/evidence.py)", file=sys.stderr)
        return 1 if stale else 0
    if not table_ok:
        PAGE.write_text(text[: found.start("body")] + fresh + text[found.end("body") :], encoding="utf-8")
        print("rewrote: docs/signals.md evidence table", file=sys.stderr)
    if not file_ok:
        DATA_FILE.write_text(_json(evidence), encoding="utf-8")
        print(f"rewrote: {DATA_FILE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
