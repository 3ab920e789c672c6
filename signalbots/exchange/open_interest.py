"""``OpenInterestFeed``: one side's open interest of every symbol, from the source the venue profile names.

* TICKER (Bybit ``singleOpenInterest``, MEXC ``holdVol``): the bulk ticker the ticker feed already polls
  carries it, so ``TickerFeed`` publishes it (``open_interest_of``) and no feed of its own runs.
* BULK (OKX ``public/open-interest?instType=SWAP``): one call every ``interval`` lists every swap.
* PER_SYMBOL (Binance ``/fapi/v1/openInterest``): one request per symbol, spaced evenly across ``interval``
  (5 minutes) and never closer than ``budget_share`` of the weight budget allows; the first round most liquid
  first, every later round in the same order (new listings at its end), so each symbol is read one round
  after its previous read. Each request leaves at its slot on a deadline schedule, without waiting for the
  previous answer (up to ``_IN_FLIGHT`` unanswered): neither a slow answer nor a late wake-up of the loop
  pushes the later symbols back. A rate limit or an open circuit waits and then carries on from the next
  symbol without catching up: a pause stretches the round instead of raising the share. The coin figure is
  valued at the ticker feed's latest price (``Liquidity.last_price``); an event's time is the exchange's own
  (Binance's ``time``), else when the answer arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from signalbots.errors import CircuitOpen, RateLimited, SymbolError, TransientError
from signalbots.events import OpenInterest
from signalbots.exchange._feed import BACKOFF_FIRST, PollingFeed
from signalbots.exchange.bus import Liquidity
from signalbots.exchange.venues import OpenInterestFields, OpenInterestSource

# PER_SYMBOL requests unanswered at once: each goes out at its slot, not after the previous answer (at 0.5 s
# a request, an answer slower than that would otherwise push every later symbol back).
_IN_FLIGHT = 8


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
        self._backoff = BACKOFF_FIRST
        self._trouble: Exception | None = None  # a PER_SYMBOL request's rate limit or outage, to wait out
        self._troubled = asyncio.Event()

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

    def _round(self, previous: Sequence[str] = ()) -> list[str]:
        """This round's symbols: the last round's in the same order, then new listings, most liquid first.

        The order is kept from round to round: re-ranked by a liquidity that moved, a symbol would drop a
        few dozen places and wait those slots longer than the cadence (the benchmark's 308 s)."""
        markets = self.gateway.markets
        kept = [s for s in previous if s in markets]
        known = set(kept)
        ex = self.exchange_id
        new = sorted(
            (s for s in markets if s not in known),
            key=lambda s: (-(self.liquidity.quote_volume(ex, s) or 0.0), s),
        )
        return kept + new

    async def _paced(self) -> None:
        await self.liquidity.wait_ready(self.exchange_id)  # its prices value the coin figures
        budget = self.gateway.venue.budget
        symbols: list[str] = []
        asking: set[asyncio.Task[None]] = set()
        next_at = self.clock.monotonic()
        try:
            while True:
                symbols = self._round(symbols)
                if not symbols:
                    await self.clock.sleep(self.interval)
                    continue
                spacing = self.fields.spacing(budget, len(symbols))
                for symbol in symbols:
                    await self._until(next_at)
                    if await self._wait_out_trouble():  # carry on at once (the pause was the wait), no burst
                        next_at = self.clock.monotonic()
                    await self._room(asking)
                    task = asyncio.create_task(self._ask(symbol), name=f"{self.name} {symbol}")
                    asking.add(task)
                    # On schedule, whatever the answers take: a symbol's next read is one round after this
                    # one. Only a lag of a whole interval (a stalled loop) restarts the schedule.
                    next_at += spacing
                    if self.clock.monotonic() - next_at > self.interval:
                        next_at = self.clock.monotonic()
                if self._health is not None:
                    self._health.cycle()
        finally:
            for task in asking:
                task.cancel()
            await asyncio.gather(*asking, return_exceptions=True)

    async def _until(self, at: float) -> None:
        """Sleep until ``at``, or until a request runs into a rate limit or an open circuit."""
        delay = at - self.clock.monotonic()
        if delay <= 0 or self._trouble is not None:
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        waker = asyncio.ensure_future(self._troubled.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _wait_out_trouble(self) -> bool:
        """Pause after a request's rate limit, open circuit or outage; False when there was none."""
        trouble, self._trouble = self._trouble, None
        if trouble is None:
            return False
        self._troubled.clear()
        self._backoff = await self._pause_for(trouble, self._backoff)
        return True

    async def _room(self, asking: set[asyncio.Task[None]]) -> None:
        """Collect the answered requests (a bug in one ends the feed, as it would unpaced) and wait while
        ``_IN_FLIGHT`` are still unanswered."""
        while True:
            for task in [t for t in asking if t.done()]:
                asking.discard(task)
                task.result()
            if len(asking) < _IN_FLIGHT:
                return
            await asyncio.wait(asking, return_when=asyncio.FIRST_COMPLETED)

    async def _ask(self, symbol: str) -> None:
        """One symbol's request and its event; a rate limit, open circuit or outage is left for ``_paced``."""
        try:
            cost = self.fields.cost
            entry = await self.gateway.call(self.call, self.call, symbol, symbol=symbol, cost=cost)
        except SymbolError as err:
            self._log.debug("open_interest_skipped", symbol=symbol, reason=str(err)[:200])
            return  # it was asked: its slot is spent
        except (RateLimited, CircuitOpen, TransientError) as err:
            if self._trouble is None:
                self._trouble = err
                self._troubled.set()
            return
        self._backoff = BACKOFF_FIRST
        raw = entry.get("info") if isinstance(entry, dict) else None
        event = self._event(symbol, raw, int(self.clock.time() * 1000))
        if isinstance(event, str):
            self._bad(self.call, event)
            self._report_bad(self.call, 1, event)
        else:
            self._publish((event,))
