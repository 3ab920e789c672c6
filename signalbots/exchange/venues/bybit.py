"""Bybit (v5, linear perpetuals).

Sources: bybit-exchange.github.io/docs/v5/rate-limit (HTTP: "600 requests within a 5-second window per IP";
"403 … access too frequent … IP ban … wait at least 10 minutes" — no longer wait is documented, so each 403
pauses 10 minutes and a ban still in force answers 403 again; retCode 10006 "Too many visits"; headers
``X-Bapi-Limit-Status`` / ``X-Bapi-Limit``: "your remaining requests for current endpoint", "per second per
UID" — so they lower that endpoint's bucket, not the per-IP one), v5/market/tickers (``turnover24h``,
``fundingIntervalHour``; ``openInterest``/``openInterestValue`` count both sides,
``singleOpenInterest``/``singleOpenInterestValue`` one side — v5/websocket/public/ticker), v5/market/kline
(``turnover``), v5/websocket/public/all-liquidation, v5/websocket/public/kline (``kline.{interval}.{symbol}``;
"If ``confirm``=true, this means that the candle has closed"; ``turnover`` quote), v5/ws/connect (public
streams on their own host, ``stream.bybit.com``, with their own limits: "for one public connection, you cannot
have length of "args" array over 21,000 characters"; "No args limit for Futures" per request — read in the
copy ``arakinyemi/exchange-api-docs`` ``Bybit/Spread_Trading/WebSocket_Stream/Connect.md``).
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


def _usage(headers: Mapping[str, str]) -> tuple[float, float] | None:
    remaining, limit = headers.get("x-bapi-limit-status"), headers.get("x-bapi-limit")
    if remaining is None or limit is None:
        return None
    return float(limit) - float(remaining), float(limit)


def _kline_market_id(frame: Any) -> str | None:
    """A kline frame's market: its topic's last part (``kline.5.BTCUSDT``)."""
    topic = frame.get("topic") if isinstance(frame, dict) else None  # a decoded frame: a dict
    return topic.rsplit(".", 1)[-1] if isinstance(topic, str) and topic.startswith("kline.") else None


def _liquidation(
    info: Any, symbol_of: SymbolOf, size_of: ContractSizeOf, received: float
) -> list[Liquidation]:
    return [normalize.bybit_liquidation(info, symbol_of, received=received)]


VENUE = Venue(
    id="bybit",
    name="Bybit",
    market_types={"types": ["linear"]},
    market_info_kept=frozenset({"fundingInterval"}),  # ccxt's parse_funding_rate reads it
    # 600 requests / 5 s per IP; ccxt charges 5 units per public v5 market request (rateLimit 20 ms).
    budget=ExchangeBudget(units=3000.0, window=5.0),
    rate_limits=(
        RateLimitRule("IP banned (403): wait at least 10 minutes", status=403, ban=True, min_pause=600.0),
        RateLimitRule("rate limited (429)", status=429),
        RateLimitRule("rate limited (retCode 10006)", code="10006"),
    ),
    error_code_field="retCode",
    usage=_usage,
    usage_endpoint_window=1.0,  # "per second per UID", per endpoint
    # The 403 ban is the HTTP IP limit's; the public streams are another host (stream.bybit.com) with limits
    # of their own (v5/ws/connect): liquidations keep arriving through a REST ban.
    streams_apart=True,
    ticker_volume=VolumeField("turnover24h", Unit.QUOTE),
    kline_volume=VolumeField(6, Unit.QUOTE),  # [start, open, high, low, close, volume, turnover]
    # ccxt.pro supports watchOHLCVForSymbols on Bybit (one connection per stream URL). The 21,000 characters
    # of topics one connection may hold, shared with the liquidation topics: 600 kline topics of ≤ 25
    # characters ("kline.5.1000000MOGUSDT", quoted, comma) leave 6,000 for those. The rest: REST.
    candle_stream=CandleStream(
        method="watch_ohlcv_for_symbols",
        per_request=100,
        market_id=_kline_market_id,
        per_connection=600,
        closed=("confirm", True),
        volume=VolumeField("turnover", Unit.QUOTE),
        frames=KlineFrames(frame_field("topic"), "kline.", frame_field("topic"), ("data",), "start"),
    ),
    funding_interval_field="fundingIntervalHour",  # the ticker's: fresher than the hourly instrument list
    # The bulk ticker already polled carries it. One side, as every other venue counts: ``openInterest`` is
    # both sides since Bybit changed it (twice the figure of its own UI and of the others).
    open_interest=OpenInterestFields(
        OpenInterestSource.TICKER,
        VolumeField("singleOpenInterest", Unit.BASE),
        value="singleOpenInterestValue",
    ),
    liquidation_stream=LiquidationStream.PER_SYMBOL,
    liquidation_parser=_liquidation,
    taker_fee=0.00055,
    maker_fee=0.0002,
    fee_source="https://www.bybit.com/en/help-center/article/Trading-Fee-Structure (derivatives, VIP 0)",
)
