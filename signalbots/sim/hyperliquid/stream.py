"""Hyperliquid's websocket, ``/ws``: ``{"method": "subscribe", "subscription": {"type": "candle", "coin": …,
"interval": …}}`` acknowledged as ``{"channel": "subscriptionResponse", "data": <the request>}``, then
``{"channel": "candle", "data": <candle>}`` for every update of the open candle (no closed flag: the last
update of a candle is followed by the first of the next); ``{"method": "ping"}`` → ``{"channel": "pong"}``.
Anything else is answered on the ``error`` channel.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim import klines
from signalbots.sim.hyperliquid.wire import EXCHANGE_ID, INTERVALS, candle
from signalbots.sim.market import Market
from signalbots.sim.venue import Connection, Venue


class HyperliquidStream:
    def __init__(self, *, market: Market) -> None:
        self.market = market

    def is_ws_path(self, path: str) -> bool:
        return path == "/ws"

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            method = msg["method"]
        except (ValueError, KeyError, TypeError):
            await _error(venue, conn, f"Error parsing JSON into valid websocket request: {text}")
            return
        if method == "ping":
            await venue.reply(conn, {"channel": "pong"})
            return
        sub = msg.get("subscription")
        key = self._candle_key(sub) if method in ("subscribe", "unsubscribe") else None
        if key is None:
            await _error(venue, conn, f"Error parsing JSON into valid websocket request: {text}")
            return
        if method == "subscribe":
            conn.subscriptions.add(key)
            klines.start(conn, key, timeframe_ms(sub["interval"]), self.market.now_ms())
        else:
            conn.subscriptions.discard(key)
        await venue.reply(conn, {"channel": "subscriptionResponse", "data": msg})

    def _candle_key(self, sub: Any) -> str | None:
        if not isinstance(sub, dict) or sub.get("type") != "candle" or sub.get("interval") not in INTERVALS:
            return None
        if self.market.find(EXCHANGE_ID, str(sub.get("coin"))) is None:
            return None
        return f"candle:{sub['coin']}:{sub['interval']}"

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        venue.collect_prints(prev_ms, now_ms)  # no public liquidation feed: prints are not published
        for conn in list(venue.connections):
            for key in sorted(conn.subscriptions):
                await self._push(venue, conn, key, now_ms)

    async def _push(self, venue: Venue, conn: Connection, key: str, now_ms: int) -> None:
        _, coin, interval = key.split(":")
        listing = self.market.find(EXCHANGE_ID, coin)
        if listing is None:
            return
        span = timeframe_ms(interval)
        last, current = klines.advance(conn, key, span, now_ms)
        closed = list(klines.closed_since(last, current, span))
        for open_ms in closed:  # each candle's final state
            bar = self.market.bar(listing, interval, open_ms)
            await venue.send(conn, {"channel": "candle", "data": candle(bar, listing, interval)})
        if klines.open_due(conn, key, now_ms, rolled=bool(closed), every_ms=venue.kline_every_ms):
            bar = self.market.bar(listing, interval, current)
            await venue.send(conn, {"channel": "candle", "data": candle(bar, listing, interval)})


async def _error(venue: Venue, conn: Connection, message: str) -> None:
    await venue.reply(conn, {"channel": "error", "data": message})
