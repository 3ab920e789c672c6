"""``signalbots`` command line. Exit codes: 0 clean, 78 invalid settings (EX_CONFIG), 1 other failure."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from signalbots import __version__
from signalbots.settings import ConfigError, effective, env_file_warning, load_settings

EX_OK = 0
EX_FAILURE = 1
EX_CONFIG = 78


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signalbots", description="Crypto perpetual-futures signal daemon.")
    p.add_argument("--version", action="version", version=f"signalbots {__version__}")
    p.add_argument(
        "--config",
        metavar="PATH",
        help="TOML settings file (default: $SIGNALBOTS_CONFIG, config/signalbots.toml, "
        "/etc/signalbots/signalbots.toml)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `--config` is accepted after the subcommand too (`signalbots status --config FILE`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_parser("run", help="run the daemon", parents=[common])
    cc = sub.add_parser(
        "check-config", help="validate settings and print the effective values", parents=[common]
    )
    cc.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    st = sub.add_parser("status", help="ask a running daemon for its health", parents=[common])
    st.add_argument("--json", action="store_true", help="print the raw /healthz JSON")
    bt = sub.add_parser("backtest", help="replay recorded market data through the strategies")
    from signalbots.backtest import add_arguments as backtest_arguments

    backtest_arguments(bt)
    dm = sub.add_parser(
        "demo", help="the whole product against a simulated market, offline", parents=[common]
    )
    dm.add_argument("--minutes", type=float, default=None, help="simulated market minutes to run")
    dm.add_argument("--seed", type=int, default=7)
    dm.add_argument(
        "--telegram-real",
        action="store_true",
        help="send the demo to the real chat in SIGNALBOTS_TELEGRAM__* instead of the simulator",
    )
    rc = sub.add_parser(
        "record", help="record live normalised market events to gzip JSON lines", parents=[common]
    )
    rc.add_argument("--out", required=True, metavar="DIR")
    rc.add_argument("--duration", default=None, help="e.g. 1h; default: until stopped")
    rc.add_argument("--exchange", action="append", default=None, metavar="ID")
    return p


def _print_settings(data: dict[str, object], prefix: str = "") -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) or not v}
    nested = {k: v for k, v in data.items() if isinstance(v, dict) and v}
    if prefix and scalars:
        print(f"[{prefix}]")
    for key, value in scalars.items():
        print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if prefix and scalars:
        print()
    for key, value in nested.items():
        assert isinstance(value, dict)
        _print_settings(value, f"{prefix}.{key}" if prefix else key)


def _check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if (warning := env_file_warning()) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    data = effective(settings)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_settings(data)
    print("settings OK", file=sys.stderr)
    return EX_OK


def _status(args: argparse.Namespace) -> int:
    from signalbots.http import describe_health, fetch_health

    settings = load_settings(args.config)
    if not settings.http.listen:
        print("status: [http] listen is empty, the daemon serves no /healthz", file=sys.stderr)
        return EX_FAILURE
    try:
        code, data = asyncio.run(fetch_health(settings.http.listen))
    except ConnectionError as err:
        print(f"status: {err}", file=sys.stderr)
        return EX_FAILURE
    print(json.dumps(data, indent=2) if args.json else describe_health(code, data))
    return EX_OK if code == 200 else EX_FAILURE


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)  # refused in a quarter second, before the daemon's imports
    from signalbots.app import Daemon

    return asyncio.run(Daemon(config=args.config, settings=settings).run())


def _demo(args: argparse.Namespace) -> int:
    from signalbots.demo import run_demo

    return run_demo(
        minutes=args.minutes, seed=args.seed, telegram_real=args.telegram_real, config=args.config
    )


def _record(args: argparse.Namespace) -> int:
    from signalbots.record import run_record

    return run_record(config=args.config, out=args.out, duration=args.duration, exchanges=args.exchange)


def _backtest(args: argparse.Namespace) -> int:
    from signalbots.backtest import main as backtest_main

    return backtest_main(args)


_COMMANDS = {
    "run": _run,
    "check-config": _check_config,
    "status": _status,
    "demo": _demo,
    "record": _record,
    "backtest": _backtest,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as err:
        print(f"signalbots: {err}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return EX_OK
    except Exception as err:  # the last line of defence: logged (redacted), never a raw traceback
        import structlog

        structlog.get_logger("signalbots").critical(
            "fatal", error=f"{type(err).__name__}: {err}", exc_info=err
        )
        return EX_FAILURE
