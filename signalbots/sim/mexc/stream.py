"""MEXC futures' websocket, ``/edge``.

``{"method": "ping"}`` → ``{"channel": "pong", "data": <ms>}`` (MEXC never pings; the client must);
``{"method": "sub.ticker" | "sub.tickers" | "sub.kline", "param": {...}}`` → ``{"channel": "rs.sub.ticker",
"data": "success", "ts": ...}``; pushes ``push.ticker``, ``push.tickers`` (every second) and ``push.kline``
(``q`` contracts, ``a`` USDT, ``t`` window start in seconds; no "closed" flag: the final state of a window is
pushed once when the next one opens). MEXC has no public liquidation stream.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim import klines
from signalbots.sim.market import Market
from signalbots.sim.mexc.wire import EXCHANGE_ID, INTERVALS, ticker_row, ws_kline, ws_ticker, ws_ticker_one
from signalbots.sim.venue import Connection, Venue


class MexcStream:
    def __init__(self, *, market: Market) -> None:
        self.market = market

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/edge")

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None:
        now = self.market.now_ms()
        try:
            msg = json.loads(text)
            method = msg["method"]
            param = msg.get("param") or {}
            if not isinstance(method, str) or not isinstance(param, dict):
                raise TypeError(method)
        except (ValueError, KeyError, TypeError):
            await venue.reply(conn, {"channel": "rs.error", "data": "请求参数错误!", "ts": now})
            return
        if method == "ping":
            await venue.reply(conn, {"channel": "pong", "data": now})
            return
        action, _, topic = method.partition(".")
        if action not in ("sub", "unsub") or topic not in ("ticker", "tickers", "kline"):
            await venue.reply(conn, {"channel": "rs.error", "data": f"{method} not support!", "ts": now})
            return
        key = self._subscription(topic, param)
        if key is None:
            await venue.reply(conn, {"channel": "rs.error", "data": "合约不存在!", "ts": now})
            return
        if action == "sub":
            conn.subscriptions.add(key)
            if topic == "kline":
                klines.start(conn, key, timeframe_ms(INTERVALS[param["interval"]]), now)
        else:
            conn.subscriptions.discard(key)
        await venue.reply(conn, {"channel": f"rs.{method}", "data": "success", "ts": now})

    def _subscription(self, topic: str, param: dict[str, Any]) -> str | None:
        if topic == "tickers":
            return "tickers"
        symbol = param.get("symbol")
        listing = (
            self.market.find(EXCHANGE_ID, symbol.removesuffix("_USDT"))
            if isinstance(symbol, str) and symbol.endswith("_USDT")
            else None
        )
        if listing is None:
            return None
        if topic == "ticker":
            return f"ticker:{symbol}"
        interval = param.get("interval", "Min1")
        return f"kline:{symbol}:{interval}" if interval in INTERVALS else None

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        venue.take_prints()  # MEXC publishes no liquidations
        for conn in list(venue.connections):
            for key in sorted(conn.subscriptions):
                kind, _, rest = key.partition(":")
                if kind == "tickers":
                    rows = [ticker_row(self.market, x) for x in self.market.trading(EXCHANGE_ID)]
                    await venue.send(
                        conn, {"channel": "push.tickers", "data": [ws_ticker(r) for r in rows], "ts": now_ms}
                    )
                elif kind == "ticker":
                    listing = self.market.find(EXCHANGE_ID, rest.removesuffix("_USDT"))
                    if listing is not None:
                        data = ws_ticker_one(ticker_row(self.market, listing))
                        await venue.send(
                            conn, {"symbol": rest, "data": data, "channel": "push.ticker", "ts": now_ms}
                        )
                elif kind == "kline":
                    await self._push_kline(venue, conn, key, now_ms)

    async def _push_kline(self, venue: Venue, conn: Connection, key: str, now_ms: int) -> None:
        _, symbol, interval = key.split(":")
        listing = self.market.find(EXCHANGE_ID, symbol.removesuffix("_USDT"))
        if listing is None:
            return
        timeframe = INTERVALS[interval]
        span = timeframe_ms(timeframe)
        last, current = klines.advance(conn, key, span, now_ms)
        frames = [
            ws_kline(symbol, interval, self.market.bar(listing, timeframe, open_ms), listing, now_ms)
            for open_ms in klines.closed_since(last, current, span)
        ]  # the final state of each window that closed since the last push
        if klines.open_due(conn, key, now_ms, rolled=bool(frames), every_ms=venue.kline_every_ms):
            frames.append(
                ws_kline(symbol, interval, self.market.bar(listing, timeframe, current), listing, now_ms)
            )
        for frame in frames:
            await venue.send(conn, frame)
