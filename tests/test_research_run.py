"""The sweep behind ``research`` gives, setting by setting, exactly the outcomes it gave when pinned:
making the replay faster must not move a single fill, cost or R (issue 24's speed work).

The pins are in ``tests/fixtures/research_pins.json``. When a rule changes on purpose (a strategy, the desk,
the tracker's fills or costs), look at what moved, then write them anew:
``python -m tests.test_research_run --write``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from signalbots.backtest import replay_signals
from signalbots.marketdata import scan
from signalbots.replay import replay_events
from signalbots.research_grid import grids, parse_grid
from signalbots.research_run import sweep
from signalbots.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MARKET = ROOT / "data" / "market"
PINS = Path(__file__).resolve().parent / "fixtures" / "research_pins.json"
_START_MS = 1_700_000_000_000 // 300_000 * 300_000
GRID = ["strategies.volume.multiple=3,4,6", "strategies.volume.robust_z=4,8"]


def _write_market(directory: Path, symbols: int = 12, candles: int = 2_500, seed: int = 7) -> None:
    """A random walk per symbol with volume spikes of many sizes, some market-wide (one move shared by
    every symbol), so that the grid's points differ and the desk's correlation and caps gates act."""
    rng = random.Random(seed)
    market = [(rng.gauss(0, 0.003), rng.random() < 0.002) for _ in range(candles)]
    for n in range(symbols):
        price = rng.uniform(0.5, 500.0)
        rows = ["timestamp,open,high,low,close,volume"]
        for i, (common, crash) in enumerate(market):
            spike = crash or rng.random() < 0.004
            move = common + rng.gauss(0, 0.003) + (rng.gauss(0, 0.02) if spike else 0.0)
            close = price * (1 + move)
            high = max(price, close) * (1 + abs(rng.gauss(0, 0.002)))
            low = min(price, close) * (1 - abs(rng.gauss(0, 0.002)))
            size = rng.uniform(2, 15) if spike else 1
            volume = rng.lognormvariate(13, 0.3) / price * size
            rows.append(
                f"{_START_MS + i * 300_000},{price:.6g},{high:.6g},{low:.6g},{close:.6g},{volume:.6g}"
            )
            price = close
        (directory / f"binanceusdm_S{n:02d}-USDT-USDT_5m.csv").write_text("\n".join(rows) + "\n")


def _sweep_doc(data: Path, names: list[str], grid: list[str], jobs: int) -> dict[str, Any]:
    settings = Settings()
    found = sweep(scan(data), grids(names, parse_grid(grid), settings), settings, jobs=jobs)
    return {
        name: {
            "signals": found.signals[name],
            "outcomes": [[[o.created_ms, o.resolved_ms, o.net_r] for o in point] for point in points],
        }
        for name, points in found.outcomes.items()
    }


def _replay_doc(data: Path) -> list[list[Any]]:
    events = list(replay_events(scan(data), on_problem=lambda _: None))
    run = replay_signals(events, names=["volume"], settings=Settings())
    return [
        [
            s.id,
            s.candidate.symbol,
            s.candidate.direction.value,
            s.candidate.time_ms,
            s.status.value,
            s.resolved_ms,
            s.exit_price,
            s.r_multiple,
            s.gross_r,
            s.fee_r,
            s.funding_r,
        ]
        for s in run.signals
    ]


def _pins(tmp: Path) -> dict[str, Any]:
    synthetic = tmp / "synthetic"
    synthetic.mkdir()
    _write_market(synthetic)
    return {
        "synthetic_volume_sweep": _sweep_doc(synthetic, ["volume"], GRID, jobs=2),
        "synthetic_volume_replay": _replay_doc(synthetic),
        "market_default_grids": _sweep_doc(MARKET, Settings().enabled_strategies(), [], jobs=1),
    }


def _rounded(doc: Any) -> Any:
    return json.loads(json.dumps(doc))  # tuples → lists, as the file holds them


def test_every_setting_resolves_exactly_as_pinned(tmp_path: Path) -> None:
    pinned = json.loads(PINS.read_text())
    fresh = _rounded(_pins(tmp_path))
    sweep_pin = pinned["synthetic_volume_sweep"]["volume"]
    assert sum(len(p) for p in sweep_pin["outcomes"]) > 50  # the pins have material
    assert len(pinned["market_default_grids"]) >= 3  # every strategy of data/market
    for key in pinned:
        assert fresh[key] == pinned[key], f"{key} moved; if a rule changed on purpose: see this module's doc"


if __name__ == "__main__":
    import tempfile

    from signalbots.logs import configure_logging

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_research_run --write")
    configure_logging(fmt="console", level="error", stream=sys.stderr)  # not a line per signal
    with tempfile.TemporaryDirectory() as tmp:
        PINS.write_text(json.dumps(_pins(Path(tmp)), indent=1) + "\n")
    print(f"wrote {PINS}")
