"""Real payloads (``tests/fixtures/wire/``, see each PROVENANCE.md) through real ccxt and the daemon's own
gateway and feeds, served at the exchanges' real REST paths by a stand-in (``wire_server``). Every number
checked below is computed by hand from the fixture, written out, and commented with how.

The eight findings of issue 9 each have a test here that fails on the code before the venue profiles
(finding 3, the ccxt floor, is shown by ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from signalbots.clock import ManualClock
from signalbots.errors import RateLimited
from signalbots.events import Candle, FundingSnapshot, OpenInterest, Side, Ticker
from signalbots.exchange.breaker import BreakerRegistry
from signalbots.exchange.bus import EventBus, Liquidity, Subscription
from signalbots.exchange.candles import CandleFeed
from signalbots.exchange.funding import FundingFeed
from signalbots.exchange.gateway import Gateway
from signalbots.exchange.open_interest import OpenInterestFeed
from signalbots.exchange.ratelimit import WeightLimiter
from signalbots.exchange.tickers import TickerFeed
from signalbots.health import Health, TaskHealth
from signalbots.metrics import Metrics
from signalbots.settings import BreakerSettings, ExchangeSettings
from tests.exchange.wire_server import WireServer, fixture, fixture_json, wire_server

REAL_TIMEOUT = 20.0  # a safety net in real seconds; nothing waits for it when the code works
CAPTURED = 1_787_848_770.0  # just after the third-party captures (ms 1787848766000), for their timestamps


@dataclass
class Rig:
    server: WireServer
    gateway: Gateway
    clock: ManualClock
    metrics: Metrics
    health: Health
    sub: Subscription
    bus: EventBus
    liquidity: Liquidity
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)

    def common(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "bus": self.bus,
            "settings": self.gateway.settings,
            "clock": self.clock,
            "metrics": self.metrics,
        }

    def start(self, feed: Any) -> TaskHealth:
        th = self.health.task(feed.name, kind="feed")
        self.tasks.append(asyncio.create_task(feed.run(th)))
        return th

    def events(self, kind: type) -> list[Any]:
        self.seen.extend(self.sub.drain())
        return [e for e in self.seen if isinstance(e, kind)]

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(REAL_TIMEOUT):
            while not predicate():
                for task in self.tasks:
                    assert not task.done(), f"a feed died: {task}"
                await asyncio.sleep(0.002)  # the feeds' real I/O; the ManualClock moves only when told

    def bad_payloads(self, endpoint: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "signalbots_bad_payloads_total", {"exchange": self.gateway.exchange_id, "endpoint": endpoint}
        )
        return value or 0.0


@asynccontextmanager
async def rig(
    exchange: str, *, now: float = CAPTURED, websocket: bool = False, **overrides: Any
) -> AsyncIterator[Rig]:
    clock = ManualClock(start=now)
    metrics = Metrics()
    async with wire_server(exchange) as server:
        ws_url = server.url.replace("http://", "ws://") if websocket else "ws://127.0.0.1:1"
        settings = ExchangeSettings(rest_url=server.url, ws_url=ws_url, request_timeout=2.0, **overrides)
        gateway = Gateway(
            exchange_id=exchange,
            settings=settings,
            limiter=WeightLimiter.for_exchange(exchange, budget_fraction=0.5, clock=clock),
            breakers=BreakerRegistry(settings=BreakerSettings(), clock=clock, metrics=metrics),
            clock=clock,
            metrics=metrics,
        )
        bus = EventBus(metrics=metrics)
        async with gateway:
            r = Rig(
                server, gateway, clock, metrics, Health(clock=clock), bus.subscribe("test"), bus, Liquidity()
            )
            try:
                yield r
            finally:
                for task in r.tasks:
                    task.cancel()
                await asyncio.gather(*r.tasks, return_exceptions=True)


def by_symbol(events: list[Any]) -> dict[str, Any]:
    return {e.symbol: e for e in events}


# -- markets: what load_markets asks for ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "paths", "symbols"),
    [
        ("binanceusdm", ["/fapi/v1/exchangeInfo"], {"BTC/USDT:USDT", "ETH/USDT:USDT"}),
        # ccxt asks for the trading and the pre-launch linear instruments
        ("bybit", ["/v5/market/instruments-info"] * 2, {"BTC/USDT:USDT"}),
        # BTC-USD-SWAP is inverse: loaded by ccxt, not ours
        (
            "okx",
            ["/api/v5/public/instruments"],
            {"BTC/USDT:USDT", "ETH/USDT:USDT", "ADA/USDT:USDT", "DOGE/USDT:USDT"},
        ),
        # Finding 8: MEXC's markets come from the contract list alone, no spot exchangeInfo (~125 units).
        ("mexc", ["/api/v1/contract/detail"], {"BTC/USDT:USDT", "ETH/USDT:USDT"}),
    ],
)
async def test_markets_load_from_the_real_market_lists_with_one_request(
    exchange: str, paths: list[str], symbols: set[str]
) -> None:
    async with rig(exchange) as r:
        assert r.server.paths() == paths and r.server.unknown == []
        assert set(r.gateway.markets) == symbols


async def test_contract_sizes_come_from_the_real_market_lists() -> None:
    async with rig("okx") as r:  # ctVal
        sizes = {s: m["contractSize"] for s, m in r.gateway.markets.items()}
        assert sizes == {
            "BTC/USDT:USDT": 0.01,
            "ETH/USDT:USDT": 0.1,
            "ADA/USDT:USDT": 100,
            "DOGE/USDT:USDT": 1000,
        }
    async with rig("mexc") as r:  # contractSize
        assert r.gateway.markets["BTC/USDT:USDT"]["contractSize"] == 0.0001
        assert r.gateway.markets["ETH/USDT:USDT"]["contractSize"] == 0.01


# -- finding 1: OKX 24h volume -------------------------------------------------------------------------------


async def test_okx_ticker_volume_is_base_coin_volume_times_price_not_contracts() -> None:
    async with rig("okx") as r:
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(Ticker)) == 3)
        tickers = by_symbol(r.events(Ticker))
        assert set(tickers) == {"BTC/USDT:USDT", "ETH/USDT:USDT", "ADA/USDT:USDT"}  # ADA-USD-SWAP is inverse
        # volCcy24h (base) × last; the same as vol24h (contracts) × ctVal × last:
        # BTC 84418.3006 × 80304.6 = 8441830.06 × 0.01 × 80304.6 = 6,779,177,862.36 (not 100× that)
        assert tickers["BTC/USDT:USDT"].quote_volume_24h == pytest.approx(6_779_177_862.36)
        # ETH 3559984.658 × 2521.83 = 35599846.58 × 0.1 × 2521.83 = 8,977,676,110.08
        assert tickers["ETH/USDT:USDT"].quote_volume_24h == pytest.approx(8_977_676_110.08)
        # ADA 190079770 × 0.216 = 1900797.7 × 100 × 0.216 = 41,057,230.32 (not 1/100 of that)
        assert tickers["ADA/USDT:USDT"].quote_volume_24h == pytest.approx(41_057_230.32)
        assert tickers["BTC/USDT:USDT"].last == 80304.6


async def test_mexc_ticker_volume_is_the_exchange_turnover() -> None:
    async with rig("mexc") as r:
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(Ticker)) == 2)
        tickers = by_symbol(r.events(Ticker))
        assert tickers["BTC/USDT:USDT"].quote_volume_24h == 4_477_604_519.13254  # amount24
        assert tickers["ETH/USDT:USDT"].quote_volume_24h == 2_424_816_481.3178
        # The contracts agree within 2%: volume24 × contractSize × last = 565457133 × 0.0001 × 80319.3
        assert tickers["BTC/USDT:USDT"].quote_volume_24h == pytest.approx(
            565_457_133 * 0.0001 * 80_319.3, rel=0.02
        )


async def test_bybit_ticker_volume_is_turnover24h() -> None:
    async with rig("bybit") as r:
        # The real instrument list holds only BTCUSDT; the captured tickers are 0GUSDT and 1000PEPEUSDT.
        r.server.overrides["/v5/market/instruments-info"] = bybit_instruments(
            ("0GUSDT", 480), ("1000PEPEUSDT", 480)
        )
        await r.gateway.refresh_markets()
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(Ticker)) == 2)
        tickers = by_symbol(r.events(Ticker))
        assert tickers["0G/USDT:USDT"].quote_volume_24h == 395_880.9502  # turnover24h
        assert tickers["0G/USDT:USDT"].last == 0.1641


# -- findings 2 and 8: candles with the exchange's quote volume; MEXC klines bounded -------------------------


async def test_mexc_candles_carry_amount_as_quote_volume_and_contracts_as_base() -> None:
    now = 1_634_052_600.0  # a 5-minute boundary just after the fixture's three candles (time in seconds)
    async with rig("mexc", now=now, candle_backfill=60) as r:
        r.liquidity.update("mexc", {"ETH/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: len(r.events(Candle)) == 3)
        candles = sorted(r.events(Candle), key=lambda c: c.time_ms)
        assert [c.time_ms for c in candles] == [1_634_052_300_000, 1_634_052_360_000, 1_634_052_420_000]
        assert [c.quote_volume for c in candles] == [60_793.623, 12_260.4885, 10_983.1375]  # amount
        # vol counts contracts of 0.01 ETH: 1740 → 17.4 ETH, 351 → 3.51, 314 → 3.14
        assert [c.volume for c in candles] == pytest.approx([17.4, 3.51, 3.14])
        # …and agrees with the turnover: 17.4 × 3491.3 (close) = 60,748.62 ≈ 60,793.623
        assert candles[0].volume * candles[0].close == pytest.approx(candles[0].quote_volume, rel=0.01)
        # Finding 8: the request is bounded by its start (MEXC's kline has no limit: 2000 candles otherwise).
        [(path, query)] = [(p, q) for p, q in r.server.requests if "/kline/" in p]
        assert path == "/api/v1/contract/kline/ETH_USDT"
        assert query["start"] == str(int(now) - 61 * 300)  # 60 backfilled candles + 1


async def test_okx_candles_carry_vol_ccy_quote() -> None:
    now = 1_678_929_000.0  # 2023-03-16 01:10 UTC: the fixture's candle (00:26) is closed
    async with rig("okx", now=now) as r:
        r.liquidity.update("okx", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: len(r.events(Candle)) == 1)
        [candle] = r.events(Candle)
        # [ts, o, h, l, c, vol=628 contracts, volCcy=2.5819 BTC, volCcyQuote=62800, confirm]
        assert (candle.time_ms, candle.close, candle.volume, candle.quote_volume) == (
            1_678_928_760_000,
            24_323.0,
            2.5819,
            62_800.0,
        )


async def test_bybit_kline_rows_keep_turnover_and_inverse_rows_do_not_pretend() -> None:
    async with rig("bybit") as r:
        ex = r.gateway.exchange
        # The linear websocket frame's numbers in the REST row order the v5 kline page documents
        # ([startTime, open, high, low, close, volume, turnover]).
        k = fixture_json("bybit", "ws/kline_linear.json")["data"][0]
        row = [str(k["start"]), k["open"], k["high"], k["low"], k["close"], k["volume"], k["turnover"]]
        parsed = ex.parse_ohlcv(row, r.gateway.markets["BTC/USDT:USDT"])
        assert parsed == [1_672_324_800_000, 16649.5, 16677.0, 16608.0, 16677.0, 2.081, 34_666.4005]
        # Inverse BTCUSD: turnover is in BTC, not a quote volume; it is not passed off as one.
        inverse = {"inverse": True, "linear": False, "symbol": "BTC/USD:BTC"}
        [raw] = fixture_json("bybit", "rest/kline_inverse.json")["result"]["list"][:1]
        assert len(ex.parse_ohlcv(raw, inverse)) == 6


async def test_binance_klines_carry_quote_asset_volume() -> None:
    async with rig("binanceusdm", now=1_616_339_400.0) as r:
        r.liquidity.update("binanceusdm", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: len(r.events(Candle)) == 2)
        candles = sorted(r.events(Candle), key=lambda c: c.time_ms)
        assert [(c.volume, c.quote_volume) for c in candles] == [
            (496.263, 28_425_514.7894),
            (174.865, 10_009_130.07051),
        ]


async def test_binance_candle_is_published_when_the_exchange_marks_it_closed() -> None:
    """Issue 19: the frame with ``x: true`` is the candle's last; the candle is published on it, not a
    kline frame later (≥ 250 ms, or minutes for a symbol nobody trades at the next open)."""
    async with rig("binanceusdm", now=1_616_339_399.0, websocket=True) as r:  # 1 s before 19:30 UTC
        r.liquidity.update("binanceusdm", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: "btcusdt@kline_5m" in r.server.streams)
        # The REST backfill published the closed 19:20 candle; 19:25 is still open.
        assert [c.time_ms for c in r.events(Candle)] == [1_616_338_800_000]
        # The USDⓈ-M kline frame (ws/kline.json's keys) carrying the open 19:25 candle's numbers from
        # rest/klines.json: first an update, then the exchange's final one at the close.
        row = fixture_json("binanceusdm", "rest/klines.json")[1]
        frame = fixture_json("binanceusdm", "ws/kline.json")
        frame["s"] = "BTCUSDT"
        frame["k"].update(
            {"t": row[0], "T": row[6], "s": "BTCUSDT", "i": "5m", "o": row[1], "h": row[2], "l": row[3]}
        )
        frame["k"].update({"c": row[4], "v": row[5], "q": row[7], "x": False})
        await r.server.push(frame)
        frame["k"]["x"] = True
        frame["E"] = row[6] + 1
        await r.server.push(frame)
        await r.until(lambda: len(r.events(Candle)) == 2)
        closed = r.events(Candle)[1]
        # No 19:30 frame has come, and the local clock still reads 19:29:59: the exchange's flag decides.
        assert (closed.time_ms, closed.volume, closed.quote_volume) == (
            1_616_339_100_000,
            174.865,
            10_009_130.07051,
        )
        assert r.clock.time() < 1_616_339_400.0


async def test_bybit_candle_is_published_on_confirm_with_its_turnover() -> None:
    """Issue 19: Bybit's ``kline.5.<symbol>`` frame (ws/kline_linear.json) through ccxt.pro's
    watch_ohlcv_for_symbols; ``confirm: true`` publishes the candle, ``turnover`` is its quote volume."""
    async with rig("bybit", now=1_672_324_988.0, websocket=True) as r:  # the frame's own ts: mid-candle
        r.liquidity.update("bybit", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: "kline.5.BTCUSDT" in r.server.streams)
        frame = fixture_json("bybit", "ws/kline_linear.json")
        await r.server.push(frame)  # confirm: false — the candle is still open
        frame["data"][0].update(confirm=True, timestamp=1_672_325_099_999)
        await r.server.push(frame)
        await r.until(lambda: len(r.events(Candle)) == 1)
        [candle] = r.events(Candle)
        # start 1672324800000, close "16677", volume "2.081" BTC, turnover "34666.4005" USDT
        assert (candle.time_ms, candle.close, candle.volume, candle.quote_volume) == (
            1_672_324_800_000,
            16_677.0,
            2.081,
            34_666.4005,
        )
        assert r.clock.time() < 1_672_325_100.0  # the exchange's flag decided, not the local clock


async def test_okx_candle_is_published_on_confirm_with_vol_ccy_quote() -> None:
    """Issue 19: OKX's candle channel (ws/candle.json, on the business websocket ccxt.pro routes candles to);
    ``confirm`` "1" publishes it; ``volCcyQuote`` is its quote volume, ``volCcy`` its base volume."""
    async with rig("okx", now=1_696_636_900.0, websocket=True) as r:  # 100 s into the fixture's candle
        r.liquidity.update("okx", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="5m", floor_usd=5e6, **r.common()))
        await r.until(lambda: "candle5m:BTC-USDT-SWAP" in r.server.streams)
        backfilled = len(r.events(Candle))  # the REST row of rest/candles.data.json (an older candle)
        frame = fixture_json("okx", "ws/candle.json")
        frame["arg"] = {"channel": "candle5m", "instId": "BTC-USDT-SWAP"}  # the swap we trade, 5m
        await r.server.push(frame)  # confirm "0"
        frame["data"][0][8] = "1"
        await r.server.push(frame)
        await r.until(lambda: len(r.events(Candle)) == backfilled + 1)
        candle = r.events(Candle)[-1]
        # [ts 1696636800000, o, h, l, c "27489.5", vol 95359, volCcy "95.359", volCcyQuote "2621407.651",
        #  confirm]
        assert (candle.time_ms, candle.close, candle.volume, candle.quote_volume) == (
            1_696_636_800_000,
            27_489.5,
            95.359,
            2_621_407.651,
        )
        assert r.clock.time() < 1_696_637_100.0
        # The backfill's candle (rest/candles.data.json) is months older than the stream's first row: the
        # candles between are asked of REST once (it has nothing newer), not again on every frame.
        await r.until(lambda: r.server.paths().count("/api/v5/market/candles") == 2)
        await r.server.push(frame)
        await r.until(lambda: len(r.events(Candle)) == backfilled + 1)
        assert r.server.paths().count("/api/v5/market/candles") == 2


async def test_mexc_candle_keeps_its_turnover_and_closes_with_the_next_candles_first_frame() -> None:
    """Issue 19: MEXC's ``push.kline`` (ws/push_kline.json) has no closed flag: the candle is published when
    the next one's first frame arrives; ``a`` (which ccxt.pro's row drops) is its quote volume, ``q``
    contracts."""
    async with rig("mexc", now=1_651_230_713.0, websocket=True) as r:  # the frame's own ts
        r.liquidity.update("mexc", {"BTC/USDT:USDT": 1e9})
        r.start(CandleFeed(liquidity=r.liquidity, timeframe="1m", floor_usd=5e6, **r.common()))
        await r.until(lambda: "kline:BTC_USDT" in r.server.streams)
        frame = fixture_json("mexc", "ws/push_kline.json")
        await r.server.push(frame)
        following = json.loads(json.dumps(frame))
        following["data"]["t"] += 60  # the next minute's first frame, the same numbers
        await r.server.push(following)
        await r.until(lambda: len(r.events(Candle)) == 1)
        [candle] = r.events(Candle)
        # t 1651230660 s; a 325653.3287 USDT; q 83808 contracts × 0.0001 BTC (contract_detail.json) = 8.3808
        assert (candle.time_ms, candle.close, candle.quote_volume) == (
            1_651_230_660_000,
            38_839.0,
            325_653.3287,
        )
        assert candle.volume == pytest.approx(8.3808)
        assert candle.volume * candle.close == pytest.approx(candle.quote_volume, rel=0.01)


# -- findings 4, 5, 7 and 8: funding -------------------------------------------------------------------------


async def test_binance_delivery_contracts_in_premium_index_are_skipped_silently() -> None:
    async with rig("binanceusdm") as r:
        delivery = fixture_json("binanceusdm", "rest/premiumIndex_with_delivery.json")[1]
        assert delivery["lastFundingRate"] == "" and delivery["nextFundingTime"] == 0
        entries = [*fixture_json("binanceusdm", "rest/premiumIndex.json"), delivery]
        r.server.overrides["/fapi/v1/premiumIndex"] = lambda q, p: (200, json.dumps(entries))
        th = r.start(FundingFeed(**r.common()))
        await r.until(lambda: len(r.events(FundingSnapshot)) == 2)
        await r.until(lambda: th.cycles >= 1)
        funding = by_symbol(r.events(FundingSnapshot))
        assert set(funding) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}  # LPTUSDT: not in the loaded markets
        btc = funding["BTC/USDT:USDT"]
        assert (btc.rate, btc.interval_hours, btc.mark_price, btc.next_funding_ms) == (
            0.00007378,
            8.0,  # fundingInfo lists BTCUSDT with 8 h
            80_322.1,
            1_787_875_200_000,
        )
        assert r.bad_payloads("fetch_funding_rates") == 0
        assert th.errors == 0 and th.last_error == ""


async def test_bybit_funding_interval_comes_from_the_ticker_not_the_hour_old_instrument_list() -> None:
    async with rig("bybit") as r:
        # The instrument list still says 8 h (480 min) for both — as it did before Bybit moved 0GUSDT to 4 h;
        # the captured tickers say 4 h for 0GUSDT and 8 h for 1000PEPEUSDT.
        r.server.overrides["/v5/market/instruments-info"] = bybit_instruments(
            ("0GUSDT", 480), ("1000PEPEUSDT", 480)
        )
        await r.gateway.refresh_markets()
        r.start(FundingFeed(**r.common()))
        await r.until(lambda: len(r.events(FundingSnapshot)) == 2)
        funding = by_symbol(r.events(FundingSnapshot))
        assert funding["0G/USDT:USDT"].interval_hours == 4.0
        assert funding["1000PEPE/USDT:USDT"].interval_hours == 8.0
        assert funding["0G/USDT:USDT"].rate == 0.00005


async def test_okx_funding_for_any_publishes_only_loaded_markets() -> None:
    async with rig("okx") as r:
        th = r.start(FundingFeed(**r.common()))
        await r.until(lambda: th.cycles >= 1)
        funding = by_symbol(r.events(FundingSnapshot))
        assert set(funding) == {
            "BTC/USDT:USDT"
        }  # BTC-USD-SWAP (inverse) is in the answer, not in our markets
        btc = funding["BTC/USDT:USDT"]
        # nextFundingTime − fundingTime = 1787904000000 − 1787875200000 = 8 h
        assert (btc.rate, btc.interval_hours, btc.next_funding_ms) == (
            -0.0000143909410096,
            8.0,
            1_787_875_200_000,
        )
        assert r.bad_payloads("fetch_funding_rates") == 0 and th.errors == 0


async def test_mexc_funding_covers_the_market_from_the_bulk_ticker_without_funding_symbols() -> None:
    async with rig("mexc", funding_symbols=[]) as r:
        th = r.start(FundingFeed(**r.common()))
        await r.until(lambda: th.cycles >= 1)
        funding = by_symbol(r.events(FundingSnapshot))
        btc = funding["BTC/USDT:USDT"]
        # fundingRate and fairPrice from the bulk ticker; collectCycle 8 and nextSettleTime from funding_rate
        assert (btc.rate, btc.interval_hours, btc.mark_price, btc.next_funding_ms) == (
            0.000073,
            8.0,
            80_318.2,
            1_787_875_200_000,
        )
        assert [p for p in r.server.paths() if "ticker" in p] == ["/api/v1/contract/ticker"]  # one bulk call
        # ETH's interval is not in the fixtures (404): it is not published with a guessed one.
        assert "ETH/USDT:USDT" not in funding


# -- open interest: one side, in the coin and in USD, from each venue's cheapest source ---------------------


async def test_bybit_open_interest_is_the_single_side_from_the_ticker_already_polled() -> None:
    async with rig("bybit") as r:
        r.server.overrides["/v5/market/instruments-info"] = bybit_instruments(
            ("0GUSDT", 480), ("1000PEPEUSDT", 480)
        )
        await r.gateway.refresh_markets()
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(OpenInterest)) == 2)
        interest = by_symbol(r.events(OpenInterest))
        # singleOpenInterest / singleOpenInterestValue: half of openInterest 9577870.4 / value 1571728.53
        assert (interest["0G/USDT:USDT"].base, interest["0G/USDT:USDT"].usd) == (4_788_935.2, 785_864.27)
        # 1000PEPE: 7544454800 coins, $29,550,120.56 — not the both-sides $59,100,241.12
        assert (interest["1000PEPE/USDT:USDT"].base, interest["1000PEPE/USDT:USDT"].usd) == (
            7_544_454_800,
            29_550_120.56,
        )
        # no request of its own: the tickers answer is the only market-data call
        assert [p for p in r.server.paths() if "instruments" not in p] == ["/v5/market/tickers"]


async def test_mexc_open_interest_is_hold_vol_contracts_times_size_times_price() -> None:
    async with rig("mexc") as r:
        r.start(TickerFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(OpenInterest)) == 2)
        interest = by_symbol(r.events(OpenInterest))
        btc, eth = interest["BTC/USDT:USDT"], interest["ETH/USDT:USDT"]
        # BTC: holdVol 585233517 × contractSize 0.0001 = 58,523.3517 BTC; × last 80319.3 = $4,700,554,642.20
        assert btc.base == pytest.approx(58_523.3517)
        assert btc.usd == pytest.approx(4_700_554_642.20)
        # ETH: 93918704 × 0.01 = 939,187.04 ETH; × 2522.15 = $2,368,770,592.94
        assert eth.base == pytest.approx(939_187.04)
        assert eth.usd == pytest.approx(2_368_770_592.94)
        assert btc.time_ms == 1_787_848_767_691  # the ticker's own timestamp
        assert [p for p in r.server.paths() if "ticker" in p] == ["/api/v1/contract/ticker"]


async def test_okx_open_interest_from_one_bulk_request_of_every_swap() -> None:
    async with rig("okx") as r:
        th = r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: th.cycles >= 1)
        interest = by_symbol(r.events(OpenInterest))
        btc = interest["BTC/USDT:USDT"]
        # oiCcy 555.55 BTC, oiUsd $50,000 (the documentation's illustrative numbers), ts 1597026383085
        assert (btc.base, btc.usd, btc.time_ms) == (555.55, 50_000.0, 1_597_026_383_085)
        assert set(interest) == {"BTC/USDT:USDT"}
        [query] = [q for p, q in r.server.requests if "open-interest" in p]
        assert query == {"instType": "SWAP"}  # every swap in one request


async def test_binance_open_interest_per_symbol_is_valued_at_the_ticker_price() -> None:
    async with rig("binanceusdm") as r:
        # BTC first (most liquid); ETH is not in the fixtures (404) and is skipped, not fatal
        r.liquidity.update(
            "binanceusdm",
            {"BTC/USDT:USDT": 2e10, "ETH/USDT:USDT": 1e10},
            {"BTC/USDT:USDT": 60_000.0, "ETH/USDT:USDT": 3_000.0},
        )
        r.start(OpenInterestFeed(liquidity=r.liquidity, **r.common()))
        await r.until(lambda: len(r.events(OpenInterest)) == 1)
        [btc] = r.events(OpenInterest)
        # openInterest 10659.509 BTC × the ticker's 60,000 = $639,570,540; time from the answer
        assert (btc.symbol, btc.base, btc.usd, btc.time_ms) == (
            "BTC/USDT:USDT",
            10_659.509,
            639_570_540.0,
            1_589_437_530_011,
        )
        assert r.server.requests[-1] == ("/fapi/v1/openInterest", {"symbol": "BTCUSDT"})


# -- rate-limit answers, as the exchanges write them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "path", "status", "body", "banned", "least"),
    [
        ("binanceusdm", "/fapi/v1/ticker/24hr", 429, "errors/rate_limit_429.json", False, 1.0),
        ("binanceusdm", "/fapi/v1/ticker/24hr", 418, "errors/ban_418.json", True, 120.0),
        ("bybit", "/v5/market/tickers", 200, "errors/rate_limit_10006.json", False, 1.0),
        ("bybit", "/v5/market/tickers", 403, "", True, 600.0),  # no real body exists: the status is the fact
        ("okx", "/api/v5/market/tickers", 429, "errors/rate_limit_50011.json", False, 1.0),
        ("mexc", "/api/v1/contract/ticker", 200, "errors/rate_limit_510.json", False, 1.0),
    ],
)
async def test_rate_limit_answers_pause_the_exchange(
    exchange: str, path: str, status: int, body: str, banned: bool, least: float
) -> None:
    async with rig(exchange) as r:
        text = fixture(exchange, body) if body else "Forbidden"
        r.server.overrides[path] = lambda q, p: (status, text)
        with pytest.raises(RateLimited) as err:
            await r.gateway.call("fetch_tickers", "fetch_tickers")
        assert err.value.banned is banned and (err.value.retry_after or 0) >= least
        assert r.gateway.paused_for() >= least


# -- liquidations --------------------------------------------------------------------------------------------


async def test_binance_force_order_frame_through_the_profile_parser() -> None:
    async with rig("binanceusdm") as r:
        frame = fixture_json("binanceusdm", "ws/forceOrder.json")
        parse = r.gateway.venue.liquidation_parser
        assert parse is not None
        symbols = {m["id"]: s for s, m in r.gateway.markets.items()}
        [liq] = parse(frame["o"], symbols.get, lambda _: None, 0.0)
        # S=BUY closes a short; notional = ap 34959.70 × z 1.437 = 50,237.0889
        assert (liq.symbol, liq.side, liq.time_ms) == ("BTC/USDT:USDT", Side.SHORT, 1_698_871_323_059)
        assert liq.notional_usd == pytest.approx(50_237.0889)


# -- helpers -------------------------------------------------------------------------------------------------


def bybit_instruments(*symbols: tuple[str, int]) -> Callable[[dict[str, str], str], tuple[int, str]]:
    """The real instrument list, its one real entry (BTCUSDT) copied for each of ``symbols`` with that
    symbol, base coin and ``fundingInterval`` (minutes): the captured tickers' symbols are not in it."""
    answer = fixture_json("bybit", "rest/instruments_linear.json")
    [btc] = answer["result"]["list"]
    entries = [btc]
    for symbol, minutes in symbols:
        entries.append(
            {**btc, "symbol": symbol, "baseCoin": symbol.removesuffix("USDT"), "fundingInterval": minutes}
        )
    answer["result"]["list"] = entries
    text = json.dumps(answer)
    return lambda query, path: (200, text)
