"""TOML values of the wrong kind: quoted booleans and numbers, lists and tables of the wrong scalar.

pydantic (lax) would coerce ``"yes"`` to true and ``"10"`` to 10. In the environment every value is
text, so that is the convention there; in TOML, which has booleans and numbers, a quoted one is a
mistake worth naming, with the line to write instead.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.functional_validators import BeforeValidator

from signalbots.settings.schema import example, model_of, unwrap

__all__ = ["toml_type_problems"]

_INTEGER = re.compile(r"[+-]?\d+")


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
        annotation, metadata = unwrap(field.annotation)
        # Types that read text themselves: durations ("90s"), chat ids (which explain a "@name").
        parses = any(isinstance(m, BeforeValidator) for m in [*field.metadata, *metadata])
        if (sub := model_of(annotation)) is not None:
            if isinstance(value, dict):
                _walk(value, sub, here, out)
            continue
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict and isinstance(value, dict) and args:
            if (sub := model_of(args[1])) is not None:
                for name, table in value.items():
                    if isinstance(table, dict):
                        _walk(table, sub, (*here, name), out)
            elif any(_scalar_problem(*_parsing(args[1]), v) for v in value.values()):
                out[".".join(here)] = f"{_scalar_problem(unwrap(args[1])[0], False, None)} for every value"
            continue
        if origin is list and isinstance(value, list) and args:
            if any(_scalar_problem(*_parsing(args[0]), v) for v in value):
                out[".".join(here)] = (
                    f"expected a list of {_plural(unwrap(args[0])[0])}, e.g. {key} = {example(annotation)}"
                )
            continue
        if problem := _scalar_problem(annotation, parses, value):
            out[".".join(here)] = f"{problem}{_fix(key, annotation, value)}"


def _plural(annotation: Any) -> str:
    return {bool: "true/false values", int: "whole numbers", float: "numbers"}.get(annotation, "values")


def _parsing(annotation: Any) -> tuple[Any, bool]:
    base, metadata = unwrap(annotation)
    return base, any(isinstance(m, BeforeValidator) for m in metadata)


def _scalar_problem(annotation: Any, parses: bool, value: Any) -> str | None:
    """Why ``value`` is not a TOML value of ``annotation`` (bool, int, float); None for anything else.

    A type that parses text itself (``parses``) takes its own strings — except a quoted whole number,
    which TOML writes unquoted (a quoted chat id is refused like a quoted ``max_open``).
    """
    if parses and not (annotation is int and isinstance(value, str) and _INTEGER.fullmatch(value.strip())):
        return None
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
    if annotation is int and _INTEGER.fullmatch(text):
        return f"; write {key} = {int(text)}"
    if annotation is float and re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return f"; write {key} = {text}"
    return ""
