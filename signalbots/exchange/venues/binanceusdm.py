"""Binance USDⓈ-M futures.

Sources: developers.binance.com/docs/derivatives/usds-margined-futures — "General Info" (limits, 418/429,
Retry-After, ``X-MBX-USED-WEIGHT-1M``), "Mark Price" (``premiumIndex`` weight 10 without a symbol),
"Get Funding Rate Info" (only adjusted symbols listed; 500 / 5 min / IP shared with ``fundingRate``),
"Liquidation Order Streams" (``!forceOrder@arr``: the latest liquidation per symbol per 1000 ms),
"Open Interest" (``GET /fapi/v1/openInterest``, one symbol, weight 1: ``openInterest`` in the base coin,
``time``; no bulk form, no USD value).
"Kline/Candlestick Streams" (``k.x``: "Is this kline closed?"; ``k.q`` quote asset volume), "Websocket
Market Streams" ("A single connection can listen to a maximum of 200 streams"; ccxt.pro spreads the streams
over numbered connections itself).
"""

from __future__ import annotations

from collections.abc import Mapping
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

_WEIGHT_PER_MINUTE = 2400.0


def _usage(headers: Mapping[str, str]) -> tuple[float, float] | None:
    used = headers.get("x-mbx-used-weight-1m")
    return None if used is None else (float(used), _WEIGHT_PER_MINUTE)


def _liquidation(
    info: Any, symbol_of: SymbolOf, size_of: ContractSizeOf, received: float
) -> list[Liquidation]:
    # ccxt keeps the order object ``o`` of the event as ``info``.
    return [normalize.binance_force_order({"o": info}, symbol_of, received=received)]


VENUE = Venue(
    id="binanceusdm",
    name="Binance",
    market_types={"types": ["linear"]},
    # ccxt reads a loaded market's ``info`` for orders (``orderTypes``: not ours) and for open-interest and
    # long/short history (``pair``, ``contractType``).
    market_info_kept=frozenset({"pair", "contractType"}),
    # "REQUEST_WEIGHT 2400 per minute" per IP; ccxt's fapi costs are the weights themselves.
    budget=ExchangeBudget(units=_WEIGHT_PER_MINUTE, window=60.0),
    funding_budget=ExchangeBudget(units=500.0, window=300.0),
    funding_paths=frozenset({"fundingRate", "fundingInfo"}),
    # ccxt charges 1 for these without a symbol; Binance charges:
    weight_without_symbol={
        "premiumIndex": 10.0,
        "ticker/24hr": 40.0,
        "ticker/price": 2.0,
        "ticker/bookTicker": 5.0,
    },
    rate_limits=(
        RateLimitRule("rate limited (429)", status=429),
        RateLimitRule("IP banned (418) after ignoring 429s", status=418, ban=True, min_pause=120.0),
    ),
    usage=_usage,
    ticker_volume=VolumeField("quoteVolume", Unit.QUOTE),
    kline_volume=VolumeField(7, Unit.QUOTE),  # quote asset volume; the websocket's ``k.q``
    # ``x`` (the kline's ``k.x``) is read from the raw event (``_klines.ws_kline``): ccxt's row drops it.
    # ccxt.pro itself opens a numbered connection per 200 streams, so no cap here.
    candle_stream=CandleStream(
        method="watch_ohlcv_for_symbols",
        per_request=200,
        market_id=frame_field("k", "s"),
        closed=("x", True),
        frames=KlineFrames(frame_field("e"), "kline", frame_field("k", "i"), ("k",), "t"),
    ),
    funding_intervals_call="fetch_funding_intervals",
    funding_default_hours=8.0,  # fundingInfo lists only the symbols whose interval was adjusted
    # One symbol a request: 550 symbols every 5 minutes (their round in 285 s) is 116 weight a minute, 4.8 %
    # of 2400; more symbols stretch the cadence (0.5 s a request at most) rather than the share.
    open_interest=OpenInterestFields(
        OpenInterestSource.PER_SYMBOL,
        VolumeField("openInterest", Unit.BASE),
        time="time",
        call="fetch_open_interest",
        interval=300.0,
        budget_share=0.05,
        cost=1.0,
    ),
    liquidation_stream=LiquidationStream.ALL,
    liquidation_parser=_liquidation,
    liquidation_lower_bound=(
        "Binance publishes at most one liquidation per symbol per second: the sum is a lower bound"
    ),
    taker_fee=0.0005,
    maker_fee=0.0002,
    fee_source="https://www.binance.com/en/fee/futureFee (USDⓈ-M, regular user)",
)
