"""One way to write a daemon's settings file in a test: what it does not name is off.

Every exchange the daemon knows is written ``enabled = false`` unless the test names it, and a named one
must point at a loopback simulator — so adding a venue, or a default turning one on, can never make a test
daemon dial a real host (the MEXC bug of issue 17). Strategies likewise: only the named ones run. Telegram,
when named, must be a local simulator; the local HTTP listener is off unless asked for.

    cfg = daemon_config(tmp_path, exchanges={"binanceusdm": sim_endpoints(sim, "binanceusdm")},
                        strategies={"volume": {}}, telegram={"api_url": tg.url, "alert_chat_id": 1001})
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from signalbots.exchange.venues import VENUES

Value = str | int | float | bool | Path | list[str] | list[int]
Section = Mapping[str, Value]

STRATEGIES = ("liquidation", "funding", "volume")


class _Sim(Protocol):
    def rest_url(self, exchange: str) -> str: ...
    def ws_url(self, exchange: str) -> str: ...


def free_port() -> int:
    """A loopback port nobody listens on right now, for ``[http] listen`` or a closed exchange."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_endpoints(sim: _Sim, exchange: str, **extra: Value) -> dict[str, Value]:
    """An exchange section pointing at the local simulator ``sim`` (plus any other keys of that section)."""
    return {"rest_url": sim.rest_url(exchange), "ws_url": sim.ws_url(exchange), **extra}


def daemon_config(
    tmp_path: Path,
    *,
    exchanges: Mapping[str, Section] | None = None,
    strategies: Mapping[str, Section] | None = None,
    telegram: Section | None = None,
    http: str = "",
    daemon: Section | None = None,
    sections: Mapping[str, Section] | None = None,
    name: str = "signalbots.toml",
) -> Path:
    """Write ``tmp_path/name`` and return its path.

    ``exchanges``: ccxt id → its section; each must carry loopback ``rest_url`` and ``ws_url``.
    ``strategies``: name → overrides; the rest are disabled. ``daemon`` adds to ``state_dir`` under
    ``tmp_path``. ``sections``: any other table (``risk``, ``breaker``, ``log``) verbatim.
    """
    exchanges = dict(exchanges or {})
    strategies = dict(strategies or {})
    unknown = sorted(set(exchanges) - set(VENUES)) + sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"daemon_config: unknown exchange or strategy {unknown}")
    tables: dict[str, Mapping[str, Value]] = {
        "daemon": {"state_dir": tmp_path / "state", **(daemon or {})},
        "http": {"listen": http},
    }
    if telegram is not None:
        _require_loopback("telegram.api_url", telegram.get("api_url"))
        tables["telegram"] = telegram
    for exchange in VENUES:
        if exchange in exchanges:
            section = exchanges[exchange]
            for key in ("rest_url", "ws_url"):
                _require_loopback(f"exchanges.{exchange}.{key}", section.get(key))
            tables[f"exchanges.{exchange}"] = {"enabled": True, **section}
        else:
            tables[f"exchanges.{exchange}"] = {"enabled": False}
    for strategy in STRATEGIES:
        chosen = strategies.get(strategy)
        on = {"enabled": False} if chosen is None else {"enabled": True, **chosen}
        tables[f"strategies.{strategy}"] = on
    tables |= dict(sections or {})
    path = tmp_path / name
    path.write_text(toml(tables), encoding="utf-8")
    return path


def toml(tables: Mapping[str, Mapping[str, Value]]) -> str:
    """The few TOML shapes settings files use: tables of strings, numbers, booleans and flat lists."""
    return "".join(
        f"[{table}]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in body.items())
        for table, body in tables.items()
    )


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string or number is a TOML one


def _require_loopback(key: str, url: Value | None) -> None:
    host = urlsplit(str(url or "")).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"daemon_config: {key} must be a loopback simulator URL, got {url!r}")
