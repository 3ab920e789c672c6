"""Prometheus metrics, in one registry per process (no module-level collectors)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

Samples = Iterable[tuple[Sequence[str], float]]


class SnapshotGauge:
    """A gauge read from the daemon's own state at scrape time (breakers, limiters): no bookkeeping
    where the state lives. Exported (HELP/TYPE) even before ``source`` is set."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], *, registry: CollectorRegistry
    ) -> None:
        self.name = name
        self._doc = documentation
        self._labels = list(labels)
        self.source: Callable[[], Samples] = lambda: ()
        registry.register(self)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.name, self._doc, labels=self._labels)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self._doc, labels=self._labels)
        for values, value in self.source():
            family.add_metric(list(values), value)
        yield family


class Metrics:
    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.task_restarts = Counter(
            "signalbots_task_restarts", "Supervised task restarts", ["task"], registry=r
        )
        self.task_errors = Counter("signalbots_task_errors", "Errors by task", ["task"], registry=r)
        self.events = Counter(
            "signalbots_events", "Market events handled by strategy", ["strategy"], registry=r
        )
        self.candidates = Counter("signalbots_candidates", "Candidates by strategy", ["strategy"], registry=r)
        self.signals = Counter("signalbots_signals", "Signals sent by strategy", ["strategy"], registry=r)
        self.suppressed = Counter(
            "signalbots_suppressed", "Candidates stopped by a desk gate", ["strategy", "gate"], registry=r
        )
        self.outcomes = Counter("signalbots_outcomes", "Resolved signals", ["strategy", "status"], registry=r)
        # Counters only rise: R won and R lost are counted apart (net R = won - lost).
        self.outcome_r_won = Counter(
            "signalbots_outcome_r_won", "R gained by resolved signals", ["strategy"], registry=r
        )
        self.outcome_r_lost = Counter(
            "signalbots_outcome_r_lost", "R lost by resolved signals (positive)", ["strategy"], registry=r
        )
        self.outbox_depth = Gauge("signalbots_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.outbox_oldest_age = Gauge(
            "signalbots_outbox_oldest_age_seconds", "Age of the oldest pending message", registry=r
        )
        self.telegram_sends = Counter(
            "signalbots_telegram_sends", "Telegram sends by result", ["result"], registry=r
        )
        for result in ("ok", "error"):  # present from the start, so alert rules can compare them
            self.telegram_sends.labels(result=result)
        self.alert_latency = Histogram(
            "signalbots_alert_latency_seconds",
            "From the triggering market event (exchange time) to Telegram accepting the alert",
            ["strategy", "kind"],
            buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900, 3600),
            registry=r,
        )
        self.telegram_retry_after = Counter(
            "signalbots_telegram_retry_after_seconds", "Seconds waited on Telegram retry_after", registry=r
        )
        self.breaker_transitions = Counter(
            "signalbots_breaker_transitions",
            "Circuit breaker transitions",
            ["exchange", "endpoint", "state"],
            registry=r,
        )
        self.rest_weight = Counter("signalbots_rest_weight", "REST weight spent", ["exchange"], registry=r)
        self.limiter_wait = Counter(
            "signalbots_limiter_wait_seconds",
            "Seconds waited in the weight limiter",
            ["exchange"],
            registry=r,
        )
        self.bad_payloads = Counter(
            "signalbots_bad_payloads", "Malformed exchange payloads", ["exchange", "endpoint"], registry=r
        )
        self.feed_stale = Counter("signalbots_feed_stale", "Feed staleness episodes", ["feed"], registry=r)
        self.feed_events = Counter(
            "signalbots_feed_events", "Market data items received", ["exchange", "feed"], registry=r
        )
        self.feed_last_data = Gauge(
            "signalbots_feed_last_data_timestamp_seconds",
            "Unix time the feed last received data (its start, before any)",
            ["exchange", "feed"],
            registry=r,
        )
        self.feed_stale_after = Gauge(
            "signalbots_feed_stale_after_seconds",
            "Silence after which the feed counts as stale and resubscribes",
            ["exchange", "feed"],
            registry=r,
        )
        self.breaker_open = SnapshotGauge(
            "signalbots_breaker_open",
            "1 while a circuit breaker is open or half-open (not yet recovered)",
            ["exchange", "endpoint", "symbol", "state"],
            registry=r,
        )
        self.rest_weight_budget = SnapshotGauge(
            "signalbots_rest_weight_budget_per_minute",
            "REST weight the daemon allows itself per minute (the exchange's budget × budget_fraction)",
            ["exchange"],
            registry=r,
        )
        self.bus_dropped = Counter(
            "signalbots_bus_dropped",
            "Market events dropped for a slow subscriber",
            ["subscriber"],
            registry=r,
        )

        self.charts = Counter(
            "signalbots_charts", "Charts by result (ok, failed, timeout, dropped)", ["result"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
