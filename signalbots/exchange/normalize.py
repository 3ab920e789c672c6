"""Raw exchange liquidation payloads → ``Liquidation`` events. Pure: no I/O, no clock.

The exchanges name the side differently, so each parser states its convention:

* Binance ``forceOrder`` — ``o.S`` is the liquidation *order's* side: SELL closes a long, so SELL = a long
  was liquidated. Notional = average price (``ap``, or ``p`` while ``ap`` is 0) × filled quantity ``z``.
* Bybit ``allLiquidation.<symbol>`` — ``S`` is the *position's* side: "When you receive a Buy update,
  this means that a long position has been liquidated". ``v`` is in base units (USD for inverse).
* OKX ``liquidation-orders`` — ``posSide`` long/short names the position; in one-way mode (``net``) the
  order side tells it: sell closes a long. ``sz`` is in contracts, times the contract size passed in.

Inverse contracts (``BTC/USD:BTC``: settled in the base asset) count size in USD, so the notional is
the size itself and the base quantity is derived from the price.

Every problem raises ``BadPayload`` naming the field; a symbol the mapper does not know raises its
subclass ``UnknownSymbol`` (reload the markets rather than blame the stream). Nothing else escapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from signalbots.errors import BadPayload
from signalbots.events import Liquidation, Side

SymbolMap = Mapping[str, str] | Callable[[str], str | None]
ContractSizes = Mapping[str, float] | Callable[[str], float | None]

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_TIME_MS = 32_503_680_000_000  # year 3000: anything later is a unit mistake, not a time


class UnknownSymbol(BadPayload):
    """The payload names a market the symbol map does not know (new listing, or markets not loaded)."""


def binance_force_order(payload: object, symbols: SymbolMap, *, received: float = 0.0) -> Liquidation:
    """One ``forceOrder`` event (bare, or wrapped as ``{"stream": ..., "data": {...}}``)."""
    ctx = "binance forceOrder"
    if isinstance(payload, Mapping) and "data" in payload and "o" not in payload:
        payload = payload["data"]
    top = _mapping(payload, ctx, "payload")
    order = _mapping(top.get("o"), ctx, "o")
    symbol = _symbol(symbols, _text(order, "s", ctx, "o."), ctx, "o.s")
    side_raw = _text(order, "S", ctx, "o.").upper()
    if side_raw not in ("SELL", "BUY"):
        raise BadPayload(f"{ctx}: field 'o.S' must be SELL or BUY, got {_show(side_raw)}")
    avg = _number(order, "ap", ctx, "o.", allow_zero=True)
    price = avg if avg > 0 else _number(order, "p", ctx, "o.")
    quantity = _number(order, "z", ctx, "o.")
    time_ms = _time(order, "T", ctx, "o.") if "T" in order else _time(top, "E", ctx, "")
    return _build(
        "binanceusdm",
        symbol,
        time_ms,
        Side.LONG if side_raw == "SELL" else Side.SHORT,
        price,
        quantity,
        received,
        ctx,
    )


def bybit_liquidation(item: object, symbols: SymbolMap, *, received: float = 0.0) -> Liquidation:
    """One element of an ``allLiquidation.<symbol>`` message's ``data`` list."""
    ctx = "bybit allLiquidation"
    data = _mapping(item, ctx, "data[]")
    symbol = _symbol(symbols, _text(data, "s", ctx, ""), ctx, "s")
    side_raw = _text(data, "S", ctx, "")
    if side_raw not in ("Buy", "Sell"):
        raise BadPayload(f"{ctx}: field 'S' must be Buy or Sell, got {_show(side_raw)}")
    return _build(
        "bybit",
        symbol,
        _time(data, "T", ctx, ""),
        Side.LONG if side_raw == "Buy" else Side.SHORT,
        _number(data, "p", ctx, ""),
        _number(data, "v", ctx, ""),
        received,
        ctx,
    )


def bybit_liquidations(message: object, symbols: SymbolMap, *, received: float = 0.0) -> list[Liquidation]:
    """A whole ``allLiquidation.<symbol>`` message: ``{"topic": ..., "data": [...]}``."""
    msg = _mapping(message, "bybit allLiquidation", "message")
    data = msg.get("data")
    items = [data] if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise BadPayload("bybit allLiquidation: field 'data' is missing or not a list")
    return [bybit_liquidation(item, symbols, received=received) for item in items]


def okx_liquidations(
    item: object, symbols: SymbolMap, contract_sizes: ContractSizes, *, received: float = 0.0
) -> list[Liquidation]:
    """One element of a ``liquidation-orders`` push's ``data`` list (one instrument, many details)."""
    ctx = "okx liquidation-orders"
    data = _mapping(item, ctx, "data[]")
    inst_id = _text(data, "instId", ctx, "")
    symbol = _symbol(symbols, inst_id, ctx, "instId")
    size = _lookup(contract_sizes, inst_id)
    if size is None:
        raise UnknownSymbol(f"{ctx}: no contract size for instId {_show(inst_id)}")
    contract_size = _number({"size": size}, "size", ctx, "contract ")
    details = data.get("details")
    if not isinstance(details, list):
        raise BadPayload(f"{ctx}: field 'details' is missing or not a list")
    out = []
    for i, raw in enumerate(details):
        where = f"details[{i}]."
        d = _mapping(raw, ctx, where[:-1])
        pos_side = _text(d, "posSide", ctx, where).lower()
        order_side = _text(d, "side", ctx, where).lower()
        if pos_side in ("long", "short"):
            side = Side.LONG if pos_side == "long" else Side.SHORT
        elif pos_side == "net" and order_side in ("buy", "sell"):
            side = Side.LONG if order_side == "sell" else Side.SHORT
        else:
            raise BadPayload(
                f"{ctx}: fields '{where}posSide'/'{where}side' do not name a side "
                f"({_show(pos_side)}/{_show(order_side)})"
            )
        contracts = _number(d, "sz", ctx, where)
        out.append(
            _build(
                "okx",
                symbol,
                _time(d, "ts", ctx, where),
                side,
                _number(d, "bkPx", ctx, where),
                contracts * contract_size,
                received,
                ctx,
            )
        )
    return out


def _build(
    exchange: str,
    symbol: str,
    time_ms: int,
    side: Side,
    price: float,
    size: float,
    received: float,
    ctx: str,
) -> Liquidation:
    """``size`` is base units for linear contracts, quote (USD) units for inverse ones."""
    if _is_inverse(symbol):
        notional, quantity = size, size / price
    else:
        notional, quantity = price * size, size
    if not (math.isfinite(notional) and notional > 0 and math.isfinite(quantity) and quantity > 0):
        raise BadPayload(f"{ctx}: price × size is not a positive finite notional")
    return Liquidation(
        exchange=exchange,
        symbol=symbol,
        time_ms=time_ms,
        side=side,
        price=price,
        quantity=quantity,
        notional_usd=notional,
        received=received,
    )


def _is_inverse(symbol: str) -> bool:
    base, _, rest = symbol.partition("/")
    _, _, settle = rest.partition(":")
    return bool(settle) and settle == base


def _lookup(table: Mapping[str, Any] | Callable[[str], Any], key: str) -> Any:
    if isinstance(table, Mapping):
        return table.get(key)
    try:
        return table(key)
    except KeyError:
        return None


def _symbol(symbols: SymbolMap, raw: str, ctx: str, field: str) -> str:
    unified = _lookup(symbols, raw)
    if not isinstance(unified, str) or not unified:
        raise UnknownSymbol(f"{ctx}: field '{field}' names an unknown market {_show(raw)}")
    return unified


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _mapping(value: object, ctx: str, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadPayload(f"{ctx}: field '{field}' is missing or not an object")
    return value


def _text(obj: Mapping[str, Any], name: str, ctx: str, prefix: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise BadPayload(f"{ctx}: field '{prefix}{name}' is missing or not a string")
    return value


def _number(obj: Mapping[str, Any], name: str, ctx: str, prefix: str, *, allow_zero: bool = False) -> float:
    value = obj.get(name)
    field = f"{prefix}{name}"
    if value is None:
        raise BadPayload(f"{ctx}: field '{field}' is missing")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not (numeric or (isinstance(value, str) and _DECIMAL.fullmatch(value.strip()))):
        raise BadPayload(f"{ctx}: field '{field}' is not a number: {_show(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise BadPayload(f"{ctx}: field '{field}' is out of range") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise BadPayload(f"{ctx}: field '{field}' must be a positive finite number, got {_show(value)}")
    return number


def _time(obj: Mapping[str, Any], name: str, ctx: str, prefix: str) -> int:
    value = obj.get(name)
    field = f"{prefix}{name}"
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        ms = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        ms = int(value)
    else:
        raise BadPayload(f"{ctx}: field '{field}' is missing or not a millisecond timestamp: {_show(value)}")
    if not 0 < ms < _MAX_TIME_MS:
        raise BadPayload(f"{ctx}: field '{field}' is out of range: {_show(value)}")
    return ms
