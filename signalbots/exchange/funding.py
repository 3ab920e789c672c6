"""``FundingFeed``: every symbol's funding rate by one bulk REST call every ``funding_poll``.

The call and the interval's source come from the exchange's profile: Binance ``premiumIndex`` (intervals
from ``fundingInfo``, refreshed hourly, 8 h for the symbols it does not list), Bybit linear tickers (the
ticker's own ``fundingIntervalHour``), OKX ``funding-rate instId=ANY``, MEXC's bulk contract ticker
(``fundingRate`` for every symbol; ``collectCycle`` per symbol, fetched hourly and only for the symbols that
need it, the most extreme rates first). Bulk answers hold more than our markets (Binance's delivery
contracts, OKX's inverse and X-Perp swaps): only the markets the gateway loaded are published.
"""

from __future__ import annotations

from typing import Any

from signalbots.errors import CircuitOpen, RateLimited, SymbolError, TransientError
from signalbots.events import FundingSnapshot, timeframe_ms
from signalbots.exchange._feed import PollingFeed, finite

# Per-symbol interval look-ups per poll (MEXC: ~800 symbols at 20 requests / 2 s per endpoint).
_INTERVAL_LOOKUPS_PER_POLL = 60


def _interval_hours(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return float(value) or None  # a bare number of hours ("8")
    try:
        return timeframe_ms(value) / 3_600_000
    except ValueError:
        return None


class FundingFeed(PollingFeed):
    kind = "funding"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = self.settings.funding_poll
        self.venue = self.gateway.venue
        self._intervals: dict[str, float] = {}
        self._next_ms: dict[str, int] = {}
        self._intervals_at: float | None = None
        self._checked_at: dict[str, float] = {}  # per-symbol interval look-ups (MEXC)

    async def _poll_once(self) -> None:
        if self.venue.funding_intervals_call is not None:
            await self._refresh_intervals(self.venue.funding_intervals_call)
        endpoint = self.venue.funding_source
        answer = await self.gateway.call(endpoint, endpoint)
        rates = self.venue.funding_entries(answer)
        if self.venue.funding_interval_call is not None:
            await self._look_up_intervals(rates)
        received = self.clock.monotonic()
        now_ms = int(self.clock.time() * 1000)
        events, bad, example = [], 0, ""
        for symbol, raw in rates.items():
            if symbol not in self.gateway.markets:
                continue  # a delivery contract, an inverse swap…: not a market we loaded, not our funding
            event = self._snapshot(symbol, raw, received, now_ms)
            if event is None:
                continue
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad(endpoint, event)
            else:
                events.append(event)
        self._publish(events)
        self._report_bad(endpoint, bad, example)

    async def _refresh_intervals(self, method: str) -> None:
        now = self.clock.monotonic()
        if self._intervals_at is not None and now - self._intervals_at < self.settings.markets_refresh:
            return
        try:
            info = await self.gateway.call(method, method)
        except TransientError as err:
            if self._intervals_at is None:
                raise
            self._log.info("funding_intervals_kept", reason=str(err)[:200])  # the old ones are still good
            return
        intervals = {}
        for symbol, row in (info or {}).items():
            hours = _interval_hours(row.get("interval") if isinstance(row, dict) else None)
            if hours is not None:
                intervals[symbol] = hours
        self._intervals, self._intervals_at = intervals, now

    async def _look_up_intervals(self, rates: dict[str, Any]) -> None:
        """Per-symbol intervals, refreshed every ``markets_refresh``: the unknown first, then the stale, each
        group by the size of its rate (an extreme rate needs its interval most)."""
        now = self.clock.monotonic()
        due = [
            s
            for s in rates
            if s in self.gateway.markets
            and now - self._checked_at.get(s, -self.settings.markets_refresh) >= self.settings.markets_refresh
        ]

        def urgency(symbol: str) -> tuple[bool, float]:
            raw = rates.get(symbol)
            rate = finite(raw.get("fundingRate")) if isinstance(raw, dict) else None
            return symbol in self._intervals, -abs(rate or 0.0)

        method = self.venue.funding_interval_call
        assert method is not None
        for symbol in sorted(due, key=urgency)[:_INTERVAL_LOOKUPS_PER_POLL]:
            try:
                row = await self.gateway.call(method, method, symbol, symbol=symbol)
            except (RateLimited, CircuitOpen):
                raise  # the whole exchange (or endpoint) waits: so does this poll
            except (SymbolError, TransientError) as err:
                # One symbol's look-up failed: the others go on; it is tried again after markets_refresh.
                self._log.info("funding_interval_unknown", symbol=symbol, reason=str(err)[:200])
                self._checked_at[symbol] = now
                continue
            self._checked_at[symbol] = now
            hours = _interval_hours(row.get("interval") if isinstance(row, dict) else None)
            if hours is not None:
                self._intervals[symbol] = hours
            next_ms = row.get("fundingTimestamp") if isinstance(row, dict) else None
            if isinstance(next_ms, int | float) and next_ms > 0:
                self._next_ms[symbol] = int(next_ms)

    def _snapshot(self, symbol: str, raw: Any, received: float, now_ms: int) -> FundingSnapshot | str | None:
        if not isinstance(raw, dict):
            return f"{symbol}: not an object"
        rate = finite(raw.get("fundingRate"))
        if rate is None or abs(rate) >= 1.0:
            return f"{symbol}: funding rate {raw.get('fundingRate')!r}"
        hours = self._hours(symbol, raw)
        if hours is None:
            if self.venue.funding_interval_call is not None:
                return None  # looked up per symbol, not known yet (or its look-up failed): never guessed
            return f"{symbol}: no funding interval"
        mark_raw = raw.get("markPrice")
        mark = None if mark_raw is None else finite(mark_raw, positive=True, allow_zero=False)
        if mark_raw is not None and mark is None:
            return f"{symbol}: mark price {mark_raw!r}"
        next_ms = raw.get("fundingTimestamp") or raw.get("nextFundingTimestamp") or self._next(symbol, now_ms)
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

    def _hours(self, symbol: str, raw: dict[str, Any]) -> float | None:
        """The freshest source first: the entry's own field, ccxt's interval, then the looked-up list."""
        field = self.venue.funding_interval_field
        info = raw.get("info")
        if field is not None and isinstance(info, dict):
            hours = _interval_hours(info.get(field))
            if hours is not None:
                return hours
        hours = _interval_hours(raw.get("interval"))
        if hours is None:
            hours = self._intervals.get(symbol)
        if hours is None and self.venue.funding_intervals_call is not None:
            hours = self.venue.funding_default_hours
        return hours

    def _next(self, symbol: str, now_ms: int) -> int | None:
        """A looked-up next settlement, rolled forward by the interval once it has passed."""
        next_ms, hours = self._next_ms.get(symbol), self._intervals.get(symbol)
        if next_ms is None or hours is None:
            return None
        span = int(hours * 3_600_000)
        while next_ms <= now_ms:
            next_ms += span
        return next_ms
