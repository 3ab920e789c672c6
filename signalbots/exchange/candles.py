"""``CandleFeed``: closed candles for every symbol above the liquidity floor.

Every exchange streams candles (the profile's ``CandleStream``): Binance and OKX and Bybit through ccxt.pro's
``watch_ohlcv_for_symbols`` (``per_request`` symbols per subscription), MEXC through one ``watch_ohlcv`` per
symbol. They are read from ccxt's OHLCV cache (through the gateway) after every wake-up, and a candle is
published the moment the exchange marks it closed (Binance ``k.x``, Bybit and OKX ``confirm``) or, where the
frames carry no flag (MEXC), with the first frame of the next candle. Every candle carries the exchange's own
quote volume where it publishes one (``_klines``).

REST stays: the backfill when a symbol joins, and after each close (``limit`` < 100, bounded by its start
time where the endpoint has no limit: MEXC) for the symbols whose stream is down and those beyond the
connection's documented limit (``per_connection``). The feed's health detail says which is in use.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from typing import Any

from signalbots.errors import BadPayload, SymbolError, TransientError
from signalbots.events import Candle, timeframe_ms
from signalbots.exchange._feed import BACKOFF_FIRST, StreamFeed, finite
from signalbots.exchange._klines import closed_by_exchange
from signalbots.exchange.bus import Liquidity
from signalbots.exchange.venues import Unit

_PACE = 1.0  # seconds between a subscription's watch calls
_ALIVE_EVERY = 1.0  # seconds between "the stream is alive" marks when frames bring nothing new
_PACE_ONE = 5.0  # the same for one symbol's subscription (MEXC: 750 of them; profiled at 1 s: 7 % of a core)


class CandleFeed(StreamFeed):
    """Closed candles of ``timeframe`` for every symbol whose 24h quote volume is at least ``floor_usd``."""

    kind = "candles"
    _client_marks = ("kline", "ohlcv", "candle")

    def __init__(self, *, liquidity: Liquidity, timeframe: str, floor_usd: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.liquidity = liquidity
        self.timeframe = timeframe
        self.span_ms = timeframe_ms(timeframe)
        self.floor_usd = floor_usd
        self.stream = self.gateway.venue.candle_stream
        self.streaming = self.stream is not None
        self._resubscribes = self.streaming
        self.symbols: list[str] = []
        self._last_open: dict[str, int] = {}  # newest closed candle published, per symbol
        self._units: dict[str, list[str]] = {}  # a subscription's stream name → its symbols
        self._beyond: list[str] = []  # streamed symbols past the connection's limit: REST
        self._streamed: set[str] = set()
        self._gaps: set[str] = set()  # streamed symbols with a candle missing between REST and the stream
        self._gap = asyncio.Event()
        self._gap_asked: dict[str, int] = {}  # symbol → the stream's oldest row when its gap was asked

    # REST polling runs once per candle; with a 5m timeframe that is quieter than ``stale_after``.
    @property
    def stale_after(self) -> float:
        extra = 0.0 if self.streaming else self.span_ms / 1000
        return self.settings.stale_after + extra

    async def _work(self) -> None:
        await self.liquidity.wait_ready(self.exchange_id)
        if self.stream is not None:
            self.gateway.on_klines(self._on_kline)
        while True:
            self.symbols = self.liquidity.above(self.exchange_id, self.floor_usd)
            await self._backfill([s for s in self.symbols if s not in self._last_open])
            self._plan()
            self._show_status()
            loops = [asyncio.create_task(self._watch_unit(n, b)) for n, b in self._units.items()]
            loops.append(asyncio.create_task(self._poll_rest()))
            try:
                # Re-evaluate the liquidity floor now and then; the streams run meanwhile.
                await self._sleep_or_fail(loops, self.settings.markets_refresh)
            finally:
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)

    async def _sleep_or_fail(self, loops: list[asyncio.Task[None]], seconds: float) -> None:
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        try:
            done, _ = await asyncio.wait({sleeper, *loops}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        for task in done:
            if task is not sleeper:
                task.result()

    def _plan(self) -> None:
        """Split the symbols into subscriptions (the most liquid first where one connection cannot hold them
        all) and the rest, polled by REST."""
        stream = self.stream
        if stream is None:
            self._units, self._beyond = {}, list(self.symbols)
            return
        cap = stream.per_connection
        symbols = self.symbols
        if cap is not None and len(symbols) > cap:
            wanted = set(symbols)
            ranked = self.liquidity.most_liquid(self.exchange_id, 1 << 30)
            chosen = {s for s in ranked if s in wanted}
            chosen = set([s for s in ranked if s in chosen][:cap])
            self._beyond = [s for s in symbols if s not in chosen]
            symbols = [s for s in symbols if s in chosen]
        else:
            self._beyond = []
        size = max(1, min(self.settings.candle_batch, stream.per_request))
        batches = [symbols[i : i + size] for i in range(0, len(symbols), size)]
        self._units = {(f"klines {b[0]}…" if len(b) > 1 else f"kline {b[0]}"): b for b in batches}
        self._streamed = set(symbols)

    async def _watch_unit(self, name: str, batch: list[str]) -> None:
        # Each frame is read as it is stored (``_on_kline``: one symbol). The watch call keeps the
        # subscription and reports its failures, at most once a second: ccxt's watch_ohlcv_for_symbols
        # rebuilds the subscription's futures on every call (~300 µs for 100 symbols); once per frame it
        # dominated the daemon at Binance's 250 ms cadence. Its wake-up sweeps the subscription's symbols.
        stream = self.stream
        assert stream is not None
        if stream.method == "watch_ohlcv_for_symbols":
            pairs = [[symbol, self.timeframe] for symbol in batch]
            args: tuple[Any, ...] = (pairs,)
        else:
            args = (batch[0], self.timeframe)
        await self._watch_loop(
            "watch_ohlcv",
            stream.method,
            lambda: args,
            stream=name,
            key=name,
            drain=lambda _: self._drain(batch),
            pace=_PACE if len(batch) > 1 else _PACE_ONE,
        )

    def _on_kline(self, symbol: str) -> None:
        """ccxt stored a kline row of ``symbol``: publish what closed at once (one symbol's rows)."""
        if symbol in self._streamed:
            self._drain([symbol])

    def _polled(self) -> list[str]:
        """The symbols REST serves now: past the connection's limit, or on a subscription that is down."""
        down = [s for name in self._down for s in self._units.get(name, ())]
        return self._beyond + down

    def _status_note(self) -> str:
        polled = len(self._polled())
        if not self.streaming:
            return f"candles by REST: {polled} symbols"
        streamed = len(self.symbols) - polled
        return f"candles streamed: {streamed} symbols" + (f", by REST: {polled}" if polled else "")

    def _drain(self, symbols: list[str] | None = None) -> None:
        events: list[Candle] = []
        last_open = self._last_open
        for symbol in self.symbols if symbols is None else symbols:
            rows = self.gateway.candle_rows(symbol, self.timeframe)
            if not rows:
                continue
            # A candle is closed once the exchange says so (Binance ``x``: published at once, not a kline
            # frame later) or once the next one has begun. Only the rows after the last published one are
            # read (profiled: re-reading every cached row of every symbol on each kline frame was most of the
            # daemon's time under load).
            end = len(rows) if closed_by_exchange(rows[-1]) else len(rows) - 1
            last = last_open.get(symbol, -1)
            first = end
            while first > 0:
                opened = rows[first - 1][0]
                if isinstance(opened, int) and opened <= last:
                    break
                first -= 1  # newer than the last published, or malformed (reported by _closed)
            oldest = rows[first][0] if first < len(rows) else None
            # A candle closed between this symbol's last REST read and its stream's first row (a subscription
            # made after a backfill, a reconnection): the stream never sends it. Asked of REST once per gap,
            # not on every frame while REST has nothing newer.
            gap = last >= 0 and isinstance(oldest, int) and oldest > last + self.span_ms
            if gap and isinstance(oldest, int) and self._gap_asked.get(symbol) != oldest:
                self._gap_asked[symbol] = oldest
                self._gaps.add(symbol)
                self._gap.set()
            if first < end:
                # The stream's own evidence closed them (a flag, or the next candle's first frame): the local
                # clock, which may lag the exchange's, is not asked.
                events.extend(self._closed(symbol, rows[first:end], "watch_ohlcv", streamed=True))
        if not self._publish(events) and (
            self.stale or self.clock.monotonic() - self._last_data >= _ALIVE_EVERY
        ):
            # A message arrived even if nothing in it was new: the connection is alive. Said at most once a
            # second: per frame (3,700 a second at full market) its metrics were 3 % of the daemon's samples.
            self._data(0)

    async def _backfill(self, symbols: list[str]) -> None:
        limit = self.settings.candle_backfill
        for symbol in symbols:
            rows = await self._fetch(symbol, limit + 1 if limit else 2)
            if rows is None:
                continue
            self._publish(self._closed(symbol, rows, "fetch_ohlcv"))

    async def _fetch(self, symbol: str, limit: int) -> list[Any] | None:
        backoff = BACKOFF_FIRST
        while True:
            limit = min(limit, 99)
            # An endpoint without a limit (MEXC) answers up to 2000 candles unless told where to start.
            since = self._now_open() - limit * self.span_ms if self.gateway.venue.ohlcv_needs_since else None
            try:
                rows = await self.gateway.call(
                    "fetch_ohlcv", "fetch_ohlcv", symbol, self.timeframe, since, limit, symbol=symbol
                )
                return rows if isinstance(rows, list) else None
            except SymbolError:
                return None
            except BadPayload as err:
                if self._health is not None:
                    self._health.error(str(err))  # health cuts it at a word
                return None
            except TransientError as err:
                backoff = await self._pause_for(err, backoff)

    def _now_open(self) -> int:
        return int(self.clock.time() * 1000) // self.span_ms * self.span_ms

    async def _poll_rest(self) -> None:
        """After each candle closes, fetch the last candles of every symbol REST serves now (``_polled``);
        at once, those of a streamed symbol whose stream skipped a candle (``_gaps``)."""
        while True:
            now_ms = int(self.clock.time() * 1000)
            next_close = (now_ms // self.span_ms + 1) * self.span_ms
            # A second's grace for the exchange to close the candle.
            timer = asyncio.ensure_future(self.clock.sleep((next_close - now_ms) / 1000 + 1.0))
            gap = asyncio.ensure_future(self._gap.wait())
            try:
                await asyncio.wait({timer, gap}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
                gap.cancel()
            if self._gap.is_set():
                self._gap.clear()
                symbols, self._gaps = sorted(self._gaps), set()
                await self._poll(symbols)
                continue
            self._show_status()
            await self._poll(self._polled())

    async def _poll(self, symbols: list[str]) -> None:
        if not symbols:
            return
        events: list[Candle] = []
        for symbol in symbols:
            rows = await self._fetch(symbol, 3)
            if rows:
                events.extend(self._closed(symbol, rows, "fetch_ohlcv"))
        if self._health is not None:
            self._health.cycle()
        if not self._publish(events) and not self.streaming:
            self._data(0)  # polled and answered: the feed is alive even if nothing was new

    def _closed(
        self, symbol: str, rows: Iterable[Any], endpoint: str, *, streamed: bool = False
    ) -> list[Candle]:
        now_open = self._now_open()
        last = self._last_open.get(symbol, -1)
        per_unit = self._base_per_unit(symbol)
        received = self.clock.monotonic()
        out: list[Candle] = []
        for row in rows:
            try:
                open_ms = int(row[0])
                o, h, low, c, v = (float(x) for x in row[1:6])
                quoted = row[6:7]
            except (TypeError, ValueError, IndexError):
                self._bad(endpoint, f"{symbol}: candle row {row!r:.80}")
                continue
            if open_ms <= last or (open_ms >= now_open and not (streamed or closed_by_exchange(row))):
                continue  # already published, or still open
            prices_ok = all(math.isfinite(x) and x > 0 for x in (o, h, low, c)) and h >= low
            if not prices_ok or not (math.isfinite(v) and v >= 0):
                self._bad(endpoint, f"{symbol}: candle {open_ms} has bad numbers")
                last = open_ms  # do not re-read a bad closed candle every wake-up
                continue
            last = open_ms
            # The exchange's own quote volume (the gateway keeps it from the raw row); else the strategy
            # estimates it from the base volume.
            quote = finite(quoted[0], positive=True) if quoted else None
            out.append(
                Candle(
                    exchange=self.exchange_id,
                    symbol=symbol,
                    time_ms=open_ms,
                    timeframe=self.timeframe,
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=v * per_unit,
                    quote_volume=quote,
                    received=received,
                )
            )
        if last >= 0:
            self._last_open[symbol] = last
        return out

    def _base_per_unit(self, symbol: str) -> float:
        """Base coins per unit of ccxt's OHLCV volume: the contract size where it counts contracts."""
        if self.gateway.venue.kline_base_unit is not Unit.CONTRACTS:
            return 1.0
        size = self.gateway.markets.get(symbol, {}).get("contractSize")
        return float(size) if isinstance(size, int | float) and size > 0 else 1.0
