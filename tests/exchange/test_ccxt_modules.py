"""ccxt imported with only the venue registry's exchanges, and in full when it cannot be (``ccxt_modules``).

``sys.modules`` is the whole process's, so each test runs a fresh interpreter; the fallbacks are shown on
small packages written in ``tmp_path`` whose layout the filter does not recognise, not on a patched ccxt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signalbots.exchange.venues import VENUES
from tests.config import closed_endpoints, daemon_config, free_port

# What gateway.py and _ccxt.py catch and raise, by name.
ERRORS = [
    "AccountSuspended",
    "ArgumentsRequired",
    "AuthenticationError",
    "BadRequest",
    "BadResponse",
    "BadSymbol",
    "BaseError",
    "DDoSProtection",
    "ExchangeClosedByUser",
    "ExchangeNotAvailable",
    "NetworkError",
    "NotSupported",
    "PermissionDenied",
    "RateLimitExceeded",
    "RequestTimeout",
]

_REPORT = r"""
import asyncio, json, sys
from structlog.testing import capture_logs

def exchange_modules():
    loaded = []
    for name in ("ccxt", "ccxt.async_support", "ccxt.pro"):
        package = sys.modules[name]
        loaded += [f"{name}.{x}" for x in vars(package)["exchanges"] if f"{name}.{x}" in sys.modules]
    return sorted(loaded)

with capture_logs() as logs:
    __FIRST__
    from signalbots.exchange.ccxt_modules import ccxt
from signalbots.exchange.venues import VENUES

async def instantiate(cls):
    exchange = cls({})
    await exchange.close()
    return type(exchange).__mro__

report = {"logs": logs, "full": "ccxt.kraken" in sys.modules, "same": ccxt is sys.modules["ccxt"]}
report["loaded"] = exchange_modules()
# the exchange classes that the registry's, in ccxt.pro and async_support, are built from (themselves too)
mros = [asyncio.run(instantiate(getattr(p, v))) for p in (ccxt.async_support, ccxt.pro) for v in VENUES]
report["drive"] = sorted({c.__module__ for mro in mros for c in mro
                         if c.__module__.rsplit(".", 1)[0] in ("ccxt.async_support", "ccxt.pro")
                         and c.__module__.rsplit(".", 1)[1] in ccxt.exchanges})
report["errors"] = [n for n in __ERRORS__ if issubclass(getattr(ccxt, n), ccxt.BaseError)]
report["ccxt_names"] = [ccxt.TRUNCATE, ccxt.decimal_to_precision.__name__, ccxt.Exchange.__name__,
                        "kraken" in ccxt.exchanges, "kraken" in ccxt.pro.exchanges]
from ccxt.pro import kraken
report["on_access"] = [kraken.__module__, ccxt.async_support.kraken.__module__, ccxt.kraken.__module__,
                       issubclass(ccxt.pro.kraken, ccxt.async_support.kraken)]
print(json.dumps(report))
"""


def _python(code: str, *, cwd: Path | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(first: str = "pass") -> Any:
    return _python(_REPORT.replace("__FIRST__", first).replace("__ERRORS__", repr(ERRORS)))


def test_only_the_registry_exchanges_are_imported_and_they_work() -> None:
    report = _report()
    assert report["logs"] == []
    assert report["same"]
    # every exchange module loaded is one the registry's classes are built from (binance for binanceusdm)
    assert report["loaded"] == report["drive"]
    for venue in VENUES:
        assert f"ccxt.pro.{venue}" in report["loaded"] and f"ccxt.async_support.{venue}" in report["loaded"]
    assert not report["full"]
    assert report["errors"] == ERRORS
    assert report["ccxt_names"] == [0, "decimal_to_precision", "Exchange", True, True]
    # an exchange left out is still ccxt's when asked for
    assert report["on_access"] == ["ccxt.pro.kraken", "ccxt.async_support.kraken", "ccxt.kraken", True]


def test_ccxt_imported_first_is_used_in_full() -> None:
    report = _report(first="import ccxt.pro")
    assert report["logs"] == []
    assert report["same"]
    assert report["full"]  # every exchange, as ccxt's own __init__ imports them
    assert "ccxt.pro.kraken" in report["loaded"] and "ccxt.async_support.kraken" in report["loaded"]
    assert set(report["drive"]) <= set(report["loaded"])
    assert report["errors"] == ERRORS
    assert report["on_access"] == ["ccxt.pro.kraken", "ccxt.async_support.kraken", "ccxt.kraken", True]


def _fake_ccxt(root: Path, init: str) -> None:
    """``fakeccxt`` with ``async_support`` and ``pro`` subpackages, each ``__init__`` being ``init`` for its
    package (``{pkg}``) and holding one exchange module, ``fakex``."""
    for sub in ("", "async_support", "pro"):
        package = root.joinpath("fakeccxt", *([sub] if sub else []))
        package.mkdir(parents=True)
        name = "fakeccxt" + (f".{sub}" if sub else "")
        (package / "__init__.py").write_text(init.format(pkg=name))
        (package / "fakex.py").write_text("class fakex:\n    pass\n")


@pytest.mark.parametrize(
    ("init", "exchanges", "says"),
    [
        # relative imports: nothing the filter recognises
        ("exchanges = ['fakex']\nfrom .fakex import fakex\n", ["fakex"], "no exchange import found"),
        # the package reads a name the filter leaves out
        ("from {pkg}.fakex import fakex\nexchanges = [fakex.__name__]\n", ["fakex"], "NameError"),
        # a registry exchange this ccxt does not have
        ("from {pkg}.fakex import fakex\nexchanges = ['fakex']\n", ["fakex", "fakey"], "No module named"),
    ],
    ids=["unrecognised layout", "init fails filtered", "exchange missing"],
)
def test_a_layout_it_cannot_filter_is_imported_in_full_with_one_warning(
    tmp_path: Path, init: str, exchanges: list[str], says: str
) -> None:
    _fake_ccxt(tmp_path, init)
    report = _python(
        f"""
import json, sys
from structlog.testing import capture_logs
from signalbots.exchange.ccxt_modules import full_import_reason, import_ccxt
with capture_logs() as logs:
    fake = import_ccxt(root="fakeccxt", exchanges={exchanges!r})
print(json.dumps({{
    "logs": logs,
    "reason": full_import_reason("fakeccxt"),
    "daemons_ccxt_trimmed": full_import_reason() is None,
    "same": fake is sys.modules["fakeccxt"],
    "classes": [isinstance(sys.modules[p].fakex, type) for p in ("fakeccxt.async_support", "fakeccxt.pro")],
    "full": [vars(sys.modules[p])["fakex"].__module__ for p in ("fakeccxt", "fakeccxt.pro")],
}}))
""",
        cwd=tmp_path,
    )
    (log,) = report["logs"]
    assert (log["event"], log["log_level"], log["exchanges"]) == ("ccxt_full_import", "warning", exchanges)
    assert says in log["reason"]
    assert report["reason"] == log["reason"]  # what the daemon logs once its log settings apply
    assert report["daemons_ccxt_trimmed"]
    assert report["same"]
    assert report["classes"] == [True, True]
    # ccxt's own __init__ bound the classes: the full package, every line of it run
    assert report["full"] == ["fakeccxt.fakex", "fakeccxt.pro.fakex"]


@pytest.mark.slow
def test_check_config_does_not_import_ccxt(tmp_path: Path) -> None:
    """``check-config`` reads the venue registry, never ccxt (a second and ~50 MB even filtered)."""
    config = daemon_config(
        tmp_path, exchanges={"binanceusdm": closed_endpoints(free_port())}, strategies={"volume": {}}
    )
    report = _python(
        f"""
import json, sys
from signalbots.cli import main
code = main(["--config", {str(config)!r}, "check-config"])
print(json.dumps([code, sorted(m for m in sys.modules if m.split(".")[0] == "ccxt")]))
"""
    )
    assert report == [0, []]
