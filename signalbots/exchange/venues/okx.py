"""OKX (v5, SWAP).

Sources: okx.com/docs-v5 — "Rate Limits" (per endpoint, e.g. market/tickers and public/instruments 20 / 2 s;
429 with code 50011 "Rate limit reached"), "Get tickers" (for SWAP ``vol24h`` counts contracts, ``volCcy24h``
the base coin), "Get candlesticks" (``volCcyQuote``: quote volume), "Get funding rate" (``instId=ANY`` lists
every swap, inverse and X-Perp included), "Get open interest" (``instType=SWAP`` lists every swap in
one request, 20 / 2 s; ``oi`` contracts, ``oiCcy`` the coin, ``oiUsd`` USD, ``ts``), "Liquidation orders
channel" (``sz`` in contracts; "For futures and swaps, each contract will only show a maximum of one order
per one-second period. This data doesn't
represent the total number of liquidations on OKX.").
"""

from __future__ import annotations

from typing import Any

from signalbots.events import Liquidation
from signalbots.exchange import normalize
from signalbots.exchange.venues._venue import (
    ContractSizeOf,
    ExchangeBudget,
    LiquidationStream,
    OpenInterestFields,
    OpenInterestSource,
    RateLimitRule,
    SymbolOf,
    Unit,
    Venue,
    VolumeField,
)


def _liquidation(
    info: Any, symbol_of: SymbolOf, size_of: ContractSizeOf, received: float
) -> list[Liquidation]:
    return normalize.okx_liquidations(info, symbol_of, size_of, received=received)


VENUE = Venue(
    id="okx",
    name="OKX",
    market_types={"types": ["swap"]},
    # Per endpoint, the common public one is 20 requests / 2 s, charged 1 unit by ccxt (funding-rate:
    # 10 / 2 s, charged 2): one shared bucket of 20 units / 2 s is never looser than any one endpoint's
    # limit.
    budget=ExchangeBudget(units=20.0, window=2.0),
    rate_limits=(
        RateLimitRule("rate limited (429)", status=429),
        RateLimitRule("rate limited (code 50011)", code="50011"),
    ),
    error_code_field="code",
    ticker_volume=VolumeField("volCcy24h", Unit.BASE),  # not vol24h: that one counts contracts
    kline_volume=VolumeField(7, Unit.QUOTE),  # [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]
    open_interest=OpenInterestFields(
        OpenInterestSource.BULK,
        VolumeField("oiCcy", Unit.BASE),
        value="oiUsd",
        time="ts",
        call="fetch_open_interests",  # instType=SWAP: every swap (inverse ones too: not our markets)
        interval=60.0,
    ),
    liquidation_stream=LiquidationStream.LISTED,
    liquidation_parser=_liquidation,
    liquidation_lower_bound=(
        "OKX publishes at most one liquidation per contract per second: the sum is a lower bound"
    ),
    taker_fee=0.0005,
    maker_fee=0.0002,
    fee_source="https://www.okx.com/fees (perpetual swaps, regular user Lv1)",
)
