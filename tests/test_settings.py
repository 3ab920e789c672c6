"""Settings: TOML + env + .env, every problem named, secrets masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signalbots.cli import EX_CONFIG, main
from signalbots.settings import (
    ConfigError,
    changed_keys,
    env_file_warning,
    format_duration,
    load_settings,
    parse_duration,
)

TOKEN = "123456789:AAE-secret-token-value-abcdefghijklmno"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("SIGNALBOTS_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_match_the_design() -> None:
    s = load_settings(env_file=None)
    assert s.daemon.heartbeat_interval == 3600
    assert s.http.listen == "127.0.0.1:9464"
    assert s.strategies.volume.multiple == 6 and s.strategies.volume.baseline == 48
    assert s.strategies.funding.extreme_per_8h == pytest.approx(0.001)
    assert s.strategies.liquidation.window == 300
    assert s.telegram.bot_token is None


def test_toml_then_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, '[daemon]\nheartbeat_interval = "5m"\n[strategies.volume]\nmultiple = 4\n')
    monkeypatch.setenv("SIGNALBOTS_STRATEGIES__VOLUME__MULTIPLE", "9")
    s = load_settings(cfg, env_file=None)
    assert s.daemon.heartbeat_interval == 300
    assert s.strategies.volume.multiple == 9


def test_dotenv_supplies_secrets_and_warns_when_world_readable(tmp_path: Path) -> None:
    env = write(
        tmp_path, f"SIGNALBOTS_TELEGRAM__BOT_TOKEN={TOKEN}\nSIGNALBOTS_TELEGRAM__ALERT_CHAT_ID=7\n", ".env"
    )
    env.chmod(0o644)
    s = load_settings(env_file=str(env))
    assert s.telegram.bot_token is not None and s.telegram.bot_token.get_secret_value() == TOKEN
    warning = env_file_warning(env)
    assert warning is not None and "chmod 600" in warning and str(env) in warning
    env.chmod(0o600)
    assert env_file_warning(env) is None


def test_systemd_credential_supplies_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "telegram_bot_token").write_text(TOKEN + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", "7")
    s = load_settings(env_file=None)
    assert s.telegram.bot_token is not None and s.telegram.bot_token.get_secret_value() == TOKEN


def test_missing_named_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env_file=None)
    monkeypatch.setenv("SIGNALBOTS_CONFIG", str(tmp_path / "also-nope.toml"))
    with pytest.raises(ConfigError, match="SIGNALBOTS_CONFIG"):
        load_settings(env_file=None)


def test_check_config_names_every_problem_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(
        tmp_path,
        """
[daemon]
heartbeat_intervall = "1h"        # typo'd key
[strategies.volume]
multiple = "lots"                 # wrong type
[strategies.liquidation]
cooldown = "30 minutes"           # bad duration
""",
    )
    assert main(["--config", str(cfg), "check-config"]) == EX_CONFIG
    err = capsys.readouterr().err
    # each by the file and line it is written on, never by an env name the user did not use
    assert (
        f"daemon.heartbeat_intervall ({cfg}:3): unknown key (typo?); did you mean 'heartbeat_interval'?"
        in err
    )
    assert f"strategies.volume.multiple ({cfg}:5): expected a number" in err
    assert f"strategies.liquidation.cooldown ({cfg}:7): '30 minutes' is not a duration" in err
    assert "(env " not in err


def test_check_config_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__BOT_TOKEN", TOKEN)
    cfg = write(tmp_path, "[telegram]\nalert_chat_id = 42\n")
    assert main(["--config", str(cfg), "check-config"]) == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert 'bot_token = "**********"' in out.out
    assert "alert_chat_id = 42" in out.out


def test_a_secret_in_a_bad_value_is_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", TOKEN)  # pasted into the wrong variable
    assert main(["check-config"]) == EX_CONFIG
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert "telegram.alert_chat_id" in out.err


def test_invalid_toml_syntax_names_the_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[daemon\nstate_dir = 1\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_settings(cfg, env_file=None)


def test_unknown_exchange_is_rejected_and_others_keep_defaults(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[exchanges.binanceusdm]\nrest_url = "http://127.0.0.1:1"\n')
    s = load_settings(cfg, env_file=None)
    assert s.exchanges["binanceusdm"].rest_url == "http://127.0.0.1:1"
    assert s.exchanges["bybit"].enabled and s.exchanges["mexc"].enabled  # all four by default
    with pytest.raises(ConfigError, match="unknown exchange kraken"):
        load_settings(write(tmp_path, "[exchanges.kraken]\nenabled = true\n", "k.toml"), env_file=None)


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("90s", 90), ("5m", 300), ("1h", 3600), ("1d", 86400), (30, 30)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", "1y", "", True, "nan"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration_round_trips() -> None:
    for text in ("500ms", "90s", "5m", "1h", "1d"):
        assert format_duration(parse_duration(text)) == text


def test_changed_keys_lists_the_diff(tmp_path: Path) -> None:
    a = load_settings(write(tmp_path, "[strategies.volume]\nmultiple = 6\n", "a.toml"), env_file=None)
    b = load_settings(write(tmp_path, "[strategies.volume]\nmultiple = 7\n", "b.toml"), env_file=None)
    assert changed_keys(a, b) == ["strategies.volume.multiple"]


def test_a_token_without_an_alert_chat_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__BOT_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=None)
    assert err.value.problems == [
        "telegram.alert_chat_id (not set): required when a bot token is set; "
        "e.g. SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID=-1001234567890 in .env, or alert_chat_id in [telegram]"
    ]
    assert TOKEN not in str(err.value)


def test_empty_values_in_dotenv_mean_unset(tmp_path: Path) -> None:
    # .env.example ships `NAME=` lines: they must not become "" (not an integer) or an empty token
    env = write(
        tmp_path,
        "SIGNALBOTS_TELEGRAM__BOT_TOKEN=\nSIGNALBOTS_TELEGRAM__ALERT_CHAT_ID=\nSIGNALBOTS_LOG__LEVEL=\n",
        ".env",
    )
    s = load_settings(env_file=str(env))
    assert s.telegram.bot_token is None and s.telegram.alert_chat_id is None and s.log.level == "info"


@pytest.mark.parametrize(
    ("toml", "key", "says"),
    [
        ('[daemon]\nheartbeat_interval = "0s"', "daemon.heartbeat_interval", "at least 1m"),
        ('[daemon]\nheartbeat_interval = "10s"', "daemon.heartbeat_interval", "at least 1m"),
        ('[daemon]\nshutdown_timeout = "0ms"', "daemon.shutdown_timeout", "longer than 0"),
        ('[exchanges.okx]\nstale_after = "0s"', "exchanges.okx.stale_after", "longer than 0"),
        ('[strategies.volume]\nexpiry = "0ms"', "strategies.volume.expiry", "longer than 0"),
        ("[exchanges.bybit]\nbudget_fraction = 0", "exchanges.bybit.budget_fraction", "(0, 1]"),
        ("[risk]\nper_signal = 1.5", "risk.per_signal", "(0, 1]"),
        ("[strategies.funding]\nrearm_fraction = -0.1", "strategies.funding.rearm_fraction", "(0, 1]"),
        ('[strategies.volume]\ntimeframe = "7x"', "strategies.volume.timeframe", "unknown timeframe"),
        ('[strategies.liquidation]\natr_timeframe = "0m"', "strategies.liquidation.atr_timeframe", "than 0"),
        ('[telegram]\napi_url = "localhost:8081"', "telegram.api_url", "http://"),
        ('[exchanges.okx]\nws_url = "http://x"', "exchanges.okx.ws_url", "ws://"),
    ],
)
def test_nonsense_ranges_are_config_errors_naming_key_and_range(
    tmp_path: Path, toml: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, toml + "\n"), env_file=None)
    (problem,) = err.value.problems
    assert problem.startswith(key + " ") and says in problem


def test_a_zero_cooldown_means_none(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[strategies.volume]\ncooldown = "0s"\n'), env_file=None)
    assert s.strategies.volume.cooldown == 0


@pytest.mark.parametrize(
    ("toml", "key", "fix"),
    [
        ('[strategies.volume]\nenabled = "yes"', "strategies.volume.enabled", "write enabled = true"),
        ('[exchanges.mexc]\nenabled = "no"', "exchanges.mexc.enabled", "write enabled = false"),
        ('[risk]\nmax_open = "10"', "risk.max_open", "write max_open = 10"),
        ("[risk]\nmax_open = 10.0", "risk.max_open", "whole number"),
        ('[strategies.volume]\nmultiple = "8"', "strategies.volume.multiple", "write multiple = 8"),
        ('[telegram]\nallowed_chat_ids = ["1"]', "telegram.allowed_chat_ids", "allowed_chat_ids = [1, 2]"),
    ],
)
def test_quoted_booleans_and_numbers_in_toml_are_refused(
    tmp_path: Path, toml: str, key: str, fix: str
) -> None:
    cfg = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    (problem,) = err.value.problems
    assert problem.startswith(f"{key} ({cfg}:2)") and fix in problem


def test_numbers_from_the_environment_are_still_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    # every env value is a string: there, "10" and "false" are the convention, not a mistake
    monkeypatch.setenv("SIGNALBOTS_RISK__MAX_OPEN", "10")
    monkeypatch.setenv("SIGNALBOTS_EXCHANGES__OKX__ENABLED", "false")
    s = load_settings(env_file=None)
    assert s.risk.max_open == 10 and not s.exchanges["okx"].enabled


def test_a_list_in_the_environment_must_be_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS", "1,2")
    env = write(tmp_path, "# chats\nSIGNALBOTS_STRATEGIES__LIQUIDATION__MAJORS=BTC,ETH\n", ".env")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=str(env))
    assert err.value.problems == [
        f"strategies.liquidation.majors ({env}:2 SIGNALBOTS_STRATEGIES__LIQUIDATION__MAJORS): "
        'a list is written as JSON, e.g. SIGNALBOTS_STRATEGIES__LIQUIDATION__MAJORS=["BTC", "ETH"]',
        "telegram.allowed_chat_ids (env SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS): a list is written as JSON, "
        "e.g. SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS=[1, 2]",
    ]
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS", "[1, 2]")
    env.write_text('SIGNALBOTS_STRATEGIES__LIQUIDATION__MAJORS=["BTC"]\n')
    s = load_settings(env_file=str(env))
    assert s.telegram.allowed_chat_ids == [1, 2] and s.strategies.liquidation.majors == ["BTC"]


def test_an_unparsable_dotenv_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    secret = "123456789:AAE-not-to-be-echoed"
    env = write(
        tmp_path,
        f'SIGNALBOTS_TELEGRAM__BOT_TOKEN="{secret}\nSIGNALBOTS_RISK__MAX_OPEN=5\nSIGNALBOTS_LOG__LEVEL\n',
        ".env",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=str(env))
    assert err.value.problems == [
        f"{env}:1 (SIGNALBOTS_TELEGRAM__BOT_TOKEN): cannot parse this line; write NAME=value "
        "(quotes, if any, must close on the same line)",
        f"{env}:3 (SIGNALBOTS_LOG__LEVEL): no '=' — write SIGNALBOTS_LOG__LEVEL=value",
    ]
    assert secret not in str(err.value)


def test_dotenv_line_numbers_count_blank_lines_and_comments(tmp_path: Path) -> None:
    text = '# secrets\n\n\nSIGNALBOTS_LOG__LEVEL=info\n\nSIGNALBOTS_RISK__MAX_OPEN="5\n'
    env = write(tmp_path, text, ".env")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=str(env))
    assert [p.split(" ")[0] for p in err.value.problems] == [f"{env}:6"]


def test_a_bad_env_list_does_not_hide_the_toml_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS", "1,2")
    cfg = write(tmp_path, "[daemon]\nbogus = 1\n[exchanges.okx]\nbudget_fraction = 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    keys = sorted(p.split(" ")[0] for p in err.value.problems)
    assert keys == ["daemon.bogus", "exchanges.okx.budget_fraction", "telegram.allowed_chat_ids"]


def test_an_unknown_variable_in_dotenv_is_named_as_written(tmp_path: Path) -> None:
    env = write(tmp_path, "SIGNALBOTS_TELEGRAM_BOT_TOKEN=1\n", ".env")  # one underscore short
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=str(env))
    assert err.value.problems == [
        f"SIGNALBOTS_TELEGRAM_BOT_TOKEN ({env}:1): unknown variable (typo?); "
        "did you mean SIGNALBOTS_TELEGRAM__BOT_TOKEN?"
    ]


@pytest.mark.parametrize("name", ["s.toml", ".env"])
def test_a_binary_file_is_named_not_a_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe")
    with pytest.raises(ConfigError) as err:
        load_settings(
            path if name.endswith(".toml") else None, env_file=str(path) if name == ".env" else None
        )
    (problem,) = err.value.problems
    assert repr(str(path)) in problem and "not a text file" in problem and "UTF-8" in problem


def test_a_directory_as_config_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env_file=None)
    assert err.value.problems == [
        f"config file {str(tmp_path)!r} (named by --config) is a directory; name the TOML file in it"
    ]


def test_a_malformed_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__BOT_TOKEN", "my secret token")
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", "7")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=None)
    assert err.value.problems == [
        "telegram.bot_token (env SIGNALBOTS_TELEGRAM__BOT_TOKEN): "
        "not a bot token (expected <digits>:<secret> from @BotFather)"
    ]
    assert "my secret token" not in str(err.value)


def test_every_problem_is_listed_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_RISK__CORRELATION", "2")
    cfg = write(tmp_path, '[risk]\nmax_open = "3"\n[daemon]\nshutdown_timeout = "0s"\nbogus = 1\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    keys = sorted(p.split(" ")[0] for p in err.value.problems)
    assert keys == ["daemon.bogus", "daemon.shutdown_timeout", "risk.correlation", "risk.max_open"]


# where each value came from (issue 21, finding 2) -----------------------------------------------------------
def test_a_toml_value_is_named_by_its_file_and_line_never_by_an_env_name(tmp_path: Path) -> None:
    cfg = write(tmp_path, '# mine\n[strategies.liquidation]\nwindow = "5m"\ncooldown = "5 minutes"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    assert err.value.problems == [
        f"strategies.liquidation.cooldown ({cfg}:4): '5 minutes' is not a duration "
        "(use e.g. '500ms', '90s', '5m', '1h', '1d')"
    ]


def test_a_bad_token_in_the_credential_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "telegram_bot_token").write_text("pasted the wrong thing\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", "7")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=None)
    assert err.value.problems == [
        f"telegram.bot_token (credential file {creds / 'telegram_bot_token'}): "
        "not a bot token (expected <digits>:<secret> from @BotFather)"
    ]
    assert "pasted" not in str(err.value)


def test_each_source_is_named_the_one_that_wins_for_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path, '[risk]\nmax_open = 5\ndaily_cap = 7\n[log]\nlevel = "info"\n')
    env = write(
        tmp_path, "# overrides\nSIGNALBOTS_RISK__DAILY_CAP=none\nSIGNALBOTS_LOG__LEVEL=loud\n", ".env"
    )
    monkeypatch.setenv("SIGNALBOTS_RISK__MAX_OPEN", "0")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=str(env))
    where = {p.split(" ")[0]: p.split(")")[0].split("(", 1)[1] for p in err.value.problems}
    assert where == {
        "risk.max_open": "env SIGNALBOTS_RISK__MAX_OPEN",
        "risk.daily_cap": f"{env}:2 SIGNALBOTS_RISK__DAILY_CAP",
        "log.level": f"{env}:3 SIGNALBOTS_LOG__LEVEL",
    }


# every problem at once (finding 3) ------------------------------------------------------------------------
def test_a_dotenv_with_three_mistakes_reports_all_three_with_the_toml_problems(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[daemon]\nbogus = 1\n")
    env = write(
        tmp_path,
        'SIGNALBOTS_RISK__MAX_OPEN="5\n'  # an unclosed quote: the line cannot be read
        "SIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS=1,2\n"  # a list that is not JSON
        "SIGNALBOTS_LOG__LEVEL=loud\n",  # a value out of its choices
        ".env",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=str(env))
    assert sorted(p.split(" ")[0] for p in err.value.problems) == [
        f"{env}:1",
        "daemon.bogus",
        "log.level",
        "telegram.allowed_chat_ids",
    ]


# chat ids, quoted numbers and typos (finding 4) -----------------------------------------------------------
@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[telegram]\nalert_chat_id = "@mychannel"', "telegram.alert_chat_id"),
        ('[telegram]\nadmin_chat_id = "https://t.me/mychannel"', "telegram.admin_chat_id"),
        ('[telegram]\nallowed_chat_ids = ["@mychannel"]', "telegram.allowed_chat_ids.0"),
        ('[telegram]\nstrategy_chat_ids = { volume = "@vol" }', "telegram.strategy_chat_ids.volume"),
    ],
)
def test_a_chat_name_for_a_chat_id_says_a_number_is_needed_and_how_to_find_it(
    tmp_path: Path, toml: str, key: str
) -> None:
    cfg = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    (problem,) = err.value.problems
    assert problem.startswith(f"{key} ({cfg}:2): a chat id is a number: -1001234567890"), problem
    assert "getUpdates" in problem and "Input should be" not in problem


def test_a_chat_name_in_the_environment_is_explained_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", "@mychannel")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=None)
    (problem,) = err.value.problems
    assert problem.startswith("telegram.alert_chat_id (env SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID): a chat id is")


def test_a_quoted_chat_id_in_toml_is_refused_like_any_quoted_number(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[telegram]\nalert_chat_id = "-100123"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    assert err.value.problems == [
        f"telegram.alert_chat_id ({cfg}:2): expected a whole number, not a quoted string; "
        "write alert_chat_id = -100123"
    ]
    unquoted = load_settings(
        write(tmp_path, "[telegram]\nalert_chat_id = -100123\n", "ok.toml"), env_file=None
    )
    assert unquoted.telegram.alert_chat_id == -100123


def test_chat_ids_from_the_environment_are_text_and_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALBOTS_TELEGRAM__ALERT_CHAT_ID", "-100123")
    env = write(tmp_path, 'SIGNALBOTS_TELEGRAM__STRATEGY_CHAT_IDS={"volume": -100456}\n', ".env")
    s = load_settings(env_file=str(env))
    assert s.telegram.alert_chat_id == -100123 and s.telegram.strategy_chat_ids == {"volume": -100456}


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[daemon]\nheartbeat_intervall = "1h"',
            "daemon.heartbeat_intervall ({cfg}:2): unknown key (typo?); did you mean 'heartbeat_interval'?",
        ),
        (
            "[strategy.volume]\nenabled = false",
            "strategy ({cfg}:1): unknown key (typo?); did you mean 'strategies'?",
        ),
        (
            "[exchanges.okx]\nenable = false",
            "exchanges.okx.enable ({cfg}:2): unknown key (typo?); did you mean 'enabled'?",
        ),
    ],
)
def test_a_typo_in_a_key_suggests_the_real_one(tmp_path: Path, toml: str, says: str) -> None:
    cfg = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env_file=None)
    assert err.value.problems == [says.format(cfg=cfg)]


def test_a_typo_in_a_variable_suggests_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOTS_DAEMON__HEARTBEAT_INTERVALL", "1h")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=None)
    assert err.value.problems == [
        "SIGNALBOTS_DAEMON__HEARTBEAT_INTERVALL (env): unknown variable (typo?); "
        "did you mean SIGNALBOTS_DAEMON__HEARTBEAT_INTERVAL?"
    ]


# SIGNALBOTS_CONFIG in .env (finding 6) --------------------------------------------------------------------
def test_the_config_file_may_be_named_in_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[risk]\nmax_open = 3\n", "other.toml")
    env = write(tmp_path, "SIGNALBOTS_CONFIG=other.toml\n", ".env")
    assert load_settings(env_file=str(env)).risk.max_open == 3
    monkeypatch.setenv("SIGNALBOTS_CONFIG", str(write(tmp_path, "[risk]\nmax_open = 4\n", "env.toml")))
    assert load_settings(env_file=str(env)).risk.max_open == 4  # the environment wins, as for any key
    monkeypatch.delenv("SIGNALBOTS_CONFIG")
    env.write_text("# where\nSIGNALBOTS_CONFIG=missing.toml\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file=str(env))
    assert err.value.problems == [
        f"config file 'missing.toml' does not exist (named by SIGNALBOTS_CONFIG in {env}:2)"
    ]


def test_the_error_sample_in_docs_configure_is_what_check_config_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configure.md").read_text()
    start = doc.index("```\nsignalbots: invalid settings:\n") + 4
    sample = doc[start : doc.index("```", start)]
    (tmp_path / "signalbots.toml").write_text(
        '[daemon]\nheartbeat_intervall = "1h"\n\n[strategies.liquidation]\ncooldown = "5 minutes"\n\n'
        '[telegram]\nalert_chat_id = "@mychannel"\n\n[risk]\nmax_open = "10"\n'
    )
    (tmp_path / ".env").write_text(
        '# secrets\nSIGNALBOTS_TELEGRAM__BOT_TOKEN="123:abc\nSIGNALBOTS_TELEGRAM__ALLOWED_CHAT_IDS=1,2\n'
        "SIGNALBOTS_RISK_DAILY_CAP=5\n"
    )
    monkeypatch.setenv("SIGNALBOTS_EXCHANGES__OKX__BUDGET_FRACTION", "2")
    assert main(["--config", "signalbots.toml", "check-config"]) == EX_CONFIG
    assert capsys.readouterr().err == sample


def test_a_chat_for_an_unknown_strategy_is_refused_by_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\nstrategy_chat_ids = { volum = -100123 }\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env_file=None)
    assert "unknown strategy volum (known: liquidation, funding, volume, open_interest)" in str(err.value)


def test_every_registered_strategy_has_its_table_and_env_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signalbots.strategies.registry import SPECS

    monkeypatch.setenv("SIGNALBOTS_STRATEGIES__FUNDING__ENABLED", "false")
    toml = "[strategies.volume]\nenabled = false\n[strategies.open_interest]\nenabled = false\n"
    s = load_settings(write(tmp_path, toml), env_file=None)
    assert [spec.name for spec in SPECS if spec.enabled(s)] == s.enabled_strategies() == ["liquidation"]
    for spec in SPECS:
        assert isinstance(spec.section(s), spec.settings)
