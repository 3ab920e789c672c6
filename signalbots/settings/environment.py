"""Variables (the environment, or the lines of a ``.env`` file) turned into nested settings values.

pydantic-settings does this too, but stops at the first list or table that is not JSON and cannot say
which variable a bad value came from; here every variable is decoded on its own, each problem names the
variable (and the ``.env`` line), and a variable that names no setting gets the nearest one that exists.
In the environment every value is text, so ``"10"`` and ``"false"`` are read as usual (pydantic coerces).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from signalbots.settings.schema import annotation_at, example, model_of, suggest_env, unwrap

__all__ = ["Decoded", "decode"]


@dataclass
class Decoded:
    """The values by path (``("risk", "max_open") → "10"``), where each came from, and the problems."""

    values: list[tuple[tuple[str, ...], Any, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def decode(
    variables: Mapping[str, str],
    *,
    prefix: str,
    delimiter: str,
    model: type[BaseModel],
    where: Callable[[str], str],
    unknown: Callable[[str], bool],
) -> Decoded:
    """``where(name)`` says where a variable is written (``".env:3"``, ``"env"``); ``unknown(name)``
    says whether a variable that names no top-level section is a mistake (in ``.env``) or someone else's
    (in the environment)."""
    out = Decoded()
    for name, value in variables.items():
        if not name.upper().startswith(prefix) or value == "":  # empty means unset
            continue
        remainder = name[len(prefix) :].lower()
        parts = remainder.split(delimiter)
        if parts[0] not in model.model_fields and not unknown(name):
            continue
        annotation = annotation_at(model, parts)
        if annotation is None or "" in parts:
            fix = suggest_env(model, remainder, delimiter)
            hint = f"; did you mean {prefix}{delimiter.join(fix).upper()}?" if fix else ""
            out.problems.append(f"{name} ({where(name)}): unknown variable (typo?){hint}")
            continue
        label = f"{where(name)} {name}"
        base, _ = unwrap(annotation)
        origin = typing.get_origin(base)
        if origin in (list, dict) or model_of(base) is not None:
            try:
                decoded = json.loads(value)
            except ValueError:
                kind = "list" if origin is list else "table"
                out.problems.append(
                    f"{'.'.join(parts)} ({label}): a {kind} is written as JSON, "
                    f"e.g. {name.upper()}={example(base)}"
                )
                continue
            out.values.append((tuple(parts), decoded, label))
        else:
            out.values.append((tuple(parts), value, label))
    return out
