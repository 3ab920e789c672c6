"""How a settings problem is told: ``ConfigError`` and the line naming each problem."""

from __future__ import annotations

from pydantic import ValidationError

from signalbots.settings.model import ENV_PREFIX

__all__ = ["ConfigError", "loc_name", "validation_problems"]


class ConfigError(Exception):
    """Settings are invalid; the process should exit 78 (EX_CONFIG). ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def loc_name(loc: tuple[int | str, ...]) -> str:
    key = ".".join(str(part) for part in loc)
    env = ENV_PREFIX + "__".join(str(part).upper() for part in loc)
    return f"{key} (env {env})"


def validation_problems(err: ValidationError, *, env_file: str | None) -> dict[str, str]:
    """Each error by its dotted key → the line that names it."""
    out = {}
    for e in err.errors(include_input=False, include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(part) for part in loc)
        if e["type"] == "extra_forbidden" and len(loc) == 1 and key.upper().startswith(ENV_PREFIX):
            # a SIGNALBOTS_ line in .env that names no setting (pydantic reports it as a top-level key)
            out[key] = f"{key.upper()} (in {env_file}): unknown variable (typo?)"
        elif e["type"] == "extra_forbidden":
            out[key] = f"{loc_name(loc)}: unknown key (typo?)"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            out[key] = f"{loc_name(loc)}: {msg}"
    return out
