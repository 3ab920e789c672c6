"""``FundingFeed``: funding rates by bulk REST every ``funding_poll``.

Binance ``premiumIndex``, Bybit linear tickers, OKX ``funding-rate``; MEXC per symbol for
``funding_symbols``. Intervals come from the exchange (Binance ``fundingInfo``, refreshed hourly).
"""

from __future__ import annotations

from typing import Any

from signalbots.errors import SymbolError, TransientError
from signalbots.events import FundingSnapshot, timeframe_ms
from signalbots.exchange._feed import PollingFeed, finite

# Binance's fundingInfo lists only symbols whose interval or cap was adjusted; the rest settle every 8 h
# (Binance USDⓈ-M docs, "Get Funding Rate Info"). Other exchanges state the interval on every symbol.
_BINANCE_DEFAULT_INTERVAL_H = 8.0


def _interval_hours(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return timeframe_ms(text) / 3_600_000
    except ValueError:
        return None


class FundingFeed(PollingFeed):
    kind = "funding"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = self.settings.funding_poll
        self._intervals: dict[str, float] = {}
        self._intervals_at: float | None = None

    async def _poll_once(self) -> None:
        if self.exchange_id == "mexc":
            rates = await self._mexc_rates()
            endpoint = "fetch_funding_rate"
        else:
            if self.exchange_id == "binanceusdm":
                await self._refresh_binance_intervals()
            rates = await self.gateway.call("fetch_funding_rates", "fetch_funding_rates")
            endpoint = "fetch_funding_rates"
        received = self.clock.monotonic()
        now_ms = int(self.clock.time() * 1000)
        events, bad, example = [], 0, ""
        for symbol, raw in (rates or {}).items():
            event = self._snapshot(symbol, raw, received, now_ms)
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad(endpoint, event)
            else:
                events.append(event)
        self._publish(events)
        self._report_bad(endpoint, bad, example)

    async def _mexc_rates(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for symbol in self.settings.funding_symbols:
            try:
                out[symbol] = await self.gateway.call(
                    "fetch_funding_rate", "fetch_funding_rate", symbol, symbol=symbol
                )
            except SymbolError as err:
                self._log.info("funding_symbol_skipped", symbol=symbol, reason=str(err)[:200])
        return out

    async def _refresh_binance_intervals(self) -> None:
        now = self.clock.monotonic()
        if self._intervals_at is not None and now - self._intervals_at < self.settings.markets_refresh:
            return
        try:
            info = await self.gateway.call("fetch_funding_intervals", "fetch_funding_intervals")
        except TransientError as err:
            if self._intervals_at is None:
                raise
            self._log.info("funding_intervals_kept", reason=str(err)[:200])  # the old ones are still good
            return
        intervals = {}
        for symbol, row in (info or {}).items():
            hours = _interval_hours(row.get("interval") if isinstance(row, dict) else None)
            if hours is not None and hours > 0:
                intervals[symbol] = hours
        self._intervals, self._intervals_at = intervals, now

    def _snapshot(self, symbol: str, raw: Any, received: float, now_ms: int) -> FundingSnapshot | str:
        if not isinstance(raw, dict):
            return f"{symbol}: not an object"
        rate = finite(raw.get("fundingRate"))
        if rate is None or abs(rate) >= 1.0:
            return f"{symbol}: funding rate {raw.get('fundingRate')!r}"
        hours = _interval_hours(raw.get("interval"))
        if hours is None:
            hours = self._intervals.get(symbol)
        if hours is None and self.exchange_id == "binanceusdm":
            hours = _BINANCE_DEFAULT_INTERVAL_H
        if hours is None or hours <= 0:
            return f"{symbol}: no funding interval"
        mark_raw = raw.get("markPrice")
        mark = None if mark_raw is None else finite(mark_raw, positive=True, allow_zero=False)
        if mark_raw is not None and mark is None:
            return f"{symbol}: mark price {mark_raw!r}"
        next_ms = raw.get("fundingTimestamp") or raw.get("nextFundingTimestamp")
        stamp = raw.get("timestamp")
        return FundingSnapshot(
            exchange=self.exchange_id,
            symbol=symbol,
            time_ms=int(stamp) if isinstance(stamp, int | float) and stamp > 0 else now_ms,
            rate=rate,
            interval_hours=hours,
            next_funding_ms=int(next_ms) if isinstance(next_ms, int | float) and next_ms > 0 else None,
            mark_price=mark,
            received=received,
        )
