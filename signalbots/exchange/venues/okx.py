"""OKX (v5, SWAP).

Sources: okx.com/docs-v5 — "Rate Limits" (per endpoint, e.g. market/tickers and public/instruments 20 / 2 s;
429 with code 50011 "Rate limit reached"), "Get tickers" (for SWAP ``vol24h`` counts contracts, ``volCcy24h``
the base coin), "Get candlesticks" (``volCcyQuote``: quote volume), "Get funding rate" (``instId=ANY`` lists
every swap, inverse and X-Perp included), "Get open interest" (``instType=SWAP`` lists every swap in one
request, 20 / 2 s; ``oi`` contracts, ``oiCcy`` the coin, ``oiUsd`` USD, ``ts``), "Liquidation orders channel"
(``sz`` in contracts; "For futures and swaps, each contract will only show a maximum of one order per
one-second period. This data doesn't represent the total number of liquidations on OKX."), "WebSocket /
Candlesticks channel" (``candle5m`` etc., on the business websocket ``/ws/v5/business`` as ccxt.pro's
``get_url`` routes every ``candle`` channel; rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``,
``confirm`` "1" once the candle is closed), "WebSocket / Subscribe" ("The total length of multiple channels
cannot exceed 64 KB" per request — 4,096 bytes in older revisions — and 480 subscribe requests per hour per
connection; no count of channels per connection is documented).
"""

from __future__ import annotations

from typing import Any

from signalbots.events import Liquidation
from signalbots.exchange import normalize
from signalbots.exchange.venues._venue import (
    CandleStream,
    ContractSizeOf,
    ExchangeBudget,
    KlineFrames,
    LiquidationStream,
    OpenInterestFields,
    OpenInterestSource,
    RateLimitRule,
    SymbolOf,
    Unit,
    Venue,
    VolumeField,
    frame_field,
)


def _liquidation(
    info: Any, symbol_of: SymbolOf, size_of: ContractSizeOf, received: float
) -> list[Liquidation]:
    return normalize.okx_liquidations(info, symbol_of, size_of, received=received)


VENUE = Venue(
    id="okx",
    name="OKX",
    market_types={"types": ["swap"]},
    # ccxt reads ``ruleType`` in its funding calls (X-Perp), ``instFamily``/``uly`` for index candles and
    # open interest.
    market_info_kept=frozenset({"ruleType", "instFamily", "uly"}),
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
    # ccxt.pro supports watchOHLCVForSymbols on OKX. 50 channels of ~50 bytes per request stay under even
    # the older 4,096-byte limit, and a full market's ~6 requests far under 480 an hour.
    candle_stream=CandleStream(
        method="watch_ohlcv_for_symbols",
        per_request=50,
        market_id=frame_field("arg", "instId"),
        closed=(8, "1"),
        frames=KlineFrames(
            frame_field("arg", "channel"), "candle", frame_field("arg", "channel"), ("data",), 0
        ),
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
