"""The simulators answer like the real exchanges: for every real-payload fixture in ``tests/fixtures/wire``,
the simulator's answer to the same endpoint or topic has the same keys, the same JSON types (a decimal string
stays a decimal string, ``""`` stays ``""``, a number stays a number) and the same units (contracts vs base vs
quote, checked as ratios against the contract size and the price range). A fixture the simulator does not
serve is listed with the reason, and the simulator is shown to refuse it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signalbots.clock import ManualClock
from signalbots.events import Side
from signalbots.sim.exchange import ExchangeSim
from signalbots.sim.market import Market

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wire"
START = 1_700_000_000.0
ALL = ("binanceusdm", "bybit", "okx", "mexc", "hyperliquid")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def fixture(exchange: str, name: str) -> Any:
    return json.loads((FIXTURES / exchange / name).read_text())


# -- shapes --------------------------------------------------------------------------------------------------


def kind(value: Any) -> str:
    """The JSON type as a consumer sees it; decimal strings and "" are their own kinds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "empty" if value == "" else "decimal" if _DECIMAL.match(value) else "text"
    return type(value).__name__


@dataclass
class Shape:
    """Scalar kinds seen at one place, keys of the objects seen there, and the shapes below them."""

    kinds: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None  # list elements (all merged)
    columns: dict[int, Shape] = field(default_factory=dict)  # rows: list elements that are lists

    def add(self, value: Any) -> Shape:
        if isinstance(value, dict):
            self.kinds.add("object")
            for k, v in value.items():
                self.keys.setdefault(k, Shape()).add(v)
        elif isinstance(value, list):
            self.kinds.add("list")
            for item in value:
                if isinstance(item, list):
                    for i, cell in enumerate(item):
                        self.columns.setdefault(i, Shape()).add(cell)
                else:
                    self.items = (self.items or Shape()).add(item)
        else:
            self.kinds.add(kind(value))
        return self


def shape(value: Any) -> Shape:
    return Shape().add(value)


def differences(real: Shape, sim: Shape, path: str = "$", ignore: frozenset[str] = frozenset()) -> list[str]:
    """Where the simulator's shape departs from the real one (keys missing or extra, kinds never seen)."""
    if path in ignore:
        return []
    out = []
    extra_kinds = sim.kinds - real.kinds
    if extra_kinds:
        out.append(f"{path}: simulator sends {sorted(extra_kinds)}, the exchange {sorted(real.kinds)}")
    if "object" in real.kinds and "object" in sim.kinds:
        for k in sorted(set(real.keys) - set(sim.keys)):
            if f"{path}.{k}" not in ignore:
                out.append(f"{path}.{k}: missing in the simulator")
        for k in sorted(set(sim.keys) - set(real.keys)):
            if f"{path}.{k}" not in ignore:
                out.append(f"{path}.{k}: the exchange does not send it")
        for k in sorted(set(real.keys) & set(sim.keys)):
            out += differences(real.keys[k], sim.keys[k], f"{path}.{k}", ignore)
    if real.items is not None and sim.items is not None:
        out += differences(real.items, sim.items, f"{path}[]", ignore)
    if real.columns and sim.columns:
        if len(real.columns) != len(sim.columns):
            out.append(f"{path}: rows of {len(sim.columns)} columns, the exchange's have {len(real.columns)}")
        for i in sorted(set(real.columns) & set(sim.columns)):
            out += differences(real.columns[i], sim.columns[i], f"{path}[][{i}]", ignore)
    return out


def assert_same_shape(real: Any, sim: Any, ignore: frozenset[str] = frozenset()) -> None:
    problems = differences(shape(real), shape(sim), ignore=ignore)
    assert not problems, "\n".join(problems)


# -- units ---------------------------------------------------------------------------------------------------


def within(value: float, low: float, high: float, slack: float = 0.01) -> bool:
    return low * (1 - slack) <= value <= high * (1 + slack)


# -- the simulator -------------------------------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[ExchangeSim]:
    clock = ManualClock(start=START)
    market = Market(clock=clock, seed=11, symbols=16, exchanges=ALL)
    async with ExchangeSim(market=market, clock=clock, exchanges=ALL) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def rest(
    http: aiohttp.ClientSession, sim: ExchangeSim, exchange: str, path: str, **params: str
) -> tuple[int, Any]:
    async with http.get(sim.rest_url(exchange) + path, params=params) as resp:
        return resp.status, json.loads(await resp.text())


async def frame(
    http: aiohttp.ClientSession,
    sim: ExchangeSim,
    exchange: str,
    path: str,
    subscribe: dict[str, Any],
    wanted: Callable[[Any], bool],
    before: Callable[[], None] = lambda: None,
) -> Any:
    """The first frame ``wanted`` accepts after subscribing (the sim clock moves one second at a time)."""
    async with http.ws_connect(sim.ws_url(exchange) + path) as ws:
        await ws.send_json(subscribe)
        await ws.receive_json(timeout=5)  # the acknowledgement
        before()
        for _ in range(30):
            sim.clock.advance(1)
            while True:
                try:
                    msg = await ws.receive_json(timeout=0.5)
                except TimeoutError:
                    break
                if wanted(msg):
                    return msg
    raise AssertionError(f"{exchange}: no frame for {subscribe}")


# -- binanceusdm ---------------------------------------------------------------------------------------------


async def test_binance_exchange_info(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("binanceusdm", "rest/exchangeInfo.json")
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/exchangeInfo")
    assert status == 200
    perpetuals = [s for s in got["symbols"] if s["contractType"] == "PERPETUAL"]
    # the capture keeps only rateLimits and two symbols: the other top-level keys were not recorded
    assert_same_shape(real["rateLimits"], got["rateLimits"])
    assert_same_shape(real["symbols"], perpetuals)


async def test_binance_premium_index_lists_delivery_contracts_like_binance(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("binanceusdm", "rest/premiumIndex.json")
    with_delivery = fixture("binanceusdm", "rest/premiumIndex_with_delivery.json")
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/premiumIndex")
    assert status == 200
    perpetual = [e for e in got if "_" not in e["symbol"]]
    delivery = [e for e in got if "_" in e["symbol"]]
    assert_same_shape(real, perpetual)
    assert delivery, "Binance's bulk premiumIndex also lists delivery contracts"
    real_delivery = [e for e in with_delivery if e["nextFundingTime"] == 0]
    # COIN-M entries carry "pair"; USDⓈ-M entries (the capture above) do not
    assert_same_shape(real_delivery, delivery, ignore=frozenset({"$[].pair"}))
    assert all(re.fullmatch(r"[A-Z0-9]+USDT_\d{6}", e["symbol"]) for e in delivery)


async def test_binance_funding_info(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.market.set_funding("binanceusdm", "SOL", 0.0001, interval_hours=4)
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/fundingInfo")
    assert status == 200
    assert_same_shape(fixture("binanceusdm", "rest/fundingInfo.json"), got)


async def test_binance_ticker_24hr(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("binanceusdm", "rest/ticker_24hr.json")
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/ticker/24hr")
    assert status == 200
    # ccxt's example prints openTime/closeTime/firstId/lastId/count as strings; Binance sends numbers
    # (its OpenAPI schema: int64), so those five kinds are not compared
    stringified = frozenset(f"$[].{k}" for k in ("openTime", "closeTime", "firstId", "lastId", "count"))
    assert_same_shape(real, got, ignore=stringified)
    assert all(isinstance(t[k], int) for t in got for k in ("openTime", "closeTime", "count"))
    for t in [*real, *got]:  # quoteVolume is quote: divided by the base volume it is a price of the day
        assert within(
            float(t["quoteVolume"]) / float(t["volume"]), float(t["lowPrice"]), float(t["highPrice"])
        )


async def test_binance_klines(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("binanceusdm", "rest/klines.json")
    status, got = await rest(
        http, sim, "binanceusdm", "/fapi/v1/klines", symbol="BTCUSDT", interval="5m", limit="5"
    )
    assert status == 200
    assert_same_shape(real, got)
    for row in [*real, *got[:-1]]:  # index 7 is the quote volume
        assert within(float(row[7]) / float(row[5]), float(row[3]), float(row[2]))


async def test_binance_kline_stream(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("binanceusdm", "ws/kline.json")
    got = await frame(
        http,
        sim,
        "binanceusdm",
        "/ws",
        {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1},
        lambda m: m.get("e") == "kline",
    )
    assert_same_shape(real, got)
    for k in (real["k"], got["k"]):
        assert within(float(k["q"]) / float(k["v"]), float(k["l"]), float(k["h"]))


async def test_binance_liquidation_stream(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    got = await frame(
        http,
        sim,
        "binanceusdm",
        "/ws",
        {"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 1},
        lambda m: m.get("e") == "forceOrder",
        lambda: sim.market.liquidate("binanceusdm", "BTC", Side.SHORT, notional_usd=5e5),
    )
    assert_same_shape(fixture("binanceusdm", "ws/forceOrder.json"), got)


async def test_binance_rate_limit_and_ban_answers(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.inject("binanceusdm", "rate_limit", path="/ticker/24hr")
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/ticker/24hr")
    assert status == 429
    assert_same_shape(fixture("binanceusdm", "errors/rate_limit_429.json"), got)
    sim.inject("binanceusdm", "ban", path="/ticker/24hr", retry_after=60)
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/ticker/24hr")
    assert status == 418
    assert_same_shape(fixture("binanceusdm", "errors/ban_418.json"), got)


# -- bybit ---------------------------------------------------------------------------------------------------


async def test_bybit_instruments(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    status, got = await rest(http, sim, "bybit", "/v5/market/instruments-info", category="linear")
    assert status == 200
    assert_same_shape(fixture("bybit", "rest/instruments_linear.json"), got)


async def test_bybit_tickers_carry_the_funding_interval(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("bybit", "rest/tickers_linear.json")
    status, got = await rest(http, sim, "bybit", "/v5/market/tickers", category="linear")
    assert status == 200
    # the capture stops after "result" (retExtInfo and time were not recorded)
    assert_same_shape(real["result"], got["result"])
    assert {t["fundingIntervalHour"] for t in real["result"]["list"]} == {"4", "8"}
    for t in [*real["result"]["list"], *got["result"]["list"]]:  # turnover24h is quote, volume24h base
        price = float(t["turnover24h"]) / float(t["volume24h"])
        assert within(price, float(t["lowPrice24h"]), float(t["highPrice24h"]))


async def test_bybit_klines(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("bybit", "rest/kline_inverse.json")
    status, got = await rest(
        http, sim, "bybit", "/v5/market/kline", category="linear", symbol="BTCUSDT", interval="5", limit="5"
    )
    assert status == 200
    # same columns and kinds; the fixture is inverse (volume in USD contracts, turnover in BTC), so the
    # linear units are checked on the websocket frame below
    assert_same_shape(real, got, ignore=frozenset({"$.result.category"}))
    for row in got["result"]["list"][1:]:
        assert within(float(row[6]) / float(row[5]), float(row[3]), float(row[2]))


async def test_bybit_kline_stream(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("bybit", "ws/kline_linear.json")
    got = await frame(
        http,
        sim,
        "bybit",
        "/v5/public/linear",
        {"op": "subscribe", "req_id": "1", "args": ["kline.1.BTCUSDT"]},
        lambda m: str(m.get("topic", "")).startswith("kline."),
    )
    assert_same_shape(real, got)
    for k in [*real["data"], *got["data"]]:  # turnover is quote
        assert within(float(k["turnover"]) / float(k["volume"]), float(k["low"]), float(k["high"]))


async def test_bybit_liquidation_stream(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    got = await frame(
        http,
        sim,
        "bybit",
        "/v5/public/linear",
        {"op": "subscribe", "req_id": "1", "args": ["allLiquidation.BTCUSDT"]},
        lambda m: str(m.get("topic", "")).startswith("allLiquidation."),
        lambda: sim.market.liquidate("bybit", "BTC", Side.LONG, notional_usd=5e5),
    )
    assert_same_shape(fixture("bybit", "ws/allLiquidation.json"), got)


async def test_bybit_ticker_stream_is_not_served(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    """The daemon reads Bybit tickers over REST, so the simulator has no ticker stream; it refuses the topic
    as Bybit refuses unknown ones."""
    topic = fixture("bybit", "ws/ticker_linear.json")["topic"]
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "1", "args": [topic]})
        ack = await ws.receive_json(timeout=5)
    assert ack["success"] is False and "tickers.BTCUSDT" in ack["ret_msg"]


async def test_bybit_rate_limit_answer(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.inject("bybit", "rate_limit", path="/tickers")
    status, got = await rest(http, sim, "bybit", "/v5/market/tickers", category="linear")
    assert status == 200
    assert_same_shape(fixture("bybit", "errors/rate_limit_10006.json"), got)
    assert got["retCode"] == 10006


# -- okx -----------------------------------------------------------------------------------------------------


async def test_okx_instruments(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    status, got = await rest(http, sim, "okx", "/api/v5/public/instruments", instType="SWAP")
    assert status == 200
    real = fixture("okx", "rest/instruments_swap.data.json")
    assert_same_shape(real, got["data"])
    assert {i["ctType"] for i in got["data"]} == {i["ctType"] for i in real}  # linear and inverse swaps


async def test_okx_tickers_count_contracts_in_vol24h_and_base_in_volccy24h(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("okx", "rest/tickers_swap.json")
    real_ct = {i["instId"]: float(i["ctVal"]) for i in fixture("okx", "rest/instruments_swap.data.json")}
    status, got = await rest(http, sim, "okx", "/api/v5/market/tickers", instType="SWAP")
    assert status == 200
    _, instruments = await rest(http, sim, "okx", "/api/v5/public/instruments", instType="SWAP")
    sim_ct = {i["instId"]: (i["ctType"], float(i["ctVal"])) for i in instruments["data"]}
    assert_same_shape(real, got)
    checked = 0
    for t in real["data"]:
        if t["instId"] in real_ct and t["instId"].endswith("-USDT-SWAP"):
            assert float(t["volCcy24h"]) == pytest.approx(float(t["vol24h"]) * real_ct[t["instId"]])
            checked += 1
    assert checked >= 3
    for t in got["data"]:
        ct_type, ct_val = sim_ct[t["instId"]]
        if ct_type == "linear":
            assert float(t["volCcy24h"]) == pytest.approx(
                float(t["vol24h"]) * ct_val, rel=1e-3, abs=1e-3 * ct_val
            )
        else:  # inverse: contracts worth ct_val USD each, volCcy24h in the base coin
            usd = float(t["vol24h"]) * ct_val
            assert usd == pytest.approx(float(t["volCcy24h"]) * float(t["last"]), rel=0.05)
    assert any(sim_ct[t["instId"]][0] == "inverse" for t in got["data"])


async def test_okx_funding_rate_any_lists_inverse_and_xperp_contracts(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    status, got = await rest(http, sim, "okx", "/api/v5/public/funding-rate", instId="ANY")
    assert status == 200
    _, one = await rest(http, sim, "okx", "/api/v5/public/funding-rate", instId="BTC-USDT-SWAP")
    assert_same_shape(fixture("okx", "rest/funding_rate.json"), one)
    ids = [e["instId"] for e in got["data"]]
    assert any(i.endswith("-USD-SWAP") for i in ids)  # inverse swaps (fixture funding_rate_any_inverse)
    assert any("XPERP" in i for i in ids)  # extended perpetual futures that pay funding (ccxt names them)
    old = fixture("okx", "rest/funding_rate_any_inverse.json")["data"][0]
    inverse = next(e for e in got["data"] if e["instId"].endswith("-USD-SWAP"))
    assert set(old) <= set(inverse)  # an older, shorter shape of the same entry
    assert_same_shape(fixture("okx", "rest/funding_rate.json")["data"], got["data"])


async def test_okx_candles_carry_contracts_base_and_quote(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    status, got = await rest(
        http, sim, "okx", "/api/v5/market/candles", instId="ETH-USDT-SWAP", bar="5m", limit="5"
    )
    assert status == 200
    assert_same_shape(fixture("okx", "rest/candles.data.json"), got["data"])
    ct_val = sim.market.listing("okx", "ETH").contract_size
    for row in got["data"][1:]:  # the fixture's numbers are not self-consistent: units checked on the sim
        vol, base, quote = float(row[5]), float(row[6]), float(row[7])
        assert base == pytest.approx(vol * ct_val, rel=1e-3, abs=ct_val)
        assert within(quote / base, float(row[3]), float(row[2]))


def _to_minute_end(sim: ExchangeSim) -> None:
    """Two seconds before the open minute closes (``frame`` then moves the clock a second at a time)."""
    sim.clock.advance(58 - sim.clock.time() % 60)


async def test_okx_candle_stream_on_the_business_websocket(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("okx", "ws/candle.json")
    closed = await frame(
        http,
        sim,
        "okx",
        "/ws/v5/business",
        {"op": "subscribe", "args": [{"channel": "candle1m", "instId": "ETH-USDT-SWAP"}]},
        lambda m: "data" in m and m["data"][0][8] == "1",  # the final state of a closed candle
        lambda: _to_minute_end(sim),
    )
    assert_same_shape(real, closed)
    ct_val = sim.market.listing("okx", "ETH").contract_size
    [row] = closed["data"]  # [ts, o, h, l, c, vol (contracts), volCcy (base), volCcyQuote (quote), confirm]
    vol, base, quote = float(row[5]), float(row[6]), float(row[7])
    assert base == pytest.approx(vol * ct_val, rel=1e-3, abs=ct_val)
    assert within(quote / base, float(row[3]), float(row[2]))
    [real_row] = real["data"]  # the documentation's numbers: the same ratios
    assert within(float(real_row[7]) / float(real_row[6]), float(real_row[3]), float(real_row[2]))
    assert float(real_row[6]) == pytest.approx(float(real_row[5]) * 0.001)


async def test_okx_candles_are_refused_on_the_public_websocket(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    """OKX serves candle channels on ``/ws/v5/business`` only (as ccxt.pro subscribes them)."""
    async with http.ws_connect(sim.ws_url("okx") + "/ws/v5/public") as ws:
        await ws.send_json({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "ETH-USDT-SWAP"}]})
        answer = await ws.receive_json(timeout=5)
    assert answer["event"] == "error" and answer["code"] == "60018"


async def test_bybit_kline_stream_confirms_a_closed_candle(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    got = await frame(
        http,
        sim,
        "bybit",
        "/v5/public/linear",
        {"op": "subscribe", "req_id": "1", "args": ["kline.1.BTCUSDT"]},
        lambda m: any(k.get("confirm") is True for k in m.get("data", []) if isinstance(k, dict)),
        lambda: _to_minute_end(sim),
    )
    assert_same_shape(fixture("bybit", "ws/kline_linear.json"), got)
    final = next(k for k in got["data"] if k["confirm"] is True)
    assert final["end"] == final["start"] + 59_999  # the whole minute, closed


async def test_okx_liquidation_stream(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    got = await frame(
        http,
        sim,
        "okx",
        "/ws/v5/public",
        {"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]},
        lambda m: "data" in m,
        lambda: sim.market.liquidate("okx", "ETH", Side.LONG, notional_usd=5e5, price=3000.0),
    )
    assert_same_shape(fixture("okx", "ws/liquidation_orders.json"), got)
    detail = got["data"][0]["details"][0]
    ct_val = sim.market.listing("okx", "ETH").contract_size
    assert float(detail["sz"]) * ct_val * 3000.0 == pytest.approx(5e5, rel=1e-3)  # sz counts contracts


async def test_okx_rate_limit_answer(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.inject("okx", "rate_limit", path="/tickers")
    status, got = await rest(http, sim, "okx", "/api/v5/market/tickers", instType="SWAP")
    assert status == 429
    assert got == fixture("okx", "errors/rate_limit_50011.json")


# -- mexc ----------------------------------------------------------------------------------------------------


async def test_mexc_contract_detail(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("mexc", "rest/contract_detail.json")
    status, got = await rest(http, sim, "mexc", "/api/v1/contract/detail")
    assert status == 200
    assert_same_shape(real, got)


async def test_mexc_bulk_ticker_counts_contracts_and_quote(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("mexc", "rest/contract_ticker.json")
    real_cs = {c["symbol"]: c["contractSize"] for c in fixture("mexc", "rest/contract_detail.json")["data"]}
    status, got = await rest(http, sim, "mexc", "/api/v1/contract/ticker")
    assert status == 200
    _, detail = await rest(http, sim, "mexc", "/api/v1/contract/detail")
    sim_cs = {c["symbol"]: c["contractSize"] for c in detail["data"]}
    assert_same_shape(real, got)
    for rows, sizes in ((real["data"], real_cs), (got["data"], sim_cs)):
        for t in rows:  # volume24 in contracts, amount24 in USDT
            price = t["amount24"] / (t["volume24"] * sizes[t["symbol"]])
            assert within(price, t["lower24Price"], t["high24Price"])


async def test_mexc_klines(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    real = fixture("mexc", "rest/kline.json")
    status, got = await rest(
        http, sim, "mexc", "/api/v1/contract/kline/ETH_USDT", interval="Min5", start=str(int(START) - 1500)
    )
    assert status == 200
    assert_same_shape(real, got)
    real_cs = (
        0.01  # ETH_USDT's contractSize in contract_detail.json; the kline fixture is ETH_USDT by its prices
    )
    sim_cs = sim.market.listing("mexc", "ETH").contract_size
    for data, cs in ((real["data"], real_cs), (got["data"], sim_cs)):
        for vol, amount, low, high in zip(
            data["vol"], data["amount"], data["low"], data["high"], strict=True
        ):
            if vol:
                assert within(amount / (vol * cs), low, high)
    assert all(t < 1e10 for t in got["data"]["time"])  # seconds


async def test_mexc_funding_rate(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    status, got = await rest(http, sim, "mexc", "/api/v1/contract/funding_rate/BTC_USDT")
    assert status == 200
    assert_same_shape(fixture("mexc", "rest/funding_rate.json"), got)


@pytest.mark.parametrize(
    ("name", "subscribe", "channel"),
    [
        ("ws/push_ticker.json", {"method": "sub.ticker", "param": {"symbol": "BTC_USDT"}}, "push.ticker"),
        ("ws/push_tickers.json", {"method": "sub.tickers", "param": {}}, "push.tickers"),
        (
            "ws/push_kline.json",
            {"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}},
            "push.kline",
        ),
    ],
)
async def test_mexc_streams(
    sim: ExchangeSim, http: aiohttp.ClientSession, name: str, subscribe: dict[str, Any], channel: str
) -> None:
    real = fixture("mexc", name)
    got = await frame(http, sim, "mexc", "/edge", subscribe, lambda m: m.get("channel") == channel)
    assert_same_shape(real, got)
    if channel == "push.kline":
        cs = {"BTC_USDT": 0.0001}[real["symbol"]]  # contract_detail.json
        sim_cs = sim.market.listing("mexc", "BTC").contract_size
        for d, size in ((real["data"], cs), (got["data"], sim_cs)):
            assert within(d["a"] / (d["q"] * size), d["l"], d["h"])  # q contracts, a USDT


async def test_mexc_ping_and_acknowledgement(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url("mexc") + "/edge") as ws:
        await ws.send_json({"method": "sub.deal", "param": {"symbol": "BTC_USDT"}})
        refused = await ws.receive_json(timeout=5)  # the daemon uses no trade stream: not simulated
        await ws.send_json({"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}})
        ack = await ws.receive_json(timeout=5)
        await ws.send_json({"method": "ping"})
        pong = await ws.receive_json(timeout=5)
    assert refused["channel"] == "rs.error"
    assert_same_shape(fixture("mexc", "ws/sub_ack.json"), ack, ignore=frozenset({"$.ts"}))  # docs: ts as text
    assert_same_shape(fixture("mexc", "ws/pong.json"), pong)


async def test_mexc_rate_limit_answer(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    sim.inject("mexc", "rate_limit", path="/ticker")
    status, got = await rest(http, sim, "mexc", "/api/v1/contract/ticker")
    assert status == 200
    assert got == fixture("mexc", "errors/rate_limit_510.json")


# -- hyperliquid ---------------------------------------------------------------------------------------------


async def info(http: aiohttp.ClientSession, sim: ExchangeSim, body: dict[str, Any]) -> tuple[int, Any]:
    """Hyperliquid's one public path: ``POST /info`` with a JSON body."""
    async with http.post(sim.rest_url("hyperliquid") + "/info", json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.status == 200 else text


async def test_hyperliquid_meta_and_asset_ctxs(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    status, got = await info(http, sim, {"type": "metaAndAssetCtxs"})
    assert status == 200
    real = fixture("hyperliquid", "rest/metaAndAssetCtxs.json")
    assert [kind(x) for x in got] == [kind(x) for x in real] == ["dict", "list"]  # [meta, assetCtxs]
    assert_same_shape(real[0], got[0])
    assert_same_shape(real[1], got[1])
    universe, ctxs = got[0]["universe"], got[1]
    assert len(universe) == len(ctxs)  # index for index
    for entry, ctx in zip(universe, ctxs, strict=True):
        listing = sim.market.listing("hyperliquid", entry["name"])
        # funding per hour, dayNtlVlm in USDC, openInterest in coins (× mark: 40 % of the day's notional)
        assert float(ctx["funding"]) == pytest.approx(listing.funding_rate, abs=1e-10)
        assert listing.funding_interval_hours == 1
        assert float(ctx["dayNtlVlm"]) == pytest.approx(listing.quote_volume_24h, rel=1e-6)
        oi_usd = float(ctx["openInterest"]) * float(ctx["markPx"])
        assert oi_usd == pytest.approx(0.4 * listing.quote_volume_24h, rel=0.01)


async def test_hyperliquid_spot_meta(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    status, got = await info(http, sim, {"type": "spotMeta"})
    assert status == 200  # what ccxt reads for currencies while loading markets: USDC only
    assert_same_shape(fixture("hyperliquid", "rest/spotMeta.json"), got)


async def test_hyperliquid_candle_snapshot(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    now = sim.market.now_ms()
    req = {"coin": "BTC", "interval": "5m", "startTime": now - 3 * 300_000, "endTime": now}
    status, got = await info(http, sim, {"type": "candleSnapshot", "req": req})
    assert status == 200 and len(got) == 3  # oldest first, the open candle last
    assert_same_shape(fixture("hyperliquid", "rest/candleSnapshot.json"), got)
    listing = sim.market.listing("hyperliquid", "BTC")
    for c in got:  # v counts the coin: the market's base volume, to the lot (5 decimals for BTC)
        assert c["T"] == c["t"] + 300_000 - 1
        assert float(c["v"]) == pytest.approx(sim.market.bar(listing, "5m", c["t"]).volume, abs=1e-5)
    _, unknown = await info(http, sim, {"type": "candleSnapshot", "req": {**req, "coin": "NOPE"}})
    assert unknown == []


async def test_hyperliquid_candle_stream_and_pong(sim: ExchangeSim, http: aiohttp.ClientSession) -> None:
    subscribe = {"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}}
    got = await frame(http, sim, "hyperliquid", "/ws", subscribe, lambda m: m.get("channel") == "candle")
    assert_same_shape(fixture("hyperliquid", "ws/candle.json"), got)
    async with http.ws_connect(sim.ws_url("hyperliquid") + "/ws") as ws:
        await ws.send_json({"method": "ping"})
        assert_same_shape(fixture("hyperliquid", "ws/pong.json"), await ws.receive_json(timeout=5))


async def test_hyperliquid_candle_stream_closes_a_candle_with_the_next_ones_first_frame(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    """The documented acknowledgement (websocket page: ``{"channel": "subscriptionResponse", "data": <the
    request>}``), then candle frames without a closed flag: a candle's last frame, at its final state, comes
    before the next candle's first, the only sign that it has closed (what the daemon's feed waits for)."""
    subscribe = {"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}}
    listing = sim.market.listing("hyperliquid", "BTC")
    frames: list[dict[str, Any]] = []
    async with http.ws_connect(sim.ws_url("hyperliquid") + "/ws") as ws:
        await ws.send_json(subscribe)
        assert await ws.receive_json(timeout=5) == {"channel": "subscriptionResponse", "data": subscribe}
        for _ in range(45):  # 22:13:20 → 22:14:05 UTC: the 22:13 candle closes at 22:14:00
            sim.clock.advance(1)
            while True:
                try:
                    msg = await ws.receive_json(timeout=0.5)
                except TimeoutError:
                    break
                frames.append(msg["data"])
    opens = [f["t"] for f in frames]
    first, second = 1_699_999_980_000, 1_700_000_040_000
    assert set(opens) == {first, second} and opens == sorted(opens)
    assert all(f["T"] == f["t"] + 60_000 - 1 and "x" not in f for f in frames)
    last = [f for f in frames if f["t"] == first][-1]  # followed by the 22:14 candle's first frame
    assert float(last["c"]) == pytest.approx(sim.market.bar(listing, "1m", first).close, rel=1e-4)


async def test_hyperliquid_rate_limit_answer_and_weights(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    await info(http, sim, {"type": "metaAndAssetCtxs"})
    await info(http, sim, {"type": "allMids"})
    assert [r.weight for r in sim.requests("hyperliquid")] == [20.0, 2.0]  # the documented weights
    sim.inject("hyperliquid", "rate_limit", path="/info")
    status, _ = await info(http, sim, {"type": "metaAndAssetCtxs"})
    assert status == 429  # no body is documented (PROVENANCE.md)


# -- open interest: each venue's own shape and unit of one side's figure ------------------------------------


async def test_binance_open_interest_one_symbol_in_base_coin(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("binanceusdm", "rest/openInterest.json")
    sim.market.set_open_interest("binanceusdm", "BTC/USDT:USDT", 12_345.678)
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/openInterest", symbol="BTCUSDT")
    assert status == 200
    assert_same_shape(real, got)
    assert (got["openInterest"], got["symbol"], got["time"]) == ("12345.678", "BTCUSDT", int(START * 1000))
    status, got = await rest(http, sim, "binanceusdm", "/fapi/v1/openInterest")
    assert (status, got["code"]) == (400, -1102)  # the symbol is mandatory: there is no bulk form


async def test_okx_open_interest_lists_every_swap_in_contracts_coin_and_usd(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("okx", "rest/open_interest_swap.json")
    sim.market.set_open_interest("okx", "BTC/USDT:USDT", 2_000.0)
    status, got = await rest(http, sim, "okx", "/api/v5/public/open-interest", instType="SWAP")
    assert status == 200
    assert_same_shape(real, got)
    _, instruments = await rest(http, sim, "okx", "/api/v5/public/instruments", instType="SWAP")
    ct_val = {i["instId"]: float(i["ctVal"]) for i in instruments["data"] if i["ctType"] == "linear"}
    rows = {r["instId"]: r for r in got["data"]}
    assert "BTC-USD-SWAP" in rows  # the inverse swaps too, as OKX answers instType=SWAP
    btc = rows["BTC-USDT-SWAP"]
    assert float(btc["oiCcy"]) == 2_000.0
    # (the documentation's example is illustrative and not unit-consistent: units checked on ours alone)
    for inst, size in ct_val.items():  # oi counts contracts of ctVal coins; oiUsd is the coin × the price
        row = rows[inst]
        assert float(row["oiCcy"]) == pytest.approx(float(row["oi"]) * size, rel=1e-3)
        listing = sim.market.listing("okx", inst.split("-")[0])
        assert float(row["oiUsd"]) == pytest.approx(
            float(row["oiCcy"]) * sim.market.last_price(listing), rel=1e-3
        )


async def test_bybit_ticker_open_interest_is_both_sides_and_single_side_half(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    real = fixture("bybit", "rest/tickers_linear.json")
    sim.market.set_open_interest("bybit", "ETH/USDT:USDT", 50_000.0)
    _, got = await rest(http, sim, "bybit", "/v5/market/tickers", category="linear")
    for t in [*real["result"]["list"], *got["result"]["list"]]:
        assert float(t["singleOpenInterest"]) * 2 == pytest.approx(float(t["openInterest"]), rel=1e-6)
        assert float(t["singleOpenInterestValue"]) * 2 == pytest.approx(
            float(t["openInterestValue"]), rel=1e-6
        )
        value = float(t["singleOpenInterestValue"]) / float(t["singleOpenInterest"])  # a price: coins × price
        assert within(value, float(t["lowPrice24h"]), float(t["highPrice24h"]))
    eth = next(t for t in got["result"]["list"] if t["symbol"] == "ETHUSDT")
    assert float(eth["singleOpenInterest"]) == 50_000.0


async def test_mexc_hold_vol_counts_contracts_of_one_side(
    sim: ExchangeSim, http: aiohttp.ClientSession
) -> None:
    sim.market.set_open_interest("mexc", "BTC/USDT:USDT", 5_000.0)
    _, got = await rest(http, sim, "mexc", "/api/v1/contract/ticker")
    _, detail = await rest(http, sim, "mexc", "/api/v1/contract/detail")
    size = {c["symbol"]: c["contractSize"] for c in detail["data"]}
    btc = next(t for t in got["data"] if t["symbol"] == "BTC_USDT")
    assert isinstance(btc["holdVol"], int)  # a whole number of contracts, as in the capture
    assert btc["holdVol"] * size["BTC_USDT"] == pytest.approx(5_000.0)


def test_every_fixture_is_checked() -> None:
    """A new fixture file must be named in this module (or it proves nothing)."""
    source = Path(__file__).read_text()
    files = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*.json"))
    unchecked = [str(f) for f in files if f'"{f.relative_to(f.parts[0])}"' not in source]
    assert not unchecked, f"fixtures no conformance test reads: {unchecked}"
