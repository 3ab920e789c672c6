"""Every alert carries its grade and its strategy's 30-day record from the state database (issue 23, 4)."""

from __future__ import annotations

import math
import statistics

from signals_support import DAY, HOUR, T0, Bench, candidate

from signalbots.notifier import Kind


def _inject(bench: Bench, outcomes: list[float], *, strategy: str = "volume", days_ago: float = 1.0) -> None:
    """Resolved signals written straight into the state database: a history the tracker never saw."""
    for i, r in enumerate(outcomes):
        at = T0 - round(days_ago * DAY) + i * 60_000
        bench.store.db.execute(
            "INSERT INTO signals (dedupe_key, strategy, exchange, symbol, direction, candidate, created_ms, "
            "expiry_ms, status, resolved_ms, r_multiple) VALUES (?, ?, 'binanceusdm', 'X/USDT:USDT', 'long', "
            "'{}', ?, ?, ?, ?, ?)",
            (
                f"old:{strategy}:{days_ago}:{i}",
                strategy,
                at - HOUR,
                at + DAY,
                "target2" if r > 0 else "stopped",
                at,
                r,
            ),
        )


def test_an_alert_without_history_says_no_record_yet(bench: Bench) -> None:
    _inject(bench, [2.0, -1.0], strategy="liquidation")  # another strategy's record is not this one's
    _inject(bench, [2.0], days_ago=31)  # older than 30 days
    bench.desk().consider([candidate(strength=2.4)])
    [alert] = bench.notifier.of(Kind.SIGNAL)
    assert "30d record: no record yet" in alert.text
    assert "grade A" in alert.text


def test_an_alert_with_forty_resolved_shows_count_hit_rate_net_average_and_interval(bench: Bench) -> None:
    outcomes = [2.0] * 22 + [-1.0] * 18
    _inject(bench, outcomes)
    bench.desk().consider([candidate(strength=1.2)])
    [alert] = bench.notifier.of(Kind.SIGNAL)
    mean = statistics.fmean(outcomes)  # 0.65
    half = 1.96 * statistics.stdev(outcomes) / math.sqrt(len(outcomes))
    interval = f"(95% +{mean - half:.2f}…+{mean + half:.2f})"
    line = f"30d record: 40 resolved · hit 55% · avg net +{mean:.2f}R {interval}"
    assert line in alert.text, alert.text
    assert "too few to judge" not in alert.text and "grade C" in alert.text
    lines = alert.text.splitlines()
    assert lines.index(next(x for x in lines if "30d record" in x)) == 4  # right under the levels


def test_a_short_record_says_too_few_to_judge(bench: Bench) -> None:
    _inject(bench, [2.0, -1.0, -1.0])
    bench.desk().consider([candidate(strength=1.6)])
    [alert] = bench.notifier.of(Kind.SIGNAL)
    assert "3 resolved · hit 33%" in alert.text and "too few to judge" in alert.text
    assert "grade B" in alert.text


def test_the_compact_form_for_a_coalesced_burst_carries_grade_and_record(bench: Bench) -> None:
    _inject(bench, [2.0, -1.0, -1.0])
    bench.desk().consider([candidate(strength=2.0)])
    [alert] = bench.notifier.of(Kind.SIGNAL)
    assert alert.signal is not None
    assert "grade A" in alert.signal.compact and "3 resolved · hit 33%" in alert.signal.compact
