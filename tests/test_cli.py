"""The operator's first hour, as a user meets it: the documented setup works as written, every bad input is
one clear line with the same exit code from ``check-config`` and ``run``, and a refused start leaves nothing
behind. Real subprocesses (the console script), because what counts is what the terminal shows.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from signalbots.cli import EXIT_CODES, _parser, exit_code_table, main
from tests.config import STRATEGIES, closed_endpoints, exchanges_env, free_port
from tests.daemon_process import WAIT, DaemonProcess

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "123456789:AAE-first-hour-token-abcdefghijklmno"


# The tests' isolation, not part of the steps under test: no exchange on the internet is dialled. A daemon
# needs an exchange to watch (settings that can never signal are refused), so Binance is pointed at a closed
# port on this machine: it is dialled, refused and retried, offline; every other venue is off.
CLOSED = free_port()
OFFLINE = exchanges_env({"binanceusdm": closed_endpoints(CLOSED)})
ALL_OFF = exchanges_env()


def _env(extra: dict[str, str] | None = None, *, path: bool = True) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SIGNALBOTS_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    if path:
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | (extra or {})


def test_install_steps_work_as_written(tmp_path: Path) -> None:
    """docs/install.md: `cp .env.example .env && chmod 600 .env && signalbots check-config`, then `run`."""
    assert shutil.which("signalbots", path=str(BIN)), "the console script is installed (pip install -e .)"
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    shutil.copytree(REPO / "config", tmp_path / "config")
    env = _env(OFFLINE | {"SIGNALBOTS_HTTP__LISTEN": f"127.0.0.1:{free_port()}"})
    checked = subprocess.run(
        "cp .env.example .env && chmod 600 .env && signalbots check-config",
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip().splitlines()[-1] == "settings OK"
    assert "bot_token = null" in checked.stdout  # the example's empty token means "none": a dry run

    daemon = DaemonProcess(args=["run"], cwd=tmp_path, env=env)
    try:
        dry = daemon.wait_log("dry_run")
        assert "no Telegram token" in dry["reason"]
        assert daemon.wait_log("ready")["unclean_previous_run"] is False
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.close()
    assert (tmp_path / "state" / "signalbots.db").exists()  # `./state`, as install.md says


def test_a_start_refused_with_78_is_not_reported_as_unclean_next_time(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = OFFLINE | {"SIGNALBOTS_DAEMON__STATE_DIR": str(state), "SIGNALBOTS_HTTP__LISTEN": ""}
    (tmp_path / ".env").write_text("SIGNALBOTS_TELEGRAM__BOT_TOKEN=pasted-the-wrong-thing\n")
    (tmp_path / ".env").chmod(0o600)
    refused = subprocess.run(
        [sys.executable, "-m", "signalbots", "run"],
        cwd=tmp_path,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert refused.returncode == 78, refused.stderr
    assert "not a bot token" in refused.stderr
    assert not state.exists()  # nothing written before the settings are valid

    (tmp_path / ".env").write_text("# token removed: a dry run\n")
    daemon = DaemonProcess(args=["run"], cwd=tmp_path, env=env | {"SIGNALBOTS_HTTP__LISTEN": "127.0.0.1:0"})
    try:
        assert daemon.wait_log("ready")["unclean_previous_run"] is False
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.close()
    assert not any("uncleanly" in line for line in daemon.lines)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (ALL_OFF, "every exchange is disabled (binanceusdm, bybit, okx, mexc, hyperliquid: enabled = false)"),
        (
            OFFLINE | {f"SIGNALBOTS_STRATEGIES__{s.upper()}__ENABLED": "false" for s in STRATEGIES},
            "every strategy is disabled (liquidation, funding, volume, open_interest: enabled = false)",
        ),
        (
            exchanges_env({"mexc": closed_endpoints(CLOSED)})
            | {
                "SIGNALBOTS_STRATEGIES__FUNDING__ENABLED": "false",
                "SIGNALBOTS_STRATEGIES__VOLUME__ENABLED": "false",
                "SIGNALBOTS_STRATEGIES__OPEN_INTEREST__ENABLED": "false",  # MEXC's ticker carries it
            },
            "no enabled strategy gets its data from the enabled exchanges (mexc): "
            "liquidation reads liquidations",
        ),
    ],
    ids=["no exchange", "no strategy", "no strategy's input"],
)
def test_settings_that_can_never_signal_are_refused_in_one_line(
    tmp_path: Path, settings: dict[str, str], says: str
) -> None:
    """Issue 21, finding 1: `check-config` said `settings OK` and the daemon answered 200 watching nothing."""
    env = _env(
        settings | {"SIGNALBOTS_DAEMON__STATE_DIR": str(tmp_path / "state"), "SIGNALBOTS_HTTP__LISTEN": ""}
    )
    results = {}
    for command in ("check-config", "run"):
        done = subprocess.run(
            ["signalbots", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT
        )
        results[command] = (done.returncode, done.stderr)
    for command, (code, err) in results.items():
        assert code == 78, f"{command}: {code}\n{err}"
        (line,) = err.splitlines()
        assert line.startswith(f"signalbots: no signal possible: {says}"), line
    assert results["check-config"] == results["run"]
    assert not (tmp_path / "state").exists()


def test_every_line_the_env_example_suggests_is_accepted(tmp_path: Path) -> None:
    """Uncommenting a line of .env.example never earns an 'unknown variable' (issue 21, finding 6)."""
    (tmp_path / "custom.toml").write_text(
        (REPO / "config" / "signalbots.toml").read_text().replace("max_open = 10 ", "max_open = 9  ")
    )
    text = (REPO / ".env.example").read_text().replace("/etc/signalbots/signalbots.toml", "custom.toml")
    uncommented = re.sub(r"(?m)^# (SIGNALBOTS_\w+=)", r"\1", text)
    assert "\nSIGNALBOTS_CONFIG=custom.toml" in uncommented
    (tmp_path / ".env").write_text(uncommented)
    (tmp_path / ".env").chmod(0o600)
    checked = subprocess.run(
        [sys.executable, "-m", "signalbots", "check-config"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert checked.returncode == 0, checked.stderr
    assert "max_open = 9" in checked.stdout  # the file .env names is the one read
    assert 'format = "json"' in checked.stdout  # and the other suggested lines are in force


# every bad input the operator met (issue 11) and the bad TOMLs of the other tests --------------------------
@dataclass(frozen=True)
class Bad:
    name: str
    says: str  # what the message must contain (the key, variable or file, and the fix)
    toml: str | bytes | None = None
    dotenv: str | bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = None  # --config argument; default: the toml written as s.toml


BAD = [
    Bad("binary TOML", "not a text file", toml=b"\x7fELF\x02\x01\x01\x00\xd0\xff"),
    Bad("binary .env", "'.env': not a text file", dotenv=b"\x7fELF\x02\x01\x01\x00\xd0\xff"),
    Bad(
        "list in env without JSON",
        "(env SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS): a list is written as JSON, "
        "e.g. SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS=[1, 2]",
        env={"SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS": "1,2"},
    ),
    Bad(
        "list in .env without JSON",
        "(.env:1 SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS): a list is written as JSON",
        dotenv="SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS=1,2\n",
    ),
    Bad(
        "unparsable .env line",
        ".env:2 (SIGNALBOTS_RISK__MAX_OPEN): cannot parse this line",
        dotenv='# risk\nSIGNALBOTS_RISK__MAX_OPEN="5\n',
    ),
    Bad(
        "unknown .env variable",
        "SIGNALBOTS_RISK_MAX_OPEN (.env:1): unknown variable (typo?); "
        "did you mean SIGNALBOTS_RISK__MAX_OPEN?",
        dotenv="SIGNALBOTS_RISK_MAX_OPEN=5\n",
    ),
    Bad("--config is a directory", "is a directory; name the TOML file in it", config="."),
    Bad("--config does not exist", "does not exist (named by --config)", config="nope.toml"),
    Bad(
        "quoted boolean",
        "strategies.volume.enabled (s.toml:2): expected true or false",
        toml='[strategies.volume]\nenabled = "yes"\n',
    ),
    Bad(
        "quoted number",
        "risk.max_open (s.toml:2): expected a whole number, not a quoted string; write max_open = 10",
        toml='[risk]\nmax_open = "10"\n',
    ),
    Bad(
        "budget_fraction 0",
        "exchanges.okx.budget_fraction (s.toml:2): must be a fraction in (0, 1]",
        toml="[exchanges.okx]\nbudget_fraction = 0\n",
    ),
    Bad("heartbeat 0s", "daemon.heartbeat_interval", toml='[daemon]\nheartbeat_interval = "0s"\n'),
    Bad("expiry 0ms", "strategies.liquidation.expiry", toml='[strategies.liquidation]\nexpiry = "0ms"\n'),
    Bad(
        "stale_after 0s",
        "exchanges.binanceusdm.stale_after",
        toml='[exchanges.binanceusdm]\nstale_after = "0s"\n',
    ),
    Bad("shutdown_timeout 0ms", "daemon.shutdown_timeout", toml='[daemon]\nshutdown_timeout = "0ms"\n'),
    Bad(
        "a token that is not a token",
        "telegram.bot_token (.env:1 SIGNALBOTS_TELEGRAM__BOT_TOKEN): not a bot token",
        dotenv="SIGNALBOTS_TELEGRAM__BOT_TOKEN=paste-here\nSIGNALBOTS_TELEGRAM__ALERT_CHAT_ID=5\n",
    ),
    Bad(
        "a token without an alert chat",
        "telegram.alert_chat_id (not set): required when a bot token is set; "
        "e.g. SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID=-1001234567890 in .env",
        env={"SIGNALBOTS_TELEGRAM__BOT_TOKEN": TOKEN},
    ),
    Bad("TOML syntax", "not valid TOML", toml="[daemon\nstate_dir = 1\n"),
    Bad("unknown exchange", "unknown exchange kraken", toml="[exchanges.kraken]\nenabled = true\n"),
    Bad(  # tests/test_settings.py
        "typo, wrong type, bad duration",
        "daemon.heartbeat_intervall (s.toml:2): unknown key (typo?); did you mean 'heartbeat_interval'?",
        toml='[daemon]\nheartbeat_intervall = "1h"\n[strategies.volume]\nmultiple = "lots"\n'
        '[strategies.liquidation]\ncooldown = "30 minutes"\n',
    ),
    Bad(  # tests/test_app.py's rejected reload
        "reload's bad file",
        "strategies.volume.bogus",
        toml='[strategies.volume]\nmultiple = "lots"\nbogus = 1\n',
    ),
    Bad("bad timeframe", "strategies.volume.timeframe", toml='[strategies.volume]\ntimeframe = "7x"\n'),
    Bad("bad listen", "http.listen", env={"SIGNALBOTS_HTTP__LISTEN": "9464"}),
]


def _spawn(bad: Bad, cwd: Path, command: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "signalbots"]
    if bad.config is not None:
        args += ["--config", bad.config]
    elif bad.toml is not None:
        args += ["--config", "s.toml"]
    env = _env(
        OFFLINE
        | {"SIGNALBOTS_HTTP__LISTEN": "", "SIGNALBOTS_DAEMON__STATE_DIR": str(cwd / "state")}
        | bad.env
    )
    return subprocess.Popen(
        [*args, command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("bad", BAD, ids=lambda b: b.name)
def test_check_config_and_run_refuse_bad_input_alike(tmp_path: Path, bad: Bad) -> None:
    for name, content in (("s.toml", bad.toml), (".env", bad.dotenv)):
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        elif content is not None:
            (tmp_path / name).write_text(content)
    if (tmp_path / ".env").exists():
        (tmp_path / ".env").chmod(0o600)
    procs = {cmd: _spawn(bad, tmp_path, cmd) for cmd in ("check-config", "run")}
    results = {}
    for cmd, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{cmd} accepted {bad.name!r} and kept running") from None
        results[cmd] = (proc.returncode, err, out)
    for cmd, (code, err, out) in results.items():
        assert code == 78, f"{cmd}: {code}\n{err}"
        assert "Traceback" not in err + out and "Error:" not in err.splitlines()[0]
        assert err.startswith("signalbots: invalid settings:\n  - "), err
        assert bad.says in err, err
    assert results["check-config"][1] == results["run"][1]  # the same lines, one code path
    assert not (tmp_path / "state").exists()


# help and exit codes ---------------------------------------------------------------------------------------
def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_the_readme_has_the_exit_code_table_of_the_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert exit_code_table() in readme
    assert (
        set(EXIT_CODES)
        == set(_subparsers())
        == {"run", "check-config", "status", "backtest", "research", "demo", "record"}
    )


@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_every_command_help_has_a_description_options_with_defaults_and_exit_codes(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = _help(capsys, command)
    parser = _subparsers()[command]
    assert parser.description and " ".join(parser.description.split()[:4]) in " ".join(text.split())
    assert "--config PATH" in text  # also after the command (it was missing from record's help)
    codes = text[text.index("exit codes:") :]
    for code, meaning in EXIT_CODES[command]:
        assert f"  {code:<3} {meaning}" in codes
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"{command} {action.option_strings}: no help"
        takes_value = action.nargs != 0
        if takes_value:
            assert "default" in action.help or "required" in action.help or action.required, (
                f"{command} {action.option_strings}: the help does not say the default"
            )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["backtest"], "the following arguments are required: --data"),
        (["backtest", "--data", "x", "--strategy", "momentum"], "invalid choice: 'momentum'"),
        (["backtest", "--data", "x", "--from", "yesterday"], "'yesterday' is not a time"),
        (["demo", "--minutes", "0"], "argument --minutes: 0 must be more than 0 market minutes"),
        (["demo", "--minutes", "-1"], "argument --minutes: -1 must be more than 0 market minutes"),
        (["demo", "--minutes", "ten"], "argument --minutes: 'ten' is not a number of minutes"),
        (["demo", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
        (["record"], "the following arguments are required: --out"),
        (["record", "--out", "r", "--duration", "0s"], "argument --duration: '0s' must be longer than 0"),
        (["record", "--out", "r", "--duration", "soon"], "argument --duration: 'soon' is not a duration"),
    ],
)
def test_bad_arguments_exit_64_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 64  # EX_USAGE, as docs/backtest.md documents (argparse alone exits 2)
    err = capsys.readouterr().err
    assert err.startswith("usage: signalbots")
    assert says in err.splitlines()[-1], err
