"""Settings: env > ``.env`` > systemd credentials > TOML file > defaults.

Every key is documented in ``config/signalbots.toml``. ``load_settings`` is the one way in; it raises
``ConfigError`` listing every problem by where its value came from. The package, by seam:

- ``durations``: ``"90s"`` ↔ seconds, and the duration types;
- ``sections``: the section models; ``strategies``: ``[strategies.*]``, one table per registered strategy,
  each the model declared beside its strategy (``strategies.registry``);
- ``model``: ``Settings``, the whole;
- ``inputs``: the TOML and ``.env`` files read, with their lines; ``environment``: variables decoded;
  ``toml_values``: quoted numbers and booleans in TOML; ``schema``: where a name lands, and typos' fixes;
- ``sources``: every source read, merged and validated once (``load_settings``); ``problems``: how each
  problem is told, with where its value came from;
- ``diff``: masking secrets and the keys a reload changed.
"""

from __future__ import annotations

from signalbots.settings.diff import changed_keys, effective, flatten
from signalbots.settings.durations import Cooldown, Duration, Interval, format_duration, parse_duration
from signalbots.settings.model import CREDENTIAL_BOT_TOKEN, DEFAULT_CONFIG_PATHS, ENV_PREFIX, Settings
from signalbots.settings.problems import ConfigError
from signalbots.settings.sections import (
    BreakerSettings,
    DaemonSettings,
    ExchangeSettings,
    Fraction,
    HttpSettings,
    HttpUrl,
    LogSettings,
    MessageKind,
    RiskSettings,
    Section,
    TelegramSettings,
    Timeframe,
    WsUrl,
)
from signalbots.settings.sources import env_file_warning, load_settings, resolve_config_path
from signalbots.settings.strategies import StrategiesSettings, StrategySections, strategy_settings

__all__ = [
    "CREDENTIAL_BOT_TOKEN",
    "DEFAULT_CONFIG_PATHS",
    "ENV_PREFIX",
    "BreakerSettings",
    "ConfigError",
    "Cooldown",
    "DaemonSettings",
    "Duration",
    "ExchangeSettings",
    "Fraction",
    "HttpSettings",
    "HttpUrl",
    "Interval",
    "LogSettings",
    "MessageKind",
    "RiskSettings",
    "Section",
    "Settings",
    "StrategiesSettings",
    "StrategySections",
    "TelegramSettings",
    "Timeframe",
    "WsUrl",
    "changed_keys",
    "effective",
    "env_file_warning",
    "flatten",
    "format_duration",
    "load_settings",
    "parse_duration",
    "resolve_config_path",
]


def __getattr__(name: str) -> type[Section]:
    # A strategy's settings model keeps its old import path (``from signalbots.settings import
    # <Name>Settings``) although it now lives beside its strategy.
    try:
        return strategy_settings()[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
