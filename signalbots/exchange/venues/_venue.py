"""What an exchange is, as data: the shape every venue profile fills in (``venues/<id>.py``).

Everything that differs between exchanges lives in a ``Venue``; the gateway, the limiter, the feeds, the
strategies and the rendering read it and never branch on an exchange id. Importing a profile costs nothing
(no ccxt): settings validation and ``check-config`` read the registry too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from signalbots.events import Liquidation

SymbolOf = Callable[[str], str | None]
ContractSizeOf = Callable[[str], float | None]
LiquidationParser = Callable[[Any, SymbolOf, ContractSizeOf, float], list[Liquidation]]
# The answer of the venue's ``funding_source`` call → ccxt funding-rate entries by symbol.
FundingEntries = Callable[[Any], dict[str, Any]]
# (path, request params or JSON body) → the exchange's weight of that request; None: ccxt's cost stands.
RequestWeight = Callable[[str, Mapping[str, Any]], float | None]
# A raw websocket frame → the market id it is about, or None when it is about none (an acknowledgement).
FrameMarketId = Callable[[Any], str | None]


def funding_rates(answer: Any) -> dict[str, Any]:
    """``fetch_funding_rates``' answer is already funding entries by symbol."""
    return dict(answer or {})


@dataclass(frozen=True, slots=True)
class ExchangeBudget:
    """A published request budget in ccxt cost units: ``units`` per ``window`` seconds."""

    units: float
    window: float

    @property
    def per_second(self) -> float:
        return self.units / self.window


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """An answer that means "slow down" and what it costs: an HTTP status, or an error code in the body.

    ``ban``: the exchange has blocked the IP (every REST call stops, and the streams too unless the venue's
    streams are on a host apart: ``Venue.streams_apart``); ``min_pause``: the least the exchange wants us to
    wait when it gives no ``Retry-After`` (a ``Retry-After`` is authoritative).
    """

    meaning: str
    status: int | None = None
    code: str | None = None
    ban: bool = False
    min_pause: float | None = None


class LiquidationStream(Enum):
    """How an exchange publishes forced liquidations."""

    ALL = "all"  # one stream of every symbol (Binance ``!forceOrder@arr``)
    LISTED = "listed"  # one channel of every market, but ccxt wants the symbols to route its messages (OKX)
    PER_SYMBOL = "per_symbol"  # one topic per symbol: the most liquid N are subscribed (Bybit)


@dataclass(frozen=True, slots=True)
class CandleStream:
    """How an exchange streams candles, and the limits its documentation puts on the subscriptions.

    ``method``: ccxt.pro's ``watch_ohlcv_for_symbols`` (many symbols per subscribe request) where ccxt
    supports it for the exchange, else ``watch_ohlcv`` (one symbol per request). ``per_request``: symbols in
    one subscribe request. ``per_connection``: kline topics on one connection at most (ccxt opens one
    connection per websocket URL on these exchanges), None where none is documented; symbols beyond it are
    polled by REST. ``closed``: the raw field of the websocket kline that marks the candle closed and the
    value that means so (Bybit ``confirm`` true, OKX ``confirm`` "1"), None where the frames carry no flag
    (MEXC, Hyperliquid): the candle is then closed by the first frame of the next one. ``volume``: the
    exchange's quote turnover in the raw websocket kline object where ccxt drops it (Bybit ``turnover``, MEXC
    ``a``). ``market_id``: where a kline frame names its market (``frame_field``); ``market_of``: the ccxt
    method that turns that name into ccxt's market id where the two differ (Hyperliquid's frames name the
    coin, ``BTC``; ccxt's handler maps it with ``coin_to_market_id``), None where the frame's id is ccxt's.
    ``frames``: where a kline frame says which candle it updates (``KlineFrames``), so that the updates of a
    still-open candle are held back from ccxt (``_kline_gate``); None: every frame goes to ccxt.
    """

    method: str
    per_request: int
    per_connection: int | None = None
    closed: tuple[str | int, Any] | None = None
    volume: VolumeField | None = None
    market_id: FrameMarketId | None = None  # None: the feed reads the rows at its watch calls' wake-ups
    market_of: str | None = None
    frames: KlineFrames | None = None

    def closed_flag(self, raw: Any) -> bool:
        """The raw kline (an object or a row) says the exchange has closed its candle."""
        if self.closed is None:
            return False
        key, value = self.closed
        return bool(_pick(raw, key) == value)


@dataclass(frozen=True, slots=True)
class KlineFrames:
    """Where a websocket kline frame says which candle it updates.

    A frame is a kline frame when its ``channel`` (a ``frame_field``) starts with ``prefix``; ``interval``
    names its timeframe (with ``CandleStream.market_id``, the series it updates); ``kline`` is the path to
    the kline object (a list of one is that one; a list of more is no single candle); ``open_time`` the key
    of the candle's open time in it. ``CandleStream.closed`` says whether the kline closes its candle.
    """

    channel: FrameMarketId
    prefix: str
    interval: FrameMarketId
    kline: tuple[str, ...]
    open_time: str | int

    def kline_of(self, frame: Any) -> Any:
        """The one kline object of ``frame`` (None when it has none, or several)."""
        # ``dict``, not ``Mapping``: a decoded frame is one, and the ABC's check costs a frame's parse.
        for key in self.kline:
            frame = frame.get(key) if isinstance(frame, dict) else None
        if isinstance(frame, list):
            return frame[0] if len(frame) == 1 else None
        return frame if isinstance(frame, dict) else None

    def open_ms(self, kline: Any) -> int | None:
        """The candle's open time as the exchange writes it (ms, or seconds on MEXC), None when unreadable."""
        value = _pick(kline, self.open_time)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(value) if isinstance(value, str) and value.isdigit() else None


def frame_field(*path: str) -> FrameMarketId:
    """The string at ``path`` in a websocket frame (``frame_field("k", "s")``: Binance's ``k.s``)."""

    def pick(frame: Any) -> str | None:
        for key in path:
            frame = frame.get(key) if isinstance(frame, dict) else None  # a decoded frame: dicts
        return frame if isinstance(frame, str) else None

    return pick


class Unit(StrEnum):
    """What a volume field counts."""

    QUOTE = "quote"  # the quote currency (USDT): a turnover
    BASE = "base"  # the base coin: × price
    CONTRACTS = "contracts"  # contracts: × contract size × price


@dataclass(frozen=True, slots=True)
class VolumeField:
    """Where the exchange's 24h or candle volume is, and what it counts.

    ``key``: a field of the raw ticker (``info``), or an index into the raw kline row.
    """

    key: str | int
    unit: Unit

    def quote(self, raw: Any, *, price: float | None, contract_size: float | None) -> float | None:
        """The volume in the quote currency, or None when the field is missing or not a finite number ≥ 0."""
        value = _pick(raw, self.key)
        number = _number(value)
        if number is None or number < 0:
            return None
        if self.unit is Unit.QUOTE:
            return number
        if price is None or not (math.isfinite(price) and price > 0):
            return None
        if self.unit is Unit.BASE:
            return number * price
        if contract_size is None or not (math.isfinite(contract_size) and contract_size > 0):
            return None
        return number * contract_size * price


class OpenInterestSource(Enum):
    """Where an exchange publishes open interest, cheapest first."""

    TICKER = "ticker"  # in the bulk ticker the ticker feed already polls: no request of its own
    BULK = "bulk"  # one call lists every symbol's
    PER_SYMBOL = "per_symbol"  # one call per symbol: paced across ``interval`` within a share of the budget


_ROUND_SHARE = 0.95  # of a PER_SYMBOL interval its round of requests takes: the rest is slack for latency


@dataclass(frozen=True, slots=True)
class OpenInterestFields:
    """How to read one side's open interest from a raw entry (a ticker's ``info``, or the call's answer).

    ``amount``: the size of one side and its unit (base coin or contracts); ``value``: the exchange's own USD
    value of it, where it publishes one (else size × the latest price); ``time``: the entry's own time (ms).
    ``call``: the ccxt method of a BULK or PER_SYMBOL source. A PER_SYMBOL source asks every symbol once per
    ``interval`` seconds, spaced so that it spends at most ``budget_share`` of the venue's weight budget
    (``cost`` units a request): more symbols than fit make the cadence longer, never the share larger.
    """

    source: OpenInterestSource
    amount: VolumeField
    value: str | None = None
    time: str | None = None
    call: str | None = None
    interval: float = 300.0
    budget_share: float = 0.05
    cost: float = 1.0

    def read(
        self, raw: Any, *, price: float | None, contract_size: float | None
    ) -> tuple[float, float] | None:
        """(base, usd) of one side, or None when a number is missing or not finite and ≥ 0."""
        amount = _number(_pick(raw, self.amount.key))
        if amount is None or amount < 0:
            return None
        if self.amount.unit is Unit.CONTRACTS:
            if contract_size is None or not (math.isfinite(contract_size) and contract_size > 0):
                return None
            amount *= contract_size
        elif self.amount.unit is not Unit.BASE:
            return None  # a size in quote currency is a value: say so with ``value``
        usd = _number(_pick(raw, self.value)) if self.value is not None else None
        if usd is None:
            if price is None or not (math.isfinite(price) and price > 0):
                return None
            usd = amount * price
        finite = math.isfinite(amount) and math.isfinite(usd)  # a huge size × size × price overflows
        return (amount, usd) if finite and usd >= 0 else None

    def time_ms(self, raw: Any) -> int | None:
        stamp = _number(_pick(raw, self.time)) if self.time is not None else None
        return int(stamp) if stamp is not None and stamp > 0 else None

    def spacing(self, budget: ExchangeBudget, symbols: int) -> float:
        """Seconds between two PER_SYMBOL requests: the round done in 95 % of ``interval`` (late answers and a
        busy loop then never leave a figure older than the interval), never faster than ``budget_share`` of
        the budget allows."""
        fastest = self.cost / (self.budget_share * budget.per_second)
        return max(self.interval * _ROUND_SHARE / max(symbols, 1), fastest)

    def cadence(self, budget: ExchangeBudget, symbols: int) -> float:
        """How old a PER_SYMBOL figure may get: the interval, or a longer round when the symbols do not fit
        in it within the budget share."""
        return max(self.interval, self.spacing(budget, symbols) * symbols)


@dataclass(frozen=True, slots=True)
class Venue:
    """One exchange, everything about it that the daemon must know (see each profile for sources)."""

    id: str  # ccxt id
    name: str  # display name in messages
    # -- markets ---------------------------------------------------------------------------------------------
    market_types: Any  # ccxt ``options['fetchMarkets']``: load only linear perpetuals
    markets_loader: str | None = None  # a ccxt method that loads only swaps, where the option is ignored
    # The keys of a market's raw ``info`` that ccxt still reads after loading (the rest is dropped: the raw
    # market lists were megabytes of the daemon's memory).
    market_info_kept: frozenset[str] = frozenset()
    # -- REST limits -----------------------------------------------------------------------------------------
    budget: ExchangeBudget = ExchangeBudget(units=20.0, window=2.0)  # per IP, in ccxt cost units
    endpoint_budget: ExchangeBudget | None = None  # per endpoint path as well (MEXC)
    request_cost: float | None = None  # every request costs this (the exchange counts requests, not weight)
    # One path serving many requests, each weighed by what it asks (Hyperliquid's POST /info by its "type").
    request_weight: RequestWeight | None = None
    funding_budget: ExchangeBudget | None = None  # a separate budget of the funding endpoints (requests)
    funding_paths: frozenset[str] = frozenset()
    weight_without_symbol: Mapping[str, float] = field(default_factory=dict)  # where ccxt undercounts
    rate_limits: tuple[RateLimitRule, ...] = ()
    error_code_field: str | None = None  # where the body's error code is ("retCode", "code")
    usage: Callable[[Mapping[str, str]], tuple[float, float] | None] = lambda headers: None
    # The usage headers describe one endpoint's window of this many seconds (Bybit: per second, per UID and
    # endpoint), not the per-IP weight: None when they describe the IP's weight (Binance).
    usage_endpoint_window: float | None = None
    streams_apart: bool = False  # streams on another host with their own limits: a REST ban leaves them be
    # -- data ------------------------------------------------------------------------------------------------
    ticker_volume: VolumeField | None = None  # 24h volume field of the raw ticker
    kline_volume: VolumeField | None = None  # quote volume in the raw kline row
    kline_base_unit: Unit = Unit.BASE  # what ccxt's OHLCV volume (index 5) counts
    kline_fields: tuple[str, str] | None = None  # (time field, volume field) of a column-wise kline answer
    ohlcv_needs_since: bool = False  # the kline endpoint has no limit: bound the answer by its start time
    candle_stream: CandleStream | None = None  # kline websocket (else REST polls after each close)
    funding_source: str = "fetch_funding_rates"  # the ccxt call that gives every symbol's funding
    funding_entries: FundingEntries = funding_rates  # its answer as funding entries by symbol
    funding_interval_field: str | None = None  # hours, in the raw funding/ticker entry (freshest source)
    funding_intervals_call: str | None = None  # a bulk call listing the intervals (refreshed hourly)
    funding_interval_call: str | None = None  # a per-symbol call giving the interval (refreshed hourly)
    funding_default_hours: float | None = None  # what the exchange documents for symbols not listed
    open_interest: OpenInterestFields | None = None  # one side's open interest, and where it comes from
    # -- liquidations ----------------------------------------------------------------------------------------
    liquidation_stream: LiquidationStream | None = None
    liquidation_parser: LiquidationParser | None = None
    liquidation_lower_bound: str = ""  # said in every cascade message when the stream is sampled
    taker_fee: float = 0.0005  # default (lowest tier) fee of a market order, as a fraction of notional
    maker_fee: float = 0.0002  # ... of a resting limit order; ``fee_source`` is the page they come from
    fee_source: str = ""

    @property
    def candles_streamed(self) -> bool:
        return self.candle_stream is not None

    def rate_limit(self, status: int, body: str | None) -> RateLimitRule | None:
        """The rule an answer matches (by HTTP status, else by the error code in a short JSON body)."""
        for rule in self.rate_limits:
            if rule.status is not None and rule.status == status:
                return rule
        if self.error_code_field is None or not body or len(body) > 2048:
            return None  # rate-limit answers are short; a bulk answer is never one
        codes = [rule for rule in self.rate_limits if rule.code is not None]
        if not codes or not body.lstrip().startswith("{"):
            return None
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        code = str(parsed.get(self.error_code_field)) if isinstance(parsed, dict) else None
        return next((rule for rule in codes if rule.code == code), None)

    def cost(self, path: str, params: Mapping[str, Any] | None, ccxt_cost: float) -> float:
        """ccxt's cost for a request, corrected where the exchange counts differently."""
        if self.request_weight is not None:
            weight = self.request_weight(path, params or {})
            if weight is not None:
                return weight
        if self.request_cost is not None:
            return self.request_cost
        if not (params or {}).get("symbol"):
            extra = self.weight_without_symbol.get(_path_key(path, self.weight_without_symbol))
            if extra is not None:
                return max(ccxt_cost, extra)
        return ccxt_cost

    def uses_funding_budget(self, path: str) -> bool:
        return self.funding_budget is not None and _path_key(path, self.funding_paths) in self.funding_paths


def _path_key(path: str, keys: Any) -> str:
    """``"fapi/v1/premiumIndex"`` → ``"premiumIndex"`` when that is one of ``keys``."""
    for key in keys:
        if path == key or path.endswith("/" + key):
            return str(key)
    return path


def _pick(raw: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return raw[key] if isinstance(raw, list | tuple) and len(raw) > key else None
    if isinstance(raw, dict):  # the usual case, before the slower ABC check
        return raw.get(key)
    return raw.get(key) if isinstance(raw, Mapping) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
