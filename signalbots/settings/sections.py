"""The section models of the settings (``[daemon]``, ``[log]``, ``[http]``, ``[telegram]``,
``[exchanges.<id>]``, ``[breaker]``, ``[risk]``) and the small value types they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.functional_validators import BeforeValidator

from signalbots.exchange.venues import VENUES
from signalbots.settings.durations import Cooldown, Duration, Interval

__all__ = [
    "CHAT_ID_HELP",
    "BreakerSettings",
    "ChatId",
    "DaemonSettings",
    "ExchangeSettings",
    "Fraction",
    "HttpSettings",
    "HttpUrl",
    "LogSettings",
    "MessageKind",
    "RiskSettings",
    "Section",
    "TelegramSettings",
    "Timeframe",
    "WsUrl",
    "default_exchanges",
]


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError("must be a fraction in (0, 1], e.g. 0.5")
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


CHAT_ID_HELP = (
    "a chat id is a number: -1001234567890 for a group or channel, 123456789 for a user; "
    "a @username or t.me link cannot be used. To find it, add the bot to the chat, send a message there "
    'and read "chat": {"id": ...} from https://api.telegram.org/bot<token>/getUpdates '
    '(docs/configure.md, "Chat ids")'
)


def _chat_id(value: object) -> object:
    # Text is accepted as the environment writes numbers ("-100123"); in TOML a quoted number is refused
    # before this (toml_values). Anything else that is text is the common first guess, a channel's name.
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(CHAT_ID_HELP)
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(CHAT_ID_HELP)
    return value


def _timeframe(value: str) -> str:
    from signalbots.events import timeframe_ms

    if timeframe_ms(value) <= 0:
        raise ValueError(f"timeframe {value!r} must be longer than 0 (e.g. '5m', '1h')")
    return value


Timeframe = Annotated[str, AfterValidator(_timeframe)]


Fraction = Annotated[float, AfterValidator(_fraction)]
ChatId = Annotated[int, BeforeValidator(_chat_id)]
HttpUrl = Annotated[str, AfterValidator(_url("http", "https"))]
WsUrl = Annotated[str, AfterValidator(_url("ws", "wss"))]


class Section(BaseModel):
    """A TOML table: unknown keys are typos, values are frozen and finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_Section = Section  # the name other branches' sections still use


class DaemonSettings(Section):
    state_dir: Path = Path("./state")
    heartbeat_interval: Interval = 3600.0
    shutdown_timeout: Duration = 10.0
    daily_summary: bool = True


class LogSettings(Section):
    format: Literal["auto", "console", "logfmt", "json"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HttpSettings(Section):
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


class TelegramSettings(Section):
    bot_token: Annotated[SecretStr | None, AfterValidator(_bot_token)] = None
    alert_chat_id: ChatId | None = None
    admin_chat_id: ChatId | None = None  # None: the alert chat
    api_url: HttpUrl = ""  # "" = Telegram; else a self-hosted Bot API server or a simulator
    allowed_chat_ids: list[ChatId] = []
    allowed_user_ids: list[int] = []  # empty: any user in an allowed chat
    strategy_chat_ids: dict[str, ChatId] = {}  # per-strategy alert chat overrides
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
    chart_stale_after: Duration = 600.0  # a chart not sent this long after its signal is skipped

    @field_validator("alert_chat_id", "admin_chat_id")
    @classmethod
    def _zero_is_unset(cls, v: int | None) -> int | None:
        return None if v == 0 else v

    @property
    def admin_chat(self) -> int | None:
        return self.admin_chat_id if self.admin_chat_id is not None else self.alert_chat_id


class ExchangeSettings(Section):
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
    taker_fee: Annotated[float, Field(ge=0, lt=0.01)] | Literal["venue"] = "venue"  # venue: the profile's
    maker_fee: Annotated[float, Field(gt=-0.01, lt=0.01)] | Literal["venue"] = "venue"  # negative: a rebate


def default_exchanges() -> dict[str, ExchangeSettings]:
    # One section per exchange profile (``signalbots.exchange.venues``).
    return {name: ExchangeSettings() for name in VENUES}


class BreakerSettings(Section):
    failures: int = Field(default=5, ge=1)
    cooldown: Duration = 30.0
    cooldown_max: Duration = 600.0


class RiskSettings(Section):
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
    slippage_bps: float = Field(default=2.0, ge=0, le=500)  # per market fill (entry, stop, expiry)
    stop_trigger: Literal["last", "mark"] = "last"  # the price that triggers stops
    # A stop closer than this many round trips of fees and slippage is widened to it (0: never).
    stop_floor_cost_multiple: float = Field(default=3.0, ge=0, le=100)
    # A market-wide move (signals/market_move.py): this many symbols firing on one candle close …
    market_move_min: int = Field(default=4, ge=0)  # 0: off
    market_move_top: int = Field(default=2, ge=0)  # … send the strongest this many (0: only the alert)
    market_move_grace: Cooldown = 1.0  # live: how long candidates of one candle close are collected

    @field_validator("market_move_min")
    @classmethod
    def _a_move_is_several(cls, v: int) -> int:
        if v == 1:
            raise ValueError("one symbol is not a market-wide move: use 2 or more (0 turns it off)")
        return v
