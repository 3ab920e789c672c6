"""One way to write a daemon's settings file in a test: what it does not name is off.

Every exchange the daemon knows is written ``enabled = false`` unless the test names it, and a named one
must point at a loopback simulator — so adding a venue, or a default turning one on, can never make a test
daemon dial a real host (the MEXC bug of issue 17). Strategies likewise: only the named ones run. Telegram,
when named, must be a local simulator; the local HTTP listener is off unless asked for.

    cfg = daemon_config(tmp_path, exchanges={"binanceusdm": sim_endpoints(sim, "binanceusdm")},
                        strategies={"volume": {}}, telegram={"api_url": tg.url, "alert_chat_id": 1001})

A daemon that must start offline watches one exchange at a closed port (settings under which nothing can
ever signal are refused): ``exchanges={"binanceusdm": closed_endpoints(free_port())}``. Where the settings
file under test is not the test's own (the shipped one), ``exchanges_env`` says the same as variables.
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
from signalbots.strategies.registry import names

Value = str | int | float | bool | Path | list[str] | list[int]
Section = Mapping[str, Value]

STRATEGIES = tuple(names())  # every registered strategy: a test names the ones it runs


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


def closed_endpoints(port: int, **extra: Value) -> dict[str, Value]:
    """An exchange section pointing at loopback ``port`` where nobody listens (``free_port()``): dialled and
    refused at once, as with the network down."""
    return {"rest_url": f"http://127.0.0.1:{port}", "ws_url": f"ws://127.0.0.1:{port}", **extra}


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
    strategies = dict(strategies or {})
    unknown = sorted(set(exchanges or {}) - set(VENUES)) + sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"daemon_config: unknown exchange or strategy {unknown}")
    tables: dict[str, Mapping[str, Value]] = {
        "daemon": {"state_dir": tmp_path / "state", **(daemon or {})},
        "http": {"listen": http},
    }
    if telegram is not None:
        _require_loopback("telegram.api_url", telegram.get("api_url"))
        tables["telegram"] = telegram
    for exchange, section in _exchange_sections(exchanges or {}).items():
        tables[f"exchanges.{exchange}"] = section
    for strategy in STRATEGIES:
        chosen = strategies.get(strategy)
        on = {"enabled": False} if chosen is None else {"enabled": True, **chosen}
        tables[f"strategies.{strategy}"] = on
    tables |= dict(sections or {})
    path = tmp_path / name
    path.write_text(toml(tables), encoding="utf-8")
    return path


def exchanges_env(exchanges: Mapping[str, Section] | None = None) -> dict[str, str]:
    """``daemon_config``'s rule for exchanges as ``SIGNALBOTS_EXCHANGES__…`` variables, for a test of a
    settings file it does not write: every venue it does not name is disabled."""
    sections = _exchange_sections(exchanges or {})
    return {
        f"SIGNALBOTS_EXCHANGES__{exchange.upper()}__{key.upper()}": _env_value(value)
        for exchange, section in sections.items()
        for key, value in section.items()
    }


def _exchange_sections(exchanges: Mapping[str, Section]) -> dict[str, Mapping[str, Value]]:
    """Every known venue: the named ones enabled (each must point at loopback), the others disabled."""
    unknown = sorted(set(exchanges) - set(VENUES))
    if unknown:
        raise ValueError(f"unknown exchange {unknown}")
    sections: dict[str, Mapping[str, Value]] = {}
    for exchange in VENUES:
        if exchange in exchanges:
            section = exchanges[exchange]
            for key in ("rest_url", "ws_url"):
                _require_loopback(f"exchanges.{exchange}.{key}", section.get(key))
            sections[exchange] = {"enabled": True, **section}
        else:
            sections[exchange] = {"enabled": False}
    return sections


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


def _env_value(value: Value) -> str:
    if isinstance(value, str | Path):
        return str(value)
    return _value(value)  # booleans, numbers and lists read from the environment as JSON


def _require_loopback(key: str, url: Value | None) -> None:
    host = urlsplit(str(url or "")).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"daemon_config: {key} must be a loopback simulator URL, got {url!r}")
