"""OKX v5's websockets: ``/ws/v5/public`` (liquidation orders) and ``/ws/v5/business`` (candlesticks).

``{"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}`` on the public path,
``{"op": "subscribe", "args": [{"channel": "candle5m", "instId": "BTC-USDT-SWAP"}]}`` on the business path
(OKX moved the candle channels there; a channel on the wrong path is refused with 60018), each acknowledged
with ``{"event": "subscribe", "arg": ..., "connId": ...}``; text ``ping`` → ``pong`` (OKX never pings; the
client must). A candle frame carries one row ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``:
``confirm`` "1" on the final state of a closed candle, pushed once when the next one opens.
"""

from __future__ import annotations

import json
from typing import Any

from signalbots.events import timeframe_ms
from signalbots.sim import klines
from signalbots.sim.market import Market
from signalbots.sim.okx.wire import BARS, EXCHANGE_ID, candle_row, liquidation_entry
from signalbots.sim.venue import Connection, Venue

_INST_TYPES = ("SWAP", "FUTURES", "MARGIN", "OPTION")


class OkxStream:
    def __init__(self, *, market: Market) -> None:
        self.market = market

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/ws/v5/")

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None:
        if text == "ping":
            await venue.reply(conn, "pong")
            return
        try:
            msg = json.loads(text)
            op, args = msg["op"], msg["args"]
        except (ValueError, KeyError, TypeError):
            await _error(venue, conn, f"Illegal request: {text}", "60012")
            return
        business = conn.path.startswith("/ws/v5/business")
        for arg in args:
            key = self._subscription(arg, business=business)
            if key is None:
                channel = arg.get("channel") if isinstance(arg, dict) else None
                await _error(venue, conn, f"channel:{channel} doesn't exist", "60018")
                continue
            if op == "subscribe":
                conn.subscriptions.add(key)
                if key.startswith("candle"):
                    bar = arg["channel"].removeprefix("candle")
                    klines.start(conn, key, timeframe_ms(BARS[bar]), self.market.now_ms())
            elif op == "unsubscribe":
                conn.subscriptions.discard(key)
            await venue.reply(conn, {"event": op, "arg": arg, "connId": conn.state["id"]})

    def _subscription(self, arg: Any, *, business: bool) -> str | None:
        channel = arg.get("channel") if isinstance(arg, dict) else None
        if not isinstance(channel, str):
            return None
        if channel == "liquidation-orders" and not business and arg.get("instType") in _INST_TYPES:
            return f"{channel}:{arg['instType']}"
        bar = channel.removeprefix("candle")
        inst = arg.get("instId")
        if not (channel.startswith("candle") and business and bar in BARS and isinstance(inst, str)):
            return None
        listed = inst.endswith("-USDT-SWAP") and self.market.find(EXCHANGE_ID, inst.split("-")[0])
        return f"{channel}:{inst}" if listed else None

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        prints = venue.collect_prints(prev_ms, now_ms)
        if prints:
            data = [liquidation_entry(self.market, liq) for liq in prints]
            await venue.broadcast(
                lambda c: "liquidation-orders:SWAP" in c.subscriptions,
                lambda c: {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": data},
            )
        for conn in list(venue.connections):
            for key in sorted(conn.subscriptions):
                if key.startswith("candle"):
                    await self._push_candle(venue, conn, key, now_ms)

    async def _push_candle(self, venue: Venue, conn: Connection, key: str, now_ms: int) -> None:
        channel, _, inst = key.partition(":")
        listing = self.market.find(EXCHANGE_ID, inst.split("-")[0])
        if listing is None:
            return
        timeframe = BARS[channel.removeprefix("candle")]
        span = timeframe_ms(timeframe)
        last, current = klines.advance(conn, key, span, now_ms)
        opens = list(klines.closed_since(last, current, span))  # their final state, confirm "1"
        if klines.open_due(conn, key, now_ms, rolled=bool(opens), every_ms=venue.kline_every_ms):
            opens.append(current)
        arg = {"channel": channel, "instId": inst}
        for open_ms in opens:
            row = candle_row(self.market.bar(listing, timeframe, open_ms), listing, now_ms, timeframe)
            await venue.send(conn, {"arg": arg, "data": [row]})


async def _error(venue: Venue, conn: Connection, msg: str, code: str) -> None:
    await venue.reply(conn, {"event": "error", "msg": msg, "code": code, "connId": conn.state["id"]})
