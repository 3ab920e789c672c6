"""MEXC futures (contract API, USDT-margined perpetuals).

Sources: mexcdevelop.github.io/apidocs/contract_v1_en — "Access frequency" ("20 times per 2 seconds" per
endpoint; code 510 "Excessive frequency of requests"), "Get the contract information" (``contractSize``; 1
time / 5 s), "Get contract trend data" / ticker (``amount24`` quote turnover, ``fundingRate`` for every
symbol, ``holdVol`` "total holdings" in contracts), "K-line data" (``vol`` in contracts, ``amount`` quote
turnover; no ``limit``: up to 2000 candles unless bounded by ``start``), "Get contract funding rate"
(``collectCycle`` hours, ``nextSettleTime``), WebSocket "K线" (``sub.kline`` one symbol per request; ``a``
quote turnover, ``q`` contracts, ``t`` the window start in seconds; no closed flag, so a candle is closed by
the first frame of the next one; no limit of subscriptions per connection is documented, the client must ping
within a minute — the contract API documentation's WebSocket section, a copy in the code index, id
23016906790). MEXC publishes no liquidation stream.
"""

from __future__ import annotations

from typing import Any

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


def _funding_from_tickers(tickers: Any) -> dict[str, Any]:
    """The bulk contract ticker as funding entries (``fundingRate``, ``fairPrice`` = mark)."""
    out: dict[str, Any] = {}
    for symbol, ticker in (tickers or {}).items():
        info = ticker.get("info") if isinstance(ticker, dict) else None
        if not isinstance(info, dict):
            out[symbol] = None
            continue
        out[symbol] = {
            "fundingRate": info.get("fundingRate"),
            "markPrice": info.get("fairPrice"),
            "timestamp": ticker.get("timestamp"),
            "info": info,
        }
    return out


VENUE = Venue(
    id="mexc",
    name="MEXC",
    market_types={"types": {"spot": False, "swap": {"linear": True, "inverse": False}}},
    markets_loader="fetch_swap_markets",  # ccxt's fetch_markets loads spot exchangeInfo whatever the option
    # MEXC counts requests, per endpoint: "20 times per 2 seconds". ccxt's costs (2 per request, 100 for the
    # contract list, after its "1 time / 5 s") would drain any bucket sized for that: count 1 per request. The
    # contract list is loaded once an hour, far below its own limit.
    request_cost=1.0,
    endpoint_budget=ExchangeBudget(units=20.0, window=2.0),
    # MEXC publishes no per-IP total for the public contract API: our own ceiling, five endpoints at their
    # limit at once.
    budget=ExchangeBudget(units=100.0, window=2.0),
    rate_limits=(
        RateLimitRule("rate limited (429)", status=429),
        RateLimitRule("rate limited (code 510)", code="510"),
    ),
    error_code_field="code",
    ticker_volume=VolumeField("amount24", Unit.QUOTE),  # not volume24: that one counts contracts
    kline_volume=VolumeField(6, Unit.QUOTE),  # ``amount``, carried into the row by the gateway
    kline_fields=("time", "amount"),
    kline_base_unit=Unit.CONTRACTS,  # ``vol``
    ohlcv_needs_since=True,
    # ccxt.pro has no watchOHLCVForSymbols for MEXC: one watch_ohlcv (one sub.kline) per symbol; its row
    # drops the quote turnover ``a``, kept here.
    candle_stream=CandleStream(
        method="watch_ohlcv",
        per_request=1,
        market_id=frame_field("symbol"),
        volume=VolumeField("a", Unit.QUOTE),
        frames=KlineFrames(
            frame_field("channel"), "push.kline", frame_field("data", "interval"), ("data",), "t"
        ),
    ),
    funding_source="fetch_tickers",  # the bulk contract ticker carries fundingRate for every symbol
    funding_entries=_funding_from_tickers,
    funding_interval_call="fetch_funding_rate",  # collectCycle, per symbol
    # holdVol: contracts × contractSize × the last price; the bulk ticker already polled carries it.
    open_interest=OpenInterestFields(
        OpenInterestSource.TICKER, VolumeField("holdVol", Unit.CONTRACTS), time="timestamp"
    ),
    taker_fee=0.0002,
    maker_fee=0.0,
    fee_source="https://www.mexc.com/fee (futures, regular user)",
)
