"""Which serves the trader better when many symbols fire together: the first few, the strongest few, or
only the market-wide alert? Replays data sets and prints net R per choice (issue 24).

Two measurements per data set:

1. **Within the moments** (every candidate a trade: caps and market moves off, cooldowns as usual): for
   each moment where at least ``--min`` symbols fired one strategy's alert the same way, the net R of the
   first ``--top`` in alphabetical order (what the desk's caps kept before), of the strongest ``--top``,
   and of all of them.
2. **End to end** (the default desk, caps on): total and mean net R of the signals sent with market moves
   off, with the strongest ``--top`` sent beside the market-wide alert, and with the alert only.

    python scripts/market_moves.py --data data/market --data data/real
    python scripts/market_moves.py --synthetic market        # 60 symbols with a common market factor
    python scripts/market_moves.py --synthetic independent   # the research benchmark's 100 random walks
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from signalbots.backtest import replay_signals
from signalbots.logs import configure_logging
from signalbots.marketdata import scan
from signalbots.replay import Replayed, replay_events
from signalbots.settings import RiskSettings, Settings
from signalbots.signals.market_move import moment_of
from signalbots.signals.model import Signal
from signalbots.signals.stats import compute

_START_MS = 1_700_000_000_000 // 300_000 * 300_000
_UNCAPPED = {
    "max_open": 10_000,
    "max_open_per_strategy": 10_000,
    "daily_cap": 100_000,
    "strategy_daily_cap": 100_000,
}


def write_market(directory: Path, *, symbols: int = 60, candles: int = 8_064, seed: int = 24) -> None:
    """5m candles of ``symbols`` perpetuals (four weeks) driven by one market factor: now and then the whole
    market jumps (each symbol by its own beta), and volume rises with each symbol's absolute move."""
    rng = random.Random(seed)
    betas = [rng.uniform(0.6, 1.8) for _ in range(symbols)]
    prices = [rng.uniform(0.5, 500.0) for _ in range(symbols)]
    usd = [rng.uniform(2e5, 3e6) for _ in range(symbols)]  # a typical candle's quote volume
    rows: list[list[str]] = [["timestamp,open,high,low,close,volume"] for _ in range(symbols)]
    for i in range(candles):
        shock = rng.random() < 0.003
        market = rng.gauss(0, 0.0015) + (rng.choice((-1, 1)) * rng.uniform(0.01, 0.03) if shock else 0.0)
        for n in range(symbols):
            move = betas[n] * market + rng.gauss(0, 0.003)
            price = prices[n]
            close = price * (1 + move)
            high = max(price, close) * (1 + abs(rng.gauss(0, 0.001)))
            low = min(price, close) * (1 - abs(rng.gauss(0, 0.001)))
            quote = usd[n] * rng.lognormvariate(0, 0.3) * (1 + 400 * abs(move) * rng.uniform(0.5, 1.5))
            rows[n].append(
                f"{_START_MS + i * 300_000},{price:.6g},{high:.6g},{low:.6g},{close:.6g},{quote / close:.6g}"
            )
            prices[n] = close
    for n in range(symbols):
        (directory / f"binanceusdm_M{n:03d}-USDT-USDT_5m.csv").write_text("\n".join(rows[n]) + "\n")


def _events(path: Path) -> list[Replayed]:
    return list(replay_events(scan(path), on_problem=lambda p: print(f"  {p}", file=sys.stderr)))


def _settings(**risk: float) -> Settings:
    return Settings(_env_file=None, risk=RiskSettings(**risk))  # type: ignore[arg-type]


def _line(label: str, values: Sequence[float]) -> str:
    st = compute(list(values))
    if not st.count:
        return f"  {label:<34} n=0"
    ci = "" if st.ci95_low is None else f" (95% {st.ci95_low:+.2f} to {st.ci95_high:+.2f})"
    return f"  {label:<34} n={st.count:<5} mean {st.avg_r:+.3f}R{ci}  total {st.total_r:+.1f}R"


def _net(signals: Iterable[Signal]) -> list[float]:
    return [s.r_multiple for s in signals if s.r_multiple is not None and math.isfinite(s.r_multiple)]


def measure(name: str, events: list[Replayed], strategies: list[str], minimum: int, top: int) -> None:
    print(f"{name}: {sum(1 for _ in events):,} events")
    every = replay_signals(events, names=strategies, settings=_settings(market_move_min=0, **_UNCAPPED))
    moments: dict[object, list[Signal]] = defaultdict(list)
    for sig in every.signals:
        key = moment_of(sig.candidate)
        if key is not None:
            moments[key].append(sig)
    moves = [sigs for sigs in moments.values() if len(sigs) >= minimum]
    sizes = sorted(len(m) for m in moves)
    more = "…" if len(sizes) > 12 else ""
    print(f"  moments with ≥ {minimum} symbols firing together: {len(moves)} (sizes {sizes[:12]}{more})")
    first = [s for m in moves for s in sorted(m, key=lambda s: s.candidate.symbol)[:top]]
    strongest = [s for m in moves for s in sorted(m, key=lambda s: -s.candidate.strength)[:top]]
    print(_line(f"within moves: first {top} (alphabetical)", _net(first)))
    print(_line(f"within moves: strongest {top}", _net(strongest)))
    print(_line("within moves: all of them", _net(s for m in moves for s in m)))
    print(
        _line(
            "outside moves: every other signal",
            _net(s for sigs in moments.values() if len(sigs) < minimum for s in sigs),
        )
    )
    for label, risk in (
        ("desk: market moves off", {"market_move_min": 0}),
        (f"desk: strongest {top} + one alert", {"market_move_min": minimum, "market_move_top": top}),
        ("desk: the alert only", {"market_move_min": minimum, "market_move_top": 0}),
    ):
        run = replay_signals(events, names=strategies, settings=_settings(**risk))
        print(_line(label, _net(run.signals)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", type=Path, default=[], metavar="DIR")
    parser.add_argument("--synthetic", choices=("market", "independent"), action="append", default=[])
    parser.add_argument("--seed", type=int, default=24, help="of the synthetic market (24)")
    parser.add_argument("--strategy", action="append", default=None, metavar="NAME")
    parser.add_argument("--min", type=int, default=4, help="symbols that make a market-wide move (4)")
    parser.add_argument("--top", type=int, default=2, help="the few sent as trades (2)")
    args = parser.parse_args(argv)
    strategies = args.strategy or ["volume"]
    configure_logging(level="error", stream=sys.stderr)
    for path in args.data:
        measure(str(path), _events(path), strategies, args.min, args.top)
    for kind in args.synthetic:
        with tempfile.TemporaryDirectory(prefix="signalbots-moves-") as tmp:
            if kind == "market":
                write_market(Path(tmp), seed=args.seed)
            else:
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
                from benchmarks.research import write_candles

                write_candles(Path(tmp))
            measure(
                f"synthetic ({kind}, seed {args.seed})", _events(Path(tmp)), strategies, args.min, args.top
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
