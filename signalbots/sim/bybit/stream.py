"""Bybit v5's public linear websocket, ``/v5/public/linear``.

``{"op": "subscribe"}`` with Bybit's acks, ``{"op": "ping"}`` → pong (Bybit never pings; the client must),
topics ``allLiquidation.<symbol>`` and ``kline.<interval>.<symbol>``.
"""

from __future__ import annotations

import json

from signalbots.events import timeframe_ms
from signalbots.sim import klines
from signalbots.sim.bybit.wire import EXCHANGE_ID, INTERVALS, liquidation_frame, ws_kline
from signalbots.sim.market import Market
from signalbots.sim.venue import Connection, Venue


class BybitStream:
    def __init__(self, *, market: Market) -> None:
        self.market = market

    def is_ws_path(self, path: str) -> bool:
        return path.startswith("/v5/public/")

    async def on_text(self, venue: Venue, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            await venue.reply(
                conn, {"success": False, "ret_msg": "error:request not json", "conn_id": conn.state["id"]}
            )
            return
        req_id = msg.get("req_id", "")
        if op == "ping":
            await venue.reply(
                conn,
                {
                    "success": True,
                    "ret_msg": "pong",
                    "conn_id": conn.state["id"],
                    "req_id": req_id,
                    "op": "ping",
                },
            )
        elif op in ("subscribe", "unsubscribe"):
            topics = list(msg.get("args", []))
            bad = [t for t in topics if not self._valid_topic(t)]
            if bad and op == "subscribe":
                await venue.reply(
                    conn,
                    {
                        "success": False,
                        "ret_msg": f"error:handler not found,topic:{bad[0]}",
                        "conn_id": conn.state["id"],
                        "req_id": req_id,
                        "op": op,
                    },
                )
                return
            if op == "subscribe":
                conn.subscriptions.update(topics)
                now = self.market.now_ms()
                for topic in topics:
                    if topic.startswith("kline."):
                        klines.start(conn, topic, timeframe_ms(INTERVALS[topic.split(".")[1]]), now)
            else:
                conn.subscriptions.difference_update(topics)
            await venue.reply(
                conn,
                {"success": True, "ret_msg": "", "conn_id": conn.state["id"], "req_id": req_id, "op": op},
            )

    def _valid_topic(self, topic: str) -> bool:
        kind, _, rest = topic.partition(".")
        if kind == "allLiquidation":
            return self.market.find(EXCHANGE_ID, rest.removesuffix("USDT")) is not None
        if kind == "kline":
            interval, _, sym = rest.partition(".")
            return (
                interval in INTERVALS and self.market.find(EXCHANGE_ID, sym.removesuffix("USDT")) is not None
            )
        return False

    async def tick(self, venue: Venue, prev_ms: int, now_ms: int) -> None:
        prints = venue.collect_prints(prev_ms, now_ms)
        for conn in list(venue.connections):
            for liq in prints:
                topic = f"allLiquidation.{liq.base}USDT"
                if topic in conn.subscriptions:
                    await venue.send(conn, liquidation_frame(topic, liq, now_ms))
            for topic in conn.subscriptions:
                if topic.startswith("kline."):
                    await self._push_kline(venue, conn, topic, now_ms)

    async def _push_kline(self, venue: Venue, conn: Connection, topic: str, now_ms: int) -> None:
        _, interval, sym = topic.split(".", 2)
        listing = self.market.find(EXCHANGE_ID, sym.removesuffix("USDT"))
        if listing is None:
            return
        timeframe = INTERVALS[interval]
        span = timeframe_ms(timeframe)
        last, current = klines.advance(conn, topic, span, now_ms)
        data = [
            ws_kline(self.market.bar(listing, timeframe, open_ms), span, interval, now_ms, True)
            for open_ms in klines.closed_since(last, current, span)
        ]
        if klines.open_due(conn, topic, now_ms, rolled=bool(data), every_ms=venue.kline_every_ms):
            data.append(ws_kline(self.market.bar(listing, timeframe, current), span, interval, now_ms, False))
            await venue.send(conn, {"topic": topic, "data": data, "ts": now_ms, "type": "snapshot"})
