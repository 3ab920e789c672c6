"""Durations as the settings write them (``"500ms"``, ``"90s"``, ``"5m"``, ``"1h"``, ``"1d"``), held as
seconds (float), and the annotated types the section models use."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema
from pydantic.functional_validators import BeforeValidator

__all__ = ["Cooldown", "Duration", "Interval", "format_duration", "parse_duration"]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


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


def format_duration(seconds: float) -> str:
    """90.0 → ``"90s"``, 3600 → ``"1h"``; the inverse of ``parse_duration`` for whole units."""
    for unit in ("d", "h", "m", "s"):
        n = seconds / _UNIT_SECONDS[unit]
        if n >= 1 and float(n).is_integer():
            return f"{int(n)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _longer_than_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0 (e.g. '500ms', '90s', '5m')")
    return seconds


def _at_least_a_minute(seconds: float) -> float:
    if seconds < 60:
        raise ValueError("must be at least 1m (a shorter interval floods the admin chat)")
    return seconds


Cooldown = Annotated[  # 0: no cooldown
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string"}),
]
Duration = Annotated[Cooldown, AfterValidator(_longer_than_zero)]
Interval = Annotated[Cooldown, AfterValidator(_at_least_a_minute)]
