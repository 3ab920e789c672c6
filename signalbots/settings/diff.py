"""The settings as plain data with secrets masked, and what changed between two of them (reload)."""

from __future__ import annotations

from typing import Any

from signalbots.settings.model import Settings

__all__ = ["changed_keys", "effective", "flatten"]


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
