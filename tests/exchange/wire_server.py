"""A stand-in exchange that answers with the real payloads in ``tests/fixtures/wire/<exchange>/``, byte for
byte, at the exchange's real REST paths — so that real ccxt and the daemon's own feeds read what the exchange
really sends, not what our simulator writes.

Nothing here computes an answer: a route picks a fixture file (or, for a ``.data.json`` file that holds only
the entries, puts it in the exchange's documented envelope). A path no route knows is answered 404 and
remembered in ``unknown``, so a test sees every request a client made that the fixtures do not cover.

Websockets: a subscription is acknowledged as the exchange documents it — Binance ``SUBSCRIBE`` →
``{"result": null, "id": …}``, Bybit ``{"op": "subscribe"}`` → ``{"success": true, "op": "subscribe", …}``,
OKX ``{"op": "subscribe"}`` → ``{"event": "subscribe", "arg": …}`` per channel, MEXC ``sub.*`` →
``{"channel": "rs.sub.*", "data": "success"}`` — and remembered in ``streams`` (Binance and Bybit: the topic;
OKX ``<channel>:<instId>``; MEXC ``<method>:<symbol>``); pings are answered; the frames are the test's own
(``push``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

WIRE = Path(__file__).resolve().parent.parent / "fixtures" / "wire"

Answer = tuple[int, str]  # HTTP status, body
Route = Callable[[dict[str, str], str], Answer]


def fixture(exchange: str, name: str) -> str:
    return (WIRE / exchange / name).read_text(encoding="utf-8")


def fixture_json(exchange: str, name: str) -> Any:
    return json.loads(fixture(exchange, name))


def _file(exchange: str, name: str) -> Route:
    return lambda query, path: (200, fixture(exchange, name))


def _okx_data(name: str) -> Route:
    # OKX's envelope around a ``data`` list ("Response Parameters" in every v5 REST page).
    return lambda query, path: (200, json.dumps({"code": "0", "msg": "", "data": fixture_json("okx", name)}))


def _okx_funding(query: dict[str, str], path: str) -> Answer:
    """``instId=ANY``: the captured USDT swap and ccxt's inverse-swap example, as one answer."""
    entries = fixture_json("okx", "rest/funding_rate.json")["data"]
    entries += fixture_json("okx", "rest/funding_rate_any_inverse.json")["data"]
    return 200, json.dumps({"code": "0", "data": entries, "msg": ""})


def _okx_candles(query: dict[str, str], path: str) -> Answer:
    rows = fixture_json("okx", "rest/candles.data.json") if query.get("instId") == OKX_CANDLE_INST else []
    return 200, json.dumps({"code": "0", "msg": "", "data": rows})


def _bybit_kline(query: dict[str, str], path: str) -> Answer:
    # The only real kline answer is inverse (rest/kline_inverse.json): its envelope, with no linear candles.
    answer = fixture_json("bybit", "rest/kline_inverse.json")
    answer["result"].update(category="linear", symbol=query.get("symbol", ""), list=[])
    return 200, json.dumps(answer)


def _mexc_kline(query: dict[str, str], path: str) -> Answer:
    if path.endswith("/" + MEXC_KLINE_SYMBOL):
        return 200, fixture("mexc", "rest/kline.json")
    # Not in the fixtures: the same envelope with no candles.
    empty = {"time": [], "open": [], "close": [], "high": [], "low": [], "vol": [], "amount": []}
    return 200, json.dumps({"success": True, "code": 0, "data": empty})


def _mexc_funding(query: dict[str, str], path: str) -> Answer:
    real = fixture_json("mexc", "rest/funding_rate.json")
    if path.endswith("/" + real["data"]["symbol"]):
        return 200, json.dumps(real)
    # MEXC's answer for a symbol it has no funding for is not in the fixtures: a plain 404, as for any path.
    return 404, "<html><body><h1>404 Not Found</h1></body></html>"


def _hyperliquid_info(query: dict[str, str], path: str) -> Answer:
    """Hyperliquid asks everything of ``POST /info``: the body's ``type`` picks the fixture."""
    name = {
        "metaAndAssetCtxs": "rest/metaAndAssetCtxs.json",
        "spotMeta": "rest/spotMeta.json",
        "candleSnapshot": "rest/candleSnapshot.json",
    }.get(query.get("type", ""))
    if name is None:
        return 422, "Failed to deserialize the JSON body into the target type"
    if (
        name.startswith("rest/candle")
        and json.loads(query.get("req", "{}")).get("coin") != HYPERLIQUID_CANDLE_COIN
    ):
        return 200, "[]"
    return 200, fixture("hyperliquid", name)


def _binance_open_interest(query: dict[str, str], path: str) -> Answer:
    """The documented answer for its symbol (BTCUSDT); any other symbol is not in the fixtures: 404."""
    real = fixture_json("binanceusdm", "rest/openInterest.json")
    if query.get("symbol") == real["symbol"]:
        return 200, json.dumps(real)
    return 404, "<html><body><h1>404 Not Found</h1></body></html>"


# Which instrument the single real candle row of each exchange belongs to (see PROVENANCE.md).
OKX_CANDLE_INST = "BTC-USDT-SWAP"  # the ccxt comment's row names none; served for BTC only
MEXC_KLINE_SYMBOL = "ETH_USDT"  # prices ~3492 and amount ≈ vol × 0.01 × close: ETH_USDT
HYPERLIQUID_CANDLE_COIN = "kPEPE"  # the recorded request names it

ROUTES: dict[str, dict[str, Route]] = {
    "binanceusdm": {
        "/fapi/v1/exchangeInfo": _file("binanceusdm", "rest/exchangeInfo.json"),
        "/fapi/v1/premiumIndex": _file("binanceusdm", "rest/premiumIndex.json"),
        "/fapi/v1/fundingInfo": _file("binanceusdm", "rest/fundingInfo.json"),
        "/fapi/v1/ticker/24hr": _file("binanceusdm", "rest/ticker_24hr.json"),
        "/fapi/v1/klines": _file("binanceusdm", "rest/klines.json"),
        "/fapi/v1/openInterest": _binance_open_interest,
    },
    "bybit": {
        "/v5/market/kline": _bybit_kline,
        "/v5/market/instruments-info": _file("bybit", "rest/instruments_linear.json"),
        "/v5/market/tickers": _file("bybit", "rest/tickers_linear.json"),
    },
    "okx": {
        "/api/v5/public/instruments": _okx_data("rest/instruments_swap.data.json"),
        "/api/v5/market/tickers": _file("okx", "rest/tickers_swap.json"),
        "/api/v5/public/funding-rate": _okx_funding,
        "/api/v5/market/candles": _okx_candles,
        "/api/v5/public/open-interest": _file("okx", "rest/open_interest_swap.json"),
    },
    "mexc": {
        "/api/v1/contract/detail": _file("mexc", "rest/contract_detail.json"),
        "/api/v1/contract/ticker": _file("mexc", "rest/contract_ticker.json"),
        "/api/v1/contract/kline/": _mexc_kline,
        "/api/v1/contract/funding_rate/": _mexc_funding,
    },
    "hyperliquid": {"/info": _hyperliquid_info},
}


@dataclass
class WireServer:
    exchange: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    overrides: dict[str, Route] = field(default_factory=dict)  # a test replaces one path's answer
    url: str = ""
    streams: list[str] = field(default_factory=list)  # websocket subscriptions, in order
    sockets: list[web.WebSocketResponse] = field(default_factory=list)

    async def push(self, frame: Any) -> None:
        """Send ``frame`` (as JSON) on every open websocket."""
        for ws in self.sockets:
            if not ws.closed:
                await ws.send_str(json.dumps(frame))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            if message.data == "ping":  # OKX
                await ws.send_str("pong")
                continue
            command = json.loads(message.data)
            if isinstance(command, dict):
                for answer in self._acknowledge(command):
                    await ws.send_str(json.dumps(answer))
        return ws

    def _acknowledge(self, command: dict[str, Any]) -> list[Any]:
        method, op = command.get("method"), command.get("op")
        if method == "SUBSCRIBE":  # Binance
            self.streams.extend(command.get("params") or [])
            return [{"result": None, "id": command.get("id")}]
        if op == "subscribe" and all(isinstance(a, str) for a in command.get("args") or []):  # Bybit
            self.streams.extend(command.get("args") or [])
            return [
                {
                    "success": True,
                    "ret_msg": "",
                    "conn_id": "wire",
                    "req_id": command.get("req_id", ""),
                    "op": op,
                }
            ]
        if op == "subscribe":  # OKX: one acknowledgement per channel
            args = command.get("args") or []
            self.streams.extend(f"{a.get('channel')}:{a.get('instId') or a.get('instType')}" for a in args)
            return [{"event": "subscribe", "arg": a, "connId": "wire"} for a in args]
        if op == "ping":  # Bybit
            return [{"success": True, "ret_msg": "pong", "conn_id": "wire", "op": "ping"}]
        if method == "ping":  # MEXC
            return [{"channel": "pong", "data": 0}]
        subscription = command.get("subscription")
        if method == "subscribe" and isinstance(subscription, dict):  # Hyperliquid
            self.streams.append(f"{subscription.get('type')}:{subscription.get('coin')}")
            return [{"channel": "subscriptionResponse", "data": command}]
        if isinstance(method, str) and method.startswith("sub."):  # MEXC
            param = command.get("param") or {}
            self.streams.append(f"{method.removeprefix('sub.')}:{param.get('symbol')}")
            return [{"channel": f"rs.{method}", "data": "success", "ts": 0}]
        return []

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def _route(self, path: str) -> Route | None:
        for table in (self.overrides, self.routes):
            if path in table:
                return table[path]
            for prefix, route in table.items():
                if prefix.endswith("/") and path.startswith(prefix):
                    return route
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        query = dict(request.query)
        if request.method == "POST" and request.can_read_body:  # Hyperliquid: a JSON body, read as the query
            body = json.loads(await request.text() or "{}")
            query |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        self.requests.append((request.path, query))
        route = self._route(request.path)
        if route is None:
            self.unknown.append(request.path)
            return web.Response(status=404, text="<html><body><h1>404 Not Found</h1></body></html>")
        status, body = route(query, request.path)
        html = body.lstrip().startswith("<")
        return web.Response(
            status=status, text=body, content_type="text/html" if html else "application/json"
        )


@asynccontextmanager
async def wire_server(exchange: str) -> AsyncIterator[WireServer]:
    """Serve ``exchange``'s fixtures on a free loopback port; ``server.url`` is the ``rest_url`` override."""
    server = WireServer(exchange=exchange, routes=ROUTES[exchange])
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]  # aiohttp exposes the port only here
    server.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield server
    finally:
        for ws in server.sockets:
            await ws.close()
        await runner.cleanup()
