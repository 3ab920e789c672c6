"""The per-strategy sections (``[strategies.liquidation]``, ``[strategies.funding]``,
``[strategies.volume]``, ``[strategies.open_interest]``). They live here until each moves beside its
strategy."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from signalbots.settings.durations import Cooldown, Duration
from signalbots.settings.sections import Fraction, _Section

__all__ = [
    "FundingSettings",
    "LiquidationSettings",
    "OpenInterestSettings",
    "StrategiesSettings",
    "Timeframe",
    "VolumeSettings",
]


def _timeframe(value: str) -> str:
    from signalbots.events import timeframe_ms

    if timeframe_ms(value) <= 0:
        raise ValueError(f"timeframe {value!r} must be longer than 0 (e.g. '5m', '1h')")
    return value


Timeframe = Annotated[str, AfterValidator(_timeframe)]


class LiquidationSettings(_Section):
    enabled: bool = True
    window: Duration = 300.0
    min_prints: int = Field(default=2, ge=1)
    majors: list[str] = Field(default=["BTC", "ETH"])
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


class OpenInterestSettings(_Section):
    """``[strategies.open_interest]``: see ``strategies.open_interest``."""

    enabled: bool = True
    window: Duration = 1800.0  # the flush must happen within this long
    min_drop_pct: float = Field(default=5.0, gt=0, lt=100)  # open interest off its peak in the window
    min_move_pct: float = Field(default=2.0, gt=0)  # price since that peak, either way
    min_open_interest_usd: float = Field(default=10_000_000.0, ge=0)  # at the peak
    mode: Literal["contrarian", "momentum", "alert"] = "contrarian"
    stop_buffer_pct: float = Field(default=0.5, gt=0)  # beyond the window's extreme price
    cooldown: Cooldown = 7200.0
    expiry: Duration = 43200.0


class StrategiesSettings(_Section):
    liquidation: LiquidationSettings = LiquidationSettings()
    funding: FundingSettings = FundingSettings()
    volume: VolumeSettings = VolumeSettings()
    open_interest: OpenInterestSettings = OpenInterestSettings()
