"""Suite-wide rules: nothing leaves the machine, and the slow tests are marked for the fast lane."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._netguard import loopback_guard

pytest_plugins = ("pytester",)  # tests/test_netguard.py runs a test that dials out, to watch it fail

_GUARD_DIR = Path(__file__).parent / "_netguard"


def pytest_configure(config: pytest.Config) -> None:
    # In this process, and — through sitecustomize on PYTHONPATH — in every Python subprocess a test
    # starts (daemons, `python -m signalbots ...`), whichever helper started it.
    if not os.environ.get(loopback_guard.LOG_ENV):
        fd, log = tempfile.mkstemp(prefix="signalbots-netguard-", suffix=".log")
        os.close(fd)
        os.environ[loopback_guard.LOG_ENV] = log
    os.environ[loopback_guard.ENABLE_ENV] = "1"
    paths = [str(_GUARD_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    loopback_guard.install()


@pytest.fixture(autouse=True)
def _no_connection_left_the_machine() -> Iterator[None]:
    """Fail a test whose code (or whose subprocess) tried to dial out, even if the error was swallowed."""
    log = Path(os.environ[loopback_guard.LOG_ENV])
    before = log.stat().st_size if log.exists() else 0
    yield
    if log.exists() and log.stat().st_size > before:
        with log.open(encoding="utf-8") as f:
            f.seek(before)
            refused = f.read()
        pytest.fail(f"this test tried to reach the network:\n{refused}", pytrace=False)
