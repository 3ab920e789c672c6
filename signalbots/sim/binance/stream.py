"""Binance USDⓈ-M's websockets, as ccxt subscribes them.

Raw streams on ``/ws``, ``/market/ws/<n>`` and ``/public/ws/<n>``, combined ones (``{"stream", "data"}``) on
``/stream``: ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` with ``{"result", "id"}`` acks,
``!forceOrder@arr`` (the largest print per symbol per second), ``<s>@forceOrder``, ``!markPrice@arr[@1s]``,
``<s>@kline_<interval>``; the server pings every 3 minutes.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim import klines
from signalbots.sim.binance.wire import (
    EXCHANGE_ID,
    INTERVALS,
    force_order,
    kline_event,
    mark_price_update,
    symbol_id,
)
from signalbots.sim.market import LiquidationPrint, Market
from signalbots.sim.venue import Connection, Venue


class BinanceStream:
    def __init__(self, *, market: Market) -> None:
        self.market = market

    def is_ws_path(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        return parts[0] in ("ws", "stream") or parts[:2] in (
            ["market", "ws"],
            ["public", "ws"],
            ["market", "stream"],
            ["public", "stream"],
        )

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            method, params, req_id = msg["method"], msg.get("params", []), msg["id"]
        except (ValueError, KeyError, TypeError):
            await venue.reply(
                conn, {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}
            )
            return
        if method == "SUBSCRIBE":
            conn.subscriptions.update(params)
            now = self.market.now_ms()
            for stream in params:
                interval = stream.partition("@kline_")[2]
                if interval in INTERVALS:
                    klines.start(conn, stream, timeframe_ms(interval), now)
            await venue.reply(conn, {"result": None, "id": req_id})
        elif method == "UNSUBSCRIBE":
            conn.subscriptions.difference_update(params)
            await venue.reply(conn, {"result": None, "id": req_id})
        elif method == "LIST_SUBSCRIPTIONS":
            await venue.reply(conn, {"result": sorted(conn.subscriptions), "id": req_id})
        else:
            await venue.reply(
                conn, {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": req_id}
            )

    async def _push(self, venue: Venue, conn: Connection, stream: str, data: Any) -> None:
        combined = "/stream" in conn.path
        await venue.send(conn, {"stream": stream, "data": data} if combined else data)

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        await venue.ping_idle()
        largest: dict[str, LiquidationPrint] = {}
        for liq in venue.collect_prints(prev_ms, now_ms):  # at most the largest per symbol per second
            best = largest.get(liq.base)
            if best is None or liq.price * liq.quantity > best.price * best.quantity:
                largest[liq.base] = liq
        for conn in list(venue.connections):
            subs = conn.subscriptions
            for liq in largest.values():
                own = f"{liq.base.lower()}usdt@forceOrder"
                if "!forceOrder@arr" in subs or own in subs:
                    await self._push(
                        venue,
                        conn,
                        "!forceOrder@arr" if "!forceOrder@arr" in subs else own,
                        force_order(liq, now_ms),
                    )
            for stream in subs:
                if stream.startswith("!markPrice@arr"):
                    every = 1000 if stream.endswith("@1s") else 3000
                    if now_ms // every != prev_ms // every:
                        await self._push(
                            venue,
                            conn,
                            stream,
                            [
                                mark_price_update(self.market, x, now_ms)
                                for x in self.market.trading(EXCHANGE_ID)
                            ],
                        )
                elif "@kline_" in stream:
                    await self._kline(venue, conn, stream, now_ms)

    async def _kline(self, venue: Venue, conn: Connection, stream: str, now_ms: int) -> None:
        sym, _, interval = stream.partition("@kline_")
        listing = self.market.find(EXCHANGE_ID, sym.upper().removesuffix("USDT"))
        if listing is None or interval not in INTERVALS:
            return
        span = timeframe_ms(interval)
        last, current = klines.advance(conn, stream, span, now_ms)
        for open_ms in klines.closed_since(last, current, span):
            bar = self.market.bar(listing, interval, open_ms)
            event = kline_event(symbol_id(listing), interval, bar, span, now_ms, closed=True)
            await self._push(venue, conn, stream, event)
        if klines.open_due(conn, stream, now_ms, rolled=last != current, every_ms=venue.kline_every_ms):
            bar = self.market.bar(listing, interval, current)
            event = kline_event(symbol_id(listing), interval, bar, span, now_ms, closed=False)
            await self._push(venue, conn, stream, event)
