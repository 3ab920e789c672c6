"""Settings: env > ``.env`` > systemd credentials > TOML file > defaults.

Every key is documented in ``config/signalbots.toml``. Durations are written ``"500ms"``, ``"90s"``,
``"5m"``, ``"1h"``, ``"1d"`` and held as seconds (float). ``load_settings`` is the one way in; it raises
``ConfigError`` listing every problem by TOML key and env name.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.functional_validators import BeforeValidator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from signalbots import settings_input
from signalbots.exchange.venues import VENUES

ENV_PREFIX = "SIGNALBOTS_"
DEFAULT_CONFIG_PATHS = (Path("config/signalbots.toml"), Path("/etc/signalbots/signalbots.toml"))
CREDENTIAL_BOT_TOKEN = "telegram_bot_token"  # file name under $CREDENTIALS_DIRECTORY

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(Exception):
    """Settings are invalid; the process should exit 78 (EX_CONFIG). ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def parse_duration(value: object) -> float:
    """``"90s"`` → 90.0. Plain numbers are seconds. Rejects negatives, NaN and unknown units."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '90s', '5m', '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. '500ms', '90s', '5m', '1h', '1d')")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError("expected a duration such as '90s', '5m', '1h'")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite, non-negative amount")
    return seconds


def _longer_than_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0 (e.g. '500ms', '90s', '5m')")
    return seconds


def _at_least_a_minute(seconds: float) -> float:
    if seconds < 60:
        raise ValueError("must be at least 1m (a shorter interval floods the admin chat)")
    return seconds


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError("must be a fraction in (0, 1], e.g. 0.5")
    return value


def _timeframe(value: str) -> str:
    from signalbots.events import timeframe_ms

    if timeframe_ms(value) <= 0:
        raise ValueError(f"timeframe {value!r} must be longer than 0 (e.g. '5m', '1h')")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value and not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ValueError(f"must start with {' or '.join(f'{s}://' for s in schemes)} ('' = the default)")
        return value

    return check


def _bot_token(value: SecretStr | None) -> SecretStr | None:
    # aiogram's own rule (aiogram.utils.token.validate_token), checked here so that check-config refuses
    # what `run` would, without importing aiogram; the value is never echoed.
    if value is None:
        return None
    token = value.get_secret_value()
    left, sep, right = token.partition(":")
    if any(c.isspace() for c in token) or not sep or not left.isdigit() or not right:
        raise ValueError("not a bot token (expected <digits>:<secret> from @BotFather)")
    return value


def format_duration(seconds: float) -> str:
    """90.0 → ``"90s"``, 3600 → ``"1h"``; the inverse of ``parse_duration`` for whole units."""
    for unit in ("d", "h", "m", "s"):
        n = seconds / _UNIT_SECONDS[unit]
        if n >= 1 and float(n).is_integer():
            return f"{int(n)}{unit}"
    return f"{round(seconds * 1000)}ms"


Cooldown = Annotated[  # 0: no cooldown
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string"}),
]
Duration = Annotated[Cooldown, AfterValidator(_longer_than_zero)]
Interval = Annotated[Cooldown, AfterValidator(_at_least_a_minute)]
Fraction = Annotated[float, AfterValidator(_fraction)]
Timeframe = Annotated[str, AfterValidator(_timeframe)]
HttpUrl = Annotated[str, AfterValidator(_url("http", "https"))]
WsUrl = Annotated[str, AfterValidator(_url("ws", "wss"))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DaemonSettings(_Section):
    state_dir: Path = Path("./state")
    heartbeat_interval: Interval = 3600.0
    shutdown_timeout: Duration = 10.0
    daily_summary: bool = True


class LogSettings(_Section):
    format: Literal["auto", "console", "logfmt", "json"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HttpSettings(_Section):
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        if v == "":
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"{v!r} is not host:port (e.g. '127.0.0.1:9464'; '' disables)")
        return v

    @property
    def host_port(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


MessageKind = Literal["signal", "outcome", "heartbeat", "notice", "error", "digest", "chart"]


class TelegramSettings(_Section):
    bot_token: Annotated[SecretStr | None, AfterValidator(_bot_token)] = None
    alert_chat_id: int | None = None
    admin_chat_id: int | None = None  # None: the alert chat
    api_url: HttpUrl = ""  # "" = Telegram; else a self-hosted Bot API server or a simulator
    allowed_chat_ids: list[int] = []
    allowed_user_ids: list[int] = []  # empty: any user in an allowed chat
    strategy_chat_ids: dict[str, int] = {}  # per-strategy alert chat overrides
    silent: dict[MessageKind, bool] = {"heartbeat": True, "digest": True}
    commands: bool = True
    charts: bool = True  # a chart (PNG) as a reply to every trade signal, and the /chart command
    per_chat_interval: Duration = 1.05  # private chats: <= 1 msg/s
    group_per_minute: int = Field(default=19, ge=1, le=20)
    global_per_second: int = Field(default=25, ge=1, le=30)
    request_timeout: Duration = 20.0
    retention: Duration = Field(default=30 * 86400.0, ge=3600.0)  # sent/dead outbox rows kept this long
    coalesce_group: int = Field(default=3, ge=0)  # signals waiting for a group that go out as one (0: never)
    coalesce_private: int = Field(default=6, ge=0)  # the same for a private chat
    coalesce_charts: int = Field(default=3, ge=0)  # charts for the strongest N of a coalesced message

    @field_validator("alert_chat_id", "admin_chat_id")
    @classmethod
    def _zero_is_unset(cls, v: int | None) -> int | None:
        return None if v == 0 else v

    @property
    def admin_chat(self) -> int | None:
        return self.admin_chat_id if self.admin_chat_id is not None else self.alert_chat_id


class ExchangeSettings(_Section):
    enabled: bool = True
    rest_url: HttpUrl = ""  # "" = the exchange's own
    ws_url: WsUrl = ""
    budget_fraction: Fraction = 0.5
    stale_after: Duration = 120.0
    liquidation_stale_after: Duration = 900.0  # liquidations pause in calm markets: a longer silence limit
    funding_poll: Duration = 60.0
    markets_refresh: Duration = 3600.0
    liquidation_symbols: int = Field(default=30, ge=0)  # Bybit: per-symbol topics for the N most liquid
    # Accepted so that older files still load; unused: MEXC funding covers every symbol (the bulk ticker).
    funding_symbols: list[str] = []
    request_timeout: Duration = 10.0  # one REST request (ccxt `timeout`); a hung request fails after this
    ohlcv_limit: int = Field(default=10, ge=1)  # candles ccxt keeps per symbol and timeframe (OHLCVLimit)
    ticker_poll: Duration = 60.0  # bulk 24h tickers (liquidity tiers, the tracker's last price)
    candle_batch: int = Field(default=100, ge=1, le=200)  # symbols per kline websocket subscription
    candle_backfill: int = Field(
        default=60, ge=0, le=99
    )  # closed candles per symbol at start (< 100: weight 1)


def _default_exchanges() -> dict[str, ExchangeSettings]:
    # One section per exchange profile (``signalbots.exchange.venues``).
    return {name: ExchangeSettings() for name in VENUES}


class BreakerSettings(_Section):
    failures: int = Field(default=5, ge=1)
    cooldown: Duration = 30.0
    cooldown_max: Duration = 600.0


class LiquidationSettings(_Section):
    enabled: bool = True
    window: Duration = 300.0
    min_prints: int = Field(default=2, ge=1)
    majors: list[str] = ["BTC", "ETH"]
    major_threshold_usd: float = Field(default=5_000_000.0, gt=0)
    liquid_volume_usd: float = Field(default=500_000_000.0, gt=0)  # 24h volume that makes a symbol "liquid"
    liquid_threshold_usd: float = Field(default=1_000_000.0, gt=0)
    other_threshold_usd: float = Field(default=250_000.0, gt=0)
    mode: Literal["contrarian", "momentum", "alert"] = "contrarian"
    cooldown: Cooldown = 1800.0
    atr_period: int = Field(default=14, ge=2)
    atr_multiple: float = Field(default=1.5, gt=0)
    atr_timeframe: Timeframe = "5m"  # candles (from the candle feed) whose ATR sets the stop
    stop_pct: float = Field(default=1.5, gt=0)  # when no candles are known
    expiry: Duration = 86400.0


class FundingSettings(_Section):
    enabled: bool = True
    extreme_per_8h: float = Field(default=0.001, gt=0)  # 0.10% per 8h
    rearm_fraction: Fraction = 0.75
    spread_apr: float = Field(default=0.30, gt=0)  # 30% APR difference
    spread_volume_floor_usd: float = Field(default=10_000_000.0, ge=0)
    spread_cooldown: Cooldown = 28800.0
    max_age: Duration = 600.0  # spread legs / ticker prices this much older than the event are ignored
    stop_pct: float = Field(default=2.0, gt=0)
    expiry: Duration = 86400.0


class VolumeSettings(_Section):
    enabled: bool = True
    timeframe: Timeframe = "5m"
    baseline: int = Field(default=48, ge=5)
    multiple: float = Field(default=6.0, gt=0)
    robust_z: float = Field(default=8.0, gt=0)
    min_body_pct: float = Field(default=1.0, ge=0)
    min_quote_volume_usd: float = Field(default=1_000_000.0, ge=0)
    liquidity_floor_usd: float = Field(default=5_000_000.0, ge=0)  # 24h quote volume to watch a symbol
    cooldown: Cooldown = 7200.0
    expiry: Duration = 86400.0


class StrategiesSettings(_Section):
    liquidation: LiquidationSettings = LiquidationSettings()
    funding: FundingSettings = FundingSettings()
    volume: VolumeSettings = VolumeSettings()


class RiskSettings(_Section):
    max_open: int = Field(default=10, ge=1)
    max_open_per_strategy: int = Field(default=5, ge=1)
    daily_cap: int = Field(default=40, ge=1)
    strategy_daily_cap: int = Field(default=20, ge=1)
    daily_loss_limit_r: float = Field(default=5.0, gt=0)
    correlation: Fraction = 0.85
    correlation_window: Duration = 172800.0  # 48h of 1h returns
    account_usd: float = Field(default=0.0, ge=0)  # 0: no position size in messages
    per_signal: Fraction = 0.01
    # Live candidates older than this (e.g. replayed by the startup backfill) are not sent.
    max_signal_age: Duration = 900.0
    extreme_cooldown: Cooldown = (
        28800.0  # funding extremes per (exchange, symbol, direction); survives restarts
    )


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
    exchanges: dict[str, ExchangeSettings] = Field(default_factory=_default_exchanges)
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
        return _default_exchanges() | v

    def enabled_exchanges(self) -> list[str]:
        return [name for name, ex in self.exchanges.items() if ex.enabled]

    def enabled_strategies(self) -> list[str]:
        s = self.strategies
        return [
            n
            for n, sec in (("liquidation", s.liquidation), ("funding", s.funding), ("volume", s.volume))
            if sec.enabled
        ]


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


def _loc_name(loc: tuple[int | str, ...]) -> str:
    key = ".".join(str(part) for part in loc)
    env = ENV_PREFIX + "__".join(str(part).upper() for part in loc)
    return f"{key} (env {env})"


def _problems(err: ValidationError, *, env_file: str | None) -> dict[str, str]:
    """Each error by its dotted key → the line that names it."""
    out = {}
    for e in err.errors(include_input=False, include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(part) for part in loc)
        if e["type"] == "extra_forbidden" and len(loc) == 1 and key.upper().startswith(ENV_PREFIX):
            # a SIGNALBOTS_ line in .env that names no setting (pydantic reports it as a top-level key)
            out[key] = f"{key.upper()} (in {env_file}): unknown variable (typo?)"
        elif e["type"] == "extra_forbidden":
            out[key] = f"{_loc_name(loc)}: unknown key (typo?)"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            out[key] = f"{_loc_name(loc)}: {msg}"
    return out


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
        raise ConfigError(problems + list((_problems(err, env_file=env_file) | by_key).values())) from None
    except SettingsError as err:
        # pydantic-settings stops at the first env value it cannot decode (the checks above name them all);
        # the TOML file alone is still checked, so that its problems are listed too.
        try:
            _loaded_class(path, None, environ=False)()
        except ValidationError as toml_err:
            by_key = _problems(toml_err, env_file=env_file) | by_key
        raise ConfigError(problems + list(by_key.values()) or [str(err)]) from None
    if problems or by_key:
        raise ConfigError(problems + list(by_key.values()))
    if settings.telegram.bot_token is not None and settings.telegram.alert_chat_id is None:
        # With a token but no chat, every alert would be refused at delivery time: say so at startup.
        raise ConfigError([f"{_loc_name(('telegram', 'alert_chat_id'))}: required when a bot token is set"])
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


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with secrets masked (check-config, reload diffs)."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    token = settings.telegram.bot_token
    data["telegram"]["bot_token"] = "**********" if token is not None else None
    return data


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= flatten(value, name + ".")
        else:
            out[name] = value
    return out


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Dotted keys whose value differs (secrets compared by value, never shown)."""
    a, b = flatten(effective(old)), flatten(effective(new))
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if old.telegram.bot_token != new.telegram.bot_token and "telegram.bot_token" not in keys:
        keys.append("telegram.bot_token")
    return keys
