"""Alert latency: from the exchange's time of the market event that triggered a signal to Telegram accepting
the message that carries it.

Every delivery is observed in the Prometheus histogram ``signalbots_alert_latency_seconds`` (labels
``strategy`` and ``kind`` = single | coalesced) and kept for an hour here, so the heartbeat and ``/status``
can show p50/p99 over the last hour (a histogram's buckets cannot say that on their own).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from signalbots.clock import Clock
from signalbots.metrics import Metrics

WINDOW = 3600.0


@dataclass(frozen=True, slots=True)
class LatencySummary:
    p50: float
    p99: float
    count: int


class Latency:
    def __init__(self, *, clock: Clock, metrics: Metrics, window: float = WINDOW) -> None:
        self._clock = clock
        self._metrics = metrics
        self._window = window
        self._recent: deque[tuple[float, float]] = deque()  # (monotonic time, seconds)

    def observe(self, *, event_time: float, strategy: str, kind: str) -> float:
        """A message carrying a signal triggered at ``event_time`` (epoch s) was accepted now."""
        seconds = max(0.0, self._clock.time() - event_time)
        self._metrics.alert_latency.labels(strategy=strategy, kind=kind).observe(seconds)
        self._recent.append((self._clock.monotonic(), seconds))
        return seconds

    def summary(self) -> LatencySummary | None:
        """p50/p99 (nearest rank) over the last hour; None without deliveries in it."""
        cutoff = self._clock.monotonic() - self._window
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()
        if not self._recent:
            return None
        values = sorted(v for _, v in self._recent)

        def rank(q: float) -> float:
            return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

        return LatencySummary(rank(0.50), rank(0.99), len(values))
