"""Every alert carries the open interest context where it is known: current USD, the 1h change, a
cascade's share of it."""

from __future__ import annotations

import pytest
from signals_support import T0, Bench, candidate

from signalbots.events import OpenInterest
from signalbots.signals.open_interest import OpenInterestBook

MIN = 60_000


def oi(minute: float, base: float, price: float, symbol: str = "XRP/USDT:USDT") -> OpenInterest:
    return OpenInterest("binanceusdm", symbol, T0 + round(minute * MIN), base=base, usd=base * price)


def test_current_usd_and_the_change_in_coins_over_the_past_hour() -> None:
    book = OpenInterestBook()
    book.observe(oi(-60, 2_000_000, 1.00))
    book.observe(oi(-30, 2_050_000, 1.10))
    book.observe(oi(0, 1_900_000, 1.20))
    facts = book.facts("binanceusdm", "XRP/USDT:USDT", T0)
    # $2,280,000 now; 1,900,000 / 2,000,000 coins an hour ago: −5 % (the price rise is no open interest)
    assert facts == {"oi_usd": pytest.approx(2_280_000.0), "oi_change_1h_pct": pytest.approx(-5.0)}


def test_no_hour_held_yet_means_no_change_and_a_stale_figure_means_nothing() -> None:
    book = OpenInterestBook()
    book.observe(oi(0, 1_000_000, 2.0))
    assert book.facts("binanceusdm", "XRP/USDT:USDT", T0) == {"oi_usd": 2_000_000.0}
    assert book.facts("binanceusdm", "XRP/USDT:USDT", T0 + 16 * MIN) == {}  # 16 minutes old
    assert book.facts("bybit", "XRP/USDT:USDT", T0) == {}


def test_a_cascade_is_shown_as_a_share_of_the_open_interest() -> None:
    book = OpenInterestBook()
    book.observe(oi(0, 10_000_000, 2.0))  # $20M open
    c = book.with_context(
        candidate(strategy="liquidation", kind="cascade", facts={"window_notional_usd": 1_600_000.0})
    )
    assert c.facts["oi_share_pct"] == pytest.approx(8.0)  # $1.6M of $20M
    assert c.facts["window_notional_usd"] == 1_600_000.0


def test_the_desk_adds_it_to_the_alert_it_sends(bench: Bench) -> None:
    desk = bench.desk()
    desk.observe_open_interest(oi(-60, 500_000_000, 1.0))
    desk.observe_open_interest(oi(-1, 520_000_000, 1.0))
    [sig] = desk.consider([candidate(key="volume:oi")])
    assert sig.candidate.facts["oi_usd"] == 520_000_000.0
    [msg] = bench.notifier.messages
    assert "⚖️ OI $520M · +4.00% in 1h" in msg.text


def test_without_open_interest_the_alert_has_no_such_line(bench: Bench) -> None:
    desk = bench.desk()
    desk.consider([candidate(key="volume:none")])
    [msg] = bench.notifier.messages
    assert "OI" not in msg.text
