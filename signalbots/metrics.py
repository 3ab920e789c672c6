"""Prometheus metrics, in one registry per process (no module-level collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
        self.outbox_depth = Gauge("signalbots_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.outbox_oldest_age = Gauge(
            "signalbots_outbox_oldest_age_seconds", "Age of the oldest pending message", registry=r
        )
        self.telegram_sends = Counter(
            "signalbots_telegram_sends", "Telegram sends by result", ["result"], registry=r
        )
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
        self.bus_dropped = Counter(
            "signalbots_bus_dropped",
            "Market events dropped for a slow subscriber",
            ["subscriber"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
