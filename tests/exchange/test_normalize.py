"""Exchange liquidation payloads → Liquidation events: side conventions, notional, and refusal of junk."""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalbots.errors import BadPayload
from signalbots.events import Liquidation, Side
from signalbots.exchange.normalize import (
    UnknownSymbol,
    binance_force_order,
    bybit_liquidation,
    bybit_liquidations,
    okx_liquidations,
)

SYMBOLS = {
    "BTCUSDT": "BTC/USDT:USDT",
    "ROSEUSDT": "ROSE/USDT:USDT",
    "BTC-USDT-SWAP": "BTC/USDT:USDT",
    "BTC-USD-SWAP": "BTC/USD:BTC",
}
CONTRACT_SIZES = {"BTC-USDT-SWAP": 0.01, "BTC-USD-SWAP": 100.0}

# Binance's documented example (All Market Liquidation Order Streams)
BINANCE = {
    "e": "forceOrder",
    "E": 1568014460893,
    "o": {
        "s": "BTCUSDT",
        "S": "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": "0.014",
        "p": "9910",
        "ap": "9910",
        "X": "FILLED",
        "l": "0.014",
        "z": "0.014",
        "T": 1568014460893,
    },
}
BYBIT = {"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}
OKX = {
    "instId": "BTC-USDT-SWAP",
    "instType": "SWAP",
    "instFamily": "BTC-USDT",
    "uly": "BTC-USDT",
    "details": [
        {
            "bkLoss": "0",
            "bkPx": "60000",
            "ccy": "",
            "posSide": "long",
            "side": "sell",
            "sz": "30",
            "ts": "1723892524781",
        }
    ],
}


def _with(payload: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = out
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return out


_DROP = object()


# --- Binance ----------------------------------------------------------------------------------


def test_binance_sell_means_a_long_was_liquidated() -> None:
    liq = binance_force_order(BINANCE, SYMBOLS, received=12.5)
    assert liq == Liquidation(
        exchange="binanceusdm",
        symbol="BTC/USDT:USDT",
        time_ms=1568014460893,
        side=Side.LONG,
        price=9910.0,
        quantity=0.014,
        notional_usd=pytest.approx(138.74),  # type: ignore[arg-type]
        received=12.5,
    )
    assert binance_force_order(_with(BINANCE, "o.S", "BUY"), SYMBOLS).side is Side.SHORT


def test_binance_notional_uses_the_average_price_and_the_filled_quantity() -> None:
    payload = _with(_with(BINANCE, "o.ap", "9900"), "o.q", "1.0")
    assert binance_force_order(payload, SYMBOLS).notional_usd == pytest.approx(9900 * 0.014)
    assert binance_force_order(_with(BINANCE, "o.ap", "0"), SYMBOLS).price == 9910.0  # not yet averaged


def test_binance_combined_stream_envelope_is_unwrapped() -> None:
    wrapped = {"stream": "!forceOrder@arr", "data": BINANCE}
    assert binance_force_order(wrapped, SYMBOLS) == binance_force_order(BINANCE, SYMBOLS)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("o.s", _DROP, "o.s"),
        ("o.S", "SIDEWAYS", "o.S"),
        ("o.z", "NaN", "o.z"),
        ("o.z", "0", "o.z"),
        ("o.z", "-0.014", "o.z"),
        ("o.ap", "abc", "o.ap"),
        ("o.ap", "0", None),  # falls back to p: fine
        ("o.T", "yesterday", "o.T"),
        ("o", [1, 2], "o"),
    ],
)
def test_binance_bad_fields_are_named(path: str, value: object, field: str | None) -> None:
    payload = _with(BINANCE, path, value)
    if field is None:
        binance_force_order(payload, SYMBOLS)
        return
    with pytest.raises(BadPayload, match=f"'{field}'"):
        binance_force_order(payload, SYMBOLS)


def test_binance_zero_average_and_zero_price_is_refused() -> None:
    with pytest.raises(BadPayload, match=r"'o\.p'"):
        binance_force_order(_with(_with(BINANCE, "o.ap", "0"), "o.p", "0"), SYMBOLS)


def test_an_unknown_symbol_is_its_own_error() -> None:
    with pytest.raises(UnknownSymbol, match="NEWUSDT"):
        binance_force_order(_with(BINANCE, "o.s", "NEWUSDT"), SYMBOLS)
    with pytest.raises(UnknownSymbol):
        binance_force_order(BINANCE, lambda raw: None)
    assert binance_force_order(BINANCE, lambda raw: SYMBOLS[raw]).symbol == "BTC/USDT:USDT"
    with pytest.raises(UnknownSymbol):  # a callable raising KeyError counts as unknown too
        binance_force_order(_with(BINANCE, "o.s", "NEWUSDT"), lambda raw: SYMBOLS[raw])


# --- Bybit ------------------------------------------------------------------------------------


def test_bybit_buy_means_a_long_was_liquidated() -> None:
    sell = bybit_liquidation(BYBIT, SYMBOLS)
    assert (sell.exchange, sell.symbol, sell.side) == ("bybit", "ROSE/USDT:USDT", Side.SHORT)
    assert sell.notional_usd == pytest.approx(20000 * 0.04499)
    assert sell.time_ms == 1739502302929
    assert bybit_liquidation(_with(BYBIT, "S", "Buy"), SYMBOLS).side is Side.LONG


def test_bybit_whole_message() -> None:
    message = {
        "topic": "allLiquidation.ROSEUSDT",
        "type": "snapshot",
        "ts": 1,
        "data": [BYBIT, _with(BYBIT, "S", "Buy")],
    }
    assert [x.side for x in bybit_liquidations(message, SYMBOLS)] == [Side.SHORT, Side.LONG]
    with pytest.raises(BadPayload, match="'data'"):
        bybit_liquidations({"topic": "allLiquidation.ROSEUSDT"}, SYMBOLS)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [("S", "buy", "S"), ("v", "inf", "v"), ("p", "", "p"), ("p", True, "p"), ("T", -5, "T"), ("s", 7, "s")],
)
def test_bybit_bad_fields_are_named(path: str, value: object, field: str) -> None:
    with pytest.raises(BadPayload, match=f"'{field}'"):
        bybit_liquidation(_with(BYBIT, path, value), SYMBOLS)


# --- OKX --------------------------------------------------------------------------------------


def test_okx_size_is_in_contracts() -> None:
    (liq,) = okx_liquidations(OKX, SYMBOLS, CONTRACT_SIZES)
    assert (liq.exchange, liq.symbol, liq.side) == ("okx", "BTC/USDT:USDT", Side.LONG)
    assert liq.quantity == pytest.approx(0.3)  # 30 contracts × 0.01 BTC
    assert liq.notional_usd == pytest.approx(18_000.0)
    assert liq.time_ms == 1723892524781


@pytest.mark.parametrize(
    ("pos_side", "side", "liquidated"),
    [
        ("long", "sell", Side.LONG),
        ("short", "buy", Side.SHORT),
        ("net", "sell", Side.LONG),  # one-way mode: selling closes a long
        ("net", "buy", Side.SHORT),
    ],
)
def test_okx_side_conventions(pos_side: str, side: str, liquidated: Side) -> None:
    payload = _with(_with(OKX, "details.0.posSide", pos_side), "details.0.side", side)
    assert [x.side for x in okx_liquidations(payload, SYMBOLS, CONTRACT_SIZES)] == [liquidated]


def test_okx_inverse_contracts_are_sized_in_usd() -> None:
    payload = _with(_with(OKX, "instId", "BTC-USD-SWAP"), "details.0.sz", "5")
    (liq,) = okx_liquidations(payload, SYMBOLS, CONTRACT_SIZES)
    assert liq.notional_usd == pytest.approx(500.0)  # 5 contracts × $100
    assert liq.quantity == pytest.approx(500.0 / 60000.0)


def test_okx_errors() -> None:
    with pytest.raises(BadPayload, match=r"'details\[0\]\.posSide'"):
        okx_liquidations(_with(OKX, "details.0.posSide", "net-ish"), SYMBOLS, CONTRACT_SIZES)
    with pytest.raises(BadPayload, match=r"'details\[0\]\.bkPx'"):
        okx_liquidations(_with(OKX, "details.0.bkPx", "nan"), SYMBOLS, CONTRACT_SIZES)
    with pytest.raises(UnknownSymbol, match="contract size"):
        okx_liquidations(OKX, SYMBOLS, {})
    with pytest.raises(BadPayload, match="'details'"):
        okx_liquidations(_with(OKX, "details", _DROP), SYMBOLS, CONTRACT_SIZES)
    assert okx_liquidations(_with(OKX, "details", []), SYMBOLS, CONTRACT_SIZES) == []


# --- properties -------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**400)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        ["0", "-1", "NaN", "1e999", "0.5", " 7 ", "1_000", "١٢", "BTCUSDT", "Buy", "long", "net", "sell"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _mutated(template: dict[str, Any], paths: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(st.tuples(st.sampled_from(paths), st.just(_DROP) | _json), max_size=3).map(
        lambda edits: _apply(template, edits)
    )


def _apply(template: dict[str, Any], edits: list[tuple[str, object]]) -> dict[str, Any]:
    out = template
    for path, value in edits:
        # an earlier edit may have removed or replaced the parent: then keep what we have
        with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
            out = _with(out, path, value)
    return out


def _valid(liq: Liquidation) -> bool:
    return (
        isinstance(liq.side, Side)
        and liq.time_ms > 0
        and all(math.isfinite(v) and v > 0 for v in (liq.price, liq.quantity, liq.notional_usd))
        and liq.symbol in SYMBOLS.values()
    )


_BINANCE_PATHS = ["e", "E", "o", "o.s", "o.S", "o.q", "o.p", "o.ap", "o.z", "o.T"]
_BYBIT_PATHS = ["T", "s", "S", "v", "p"]
_OKX_PATHS = [
    "instId",
    "details",
    "details.0",
    "details.0.bkPx",
    "details.0.sz",
    "details.0.side",
    "details.0.posSide",
    "details.0.ts",
]


@settings(max_examples=300, deadline=None)
@given(payload=_json | _mutated(BINANCE, _BINANCE_PATHS))
def test_binance_parses_or_refuses_cleanly(payload: Any) -> None:
    try:
        liq = binance_force_order(payload, SYMBOLS)
    except BadPayload:
        return
    assert _valid(liq)


@settings(max_examples=300, deadline=None)
@given(payload=_json | _mutated(BYBIT, _BYBIT_PATHS))
def test_bybit_parses_or_refuses_cleanly(payload: Any) -> None:
    try:
        liq = bybit_liquidation(payload, SYMBOLS)
    except BadPayload:
        return
    assert _valid(liq)


@settings(max_examples=300, deadline=None)
@given(
    payload=_json | _mutated(OKX, _OKX_PATHS),
    sizes=st.just(CONTRACT_SIZES) | st.dictionaries(st.just("BTC-USDT-SWAP"), _json),
)
def test_okx_parses_or_refuses_cleanly(payload: Any, sizes: Any) -> None:
    try:
        out = okx_liquidations(payload, SYMBOLS, sizes)
    except BadPayload:
        return
    assert all(_valid(liq) for liq in out)
