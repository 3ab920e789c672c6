"""What each strategy is worth out of sample, as the last research run measured it, beside every alert.

``evidence.json`` in this package is written by ``scripts/evidence.py`` from ``signalbots research --data
data --json`` — the same run that writes docs/signals.md's evidence table — and read once at startup. An
alert from a strategy whose out-of-sample 95 % interval lies wholly below zero is marked experimental: the
trader sees that the evidence so far says it loses, with the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["FILE", "Evidence", "Record"]

FILE = "evidence.json"
_MINUS = "\u2212"


def _r(value: float) -> str:
    text = f"{abs(value):.2f}"
    return text if float(text) == 0 else f"{'+' if value > 0 else _MINUS}{text}"


@dataclass(frozen=True, slots=True)
class Record:
    """One strategy's pooled out-of-sample figure: count, mean net R and its 95 % interval (None below 2)."""

    n: int
    net_r_mean: float | None
    ci95: tuple[float, float] | None
    data: tuple[str, ...] = ()

    @property
    def experimental(self) -> bool:
        """The whole interval is below zero: as far as the data tells, it loses."""
        return self.ci95 is not None and self.ci95[1] < 0

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Record:
        ci = d.get("ci95")
        mean = d.get("net_r_mean")
        return cls(
            n=int(d["n"]),
            net_r_mean=None if mean is None else float(mean),
            ci95=None if ci is None else (float(ci[0]), float(ci[1])),
            data=tuple(str(x) for x in d.get("data", ())),
        )


class Evidence:
    """Out-of-sample records by strategy; an empty one marks nothing."""

    def __init__(self, records: Mapping[str, Record] | None = None, *, commit: str = "") -> None:
        self.records = dict(records or {})
        self.commit = commit  # the code the research ran on

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Evidence:
        strategies: Mapping[str, Any] = doc["strategies"]
        return cls(
            {name: Record.from_json(d) for name, d in strategies.items()},
            commit=str(doc.get("generated_from", {}).get("commit", "")),
        )

    @classmethod
    def packaged(cls) -> Evidence:
        """The file shipped in this package (a damaged one is a packaging bug: it raises)."""
        source = resources.files("signalbots.signals").joinpath(FILE)
        if not source.is_file():
            return cls()
        return cls.from_json(json.loads(source.read_text(encoding="utf-8")))

    def caution(self, strategy: str) -> str | None:
        """``⚠ experimental: out-of-sample −0.81R (95% −1.31…−0.31), n=3`` or None."""
        rec = self.records.get(strategy)
        if rec is None or not rec.experimental or rec.ci95 is None or rec.net_r_mean is None:
            return None
        low, high = rec.ci95
        return f"⚠ experimental: out-of-sample {_r(rec.net_r_mean)}R (95% {_r(low)}…{_r(high)}), n={rec.n}"
