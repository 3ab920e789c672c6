"""Which settings can produce a signal: an enabled strategy whose inputs an enabled exchange provides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signalbots.coverage import NoSignalPossible, no_signal_reason, require_a_signal
from signalbots.exchange.venues import VENUES
from signalbots.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("SIGNALBOTS_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _reason(tmp_path: Path, toml: str) -> str | None:
    path = tmp_path / "s.toml"
    path.write_text(toml)
    return no_signal_reason(load_settings(path, env_file=None))


def _off(*sections: str) -> str:
    return "".join(f"[{s}]\nenabled = false\n" for s in sections)


def test_the_defaults_can_signal(tmp_path: Path) -> None:
    assert _reason(tmp_path, "") is None


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        (
            _off(
                "exchanges.binanceusdm",
                "exchanges.bybit",
                "exchanges.okx",
                "exchanges.mexc",
                "exchanges.hyperliquid",
            ),
            "every exchange is disabled (binanceusdm, bybit, okx, mexc, hyperliquid: enabled = false); "
            "enable at least one in [exchanges.<id>]",
        ),
        (
            _off(
                "strategies.liquidation",
                "strategies.funding",
                "strategies.volume",
                "strategies.open_interest",
            ),
            "every strategy is disabled (liquidation, funding, volume, open_interest: enabled = false); "
            "enable at least one in [strategies.<name>]",
        ),
        (  # MEXC and Hyperliquid publish no liquidation stream
            _off(
                "exchanges.binanceusdm",
                "exchanges.bybit",
                "exchanges.okx",
                "strategies.funding",
                "strategies.volume",
                "strategies.open_interest",
            ),
            "no enabled strategy gets its data from the enabled exchanges (mexc, hyperliquid): "
            "liquidation reads liquidations; enable binanceusdm, bybit or okx, or another strategy",
        ),
    ],
    ids=["no exchange", "no strategy", "no input"],
)
def test_settings_that_cannot_signal_say_why(tmp_path: Path, toml: str, reason: str) -> None:
    assert _reason(tmp_path, toml) == reason


@pytest.mark.parametrize(
    "toml",
    [
        _off(
            "exchanges.binanceusdm", "exchanges.bybit", "exchanges.okx", "strategies.liquidation"
        ),  # MEXC volume
        _off("exchanges.bybit", "exchanges.okx", "exchanges.mexc", "strategies.funding", "strategies.volume"),
    ],
    ids=["mexc candles", "binance liquidations"],
)
def test_one_strategy_with_its_data_is_enough(tmp_path: Path, toml: str) -> None:
    assert _reason(tmp_path, toml) is None


def test_refused_as_invalid_settings_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        _off("strategies.liquidation", "strategies.funding", "strategies.volume", "strategies.open_interest")
    )
    with pytest.raises(NoSignalPossible) as err:
        require_a_signal(load_settings(path, env_file=None))
    assert str(err.value).startswith("no signal possible: every strategy is disabled")
    assert "\n" not in str(err.value) and len(err.value.problems) == 1


def test_docs_configure_shows_the_line_as_printed(tmp_path: Path) -> None:
    reason = _reason(tmp_path, _off(*(f"exchanges.{ex}" for ex in VENUES)))
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configure.md").read_text()
    assert f"  signalbots: no signal possible: {reason}\n" in doc
