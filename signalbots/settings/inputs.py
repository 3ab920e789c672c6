"""The raw files of the settings — the TOML file and the ``.env`` file — read and checked before they are
validated, so that each mistake becomes one line naming its file and line, and the fix.

Left to itself, a library raises ``UnicodeDecodeError`` for a file that is not UTF-8, drops a ``.env`` line it
cannot parse with only a warning, and keeps no line numbers for TOML keys. Every function returns problems
(strings) instead of raising: ``load_settings`` lists them all. Values are never echoed — a ``.env`` line may
hold the bot token.
"""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

_NAME = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)")


def read_text(path: Path, what: str) -> tuple[str | None, list[str]]:
    """The file's text, or the problem reading it (``what``: "config file", ".env file")."""
    if path.is_dir():
        return None, [f"{what} {str(path)!r} is a directory, not a file"]
    try:
        return path.read_text(encoding="utf-8"), []
    except UnicodeDecodeError as err:
        return None, [
            f"{what} {str(path)!r}: not a text file (byte {err.start} is not UTF-8); it must be UTF-8 text"
        ]
    except OSError as err:
        return None, [f"{what} {str(path)!r}: cannot read: {err.strerror}"]


def toml_document(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int], list[str]]:
    """The parsed TOML file and the line of each key, or the problems (unreadable, not UTF-8, not TOML
    with the line)."""
    text, problems = read_text(path, "config file")
    if text is None:
        return {}, {}, problems
    try:
        return tomllib.loads(text), toml_lines(text), []
    except tomllib.TOMLDecodeError as err:
        return {}, {}, [f"{path}: not valid TOML: {err}"]


_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_HEADER = re.compile(rf"^\[\[?\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]\]?")
_TOML_ASSIGN = re.compile(rf"^({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*=\s*(.*)$")
_TOML_PART = re.compile(_TOML_KEY)


def toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) where each table and key of a TOML text is written (tomllib keeps none).

    A line scan, not a parser: keys inside inline tables and multi-line arrays take their parent's line.
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_string: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if open_string is not None:
            if line.count(open_string) % 2:
                open_string = None
            continue
        if (header := _TOML_HEADER.match(line)) is not None:
            table = _toml_key(header.group(1))
            lines.setdefault(table, number)
        elif (assign := _TOML_ASSIGN.match(line)) is not None:
            lines.setdefault((*table, *_toml_key(assign.group(1))), number)
            for quotes in ('"""', "'''"):
                if assign.group(2).count(quotes) % 2:
                    open_string = quotes
    return lines


def _toml_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _TOML_PART.findall(text))


def dotenv_values(path: Path, *, prefix: str) -> tuple[dict[str, tuple[int, str]], list[str]]:
    """The non-empty ``prefix`` variables of a ``.env`` file (name → (line, value)), and its problems.

    A line python-dotenv cannot parse (an unclosed quote, no ``=``) is a problem naming the line — the
    library would drop it with a warning and the setting would silently keep its default.
    """
    if not path.exists():
        return {}, []
    text, problems = read_text(path, ".env file")
    if text is None:
        return {}, problems
    values: dict[str, tuple[int, str]] = {}
    newlines = 0  # python-dotenv's own line numbers skip blank lines: count them here
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        line = newlines + 1 + len(raw) - len(raw.lstrip("\n"))
        newlines += raw.count("\n")
        if binding.error:
            m = _NAME.match(binding.original.string)
            named = f" ({m.group(1)})" if m else ""
            problems.append(
                f"{path}:{line}{named}: cannot parse this line; write NAME=value "
                f"(quotes, if any, must close on the same line)"
            )
        elif binding.key is not None and binding.key.upper().startswith(prefix):
            if binding.value is None:
                problems.append(f"{path}:{line} ({binding.key}): no '=' — write {binding.key}=value")
            elif binding.value != "":  # empty means unset (env_ignore_empty)
                values[binding.key] = (line, binding.value)
    return values, problems
