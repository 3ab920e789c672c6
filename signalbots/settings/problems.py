"""How a settings problem is told: ``ConfigError``, and one line per problem naming the key, where its value
came from (``s.toml:7``, ``.env:3, SIGNALBOTS_…``, ``env SIGNALBOTS_…``, ``credential file …``) and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from signalbots.settings.schema import suggest

__all__ = ["ConfigError", "Origins", "validation_problems"]

Loc = tuple[str, ...]


class ConfigError(Exception):
    """Settings are invalid; the process should exit 78 (EX_CONFIG). ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class Origins:
    """Where each value came from, by its path; a later source of the same path replaces the earlier
    one, as the value does (env > ``.env`` > credential > TOML)."""

    def __init__(self) -> None:
        self._by_loc: dict[Loc, str] = {}

    def add(self, loc: Loc, value: Any, label: str) -> None:
        self._by_loc[loc] = label
        if isinstance(value, dict):  # a table given whole (JSON in the environment): each value inside
            for key, inner in value.items():
                self.add((*loc, str(key)), inner, label)

    def exact(self, loc: Sequence[str]) -> str | None:
        """The source of the value at ``loc`` itself; None when no source sets it."""
        return self._by_loc.get(tuple(loc))

    def of(self, loc: Sequence[str | int]) -> str | None:
        """The source of the value at ``loc``, else of the nearest table holding it, else of the first
        value inside it (``[strategy.volume]`` is where the unknown table ``strategy`` is written)."""
        parts = tuple(str(p) for p in loc)
        for n in range(len(parts), 0, -1):
            if (label := self._by_loc.get(parts[:n])) is not None:
                return label
        return next((label for k, label in self._by_loc.items() if k[: len(parts)] == parts), None)


def validation_problems(err: ValidationError, *, model: type[BaseModel], origins: Origins) -> dict[str, str]:
    """Each error by its dotted key → the line that names it, its source and (for a typo) the fix."""
    out = {}
    for e in err.errors(include_input=False, include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(part) for part in loc)
        where = origins.of(loc) or "default"
        if e["type"] == "extra_forbidden":
            fix = suggest(model, [str(p) for p in loc])
            hint = f"; did you mean {fix[-1]!r}?" if fix else ""
            out[key] = f"{key} ({where}): unknown key (typo?){hint}"
        else:
            out[key] = f"{key} ({where}): {e['msg'].removeprefix('Value error, ')}"
    return out
