"""``Settings``: the whole configuration, one section per TOML table."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from signalbots.exchange.venues import VENUES
from signalbots.settings.sections import (
    BreakerSettings,
    DaemonSettings,
    ExchangeSettings,
    HttpSettings,
    LogSettings,
    RiskSettings,
    TelegramSettings,
    default_exchanges,
)
from signalbots.settings.strategies import StrategiesSettings
from signalbots.strategies.registry import SPECS

__all__ = ["CREDENTIAL_BOT_TOKEN", "DEFAULT_CONFIG_PATHS", "ENV_PREFIX", "Settings"]

ENV_PREFIX = "SIGNALBOTS_"
DEFAULT_CONFIG_PATHS = (Path("config/signalbots.toml"), Path("/etc/signalbots/signalbots.toml"))
CREDENTIAL_BOT_TOKEN = "telegram_bot_token"  # file name under $CREDENTIALS_DIRECTORY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `NAME=` in .env (as .env.example ships) means "unset", not ""
        extra="forbid",
        hide_input_in_errors=True,
        frozen=True,
        allow_inf_nan=False,
    )

    daemon: DaemonSettings = DaemonSettings()
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()
    telegram: TelegramSettings = TelegramSettings()
    exchanges: dict[str, ExchangeSettings] = Field(default_factory=default_exchanges)
    breaker: BreakerSettings = BreakerSettings()
    strategies: StrategiesSettings = StrategiesSettings()
    risk: RiskSettings = RiskSettings()

    @field_validator("exchanges")
    @classmethod
    def _known_exchanges(cls, v: dict[str, ExchangeSettings]) -> dict[str, ExchangeSettings]:
        unknown = sorted(set(v) - set(VENUES))
        if unknown:
            raise ValueError(f"unknown exchange {', '.join(unknown)} (known: {', '.join(VENUES)})")
        # A section written in TOML replaces only that exchange; the others keep their defaults.
        return default_exchanges() | v

    @field_validator("telegram")
    @classmethod
    def _known_strategy_chats(cls, v: TelegramSettings) -> TelegramSettings:
        # A chat for a strategy that does not exist is a typo that would silently route nothing.
        known = [spec.name for spec in SPECS]
        unknown = sorted(set(v.strategy_chat_ids) - set(known))
        if unknown:
            raise ValueError(
                f"strategy_chat_ids: unknown strategy {', '.join(unknown)} (known: {', '.join(known)})"
            )
        return v

    def enabled_exchanges(self) -> list[str]:
        return [name for name, ex in self.exchanges.items() if ex.enabled]

    def enabled_strategies(self) -> list[str]:
        return [spec.name for spec in SPECS if spec.enabled(self)]
