"""The raw inputs of the settings — the TOML file, the ``.env`` file, the environment — checked before
pydantic-settings reads them, so that each mistake becomes one line naming its file, line or variable and
the fix.

Left to itself, pydantic-settings raises ``UnicodeDecodeError`` for a file that is not UTF-8, drops a ``.env``
line it cannot parse with only a library warning, stops at the first env value of a list/dict setting that
is not JSON (naming neither the variable nor the form), and coerces ``"yes"`` to true and ``"10"`` to 10. In
the environment every value is a string, so that coercion is the convention; in TOML, which has booleans and
numbers, a quoted one is a mistake worth naming.

Every function returns problems (strings) instead of raising: ``settings.load_settings`` lists them all.
Values are never echoed — a ``.env`` line may hold the bot token.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream
from pydantic import BaseModel
from pydantic.functional_validators import BeforeValidator

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


def toml_document(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The parsed TOML file, or the problems (unreadable, not UTF-8, not TOML with the line)."""
    text, problems = read_text(path, "config file")
    if text is None:
        return {}, problems
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as err:
        return {}, [f"{path}: not valid TOML: {err}"]


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


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _example(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return '["BTC", "ETH"]' if args == (str,) else "[1, 2]"
    if origin is dict and args and _model(args[1]) is None:
        return '{"volume": -1001234567890}' if args[1] is int else '{"heartbeat": true}'
    return '{"key": "value"}'


def env_json_problems(
    values: Mapping[str, str], *, prefix: str, delimiter: str, model: type[BaseModel], where: str
) -> list[str]:
    """Variables that set a list or table setting to something that is not JSON (``1,2`` for ``[1, 2]``).

    ``where`` says where the value came from ("env", or a ``.env`` file and line, filled in per name).
    """
    problems = []
    for name, value in values.items():
        if not name.upper().startswith(prefix):
            continue
        parts = name[len(prefix) :].lower().split(delimiter)
        annotation = _annotation_at(model, parts)
        if annotation is None:
            continue
        origin = typing.get_origin(annotation)
        if origin not in (list, dict) and _model(annotation) is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            kind = "list" if origin is list else "table"
            problems.append(
                f"{'.'.join(parts)} ({where.format(name=name)}): a {kind} is written as JSON, "
                f"e.g. {name.upper()}={_example(annotation)}"
            )
    return problems


def _annotation_at(model: type[BaseModel], parts: list[str]) -> Any:
    """The annotation of the setting ``parts`` names, or None when it names none (pydantic reports it)."""
    current: Any = model
    i = 0
    while i < len(parts):
        m = _model(current)
        if m is None:
            if typing.get_origin(current) is dict:  # a table keyed by name (exchanges): skip the key
                current = typing.get_args(current)[1]
                i += 1
                continue
            return None
        field = m.model_fields.get(parts[i])
        if field is None:
            return None
        current = field.annotation
        i += 1
    return current


def toml_type_problems(doc: Mapping[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """Quoted booleans and numbers, and lists/tables of the wrong kind of scalar, by dotted key."""
    out: dict[str, str] = {}
    _walk(doc, model, (), out)
    return out


def _walk(doc: Mapping[str, Any], model: type[BaseModel], loc: tuple[str, ...], out: dict[str, str]) -> None:
    for key, value in doc.items():
        field = model.model_fields.get(key)
        if field is None:
            continue  # unknown keys: pydantic names them
        here = (*loc, key)
        annotation = field.annotation
        parses = any(isinstance(m, BeforeValidator) for m in field.metadata)  # durations take "90s"
        if (sub := _model(annotation)) is not None:
            if isinstance(value, dict):
                _walk(value, sub, here, out)
            continue
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict and isinstance(value, dict) and args:
            if (sub := _model(args[1])) is not None:
                for name, table in value.items():
                    if isinstance(table, dict):
                        _walk(table, sub, (*here, name), out)
            elif any(_scalar_problem(args[1], v) for v in value.values()):
                out[".".join(here)] = f"{_scalar_problem(args[1], None)} for every value"
            continue
        if origin is list and isinstance(value, list) and args:
            if any(_scalar_problem(args[0], v) for v in value):
                out[".".join(here)] = (
                    f"expected a list of {_plural(args[0])}, e.g. {key} = {_example(annotation)}"
                )
            continue
        if not parses and (problem := _scalar_problem(annotation, value)):
            out[".".join(here)] = f"{problem}{_fix(key, annotation, value)}"


def _plural(annotation: Any) -> str:
    return {bool: "true/false values", int: "whole numbers", float: "numbers"}.get(annotation, "values")


def _scalar_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` is not a TOML value of ``annotation`` (bool, int, float); None for anything else."""
    if annotation is bool and not isinstance(value, bool):
        return "expected true or false, not a quoted string"
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "expected a whole number, not a quoted string"
    if annotation is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "expected a number, not a quoted string"
    return None


def _fix(key: str, annotation: Any, value: Any) -> str:
    """``: write max_open = 10`` when the quoted text is a value of the right kind."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if annotation is bool and text.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return f"; write {key} = {'true' if text.lower() in ('true', 'yes', 'on', '1') else 'false'}"
    if annotation is int and re.fullmatch(r"[+-]?\d+", text):
        return f"; write {key} = {int(text)}"
    if annotation is float and re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return f"; write {key} = {text}"
    return ""
