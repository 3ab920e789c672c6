"""Suite-wide rules: nothing leaves the machine, and the slow tests are marked for the fast lane."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests._netguard import loopback_guard
from tests.daemon_process import DaemonProcess

pytest_plugins = ("pytester",)  # tests/test_netguard.py runs a test that dials out, to watch it fail

_GUARD_DIR = Path(__file__).parent / "_netguard"
_LOG_KEY = pytest.StashKey[Path]()

# The fast lane is `pytest -m "not slow"`. A test is slow when it starts the daemon or the CLI as a
# subprocess, or runs for seconds (measured with --durations=0). Mark one in its own file with
# @pytest.mark.slow; the files and tests below are marked here so their owners' files stay untouched.
SLOW = (
    "tests/test_demo.py",
    "tests/test_no_network.py",
    "tests/test_chart_delivery.py",
    "tests/test_monitoring.py",
    "tests/test_app.py",
    "tests/test_restart.py",
    "tests/test_cli.py",
    "tests/test_quality.py",
    "tests/test_docs_samples.py",
    "tests/charts/test_renderer.py",  # each test spawns chart worker processes
    "tests/test_backtest.py::test_the_console_command_prints_one_json_document",
    "tests/test_deploy.py::test_the_documented_pre_start_check_reads_the_token_file_the_unit_loads",
    "tests/test_http.py::test_a_port_in_use_is_one_error_line_and_exit_1_its_traceback_only_at_debug",
    "tests/test_health.py::test_every_exchange_unreachable_turns_the_heartbeat_red_and_names_them",
    "tests/telegram/test_delivery.py::test_after_an_outage_of_any_length_and_a_run_of_faults_delivery",
    "tests/sim/test_mexc_sim.py::test_ccxt_reads_markets_tickers_candles_and_funding",
    "tests/sim/test_mexc_sim.py::test_ccxt_translates_the_510_answer_and_unknown_contracts",
    "tests/exchange/test_feeds.py::test_three_feeds_over_300_symbols_for_an_hour_stay_within_budget",
    "tests/strategies/test_strategy_properties.py::test_strategies_are_deterministic_sane_and_event_timed",
    "tests/exchange/test_normalize.py::test_binance_parses_or_refuses_cleanly",
    "tests/strategies/test_strategy_properties.py::test_funding_restored_from_state_continues_like_the_original",
    "tests/test_record.py::test_recording_nothing_exits_1_saying_why",
    "tests/test_record.py::test_a_killed_recorder_loses_nothing_it_had_flushed",
    "tests/test_record.py::test_record_for_a_duration_exits_0_and_leaves_a_complete_recording",
    "tests/test_record.py::test_sigterm_stops_the_recorder_cleanly_with_everything_written",
    "tests/telegram/test_coalesce.py::test_a_coalesced_message_that_waited_out_an_outage_says_which",
    "tests/telegram/test_delivery.py::test_a_signal_delivered_after_its_expiry_says_it_expired_undelivered",
    "tests/telegram/test_delivery.py::test_a_signal_delivered_twenty_minutes_late_says_how_late",
    "tests/strategies/test_spec.py::test_any_module_can_be_imported_first",  # fresh interpreters
)


def pytest_configure(config: pytest.Config) -> None:
    # In this process, and — through sitecustomize on PYTHONPATH — in every Python subprocess a test
    # starts (daemons, `python -m signalbots ...`), whichever helper started it.
    if not os.environ.get(loopback_guard.LOG_ENV):
        fd, log = tempfile.mkstemp(prefix="signalbots-netguard-", suffix=".log")
        os.close(fd)
        os.environ[loopback_guard.LOG_ENV] = log
        config.stash[_LOG_KEY] = Path(log)
    os.environ[loopback_guard.ENABLE_ENV] = "1"
    paths = [str(_GUARD_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    loopback_guard.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    created = config.stash.get(_LOG_KEY, None)
    if created is not None:
        created.unlink(missing_ok=True)
        del os.environ[loopback_guard.LOG_ENV]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture
def launch_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """``launch_daemon(config, "run", env={...})``: ``signalbots --config config ...`` in ``tmp_path``,
    killed at teardown if the test did not stop it."""
    started: list[DaemonProcess] = []

    def launch(
        config: Path,
        *command: str,
        env: Mapping[str, str] | None = None,
        notify_socket: Path | None = None,
    ) -> DaemonProcess:
        daemon = DaemonProcess(
            args=["--config", str(config), *(command or ("run",))],
            cwd=tmp_path,
            env=env,
            notify_socket=notify_socket,
        )
        started.append(daemon)
        return daemon

    yield launch
    for daemon in started:
        daemon.close()
