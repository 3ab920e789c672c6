"""The output samples in docs/ are what the commands print today (``scripts/docs_samples.py``).

The quick samples (every backtest sample in docs/backtest.md) are run afresh and compared byte for byte; the
demo's sample (two minutes to run) is compared by its story in ``tests/test_demo.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_backtest_samples_in_the_docs_match_a_fresh_run() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs_samples.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stderr}\nrun: python scripts/docs_samples.py"
