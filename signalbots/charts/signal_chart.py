"""``for_signal``: the picture of why a signal fired — the chart its strategy's spec declares for the
candidate's kind (``strategies.registry``), built from what the market history holds at that moment.

Apart from ``spec`` (what a chart shows, and the builders) because the strategies' specs name their builders
there: the one module that looks a builder up by kind sits above both.
"""

from __future__ import annotations

from signalbots.charts.spec import ChartSpec, History, market_chart
from signalbots.signals.model import Candidate
from signalbots.strategies.registry import alert_for

__all__ = ["for_signal"]


def for_signal(c: Candidate, history: History) -> ChartSpec:
    """The chart of ``c``'s kind as its strategy's spec declares it, or the market around it."""
    alert = alert_for(c.kind)
    return alert.chart(c, history) if alert is not None else market_chart(c)
