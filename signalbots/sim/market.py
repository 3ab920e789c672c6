"""A scriptable synthetic market behind the exchange simulator.

Everything is a pure function of the seed, the listing's parameters and the injected clock, so a test or the
demo gets the same candles, funding and prints on every run, and can fetch any past candle without the market
having stored it. Scripts override what matters to a scenario (a price, a funding rate, a volume-spike candle,
a liquidation print, a delisting); everything else is background.

Symbols are addressed by base asset (``"BTC"``) or by ccxt unified symbol (``"BTC/USDT:USDT"``); every listing
is a USDT-margined perpetual, but on Hyperliquid (USDC, ``"BTC/USDC:USDC"``, funding every hour whatever the
asset: a rate set for another interval is converted to the hourly one). Times are UTC milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from signalbots.clock import Clock
from signalbots.events import Side, timeframe_ms
from signalbots.sim.listing import QUOTES as _QUOTES
from signalbots.sim.listing import contract_size_for, funding_interval

EXCHANGES = ("binanceusdm", "bybit", "okx")
SUPPORTED = (*EXCHANGES, "mexc", "hyperliquid")  # exchanges a Market can list (pass ``exchanges=``)
_MAJORS = (
    ("BTC", 65_000.0),
    ("ETH", 3_300.0),
    ("SOL", 150.0),
    ("XRP", 0.60),
    ("DOGE", 0.15),
    ("BNB", 580.0),
    ("ADA", 0.45),
    ("AVAX", 35.0),
    ("LINK", 15.0),
    ("LTC", 80.0),
    ("DOT", 6.5),
    ("TRX", 0.12),
)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HOUR_MS = 3_600_000


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from its arguments (stable across processes, unlike ``hash``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    value: int = struct.unpack(">Q", digest)[0]
    return value / 2**64


def base_of(symbol: str) -> str:
    """``"BTC/USDT:USDT"`` or ``"BTC"`` → ``"BTC"``."""
    return symbol.split("/", 1)[0].upper()


@dataclass(slots=True)
class Listing:
    """One perpetual on one exchange. ``price`` is the level the price wave oscillates around."""

    exchange: str
    base: str
    price: float
    funding_rate: float  # per interval, fraction
    funding_interval_hours: int
    quote_volume_24h: float
    contract_size: float = 1.0  # base units per contract (OKX ctVal, MEXC contractSize); 1 elsewhere
    status: str = "trading"  # trading | delisted
    onboard_ms: int = 1_569_398_400_000
    phase: float = 0.0
    volatility: float = 1.0  # scales the price wave and noise (the demo calms its scripted symbols)
    open_interest: float | None = None  # one side, base units; None: an eighth of a day's turnover

    @property
    def symbol(self) -> str:
        quote = _QUOTES.get(self.exchange, "USDT")
        return f"{self.base}/{quote}:{quote}"


@dataclass(frozen=True, slots=True)
class Bar:
    """A candle as the market knows it (quote volume in USDT)."""

    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    quote_volume: float
    trades: int

    def closed(self, now_ms: int, timeframe: str) -> bool:
        return now_ms >= self.open_ms + timeframe_ms(timeframe)


@dataclass(frozen=True, slots=True)
class LiquidationPrint:
    exchange: str
    base: str
    side: Side  # the liquidated position
    price: float
    quantity: float  # base units
    time_ms: int


@dataclass(slots=True)
class _Script:
    candles: dict[tuple[str, str, str, int], Bar] = field(default_factory=dict)


class Market:
    """The state every simulated exchange serves. Mutate it with the ``set_*``/``script_*`` methods."""

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 0,
        symbols: int = 40,
        exchanges: tuple[str, ...] = EXCHANGES,
        overlap: float = 0.8,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.exchanges = exchanges
        self.listings: dict[str, dict[str, Listing]] = {ex: {} for ex in exchanges}
        self.background_liquidations_per_minute = 0.0  # per exchange, for the demo
        # The largest background print (None: Pareto's whole tail). Which venue draws next from the shared
        # random stream depends on real-time tick order: an uncapped tail can add a cascade nobody scripted.
        self.background_liquidation_cap_usd: float | None = None
        self._script = _Script()
        self._listeners: list[Callable[[LiquidationPrint], None]] = []
        self._rng = random.Random(seed)
        self._populate(symbols, overlap)

    # -- population ------------------------------------------------------------------------------------------

    def _populate(self, count: int, overlap: float) -> None:
        rng = self._rng
        bases: list[tuple[str, float]] = list(_MAJORS[:count])
        taken = {b for b, _ in bases}
        while len(bases) < count:
            name = "".join(rng.choice(_LETTERS) for _ in range(rng.choice((3, 4, 4, 5))))
            if name not in taken:
                taken.add(name)
                bases.append((name, 10 ** rng.uniform(-3, 2.5)))
        for rank, (base, price) in enumerate(bases):
            volume = 2e10 / (rank + 1) ** 1.6 * rng.uniform(0.7, 1.3)  # BTC ~$20B, the tail a few $M
            interval = 8 if rank < 12 or rng.random() < 0.7 else rng.choice((4, 1))
            rate = rng.gauss(0.0001, 0.00015)
            for i, ex in enumerate(self.exchanges):
                # Exchanges added after the first three draw from their own stream, so that adding one
                # leaves every other exchange's listings exactly as they were for a given seed.
                draw = rng if ex in EXCHANGES else random.Random(f"{self.seed}/{ex}/{base}")
                if i > 0 and rank >= len(_MAJORS) and draw.random() > overlap:
                    continue
                hours, per_interval = funding_interval(ex, interval, rate + draw.gauss(0, 0.00005))
                self.listings[ex][base] = Listing(
                    exchange=ex,
                    base=base,
                    price=price * (1 + draw.uniform(-0.001, 0.001)),
                    funding_rate=per_interval,
                    funding_interval_hours=hours,
                    quote_volume_24h=volume * (1.0 if i == 0 else draw.uniform(0.2, 0.6)),
                    contract_size=contract_size_for(ex, price),
                    phase=draw.uniform(0, 2 * math.pi),
                )

    # -- reading ---------------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def listing(self, exchange: str, symbol: str) -> Listing:
        try:
            return self.listings[exchange][base_of(symbol)]
        except KeyError:
            raise KeyError(f"{exchange} does not list {symbol}") from None

    def find(self, exchange: str, symbol: str) -> Listing | None:
        return self.listings.get(exchange, {}).get(base_of(symbol))

    def trading(self, exchange: str) -> list[Listing]:
        return [x for x in self.listings[exchange].values() if x.status == "trading"]

    def symbols(self, exchange: str) -> list[str]:
        """Unified symbols of the trading listings on ``exchange``."""
        return [x.symbol for x in self.trading(exchange)]

    def price_at(self, listing: Listing, t_ms: int) -> float:
        """A smooth deterministic wave around ``listing.price`` (±~3 %), plus a little per-minute noise."""
        t = t_ms / _HOUR_MS
        wave = 0.02 * math.sin(2 * math.pi * t / 29 + listing.phase) + 0.01 * math.sin(2 * math.pi * t / 3.7)
        noise = 0.002 * (_unit(self.seed, listing.exchange, listing.base, t_ms // 60_000) - 0.5)
        return listing.price * math.exp((wave + noise) * listing.volatility)

    def last_price(self, listing: Listing) -> float:
        return self.price_at(listing, self.now_ms())

    def open_interest(self, listing: Listing) -> float:
        """One side's open interest in base units (every venue serves it in its own shape and unit)."""
        if listing.open_interest is not None:
            return listing.open_interest
        return listing.quote_volume_24h / 8 / listing.price

    def next_funding_ms(self, listing: Listing, now_ms: int | None = None) -> int:
        step = listing.funding_interval_hours * _HOUR_MS
        now = self.now_ms() if now_ms is None else now_ms
        return (now // step + 1) * step

    def funding_history(self, listing: Listing, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """(settlement time, rate) for settlements in [start_ms, end_ms], oldest first."""
        step = listing.funding_interval_hours * _HOUR_MS
        first = -(-start_ms // step) * step
        out = []
        for t in range(first, end_ms + 1, step):
            wobble = 0.5 + _unit(self.seed, listing.exchange, listing.base, "f", t)
            out.append((t, listing.funding_rate * wobble))
        return out

    def funding_page(
        self, listing: Listing, *, limit: int, end_ms: int | None = None, start_ms: int | None = None
    ) -> list[tuple[int, float]]:
        """The last ``limit`` settlements up to ``end_ms`` (now at most) from ``start_ms`` (default: ``limit``
        intervals back): the page an exchange's funding-history endpoint answers."""
        now = self.now_ms()
        end = min(end_ms if end_ms is not None else now, now)
        start = start_ms if start_ms is not None else end - limit * listing.funding_interval_hours * _HOUR_MS
        return self.funding_history(listing, start, end)[-limit:]

    def bar(self, listing: Listing, timeframe: str, open_ms: int) -> Bar:
        """The candle opening at ``open_ms`` (scripted if a script set it), as of now if it is still open."""
        scripted = self._script.candles.get((listing.exchange, listing.base, timeframe, open_ms))
        if scripted is not None:
            return scripted
        span = timeframe_ms(timeframe)
        end = min(open_ms + span, self.now_ms())
        o, c = self.price_at(listing, open_ms), self.price_at(listing, max(open_ms, end))
        u1, u2, u3 = (
            _unit(self.seed, listing.exchange, listing.base, timeframe, open_ms, k) for k in range(3)
        )
        hi, lo = max(o, c) * (1 + 0.002 * u1), min(o, c) * (1 - 0.002 * u2)
        done = max(0.0, min(1.0, (end - open_ms) / span))
        quote = listing.quote_volume_24h * span / 86_400_000 * (0.6 + 0.8 * u3) * done
        mid = (hi + lo + c) / 3
        return Bar(open_ms, o, hi, lo, c, quote / mid, quote, max(1, int(quote / 5_000)))

    def bars(
        self, listing: Listing, timeframe: str, *, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[Bar]:
        """Up to ``limit`` candles, oldest first, the newest possibly still open (as exchanges serve them)."""
        span = timeframe_ms(timeframe)
        now = self.now_ms()
        last_open = (min(now, end_ms) if end_ms is not None else now) // span * span
        if start_ms is not None:
            first = -(-start_ms // span) * span
            opens = range(first, min(last_open, first + (limit - 1) * span) + 1, span)
        else:
            opens = range(last_open - (limit - 1) * span, last_open + 1, span)
        return [self.bar(listing, timeframe, t) for t in opens if t >= listing.onboard_ms]

    # -- scripting -------------------------------------------------------------------------------------------

    def add_listing(
        self,
        exchange: str,
        base: str,
        *,
        price: float,
        funding_rate: float = 0.0001,
        funding_interval_hours: int = 8,
        quote_volume_24h: float = 50_000_000.0,
        contract_size: float | None = None,
    ) -> Listing:
        """A new listing (it shows up at the next market refresh of a client)."""
        hours, per_interval = funding_interval(exchange, funding_interval_hours, funding_rate)
        listing = Listing(
            exchange=exchange,
            base=base.upper(),
            price=price,
            funding_rate=per_interval,
            funding_interval_hours=hours,
            quote_volume_24h=quote_volume_24h,
            contract_size=contract_size if contract_size is not None else contract_size_for(exchange, price),
            onboard_ms=self.now_ms() // _HOUR_MS * _HOUR_MS,
        )
        self.listings[exchange][listing.base] = listing
        return listing

    def delist(self, exchange: str, symbol: str, *, remove: bool = False) -> None:
        """Stop trading (Binance keeps it in exchangeInfo as SETTLING); ``remove`` drops it altogether."""
        if remove:
            self.listings[exchange].pop(base_of(symbol), None)
        else:
            self.listing(exchange, symbol).status = "delisted"

    def set_price(self, exchange: str, symbol: str, price: float) -> None:
        """Make the current price ``price`` (rescales the listing's whole wave)."""
        listing = self.listing(exchange, symbol)
        listing.price *= price / self.last_price(listing)

    def set_funding(
        self, exchange: str, symbol: str, rate: float, *, interval_hours: int | None = None
    ) -> None:
        listing = self.listing(exchange, symbol)
        hours, per_interval = funding_interval(
            exchange, interval_hours if interval_hours is not None else listing.funding_interval_hours, rate
        )
        listing.funding_rate, listing.funding_interval_hours = per_interval, hours

    def set_volatility(self, exchange: str, symbol: str, volatility: float) -> None:
        self.listing(exchange, symbol).volatility = volatility

    def set_open_interest(self, exchange: str, symbol: str, base: float) -> None:
        """One side's open interest from now on, in base units."""
        self.listing(exchange, symbol).open_interest = base

    def set_volume_24h(self, exchange: str, symbol: str, quote_volume: float) -> None:
        self.listing(exchange, symbol).quote_volume_24h = quote_volume

    def script_candle(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        open_ms: int,
        *,
        open: float,
        high: float,
        low: float,
        close: float,
        quote_volume: float,
    ) -> Bar:
        """Fix one candle (e.g. a volume spike); served by REST and pushed by kline streams when it closes."""
        listing = self.listing(exchange, symbol)
        mid = (high + low + close) / 3
        bar = Bar(
            open_ms,
            open,
            high,
            low,
            close,
            quote_volume / mid,
            quote_volume,
            max(1, int(quote_volume / 5000)),
        )
        self._script.candles[(exchange, listing.base, timeframe, open_ms)] = bar
        return bar

    def liquidate(
        self,
        exchange: str,
        symbol: str,
        side: Side | str,
        *,
        quantity: float | None = None,
        notional_usd: float | None = None,
        price: float | None = None,
    ) -> LiquidationPrint:
        """A liquidation print, delivered to the exchange's liquidation streams (Binance: within a second)."""
        listing = self.listing(exchange, symbol)
        px = price if price is not None else self.last_price(listing)
        if quantity is None:
            quantity = (notional_usd if notional_usd is not None else 10_000.0) / px
        liq = LiquidationPrint(exchange, listing.base, Side(side), px, quantity, self.now_ms())
        for listener in list(self._listeners):
            listener(liq)
        return liq

    def background_prints(self, exchange: str, seconds: float) -> list[LiquidationPrint]:
        """Random prints for ``seconds`` of market time at ``background_liquidations_per_minute``."""
        rate = self.background_liquidations_per_minute * seconds / 60.0
        trading = self.trading(exchange)
        if rate <= 0 or not trading:
            return []
        count = int(rate) + (1 if self._rng.random() < rate - int(rate) else 0)
        out = []
        for _ in range(count):
            listing = trading[min(len(trading) - 1, int(self._rng.paretovariate(1.2)) - 1)]
            side = Side.LONG if self._rng.random() < 0.5 else Side.SHORT
            notional = 2_000 * self._rng.paretovariate(1.1)
            if self.background_liquidation_cap_usd is not None:
                notional = min(notional, self.background_liquidation_cap_usd)
            out.append(self.liquidate(exchange, listing.base, side, notional_usd=notional))
        return out

    def on_liquidation(self, listener: Callable[[LiquidationPrint], None]) -> Callable[[], None]:
        """Call ``listener`` for every print; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
