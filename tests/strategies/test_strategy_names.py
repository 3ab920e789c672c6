"""Acceptance 2 of issue 18: outside ``signalbots/strategies/`` (the strategies and their registry) no
production code names a strategy. Adding one is its module and a registry line, nothing else.

``funding`` and ``liquidation`` are also names of market data (the funding feed and its snapshots, the
liquidation stream, a recording's ``"funding"`` lines, ``Candle.volume``), so a bare word is not enough
to tell a strategy reference. The scan flags, in every module's code (docstrings are documentation):

* importing a strategy's module (``signalbots.strategies.volume``), or an identifier made of a strategy's
  name and ``strategy`` / ``settings`` / ``spec`` (``VolumeSettings``, ``FUNDING_SPEC``);
* a strategy's name used *as a strategy*: an attribute of something called ``strategies``
  (``settings.strategies.volume``), a string compared with, keyed into or passed as something called
  ``strategy`` / ``strategies`` (``c.strategy == "volume"``, ``_STRATEGIES = ("volume", ...)``,
  ``getattr(settings.strategies, "volume")``), or a string shaped like a strategy's stored key
  (``"volume:..."``);
* any other string or identifier equal to a strategy's name *unless the word is market data*: a
  ``FeedKind``, a recording's line type, or a field of a market event or a chart (derived from the code,
  not listed by hand).

Prose (help, messages) never equals a bare name and passes. What remains is the short ``_ALLOWED`` list.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

from signalbots import events
from signalbots.charts.spec import ChartSpec
from signalbots.needs import FeedKind
from signalbots.strategies.registry import SPECS

_PACKAGE = Path(__file__).resolve().parents[2] / "signalbots"
_NAMES = frozenset(spec.name for spec in SPECS)
_MODULES = frozenset(spec.factory.__module__ for spec in SPECS)

# (path under signalbots/, the word): user-facing text that is a bare strategy name, with the reason.
_ALLOWED: frozenset[tuple[str, str]] = frozenset()


def _data_words() -> tuple[frozenset[str], frozenset[str]]:
    """(strings, identifiers) that are market data: feed kinds, recording line types and the fields of market
    events (a candle's ``"volume"`` column in a CSV, a recording, an exchange's wire format); as identifiers
    also the fields of a chart (``spec.funding``)."""
    fields = {
        f.name
        for cls in (events.Liquidation, events.FundingSnapshot, events.Candle, events.Ticker, ChartSpec)
        for f in dataclasses.fields(cls)
    }
    tags = {"liquidation", "funding", "candle", "ticker"}  # recording.py's line types (its _TYPES)
    event_fields = {
        f.name
        for cls in (events.Liquidation, events.FundingSnapshot, events.Candle, events.Ticker)
        for f in dataclasses.fields(cls)
    }
    strings = frozenset({k.value for k in FeedKind} | tags | event_fields)
    return strings, strings | frozenset(fields)


_DATA_STRINGS, _DATA_IDENTIFIERS = _data_words()
_STRATEGY_WORD = re.compile(r"strateg", re.IGNORECASE)
_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _id_of(node: ast.AST) -> str:
    """The last identifier of an expression: ``c.strategy`` → ``strategy``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _id_of(node.value)
    if isinstance(node, ast.Call):
        return _id_of(node.func)
    return ""


def _is_strategy_context(node: ast.AST) -> bool:
    return bool(_STRATEGY_WORD.search(_id_of(node)))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _identifier(node: ast.Name | ast.arg | ast.FunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.arg if isinstance(node, ast.arg) else node.name


def _named_identifier(name: str) -> bool:
    parts = {p.lower() for p in _PARTS.findall(name)}
    return bool(parts & _NAMES) and bool(parts & {"strategy", "settings", "spec"})


def _references(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """(line, word, why) for every strategy reference in ``tree``."""
    docs = _docstrings(tree)
    context: dict[int, bool] = {}  # id(string constant) → used as a strategy
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            base = node.module if isinstance(node, ast.ImportFrom) and node.module else ""
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                if full in _MODULES or base in _MODULES:
                    yield node.lineno, full, "imports a strategy's module"
                if _named_identifier(alias.asname or alias.name):
                    yield node.lineno, alias.name, "a strategy's own class or settings"
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_strategy_context(s) for s in sides):
                for s in sides:
                    context[id(s)] = True
        elif isinstance(node, ast.keyword) and node.arg and _STRATEGY_WORD.search(node.arg):
            for sub in ast.walk(node.value):
                context[id(sub)] = True
        elif isinstance(node, ast.Subscript) and _is_strategy_context(node.value):
            for sub in ast.walk(node.slice):
                context[id(sub)] = True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(_is_strategy_context(t) for t in targets):
                for sub in ast.walk(node.value):
                    context[id(sub)] = True
        elif (
            isinstance(node, ast.Call)
            and _id_of(node.func) == "getattr"
            and node.args
            and _is_strategy_context(node.args[0])
        ):
            for sub in node.args[1:]:
                context[id(sub)] = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            word = node.value
            if word in _NAMES and (context.get(id(node)) or word not in _DATA_STRINGS):
                yield node.lineno, word, "a strategy's name as a string"
            elif any(word.startswith(f"{n}:") for n in _NAMES):
                yield node.lineno, word, "a strategy's stored key"
        elif isinstance(node, ast.Attribute):
            if node.attr in _NAMES and (
                _is_strategy_context(node.value) or node.attr not in _DATA_IDENTIFIERS
            ):
                yield node.lineno, node.attr, "a strategy's section or attribute"
            elif _named_identifier(node.attr):
                yield node.lineno, node.attr, "a strategy's own class or settings"
        elif isinstance(node, ast.Name | ast.arg | ast.FunctionDef | ast.ClassDef):
            ident = _identifier(node)
            if (ident in _NAMES and ident not in _DATA_IDENTIFIERS) or _named_identifier(ident):
                yield node.lineno, ident, "a strategy named in an identifier"


def _scan() -> list[str]:
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        rel = path.relative_to(_PACKAGE).as_posix()
        if rel.startswith("strategies/"):
            continue
        for line, word, why in _references(ast.parse(path.read_text(encoding="utf-8"))):
            if (rel, word) not in _ALLOWED:
                found.append(f"signalbots/{rel}:{line}: {word!r} — {why}")
    return found


def test_no_production_code_outside_the_strategies_names_one() -> None:
    assert _scan() == []


def test_the_scan_tells_a_strategy_from_market_data() -> None:
    flagged = "\n".join(
        [
            "from signalbots.strategies.volume import VolumeStrategy",
            "x = settings.strategies.volume",
            "if c.strategy == 'funding': pass",
            "_STRATEGIES = ('liquidation', 'funding')",
            "y = getattr(settings.strategies, 'funding')",
            "key = 'liquidation:binanceusdm:BTC'",
            "chat.strategies['volume'] += 1",
        ]
    )
    found = {(line, word) for line, word, _ in _references(ast.parse(flagged))}
    assert {line for line, _ in found} == {1, 2, 3, 4, 5, 6, 7}
    data = "\n".join(
        [
            "kinds = {FeedKind.FUNDING: 'funding'}",
            "tag = 'liquidation'",  # a recording's line type
            "v = candle.volume",
            "points = history.funding(exchange, symbol)",
            "text = 'funding turns deeply negative'",
        ]
    )
    assert list(_references(ast.parse(data))) == []
