"""Where a dotted name lands in the settings model, and the nearest real name when it lands nowhere."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["annotation_at", "example", "model_of", "suggest", "suggest_env", "unwrap"]


def model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[int, ...] | None`` → ``(int, [its metadata])``: the type a value is written as."""
    metadata: list[Any] = []
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata += extra
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation, metadata
            annotation = rest[0]
        else:
            return annotation, metadata


def annotation_at(model: type[BaseModel], parts: typing.Sequence[str]) -> Any:
    """The annotation of the setting ``parts`` names, or None when it names none."""
    current: Any = model
    i = 0
    while i < len(parts):
        m = model_of(current)
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


def suggest(model: type[BaseModel], parts: typing.Sequence[str]) -> list[str] | None:
    """The real setting nearest to ``parts`` (a typo'd key), or None when nothing is near enough."""
    for i in range(len(parts)):
        here = model_of(unwrap(annotation_at(model, parts[:i]))[0])
        if here is None or parts[i] in here.model_fields:
            continue
        close = difflib.get_close_matches(parts[i], list(here.model_fields), n=1, cutoff=0.75)
        if not close:
            return None
        fixed = [*parts[:i], close[0], *parts[i + 1 :]]
        return fixed if annotation_at(model, fixed) is not None else None
    return None


def suggest_env(model: type[BaseModel], remainder: str, delimiter: str) -> list[str] | None:
    """For a variable name after the prefix (lower case): one ``_`` where ``__`` was meant, or a typo."""
    for i, char in enumerate(remainder):
        if char == "_" and remainder[i - 1 : i] != "_" and remainder[i + 1 : i + 2] != "_":
            parts = (remainder[:i] + delimiter + remainder[i + 1 :]).split(delimiter)
            if annotation_at(model, parts) is not None and "" not in parts:
                return parts
    return suggest(model, remainder.split(delimiter))


def example(annotation: Any) -> str:
    """A value of ``annotation`` as JSON/TOML writes it (a list or table), for a fix."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return '["BTC", "ETH"]' if args == (str,) else "[1, 2]"
    if origin is dict and args and model_of(args[1]) is None:
        return '{"volume": -1001234567890}' if unwrap(args[1])[0] is int else '{"heartbeat": true}'
    return '{"key": "value"}'
