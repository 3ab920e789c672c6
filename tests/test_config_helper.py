"""tests/config.py: what a test does not name is off, and what it names cannot leave the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalbots.exchange.venues import VENUES
from signalbots.settings import load_settings
from tests.config import daemon_config


def test_the_daemon_reads_only_the_named_exchange_and_strategy_as_enabled(tmp_path: Path) -> None:
    cfg = daemon_config(
        tmp_path,
        exchanges={"okx": {"rest_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:1"}},
        strategies={"volume": {"multiple": 9.5}},
    )
    settings = load_settings(cfg, env_file=None)
    assert settings.enabled_exchanges() == ["okx"]
    assert set(settings.exchanges) >= set(VENUES)  # every known venue written, so none falls back to on
    assert settings.strategies.volume.enabled and settings.strategies.volume.multiple == 9.5
    assert not settings.strategies.funding.enabled and not settings.strategies.liquidation.enabled
    assert settings.http.listen == ""
    assert settings.daemon.state_dir == tmp_path / "state"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"exchanges": {"mexc": {"ws_url": "ws://127.0.0.1:1"}}}, "exchanges.mexc.rest_url"),
        (
            {"exchanges": {"bybit": {"rest_url": "https://api.bybit.com", "ws_url": "ws://127.0.0.1:1"}}},
            "bybit",
        ),
        ({"telegram": {"alert_chat_id": 1}}, "telegram.api_url"),
    ],
)
def test_a_named_endpoint_that_is_not_a_local_simulator_is_refused(
    tmp_path: Path, kwargs: dict[str, object], key: str
) -> None:
    with pytest.raises(ValueError, match=key):
        daemon_config(tmp_path, **kwargs)  # type: ignore[arg-type]
