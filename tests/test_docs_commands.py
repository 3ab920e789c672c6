"""Every shell command in README.md and docs/*.md runs in a test, or its block says what it needs (issue 21).

A command is a line of a ```sh / ```bash / ```console block (continuations and here-documents joined, the
trailing ``# comment`` dropped), or a ``$ `` line of any other block (``$ echo $?`` after a sample only
shows the exit code of the line before). A block preceded by ``<!-- needs: REASON -->`` — a real server
(root, systemd, /etc), the network (git, pip), an idle machine for minutes — holds commands no offline test
can run as written; every other command must be in ``RUN_BY``, which names where it runs. This file checks
that each named place exists and holds the command's text, and runs the cheap commands itself.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SLOW

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "shell", "console"}
_FENCE = re.compile(r"^\s*```(\S*)\s*$")
_NEEDS = re.compile(r"^<!--\s*needs:\s*(.+?)\s*-->", re.M)  # on a line of its own
_COMMENT = re.compile(r"\s{2,}#\s.*$|\s+#\s[^'\"]*$")
_HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")

SAMPLES_TEST = "tests/test_docs_samples.py::test_the_backtest_samples_in_the_docs_match_a_fresh_run"
DEMO_TEST = "tests/test_demo.py::test_default_demo_shows_the_whole_product_and_exits_0"
HERE = "tests/test_docs_commands.py"
CONFIGURE_CHECK = "signalbots --config /etc/signalbots/signalbots.toml check-config"


@dataclass(frozen=True)
class Runner:
    """Where a command runs: a test (``file::name``) or a script, and text that place must hold."""

    where: str
    evidence: str


# command as the docs write it → where it runs. Samples (`<!-- sample: NAME -->` blocks) are added below
# from scripts/docs_samples.py, which runs exactly their command lines.
RUN_BY: dict[str, Runner] = {
    # CI runs the README's test command verbatim (tests/test_docs_commands.py keeps them equal)
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest": Runner(
        ".ci/run", "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    ),
    # the fast lane is checked by collecting it (running it here would run the suite inside itself)
    '.venv/bin/python -m pytest -m "not slow"': Runner(
        f"{HERE}::test_the_fast_lane_selects_the_quick_tests", '"not slow"'
    ),
    CONFIGURE_CHECK: Runner(f"{HERE}::test_check_config_as_configure_md_writes_it", "CONFIGURE_CHECK"),
    "python -m signalbots.sim --write sim.toml": Runner(
        f"{HERE}::test_the_simulator_recipe_in_backtest_md", '"--write", "sim.toml"'
    ),
    "signalbots --config sim.toml record --out recordings --duration 3s": Runner(
        f"{HERE}::test_the_simulator_recipe_in_backtest_md",
        '"record", "--out", "recordings", "--duration", "3s"',
    ),
    "signalbots --config sim.toml backtest --data recordings": Runner(
        f"{HERE}::test_the_simulator_recipe_in_backtest_md", '"backtest", "--data", "recordings"'
    ),
    "cp .env.example .env && chmod 600 .env": Runner(
        "tests/test_cli.py::test_install_steps_work_as_written", "cp .env.example .env && chmod 600 .env"
    ),
    ".venv/bin/signalbots check-config": Runner(
        "tests/test_cli.py::test_install_steps_work_as_written", "signalbots check-config"
    ),
    ".venv/bin/signalbots run": Runner(
        "tests/test_cli.py::test_install_steps_work_as_written", 'args=["run"]'
    ),
}


@dataclass(frozen=True)
class Command:
    page: Path
    line: int
    text: str
    needs: str | None  # the block's `<!-- needs: ... -->`, if any

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: {self.text}"


def _commands_of(lines: list[str], first_line: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        start, text = i, _COMMENT.sub("", lines[i]).strip()
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1].rstrip() + " " + _COMMENT.sub("", lines[i]).strip()
        heredoc = _HEREDOC.search(text)
        if heredoc:
            while i + 1 < len(lines) and lines[i + 1].strip() != heredoc.group(1):
                i += 1
            i += 1  # the terminator
        if text:
            found.append((first_line + start, " ".join(text.split())))
        i += 1
    return found


def doc_commands() -> list[Command]:
    commands: list[Command] = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            fence = _FENCE.match(lines[i])
            if not fence:
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
            body, lang = lines[i + 1 : end], fence.group(1)
            above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            needs = _NEEDS.search(above)
            if lang in SHELL - {"console"}:
                found = _commands_of(body, i + 2)
            else:  # console or output: only the prompted lines are commands
                found = [
                    (i + 2 + n, line[2:].strip()) for n, line in enumerate(body) if line.startswith("$ ")
                ]
            commands += [
                Command(page, n, text, needs.group(1) if needs else None)
                for n, text in found
                if text != "echo $?"
            ]
            i = end + 1
    return commands


def _samples() -> dict[str, Runner]:
    """The commands scripts/docs_samples.py runs, and the test that makes it run them."""
    spec = importlib.util.spec_from_file_location("docs_samples", ROOT / "scripts" / "docs_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return {
        "signalbots " + " ".join(sample.args): Runner(
            DEMO_TEST if sample.slow else SAMPLES_TEST, '"demo"' if sample.slow else '"--check"'
        )
        for sample in module.SAMPLES.values()
    }


def _source_of(where: str) -> str:
    path, _, test = where.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    if not test:
        return source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == test:
            return ast.get_source_segment(source, node) or ""
    raise AssertionError(f"{where}: no such test")


def test_every_command_in_the_docs_runs_in_a_test_or_says_what_it_needs() -> None:
    run_by = RUN_BY | _samples()
    commands = doc_commands()
    assert len(commands) > 20  # the parser found the docs' commands, not nothing
    orphans = [str(c) for c in commands if c.needs is None and c.text not in run_by]
    assert not orphans, (
        "commands no test runs — add them to RUN_BY with the test that runs them, or mark the block "
        "<!-- needs: REASON --> when only a real server can run them:\n" + "\n".join(orphans)
    )


def test_each_place_named_in_the_table_exists_and_holds_the_command() -> None:
    shown = {c.text for c in doc_commands()}
    for command, runner in (RUN_BY | _samples()).items():
        assert command in shown, f"RUN_BY names a command no doc shows any more: {command}"
        assert runner.evidence in _source_of(runner.where), f"{runner.where} does not run {command!r}"
        assert not runner.where.startswith(HERE) or runner.where.split("::")[1] in globals()


def test_a_needs_marker_says_why() -> None:
    for page in PAGES:
        markers = [line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("<!--")]
        for reason in _NEEDS.findall("\n".join(markers)):
            assert len(reason.split()) >= 2, f"{page.name}: say what is needed, not just {reason!r}"


# the cheap ones, run as the docs write them -----------------------------------------------------------------
def _signalbots(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalbots", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOTS_")}


@pytest.mark.slow
def test_check_config_as_configure_md_writes_it(tmp_path: Path) -> None:
    # /etc/signalbots/ is the server's; the shipped file copied into a scratch /etc stands in for it
    etc = tmp_path / "etc" / "signalbots"
    etc.mkdir(parents=True)
    shutil.copy(ROOT / "config" / "signalbots.toml", etc / "signalbots.toml")
    command = CONFIGURE_CHECK.replace("/etc/signalbots/", f"{etc}/").split()[1:]
    checked = _signalbots(*command, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip().splitlines()[-1] == "settings OK"


@pytest.mark.slow
def test_the_fast_lane_selects_the_quick_tests() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "not slow", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert len(ids) > 300  # most of the suite
    assert not [i for i in ids if i.startswith(SLOW)]


@pytest.mark.slow
def test_the_simulator_recipe_in_backtest_md(tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [sys.executable, "-m", "signalbots.sim", "--write", "sim.toml"],
        cwd=tmp_path,
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stderr is not None
        said = [sim.stderr.readline() for _ in range(3)]  # the URLs, the file, "serving"
        assert said[-1].startswith("serving"), said
        assert "REST http://127.0.0.1:" in said[0]
        assert "enabled = false" in (tmp_path / "sim.toml").read_text()
        recorded = _signalbots(
            "--config", "sim.toml", "record", "--out", "recordings", "--duration", "3s", cwd=tmp_path
        )
        assert recorded.returncode == 0, recorded.stderr
        assert "record: binanceusdm → recordings/events-" in recorded.stdout + recorded.stderr
        replayed = _signalbots("--config", "sim.toml", "backtest", "--data", "recordings", cwd=tmp_path)
        assert replayed.returncode == 0, replayed.stderr
        assert "Telegram message(s) would have been sent" in replayed.stdout
        sim.send_signal(signal.SIGINT)  # the docs' Ctrl-C
        assert sim.wait(timeout=30) == 0
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
