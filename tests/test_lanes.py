"""The slow list in tests/conftest.py names tests that exist: a renamed test would otherwise fall silently
back into the fast lane (and a deleted file would leave a dead entry)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SLOW

ROOT = Path(__file__).resolve().parent.parent


def test_every_slow_entry_names_an_existing_file_or_test() -> None:
    for entry in SLOW:
        path, _, name = entry.partition("::")
        assert (ROOT / path).is_file(), f"tests/conftest.py SLOW: no file {path}"
        if name:
            source = (ROOT / path).read_text(encoding="utf-8")
            # an entry may name a test by its beginning (long names, parametrised ids)
            assert re.search(rf"^(async )?def {re.escape(name)}", source, re.M), f"SLOW: no test {entry}"
