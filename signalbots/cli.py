"""``signalbots`` command line. Exit codes per command: ``EXIT_CODES`` (the README has the same table)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from signalbots import __version__
from signalbots.settings import (
    CREDENTIAL_BOT_TOKEN,
    ConfigError,
    effective,
    env_file_warning,
    load_settings,
    parse_duration,
)

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_CANTCREAT = 73
EX_CONFIG = 78

# The exit codes, per command; the README's table says the same (tests/test_cli.py compares them).
_SETTINGS = (EX_CONFIG, "invalid settings (every problem listed by file, variable or key)")
_BUG = (EX_FAILURE, "an unexpected error (see the log)")
_USAGE = (EX_USAGE, "bad command-line arguments")
EXIT_CODES: dict[str, list[tuple[int, str]]] = {
    "run": [
        (EX_OK, "stopped cleanly (SIGTERM, SIGINT / Ctrl-C)"),
        (EX_FAILURE, "a fatal error (see the log)"),
        _USAGE,
        _SETTINGS,
    ],
    "check-config": [(EX_OK, "the settings are valid"), _BUG, _USAGE, _SETTINGS],
    "status": [
        (EX_OK, "the daemon answers and is healthy"),
        (EX_FAILURE, "the daemon is unhealthy, unreachable, or serves no /healthz"),
        _USAGE,
        _SETTINGS,
    ],
    "backtest": [
        (EX_OK, "replayed; the report is on stdout"),
        _BUG,
        _USAGE,
        (EX_DATAERR, "a data file was rejected (nothing replayed), or a recording is damaged mid-way"),
        (EX_NOINPUT, "no such path, or no usable data in it"),
        (EX_CANTCREAT, "the --plot file cannot be written (the report was printed)"),
        _SETTINGS,
    ],
    "demo": [
        (EX_OK, "the demo showed every kind of message, or was stopped with Ctrl-C"),
        (EX_FAILURE, "the demo ended without a signal from each strategy, an outcome or a heartbeat"),
        _USAGE,
        _SETTINGS,
    ],
    "record": [
        (EX_OK, "stopped (duration over, SIGTERM, Ctrl-C) with events recorded"),
        (EX_FAILURE, "nothing was recorded, or every exchange stopped for good (the reason is printed)"),
        _USAGE,
        (EX_CANTCREAT, "the output directory cannot be created"),
        _SETTINGS,
    ],
}
_CONFIG_HELP = (
    "TOML settings file (default: $SIGNALBOTS_CONFIG, else config/signalbots.toml, else "
    "/etc/signalbots/signalbots.toml; none: the built-in defaults)"
)


def exit_code_table() -> str:
    """The README's exit-code table (Markdown), from ``EXIT_CODES``."""
    rows = ["| code | meaning |", "|---|---|"]
    for code in sorted({c for codes in EXIT_CODES.values() for c, _ in codes}):
        meanings = {cmd: m for cmd, codes in EXIT_CODES.items() for c, m in codes if c == code}
        if len(meanings) == len(EXIT_CODES) and len(set(meanings.values())) == 1:
            text = f"every command: {next(iter(meanings.values()))}"
        else:
            text = " · ".join(f"`{cmd}`: {m}" for cmd, m in meanings.items())
        rows.append(f"| {code} | {text} |")
    return "\n".join(rows)


class _Parser(argparse.ArgumentParser):
    """Bad arguments exit 64 (EX_USAGE, sysexits.h) like the commands' own usage errors, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _epilog(codes: list[tuple[int, str]]) -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<3} {meaning}" for code, meaning in codes)


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 market minutes (e.g. 60)")
    return value


def _positive_duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than 0 (e.g. 90s, 30m, 6h)")
    return seconds


def _credential(text: str) -> tuple[str, Path]:
    ident, sep, path = text.partition(":")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID:PATH (as in the unit's LoadCredential=)")
    if ident != CREDENTIAL_BOT_TOKEN:
        raise argparse.ArgumentTypeError(f"unknown credential {ident!r} (known: {CREDENTIAL_BOT_TOKEN})")
    return ident, Path(path)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="signalbots",
        description="Crypto perpetual-futures signals to Telegram: one supervised daemon and its tools.",
        epilog="Run 'signalbots COMMAND --help' for a command's options and its exit codes: 0 success, "
        "1 failure, 64 bad arguments, 78 invalid settings, and (backtest) 65 rejected data, 66 no data, "
        "73 cannot write the plot, (record) 73 cannot create the output directory.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"signalbots {__version__}")
    p.add_argument("--config", metavar="PATH", help=_CONFIG_HELP)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `--config` is accepted after the subcommand too (`signalbots status --config FILE`).
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=_CONFIG_HELP)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=textwrap.fill(description, 100),  # raw (for the epilog's table): wrap it here
            epilog=_epilog(EXIT_CODES[name]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common] if name != "backtest" else [],
        )

    command(
        "run",
        "run the daemon",
        "Run the daemon: watch the enabled exchanges, run the strategies and send signals to Telegram. "
        "Without a bot token it runs dry and prints every message to the log. SIGTERM or Ctrl-C stop it "
        "cleanly; SIGHUP re-reads the settings.",
    )
    cc = command(
        "check-config",
        "validate the settings and print the effective values",
        "Validate the settings (TOML file, .env, environment) exactly as 'run' does, and print the "
        "effective values with secrets masked.",
    )
    cc.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    cc.add_argument(
        "--credential",
        type=_credential,
        action="append",
        default=None,
        metavar="ID:PATH",
        help="read a credential as the unit's LoadCredential=ID:PATH hands it to 'run', e.g. "
        f"{CREDENTIAL_BOT_TOKEN}:/etc/signalbots/bot_token (default: $CREDENTIALS_DIRECTORY)",
    )
    st = command(
        "status",
        "ask a running daemon for its health",
        "Ask the running daemon for its health at [http] listen (GET /healthz) and print a summary.",
    )
    st.add_argument("--json", action="store_true", help="print the raw /healthz JSON")
    bt = command(
        "backtest",
        "replay recorded market data through the strategies",
        "Replay recorded market data (candle/funding CSVs, 'record' recordings) through the strategies, "
        "the desk and the tracker: which signals these settings would have sent, and how they ended. "
        "See docs/backtest.md.",
    )
    from signalbots.backtest import add_arguments as backtest_arguments

    backtest_arguments(bt)
    dm = command(
        "demo",
        "the whole product against a simulated market, offline",
        "The whole product against a simulated market and a simulated Telegram, offline: a scripted hour "
        "in which every strategy fires, printed as the chats show it. See docs/demo.md.",
    )
    dm.add_argument(
        "--minutes",
        type=_positive_minutes,
        default=60.0,
        help="simulated market minutes to run, at 30× speed (default: 60, about two minutes)",
    )
    dm.add_argument(
        "--seed",
        type=int,
        default=7,
        help="seed of the simulated market: the same seed tells the same story (default: 7)",
    )
    dm.add_argument(
        "--telegram-real",
        action="store_true",
        help="send the demo to the real chat in SIGNALBOTS_TELEGRAM__* instead of the simulator",
    )
    rc = command(
        "record",
        "record live normalised market events to gzip JSON lines",
        "Record the live exchanges' normalised events (liquidations, funding, closed candles, tickers) "
        "to hourly gzip JSON-lines files that 'backtest --data DIR' replays. Sends nothing to Telegram and "
        "opens no state database. See docs/backtest.md.",
    )
    rc.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="directory for events-<YYYYMMDD-HH>.jsonl.gz (created if missing; required)",
    )
    rc.add_argument(
        "--duration",
        type=_positive_duration,
        default=None,
        metavar="D",
        help="stop after D, e.g. 90s, 30m, 6h, 7d (default: until SIGTERM or Ctrl-C)",
    )
    rc.add_argument(
        "--exchange",
        action="append",
        default=None,
        metavar="ID",
        help="record this exchange (binanceusdm, bybit, okx, mexc), even if disabled for the daemon; "
        "repeatable (default: the enabled exchanges)",
    )
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
    credentials = dict(args.credential) if args.credential is not None else None
    settings = load_settings(args.config, credentials=credentials)
    from signalbots.coverage import require_a_signal

    require_a_signal(settings)  # as `run` refuses it
    if (warning := env_file_warning()) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    data = effective(settings)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_settings(data)
    print("settings OK", file=sys.stderr)
    from signalbots.recovery import describe_state

    if (state := describe_state(settings.daemon.state_dir / "signalbots.db")) is not None:
        print(f"warning: {state}", file=sys.stderr)  # read only: the daemon's next start acts on it
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
    from signalbots.coverage import require_a_signal

    require_a_signal(settings)  # a daemon that can never signal would look healthy (issue 21)
    from signalbots.app import Daemon

    return asyncio.run(Daemon(config=args.config, settings=settings).run())


def _demo(args: argparse.Namespace) -> int:
    from signalbots.demo import run_demo

    return run_demo(
        minutes=args.minutes, seed=args.seed, telegram_real=args.telegram_real, config=args.config
    )


def _record(args: argparse.Namespace) -> int:
    from signalbots.record import run_record

    return run_record(config=args.config, out=args.out, duration_s=args.duration, exchanges=args.exchange)


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
