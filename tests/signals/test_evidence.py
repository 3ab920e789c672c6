"""An alert from a strategy whose out-of-sample interval lies wholly below zero says it is experimental; the
figures it quotes are the ones docs/signals.md's evidence table shows (one generator writes both)."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path
from types import ModuleType

from signals_support import Bench, candidate
from test_render import visible

from signalbots.notifier import Kind
from signalbots.signals import render
from signalbots.signals.desk import Desk
from signalbots.signals.evidence import Evidence, Record
from signalbots.signals.model import Direction, Signal
from signalbots.strategies.registry import names

ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = ROOT / "signalbots" / "signals" / "evidence.json"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("evidence_script", ROOT / "scripts" / "evidence.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_rows() -> dict[str, list[str]]:
    page = (ROOT / "docs" / "signals.md").read_text(encoding="utf-8")
    block = page.split("<!-- evidence: begin -->", 1)[1].split("<!-- evidence: end -->", 1)[0]
    rows = [line.strip("|").split(" | ") for line in block.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows[1:]}  # rows[0]: the header


def test_the_data_file_and_the_docs_table_show_the_same_out_of_sample_figures() -> None:
    doc = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    rows = _table_rows()
    generator = _generator()
    assert set(doc["strategies"]) == set(rows)
    for name, sample in doc["strategies"].items():
        assert tuple(rows[name][5:8]) == generator.out_of_sample_cells(sample), name
        assert rows[name][1] == ", ".join(f"`{d}`" for d in sample["data"])


def test_the_packaged_file_covers_every_strategy_and_ships_in_the_wheel() -> None:
    assert set(Evidence.packaged().records) == set(names())
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "evidence.json" in package_data["signalbots.signals"]


_LOSES = Record(n=41, net_r_mean=-0.4, ci95=(-0.7, -0.1), data=("data/market",))
_SPANS_ZERO = Record(n=35, net_r_mean=-0.1, ci95=(-0.5, 0.3), data=("data/market",))


def test_an_alert_of_a_strategy_that_loses_out_of_sample_is_marked_experimental() -> None:
    evidence = Evidence({"volume": _LOSES, "liquidation": _SPANS_ZERO})
    mark = evidence.caution("volume")
    assert mark == "⚠ experimental: out-of-sample −0.40R (95% −0.70…−0.10), n=41"
    spike = Signal(id=1, candidate=candidate(strategy="volume", kind="spike"))
    text = visible(render.signal(spike, caution=mark))
    assert text.splitlines()[2] == mark  # right under the title: read before the levels
    assert mark in visible(render.compact(spike, caution=mark))


def test_an_alert_whose_interval_reaches_zero_or_has_no_evidence_is_not_marked() -> None:
    evidence = Evidence({"volume": _LOSES, "liquidation": _SPANS_ZERO})
    assert evidence.caution("liquidation") is None
    assert evidence.caution("funding") is None  # never researched
    assert Evidence({"volume": Record(n=1, net_r_mean=-1.0, ci95=None)}).caution("volume") is None


def test_the_desk_marks_the_experimental_strategy_only(bench: Bench) -> None:
    desk = Desk(
        store=bench.store,
        settings=bench.settings,
        clock=bench.clock,
        metrics=bench.metrics,
        notifier=bench.notifier,
        evidence=Evidence({"volume": _LOSES, "liquidation": _SPANS_ZERO}),
    )
    desk.consider([candidate(strategy="volume", kind="spike", direction=Direction.LONG)])
    desk.consider(
        [candidate(strategy="liquidation", kind="cascade", symbol="ZEC/USDT:USDT", direction=Direction.SHORT)]
    )
    spike, cascade = bench.notifier.of(Kind.SIGNAL)
    assert "⚠ experimental" in spike.text and spike.signal and "⚠ experimental" in spike.signal.compact
    assert "experimental" not in cascade.text
