"""The settings ``research`` compares: ``--grid NAME=V1,V2,...`` by dotted settings key, else each strategy's
own default grid (its spec's ``grid``), expanded to every combination; and a point applied to the settings,
validated by the same models as the TOML file, so a grid cannot try what the daemon would refuse.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from signalbots.settings import Settings
from signalbots.strategies.registry import spec_for

__all__ = ["BadGrid", "Point", "RejectedSetting", "apply", "grids", "label", "parse_grid"]

M = TypeVar("M", bound=BaseModel)

# One setting of the grid: (dotted key, value as typed) pairs, in the grid's key order.
Point = tuple[tuple[str, str], ...]


class BadGrid(ValueError):
    """A ``--grid`` argument is malformed or names no setting: fix the command line (exit 64)."""


class RejectedSetting(ValueError):
    """A grid value is refused by the settings model: fix the value (exit 78)."""


def parse_grid(texts: Sequence[str]) -> dict[str, list[str]]:
    """``["strategies.volume.multiple=4,6,8"]`` → ``{"strategies.volume.multiple": ["4", "6", "8"]}``."""
    grid: dict[str, list[str]] = {}
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not items:
            raise BadGrid(f"--grid {text!r} is not NAME=V1,V2,... (e.g. strategies.volume.multiple=4,6,8)")
        if key in grid:
            raise BadGrid(f"--grid names {key} twice")
        grid[key] = list(dict.fromkeys(items))
    return grid


def _strategy_of(key: str) -> str | None:
    parts = key.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "strategies" else None


def _value_text(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def grids(names: Sequence[str], given: dict[str, list[str]], settings: Settings) -> dict[str, list[Point]]:
    """Every point to try per strategy. Keys under ``strategies.<name>.`` belong to that strategy; other keys
    (``risk.*``, ``desk.*``) to every strategy. A strategy no ``--grid`` key names gets its default grid."""
    for key in given:
        _check_key(settings, key)
        owner = _strategy_of(key)
        if owner is not None and owner not in names:
            among = ", ".join(names)
            raise BadGrid(f"--grid {key}: strategy {owner!r} is not among those researched ({among})")
    out: dict[str, list[Point]] = {}
    for name in names:
        own = {k: v for k, v in given.items() if _strategy_of(k) == name}
        if not own:
            spec = spec_for(name)
            defaults = {} if spec is None else spec.grid
            own = {f"strategies.{name}.{k}": [_value_text(v) for v in vs] for k, vs in defaults.items()}
        shared = {k: v for k, v in given.items() if _strategy_of(k) is None}
        axes = own | shared
        keys = list(axes)
        out[name] = [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]
    return out


def label(point: Point) -> str:
    """``multiple=4 robust_z=8``: each key's last part (the whole key when it is not a strategy's)."""
    if not point:
        return "(settings as configured)"
    return " ".join(f"{k.split('.', 2)[2] if _strategy_of(k) else k}={v}" for k, v in point)


def _check_key(settings: Settings, key: str) -> None:
    node: Any = settings
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, BaseModel) or part not in type(node).model_fields:
            raise BadGrid(f"--grid {key}: no setting {'.'.join(parts[: depth + 1])!r}")
        node = getattr(node, part)
    if isinstance(node, BaseModel | dict | list):
        raise BadGrid(f"--grid {key}: a table, not a single setting")


def apply(settings: Settings, point: Point) -> Settings:
    """``settings`` with each of ``point``'s values set, each validated by its section's model."""
    for key, value in point:
        settings = _set(settings, key.split("."), value, key)
    return settings


def _set(model: M, path: list[str], value: str, key: str) -> M:
    head, rest = path[0], path[1:]
    if rest:
        child = getattr(model, head)
        return model.model_copy(update={head: _set(child, rest, value, key)})
    data = model.model_dump() | {head: value}
    try:
        return type(model).model_validate(data)
    except ValidationError as err:
        problem = "; ".join(e["msg"] for e in err.errors())
        raise RejectedSetting(f"{key} = {value!r}: {problem}") from None
