"""Reading the sources — environment, ``.env``, systemd credentials, the TOML file — into ``Settings``.

``load_settings`` is the one way in; it raises ``ConfigError`` listing every problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from signalbots.settings import inputs as settings_input
from signalbots.settings.model import CREDENTIAL_BOT_TOKEN, DEFAULT_CONFIG_PATHS, ENV_PREFIX, Settings
from signalbots.settings.problems import ConfigError, loc_name, validation_problems

__all__ = ["env_file_warning", "load_settings", "resolve_config_path"]


class _CredentialsSource(PydanticBaseSettingsSource):
    """systemd ``LoadCredential=telegram_bot_token:...`` → ``telegram.bot_token``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return {}
        path = Path(directory) / CREDENTIAL_BOT_TOKEN
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError:
            return {}
        return {"telegram": {"bot_token": token}} if token else {}


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--config`` or ``SIGNALBOTS_CONFIG`` must name a file; otherwise the first default that exists."""
    named = explicit if explicit is not None else os.environ.get("SIGNALBOTS_CONFIG")
    if named:
        path = Path(named)
        by = "--config" if explicit is not None else "SIGNALBOTS_CONFIG"
        if path.is_dir():
            raise ConfigError(
                [f"config file {str(path)!r} (named by {by}) is a directory; name the TOML file in it"]
            )
        if not path.is_file():
            raise ConfigError([f"config file {str(path)!r} does not exist (named by {by})"])
        return path
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), None)


def load_settings(config: str | os.PathLike[str] | None = None, *, env_file: str | None = ".env") -> Settings:
    """Read every source once. Calling it again re-reads them all (that is the reload).

    The one validation: whatever would make ``run`` refuse to start is a ``ConfigError`` here, listing every
    problem (file and line, variable, or TOML key, with the fix); nothing else checks settings again.
    """
    path = resolve_config_path(config)
    problems: list[str] = []  # problems of the raw inputs (see settings_input), in the order met
    by_key: dict[str, str] = {}  # problems of values, by dotted key
    doc: dict[str, Any] = {}
    if path is not None:
        doc, problems = settings_input.toml_document(path)
        by_key = {
            k: f"{k} (in {path}): {v}" for k, v in settings_input.toml_type_problems(doc, Settings).items()
        }
    toml_usable = not problems
    dotenv: str | None = None
    if env_file is not None:
        values, env_problems = settings_input.dotenv_values(Path(env_file), prefix=ENV_PREFIX)
        problems += env_problems
        problems += [
            p
            for name, (line, value) in values.items()
            for p in _env_json_problems({name: value}, where=f"{env_file} line {line}, {{name}}")
        ]
        # A .env that cannot be read whole is left out, so the other sources are still checked.
        dotenv = env_file if Path(env_file).is_file() and not env_problems else None
    problems += _env_json_problems(os.environ, where="env {name}")
    if not toml_usable:
        raise ConfigError(problems)
    try:
        settings = _loaded_class(path, dotenv)()
    except ValidationError as err:
        found = validation_problems(err, env_file=env_file) | by_key
        raise ConfigError(problems + list(found.values())) from None
    except SettingsError as err:
        # pydantic-settings stops at the first env value it cannot decode (the checks above name them all);
        # the TOML file alone is still checked, so that its problems are listed too.
        try:
            _loaded_class(path, None, environ=False)()
        except ValidationError as toml_err:
            by_key = validation_problems(toml_err, env_file=env_file) | by_key
        raise ConfigError(problems + list(by_key.values()) or [str(err)]) from None
    if problems or by_key:
        raise ConfigError(problems + list(by_key.values()))
    if settings.telegram.bot_token is not None and settings.telegram.alert_chat_id is None:
        # With a token but no chat, every alert would be refused at delivery time: say so at startup.
        raise ConfigError([f"{loc_name(('telegram', 'alert_chat_id'))}: required when a bot token is set"])
    return settings


def _env_json_problems(values: Mapping[str, str], *, where: str) -> list[str]:
    return settings_input.env_json_problems(
        values, prefix=ENV_PREFIX, delimiter="__", model=Settings, where=where
    )


def _loaded_class(path: Path | None, env_file: str | None, *, environ: bool = True) -> type[Settings]:
    class _Loaded(Settings):
        model_config = SettingsConfigDict(toml_file=path, env_file=env_file)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings]
            if environ:
                sources += [env_settings, dotenv_settings]
            sources.append(_CredentialsSource(settings_cls))
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    return _Loaded


def env_file_warning(env_file: str | os.PathLike[str] = ".env") -> str | None:
    """A warning when the ``.env`` holding secrets is readable by group or others."""
    try:
        mode = Path(env_file).stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return f"{env_file} is readable by group/others (mode {oct(mode & 0o777)}); fix: chmod 600 {env_file}"
    return None
