"""Installed in every Python subprocess a test starts (tests/conftest.py puts this directory on
PYTHONPATH and sets TESTS_NETGUARD=1): the daemon under test cannot dial out either."""

import os

if os.environ.get("TESTS_NETGUARD") == "1":
    import loopback_guard

    loopback_guard.install()
