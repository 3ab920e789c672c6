"""The house's shape, read from the source: no import cycle (type-only imports count: a newcomer reading
``if TYPE_CHECKING:`` still has to hold both modules in their head), and one door to ccxt."""

from __future__ import annotations

import ast
from pathlib import Path

import signalbots

PACKAGE = Path(signalbots.__file__).parent
# The one door to ccxt: the gateway and the ccxt subclass it drives. Nothing else reads ccxt's internals.
CCXT_DOOR = {"signalbots.exchange.gateway", "signalbots.exchange._ccxt"}


def _modules(root: Path) -> dict[str, Path]:
    """Every module under the package ``root``, by dotted name."""
    found = {}
    for path in root.rglob("*.py"):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in the file (functions, ``TYPE_CHECKING``)."""

    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [known(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # ``from pkg import mod`` imports the module ``pkg.mod``; ``from mod import name`` the module.
            targets = [
                known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in modules else known(base)
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t is not None and t != name)
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """The strongly connected groups of more than one module in ``root``'s import graph (Tarjan)."""
    modules = _modules(root)
    graph = {name: sorted(_imports(name, path, modules)) for name, path in sorted(modules.items())}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_the_package_has_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_a_type_only_import_cycle_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "house"
    (pkg / "rooms").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rooms" / "__init__.py").write_text("")
    (pkg / "rooms" / "door.py").write_text("from house.rooms import hall\n")
    (pkg / "rooms" / "hall.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .door import Door\n"
    )
    (pkg / "garden.py").write_text("import house.rooms.hall\n")
    assert import_cycles(pkg) == [["house.rooms.door", "house.rooms.hall"]]


def test_only_the_gateway_reads_ccxt_internals_by_name() -> None:
    """``getattr(obj, "name")`` is how code reaches into ccxt's caches (``clients``, ``ohlcvs``…): the
    exchange package has it only in its door."""
    offenders = []
    for name, path in _modules(PACKAGE).items():
        if not name.startswith("signalbots.exchange") or name in CCXT_DOOR:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert offenders == []


LINE_LIMIT = 400
REASON = "Over 400 lines on purpose"  # the sentence a longer module's docstring must carry, with its reason


def test_no_production_module_is_over_400_lines_without_a_written_reason() -> None:
    unexplained = []
    for name, path in sorted(_modules(PACKAGE).items()):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > LINE_LIMIT and REASON not in (ast.get_docstring(ast.parse(path.read_text())) or ""):
            unexplained.append(f"{name}: {lines} lines")
    assert unexplained == [], f"split these, or say why at their top ({REASON}: …)"


# The venues that came after the profile promise ("one profile, one simulator venue, its fixtures — no
# branch elsewhere", venues/__init__.py): their name is code only in their profile, the registry and the
# simulator. Comments and docstrings may name them (an explanation is not a branch).
PROFILE_ONLY_VENUES = ("hyperliquid",)
VENUE_HOMES = ("exchange.venues", "sim")  # under the package


def _code_words(path: Path) -> list[tuple[int, str]]:
    """Every string constant and identifier in ``path`` that is code, not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            words.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            words.append((node.lineno, node.attr))
        elif isinstance(node, ast.alias):
            words.append((node.lineno, node.name))
    return words


def _branches_outside_the_profiles(root: Path, package: str, venues: tuple[str, ...]) -> list[str]:
    homes = tuple(f"{package}.{home}" for home in VENUE_HOMES)
    found = []
    for name, path in sorted(_modules(root).items()):
        if any(name == home or name.startswith(home + ".") for home in homes):
            continue
        for line, word in _code_words(path):
            if any(v in word.lower() for v in venues):
                found.append(f"{name}:{line}: {word!r}")
    return found


def test_a_venue_added_by_profile_is_code_nowhere_but_its_profile_and_simulator() -> None:
    assert _branches_outside_the_profiles(PACKAGE, "signalbots", PROFILE_ONLY_VENUES) == []


def test_a_branch_on_a_venue_outside_its_profile_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "house"
    (pkg / "exchange" / "venues").mkdir(parents=True)
    for init in (pkg, pkg / "exchange", pkg / "exchange" / "venues"):
        (init / "__init__.py").write_text("")
    (pkg / "exchange" / "venues" / "newvenue.py").write_text('ID = "newvenue"\n')
    (pkg / "demo.py").write_text('"""Shows newvenue\'s funding."""\n# newvenue settles hourly\nHOURLY = 1\n')
    assert _branches_outside_the_profiles(pkg, "house", ("newvenue",)) == []
    (pkg / "feed.py").write_text('def at(ex: str) -> int:\n    return 1 if ex == "newvenue" else 8\n')
    assert _branches_outside_the_profiles(pkg, "house", ("newvenue",)) == ["house.feed:2: 'newvenue'"]
