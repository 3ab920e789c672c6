"""Task names: built typed in one place, written as the strings logs and /healthz have always shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalbots.clock import ManualClock
from signalbots.health import Health, TaskStatus
from signalbots.task import Role, TaskName

ident = st.text(st.characters(blacklist_characters=":"), min_size=1)


def test_each_part_has_the_string_form_monitoring_reads() -> None:
    assert str(TaskName.for_exchange("okx")) == "exchange:okx"
    assert str(TaskName.for_markets("okx")) == "markets:okx"
    assert str(TaskName.for_feed("okx", "candles")) == "feed:okx:candles"
    assert str(TaskName.for_strategy("volume")) == "strategy:volume"
    assert str(TaskName.for_worker("outbox")) == "outbox"
    assert TaskName.parse("feed:bybit:liquidations") == TaskName(
        Role.FEED, exchange="bybit", feed="liquidations"
    )
    assert TaskName.parse("telegram-commands").role is Role.WORKER


@given(st.text())
def test_any_string_read_as_a_name_is_written_back_unchanged(text: str) -> None:
    assert str(TaskName.parse(text)) == text


@given(ident, ident, st.sampled_from(["exchange", "markets", "feed", "strategy"]))
def test_a_built_name_reads_back_as_itself(exchange: str, label: str, role: str) -> None:
    name = {
        "exchange": TaskName.for_exchange(exchange),
        "markets": TaskName.for_markets(exchange),
        "feed": TaskName.for_feed(exchange, label),
        "strategy": TaskName.for_strategy(label),
    }[role]
    assert TaskName.parse(str(name)) == name


def test_a_task_registered_by_its_typed_name_is_the_one_its_string_names() -> None:
    health = Health(clock=ManualClock())
    feed = health.task(TaskName.for_feed("okx", "funding"), kind="feed")
    feed.set(TaskStatus.DEGRADED, "stale")
    assert health.task("feed:okx:funding") is feed
    assert feed.name == "feed:okx:funding" and feed.id.exchange == "okx"
    assert "feed:okx:funding" in health.snapshot()["tasks"]
    health.forget("feed:okx:funding")
    assert health.tasks() == []
