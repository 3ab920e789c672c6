"""Issue 22, acceptance 3: a funding spread between an 8-hourly venue (Binance, USDT) and an hourly one
(Hyperliquid, USDC) is computed on one basis (APR) and shown with both intervals and both settlement
currencies. Every figure is worked out by hand in the comments."""

from __future__ import annotations

import pytest

from signalbots.events import FundingSnapshot, Ticker
from signalbots.settings import FundingSettings
from signalbots.signals import render
from signalbots.signals.model import Signal
from signalbots.strategies.funding import FundingStrategy
from signalbots.telegram.text import to_plain

T0 = 1_700_000_000_000
BINANCE, HYPERLIQUID = ("binanceusdm", "BTC/USDT:USDT"), ("hyperliquid", "BTC/USDC:USDC")


def _snap(leg: tuple[str, str], rate: float, interval: float, minute: int) -> FundingSnapshot:
    return FundingSnapshot(
        exchange=leg[0],
        symbol=leg[1],
        time_ms=T0 + minute * 60_000,
        rate=rate,
        interval_hours=interval,
        next_funding_ms=None,
        mark_price=97_000.0,
    )


def _tick(leg: tuple[str, str]) -> Ticker:
    return Ticker(exchange=leg[0], symbol=leg[1], time_ms=T0, last=97_000.0, quote_volume_24h=2e9)


def test_an_8h_and_a_1h_leg_compared_as_apr_and_shown_with_both_intervals() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    strategy.on_event(_tick(BINANCE))
    strategy.on_event(_tick(HYPERLIQUID))
    # Binance: 0.0100 % per 8 h → APR 0.0001 × 3 × 365 = 10.95 %
    assert strategy.on_event(_snap(BINANCE, 0.0001, 8, 0)) == []
    # Hyperliquid: 0.00625 % per hour → × 8 = 0.0500 % per 8 h → APR 0.0005 × 3 × 365 = 54.75 %
    (c,) = strategy.on_event(_snap(HYPERLIQUID, 0.0000625, 1, 1))
    # The gap, 54.75 − 10.95 = 43.80 APR points (≥ 30): long the low leg (Binance), short the high one.
    assert c.kind == "spread" and c.exchange == "binanceusdm+hyperliquid"
    assert c.symbol == "BTC long binanceusdm BTC/USDT:USDT / short hyperliquid BTC/USDC:USDC"
    assert c.facts["rate_8h_long_leg"] == pytest.approx(0.0001)
    assert c.facts["rate_8h_short_leg"] == pytest.approx(0.0005)
    assert c.facts["apr_long_leg"] == pytest.approx(0.1095)
    assert c.facts["apr_short_leg"] == pytest.approx(0.5475)
    assert c.facts["apr_spread"] == pytest.approx(0.438)
    assert c.notes == (
        "carry: entry is the short leg's price",
        "funding every 8h on the long leg, every 1h on the short leg: compared as APR",
        "the legs settle in USDT and USDC: the carry also bears their exchange rate",
    )

    text = to_plain(render.signal(Signal(id=1, candidate=c)))
    assert "long Binance BTC/USDT:USDT / short Hyperliquid BTC/USDC:USDC" in text
    assert "Binance + Hyperliquid" in text
    assert "APR gap +43.8%" in text and "every 8h on the long leg, every 1h on the short leg" in text
    assert "settle in USDT and USDC" in text


def test_an_hourly_rate_is_not_mistaken_for_an_8h_one() -> None:
    """The same raw 0.0125 % read as 8-hourly would be 13.7 % APR, as hourly it is 109.5 %: only the
    interval tells them apart (0.000125 × 8 × 3 × 365 = 1.095; 0.000125 × 3 × 365 = 0.136875)."""
    strategy = FundingStrategy(settings=FundingSettings())
    strategy.on_event(_tick(BINANCE))
    strategy.on_event(_tick(HYPERLIQUID))
    strategy.on_event(_snap(BINANCE, 0.000125, 8, 0))
    (c,) = [x for x in strategy.on_event(_snap(HYPERLIQUID, 0.000125, 1, 1)) if x.kind == "spread"]
    assert c.facts["apr_long_leg"] == pytest.approx(0.136875)
    assert c.facts["apr_short_leg"] == pytest.approx(1.095)
    assert c.facts["apr_spread"] == pytest.approx(0.958125)


def test_legs_alike_say_nothing_more() -> None:
    strategy = FundingStrategy(settings=FundingSettings())
    okx = ("okx", "BTC/USDT:USDT")
    strategy.on_event(_tick(BINANCE))
    strategy.on_event(_tick(okx))
    strategy.on_event(_snap(BINANCE, 0.0001, 8, 0))
    (c,) = strategy.on_event(_snap(okx, 0.0005, 8, 1))
    assert c.notes == ("carry: entry is the short leg's price",)
