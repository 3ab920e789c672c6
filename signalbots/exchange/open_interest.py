"""``OpenInterestFeed``: one side's open interest of every symbol, from the source the venue profile names.

* TICKER (Bybit ``singleOpenInterest``, MEXC ``holdVol``): the bulk ticker the ticker feed already polls
  carries it, so ``TickerFeed`` publishes it (``open_interest_of``) and no feed of its own runs.
* BULK (OKX ``public/open-interest?instType=SWAP``): one call every ``interval`` lists every swap.
* PER_SYMBOL (Binance ``/fapi/v1/openInterest``): one request per symbol, spaced evenly across ``interval``
  (5 minutes) and never closer than ``budget_share`` of the weight budget allows, most liquid first. A slow
  answer is made up by the next request (each symbol's figure stays one interval old); a rate limit or an
  open circuit waits and then carries on from the next symbol without catching up: a pause stretches the
  round instead of raising the share. The coin figure is valued at the ticker feed's
  latest price (``Liquidity.last_price``).
"""

from __future__ import annotations

from typing import Any

from signalbots.errors import CircuitOpen, RateLimited, SymbolError, TransientError
from signalbots.events import OpenInterest
from signalbots.exchange._feed import BACKOFF_FIRST, PollingFeed
from signalbots.exchange.bus import Liquidity
from signalbots.exchange.venues import OpenInterestFields, OpenInterestSource


def open_interest_of(
    fields: OpenInterestFields,
    *,
    exchange: str,
    symbol: str,
    raw: Any,
    price: float | None,
    contract_size: float | None,
    time_ms: int,
    received: float,
) -> OpenInterest | str:
    """The event of one raw entry, or why it cannot be one (a bad payload to count)."""
    read = fields.read(raw, price=price, contract_size=contract_size)
    if read is None:
        key = fields.amount.key
        shown = raw.get(key) if isinstance(raw, dict) and isinstance(key, str) else None
        return f"{symbol}: open interest {shown!r}"
    base, usd = read
    return OpenInterest(
        exchange=exchange,
        symbol=symbol,
        time_ms=fields.time_ms(raw) or time_ms,
        base=base,
        usd=usd,
        received=received,
    )


class OpenInterestFeed(PollingFeed):
    kind = "open_interest"

    def __init__(self, *, liquidity: Liquidity, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fields = self.gateway.venue.open_interest
        if fields is None or fields.call is None:
            raise ValueError(f"{self.exchange_id}: no open interest call in its venue profile")
        self.fields = fields
        self.call = fields.call
        self.interval = fields.interval
        self.liquidity = liquidity

    @property
    def stale_after(self) -> float:
        # A per-symbol round delivers every few hundred ms; a bulk poll once an interval.
        return max(self.settings.stale_after, 2 * self.interval)

    async def _work(self) -> None:
        if self.fields.source is OpenInterestSource.PER_SYMBOL:
            await self._paced()
        else:
            await super()._work()

    def _event(self, symbol: str, raw: Any, now_ms: int) -> OpenInterest | str:
        size = self.gateway.markets.get(symbol, {}).get("contractSize")
        return open_interest_of(
            self.fields,
            exchange=self.exchange_id,
            symbol=symbol,
            raw=raw,
            price=self.liquidity.last_price(self.exchange_id, symbol),
            contract_size=size if isinstance(size, int | float) else None,
            time_ms=now_ms,
            received=self.clock.monotonic(),
        )

    async def _poll_once(self) -> None:
        answer = await self.gateway.call(self.call, self.call)
        now_ms = int(self.clock.time() * 1000)
        events, bad, example = [], 0, ""
        for symbol, entry in (answer or {}).items():
            if symbol not in self.gateway.markets:
                continue  # an inverse swap: not a market we loaded
            raw = entry.get("info") if isinstance(entry, dict) else None
            event = self._event(symbol, raw, now_ms)
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad(self.call, event)
            else:
                events.append(event)
        self._publish(events)
        self._report_bad(self.call, bad, example)

    def _round(self) -> list[str]:
        """This round's symbols, most liquid first (the ones a user trades get the freshest figure)."""
        ex = self.exchange_id
        return sorted(self.gateway.markets, key=lambda s: (-(self.liquidity.quote_volume(ex, s) or 0.0), s))

    async def _paced(self) -> None:
        await self.liquidity.wait_ready(self.exchange_id)  # its prices value the coin figures
        budget = self.gateway.venue.budget
        backoff = BACKOFF_FIRST
        next_at = self.clock.monotonic()
        while True:
            symbols = self._round()
            if not symbols:
                await self.clock.sleep(self.interval)
                continue
            spacing = self.fields.spacing(budget, len(symbols))
            for symbol in symbols:
                await self.clock.sleep(max(0.0, next_at - self.clock.monotonic()))
                try:
                    entry = await self.gateway.call(
                        self.call, self.call, symbol, symbol=symbol, cost=self.fields.cost
                    )
                except SymbolError as err:
                    self._log.debug("open_interest_skipped", symbol=symbol, reason=str(err)[:200])
                    next_at += spacing  # it was asked: its slot is spent
                    continue
                except (RateLimited, CircuitOpen, TransientError) as err:
                    backoff = await self._pause_for(err, backoff)
                    next_at = self.clock.monotonic()  # carry on at once (the pause was the wait), no burst
                    continue
                backoff = BACKOFF_FIRST
                # On schedule: a slow answer is made up by the next request, so every symbol's figure stays
                # one interval old; only a lag of a whole interval (a stalled loop) restarts the schedule.
                next_at += spacing
                if self.clock.monotonic() - next_at > self.interval:
                    next_at = self.clock.monotonic()
                raw = entry.get("info") if isinstance(entry, dict) else None
                event = self._event(symbol, raw, int(self.clock.time() * 1000))
                if isinstance(event, str):
                    self._bad(self.call, event)
                    self._report_bad(self.call, 1, event)
                else:
                    self._publish((event,))
            if self._health is not None:
                self._health.cycle()
