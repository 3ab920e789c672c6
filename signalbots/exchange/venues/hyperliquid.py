"""Hyperliquid (perpetuals of the first perp dex, USDC-margined: ccxt names them ``BTC/USDC:USDC``).

Sources: hyperliquid.gitbook.io/hyperliquid-docs (read in the copy ``dzmbs/hyperliquid-docs``):
for-developers/api/rate-limits-and-user-limits ("REST requests share an aggregated weight limit of 1200 per
minute" per IP; ``info`` requests weigh 2 (``l2Book, allMids, clearinghouseState, orderStatus,
spotClearinghouseState, exchangeStatus``), 60 (``userRole``) or 20 ("all other documented info requests");
"``candleSnapshot`` … has an additional rate limit weight per 60 items returned"; at most 10 websocket
connections, 1000 subscriptions, 2000 messages sent per minute), for-developers/api/info-endpoint/perpetuals
(every public read is ``POST /info`` with a JSON body ``{"type": …}``; ``metaAndAssetCtxs`` gives every perp's
``funding``, ``openInterest`` (coins), ``markPx`` and ``dayNtlVlm`` — 24h notional, USDC — in one request),
info-endpoint "candle snapshot" (``t``/``T``/``o``/``h``/``l``/``c``/``v``: base volume only, no quote
turnover), websocket/subscriptions (``candle``: ``{"channel": "candle", "data": <Candle>}``, one coin and
interval per subscription, ``data.s`` the coin; ``t`` open and ``T`` close millis, no closed flag and no word
of a final frame), trading/funding ("The funding rate on Hyperliquid is paid every
hour"; "The funding cap and funding interval do not depend on the asset").

The documentation names no rate-limit answer; clients report HTTP 429 "Too Many Requests" (ccxt/ccxt#26445,
nktkas/hyperliquid#76) and no ban, no ``Retry-After``, no usage header.

Not covered: liquidations — Hyperliquid publishes no public liquidation feed comparable to the others (a
liquidation shows only in the liquidated user's own ``userEvents``/``userFills``): none is invented here.
Spot, HIP-3 dexes (builder-deployed perps) and delisted perps are not loaded.

Candles are streamed, one coin a subscription (ccxt.pro's ``watch_ohlcv``; 1000 subscriptions at most): by
REST, at 21 weight per coin and candle, the full market's candles took 29–31 % of the budget. The frames
carry no closed flag, so a candle is published with the first frame of the next one, the exchange's own
evidence that it has closed, as MEXC's; ``T`` passing on the local clock is not asked (it may lag the
exchange's). ccxt files a frame's row under ``coin_to_market_id(data.s)`` (the coin, ``BTC``, where ccxt's
market id is the asset index): the feed finds it the same way (``market_of``). The subscriptions are messages
sent (2000 a minute at most): the full market's 180-odd fit in one minute's allowance.

The answers carry no time: ccxt ends a candle snapshot's span and dates the next funding (the next whole hour)
by its clock, which the gateway sets to the daemon's for those calls (``_ccxt``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.exchange.venues._venue import (
    CandleStream,
    ExchangeBudget,
    KlineFrames,
    OpenInterestFields,
    OpenInterestSource,
    RateLimitRule,
    Unit,
    Venue,
    VolumeField,
    frame_field,
)

FUNDING_HOURS = 1.0  # "paid every hour", whatever the asset
# One side's open interest, in coins, in every asset context (the bulk answer the ticker feed already reads,
# ccxt's ticker ``info``): no request of its own; × the price for USD.
OPEN_INTEREST = VolumeField("openInterest", Unit.BASE)
WEIGHT_PER_MINUTE = 1200.0
_LIGHT = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
_CANDLES_PER_EXTRA_WEIGHT = 60
# Hyperliquid counts the candles it returns, known only once it has answered; the weight is spent before, on
# the span asked. The daemon asks at most 100 (a backfill of ≤ 99 and the open one), ccxt ending the span at
# the daemon's clock (``_ccxt``); a longer span is counted up to 120 candles, as Hyperliquid answers only
# those that exist.
_CANDLES_COUNTED_AT_MOST = 120


def _weight(path: str, body: Mapping[str, Any]) -> float | None:
    """The documented weight of an ``info`` request, by its ``type``; a candle snapshot adds one per 60
    candles it can return (``_candles_asked``)."""
    if not path.endswith("info"):
        return None  # ``exchange`` actions are private: the daemon never sends them
    kind = body.get("type")
    if kind in _LIGHT:
        return 2.0
    if kind == "userRole":
        return 60.0
    if kind == "candleSnapshot":
        return 20.0 + math.ceil(_candles_asked(body.get("req")) / _CANDLES_PER_EXTRA_WEIGHT)
    return 20.0


def _candles_asked(req: Any) -> int:
    if not isinstance(req, Mapping):
        return 0
    start, end, interval = req.get("startTime"), req.get("endTime"), req.get("interval")
    if (
        not isinstance(start, int | float)
        or not isinstance(end, int | float)
        or not isinstance(interval, str)
    ):
        return 0
    try:
        span = timeframe_ms(interval)
    except ValueError:
        return 0
    return max(0, min(_CANDLES_COUNTED_AT_MOST, int(end - start) // span + 1))


def _funding_entries(rates: Any) -> dict[str, Any]:
    """ccxt's funding entries with the interval this profile documents (one hour for every perp)."""
    out: dict[str, Any] = {}
    for symbol, entry in (rates or {}).items():
        out[symbol] = {**entry, "interval": FUNDING_HOURS} if isinstance(entry, dict) else entry
    return out


VENUE = Venue(
    id="hyperliquid",
    name="Hyperliquid",
    # ccxt loads spot, perps and HIP-3 dexes unless told; ``swap``: the first perp dex's perpetuals only.
    market_types={"types": ["swap"]},
    # Weights are Hyperliquid's own (``_weight``): ccxt charges 10 for most info requests and 4 for a candle
    # snapshot, where Hyperliquid counts 20.
    budget=ExchangeBudget(units=WEIGHT_PER_MINUTE, window=60.0),
    request_weight=_weight,
    rate_limits=(RateLimitRule("rate limited (429)", status=429),),
    ticker_volume=VolumeField("dayNtlVlm", Unit.QUOTE),  # 24h notional, USDC
    kline_volume=None,  # candles carry base volume (``v``) only: the quote volume is estimated from it
    kline_base_unit=Unit.BASE,
    # ``startTime`` is required: without ``since`` ccxt asks from 0 (5000 candles) or from its own clock.
    ohlcv_needs_since=True,
    candle_stream=CandleStream(
        method="watch_ohlcv",
        per_request=1,
        market_id=frame_field("data", "s"),
        market_of="coin_to_market_id",
        per_connection=1000,
        frames=KlineFrames(frame_field("channel"), "candle", frame_field("data", "i"), ("data",), "t"),
    ),
    funding_entries=_funding_entries,
    open_interest=OpenInterestFields(OpenInterestSource.TICKER, OPEN_INTEREST),
    taker_fee=0.00045,
    maker_fee=0.00015,
    fee_source="https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees (perps, base tier)",
)
