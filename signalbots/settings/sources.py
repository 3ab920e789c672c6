"""Reading the sources — the TOML file, systemd credentials, ``.env``, the environment — into ``Settings``.

Each source is decoded on its own and remembered as the origin of its values; the values are merged
(env > ``.env`` > credential > TOML > defaults) and validated once, so that every problem is listed at
once and each names where its value came from. ``load_settings`` is the one way in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from signalbots.settings import environment, inputs, toml_values
from signalbots.settings.model import CREDENTIAL_BOT_TOKEN, DEFAULT_CONFIG_PATHS, ENV_PREFIX, Settings
from signalbots.settings.problems import ConfigError, Origins, validation_problems

__all__ = ["CONFIG_VARIABLE", "env_file_warning", "load_settings", "resolve_config_path"]

CONFIG_VARIABLE = ENV_PREFIX + "CONFIG"  # names the TOML file: read before the file, so not a setting
_DELIMITER = "__"
_ALERT_CHAT_VARIABLE = f"{ENV_PREFIX}TELEGRAM{_DELIMITER}ALERT_CHAT_ID"


class _Validated(Settings):
    """``Settings`` from the merged values alone: the sources are read above, each with its origin."""

    model_config = SettingsConfigDict(env_file=None)  # the library would read .env to build its source

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def resolve_config_path(
    explicit: str | os.PathLike[str] | None, *, dotenv: tuple[str, str] | None = None
) -> Path | None:
    """``--config``, ``SIGNALBOTS_CONFIG`` (environment, then ``.env``: ``dotenv`` is (its value, where))
    must name a file; otherwise the first default that exists."""
    named: str | os.PathLike[str] | None = explicit
    by = "--config"
    if named is None and os.environ.get(CONFIG_VARIABLE):
        named, by = os.environ[CONFIG_VARIABLE], CONFIG_VARIABLE
    elif named is None and dotenv is not None:
        named, by = dotenv[0], f"{CONFIG_VARIABLE} in {dotenv[1]}"
    if named:
        path = Path(named)
        if path.is_dir():
            raise ConfigError(
                [f"config file {str(path)!r} (named by {by}) is a directory; name the TOML file in it"]
            )
        if not path.is_file():
            raise ConfigError([f"config file {str(path)!r} does not exist (named by {by})"])
        return path
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), None)


def load_settings(
    config: str | os.PathLike[str] | None = None,
    *,
    env_file: str | None = ".env",
    credentials: Mapping[str, Path] | None = None,
) -> Settings:
    """Read every source once. Calling it again re-reads them all (that is the reload).

    ``credentials``: credential id → file, instead of ``$CREDENTIALS_DIRECTORY`` (``check-config
    --credential``, to check the token file the unit loads before systemd does).

    The one validation: whatever would make ``run`` refuse to start is a ``ConfigError`` here, listing every
    problem (file and line, variable, or credential file, with the fix); nothing else checks settings again.
    """
    problems: list[str] = []  # problems of the files themselves, in the order met
    dotenv: dict[str, tuple[int, str]] = {}
    if env_file is not None:
        dotenv, file_problems = inputs.dotenv_values(Path(env_file), prefix=ENV_PREFIX)
        problems += file_problems
    named = next(
        ((v, f"{env_file}:{n}") for k, (n, v) in dotenv.items() if k.upper() == CONFIG_VARIABLE), None
    )
    path = resolve_config_path(config, dotenv=named)

    merged: dict[str, Any] = {}
    origins = Origins()
    by_key: dict[str, str] = {}  # problems of values, by dotted key
    complete = True  # every source was read: the checks across keys can be trusted
    if path is not None:
        doc, lines, toml_problems = inputs.toml_document(path)
        problems += toml_problems
        complete = not toml_problems

        def line_of(loc: tuple[str, ...]) -> str:
            found = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
            return f"{path}:{found}" if found is not None else str(path)

        for loc, number in lines.items():  # tables first: an unknown one is named by its header's line
            origins.add(loc, None, f"{path}:{number}")
        for loc, value in _leaves(doc):
            _put(merged, loc, value)
            origins.add(loc, value, line_of(loc))
        for key, problem in toml_values.toml_type_problems(doc, Settings).items():
            by_key[key] = f"{key} ({line_of(tuple(key.split('.')))}): {problem}"

    token = _credential(credentials, problems)
    if token is not None:
        value, label = token
        _put(merged, ("telegram", "bot_token"), value)
        origins.add(("telegram", "bot_token"), value, label)

    layers = [
        environment.decode(
            {k: v for k, (_, v) in dotenv.items() if k.upper() != CONFIG_VARIABLE},
            prefix=ENV_PREFIX,
            delimiter=_DELIMITER,
            model=Settings,
            where=lambda name: f"{env_file}:{dotenv[name][0]}",
            unknown=lambda name: True,  # a SIGNALBOTS_ line in .env is meant for us
        ),
        environment.decode(
            os.environ,
            prefix=ENV_PREFIX,
            delimiter=_DELIMITER,
            model=Settings,
            where=lambda name: "env",
            unknown=lambda name: False,  # other programs' variables may share the prefix
        ),
    ]
    for layer in layers:
        problems += layer.problems
        for loc, value, label in layer.values:
            _put(merged, loc, value)
            origins.add(loc, value, label)

    try:
        settings: Settings = _Validated(**merged)
    except ValidationError as err:
        found = validation_problems(err, model=Settings, origins=origins) | by_key
        raise ConfigError(problems + list(found.values())) from None
    if problems or by_key:
        raise ConfigError(problems + list(by_key.values()))
    if complete and settings.telegram.bot_token is not None and settings.telegram.alert_chat_id is None:
        # With a token but no chat, every alert would be refused at delivery time: say so at startup.
        where = origins.exact(("telegram", "alert_chat_id"))
        raise ConfigError(
            [
                f"telegram.alert_chat_id ({where or 'not set'}): required when a bot token is set; "
                f"e.g. {_ALERT_CHAT_VARIABLE}=-1001234567890 in .env, or alert_chat_id in [telegram]"
            ]
        )
    return settings


def _credential(credentials: Mapping[str, Path] | None, problems: list[str]) -> tuple[str, str] | None:
    """systemd ``LoadCredential=telegram_bot_token:...`` → the token and where it was read."""
    if credentials is not None:
        path = credentials.get(CREDENTIAL_BOT_TOKEN)
        if path is None:
            return None
        text, file_problems = inputs.read_text(path, "credential file")
        problems += file_problems
    else:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return None
        path = Path(directory) / CREDENTIAL_BOT_TOKEN
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # no such credential in the directory systemd made: the token comes from elsewhere
    token = (text or "").strip()
    return (token, f"credential file {path}") if token else None


def _leaves(doc: Mapping[str, Any], loc: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every scalar (or list) of a TOML document with its path; an empty table is kept as one."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            out += _leaves(value, (*loc, key))
        else:
            out.append(((*loc, key), value))
    return out


def _put(tree: dict[str, Any], loc: tuple[str, ...], value: Any) -> None:
    for part in loc[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    if isinstance(value, dict) and isinstance(tree.get(loc[-1]), dict):
        for key, inner in value.items():  # a table over a table: merged, as the sources are
            _put(tree, (*loc, key), inner)
    else:
        tree[loc[-1]] = value


def env_file_warning(env_file: str | os.PathLike[str] = ".env") -> str | None:
    """A warning when the ``.env`` holding secrets is readable by group or others."""
    try:
        mode = Path(env_file).stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return f"{env_file} is readable by group/others (mode {oct(mode & 0o777)}); fix: chmod 600 {env_file}"
    return None
