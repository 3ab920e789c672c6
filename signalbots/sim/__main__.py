"""``python -m signalbots.sim``: the exchange simulator alone, to try ``record``, ``backtest``, ``run``.

Starts one local server per simulated exchange on 127.0.0.1 (free ports, real time), prints where they
listen and the settings that point signalbots at them — every other exchange off, so nothing leaves the
machine — and serves until Ctrl-C or SIGTERM (or ``--duration``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from signalbots.clock import SystemClock
from signalbots.exchange.venues import VENUES as KNOWN_EXCHANGES
from signalbots.sim.exchange import VENUES as SIMULATED
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market


def settings_toml(sim: ExchangeSim, exchanges: tuple[str, ...]) -> str:
    """A settings file for ``signalbots --config``: the simulated exchanges on, every other one off."""
    lines = [
        "# signalbots settings for the local exchange simulator (python -m signalbots.sim);",
        "# valid while it runs: its ports change on every start.",
    ]
    for exchange in KNOWN_EXCHANGES:
        lines.append(f"[exchanges.{exchange}]")
        if exchange in exchanges:
            lines += [
                "enabled = true",
                f'rest_url = "{sim.rest_url(exchange)}"',
                f'ws_url = "{sim.ws_url(exchange)}"',
            ]
        else:
            lines.append("enabled = false")
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m signalbots.sim",
        description="Serve simulated exchanges on 127.0.0.1 and print the settings that use them.",
    )
    parser.add_argument(
        "--exchange",
        action="append",
        choices=sorted(SIMULATED),
        metavar="ID",
        help=f"simulate this exchange ({', '.join(SIMULATED)}); repeatable (default: binanceusdm)",
    )
    parser.add_argument("--symbols", type=int, default=6, help="listed symbols per exchange (default: 6)")
    parser.add_argument("--seed", type=int, default=1, help="the market's random seed (default: 1)")
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help="write the settings to FILE instead of printing them"
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after SECONDS (default: until Ctrl-C)"
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    exchanges = tuple(dict.fromkeys(args.exchange or ["binanceusdm"]))
    clock = SystemClock()
    market = Market(clock=clock, seed=args.seed, symbols=args.symbols, exchanges=exchanges)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ExchangeSim(market=market, clock=clock, exchanges=exchanges) as sim:
        for exchange in exchanges:
            urls = f"REST {sim.rest_url(exchange)}  websocket {sim.ws_url(exchange)}"
            print(f"{exchange}: {urls}", file=sys.stderr)
        settings = settings_toml(sim, exchanges)
        if args.write is None:
            print(settings, end="", flush=True)
        else:
            args.write.write_text(settings, encoding="utf-8")
            print(f"settings written to {args.write}", file=sys.stderr)
        print("serving until Ctrl-C", file=sys.stderr, flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
