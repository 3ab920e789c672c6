"""OKX v5's public websocket, ``/ws/v5/public``.

``{"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}`` with
``{"event": "subscribe"}`` acks; text ``ping`` → ``pong`` (OKX never pings; the client must).
"""

from __future__ import annotations

import json

from signalbots.sim.market import Market
from signalbots.sim.okx.wire import liquidation_entry
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
        for arg in args:
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if channel != "liquidation-orders" or arg.get("instType") not in _INST_TYPES:
                await _error(venue, conn, f"channel:{channel} doesn't exist", "60018")
                continue
            key = f"{channel}:{arg['instType']}"
            if op == "subscribe":
                conn.subscriptions.add(key)
            elif op == "unsubscribe":
                conn.subscriptions.discard(key)
            await venue.reply(conn, {"event": op, "arg": arg, "connId": conn.state["id"]})

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        prints = venue.collect_prints(prev_ms, now_ms)
        if not prints:
            return
        data = [liquidation_entry(self.market, liq) for liq in prints]
        await venue.broadcast(
            lambda c: "liquidation-orders:SWAP" in c.subscriptions,
            lambda c: {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": data},
        )


async def _error(venue: Venue, conn: Connection, msg: str, code: str) -> None:
    await venue.reply(conn, {"event": "error", "msg": msg, "code": code, "connId": conn.state["id"]})
