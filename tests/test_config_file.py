"""The shipped config/signalbots.toml loads, and documents every setting with its default."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from signalbots.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "signalbots.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SIGNALBOTS_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= _keys(ann, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_shipped_config_is_valid_and_keeps_the_defaults() -> None:
    shipped = load_settings(CONFIG, env_file=None)
    defaults = load_settings(env_file=None)
    assert shipped.model_dump(exclude={"exchanges"}) == defaults.model_dump(exclude={"exchanges"})
    assert shipped.exchanges["binanceusdm"] == defaults.exchanges["binanceusdm"]


def test_every_setting_is_documented() -> None:
    text = CONFIG.read_text()
    data = tomllib.loads(text)
    documented: set[str] = set()

    def walk(d: dict[str, object], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and prefix + k not in {"telegram.strategy_chat_ids", "telegram.silent"}:
                walk(v, f"{prefix}{k}.")
            else:
                documented.add(prefix + k)

    walk(data, "")
    documented = {k.replace("exchanges.binanceusdm.", "exchanges.") for k in documented}
    expected = _keys(Settings) - {"exchanges"}
    from signalbots.settings import ExchangeSettings

    expected |= {f"exchanges.{k}" for k in _keys(ExchangeSettings)}
    expected -= {"telegram.bot_token"}  # a secret: documented in a comment, never in the file
    assert "bot_token" in text
    missing = sorted(expected - documented)
    assert not missing, f"config/signalbots.toml does not document: {missing}"
