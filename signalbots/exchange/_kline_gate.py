"""``KlineGate``: one websocket connection's updates of still-open candles, held back from ccxt.

The daemon publishes closed candles only (``candles``): the moment the exchange marks one closed (Binance
``k.x``, Bybit and OKX ``confirm``) or, where the frames carry no flag (MEXC, Hyperliquid), when the next
candle's first frame arrives. Every update between is parsed by ccxt, cached, and wakes the feed for nothing
— at Binance's 250 ms cadence that was most of the daemon's CPU. So a kline frame of a candle ccxt has seen
already, not closed by the exchange's flag, is kept here (the latest one per series: market and timeframe)
instead; the first frame of a newer candle first hands over the one kept, so ccxt — and the feed — see the
previous candle's last state exactly as before, then itself. A closing frame goes at once.

Anything that is not a well-formed kline frame of the profile (``CandleStream.frames``) goes to ccxt
unchanged, so its handlers and their error handling see it as before. A gate belongs to one connection: a
new connection starts with none kept, and what a dropped one kept is handed to ccxt as it closes (``held``),
never replayed as fresh on the next.
"""

from __future__ import annotations

from typing import Any

from signalbots.exchange.venues._venue import CandleStream, FrameMarketId, KlineFrames


class KlineGate:
    """Which of a connection's frames to hand ccxt now (``admit``), and what it holds back meanwhile."""

    __slots__ = ("_closed", "_frames", "_latest", "_market_id")

    def __init__(self, frames: KlineFrames, market_id: FrameMarketId, stream: CandleStream) -> None:
        self._frames = frames
        self._market_id = market_id
        self._closed = stream.closed_flag
        # (market id, timeframe) → [the newest candle ccxt has seen (its open time), the frame held or None]
        self._latest: dict[tuple[str, str], list[Any]] = {}

    @classmethod
    def of(cls, stream: CandleStream | None) -> KlineGate | None:
        """A gate for a connection of ``stream``'s exchange, None where its profile does not say how."""
        if stream is None or stream.frames is None or stream.market_id is None:
            return None
        return cls(stream.frames, stream.market_id, stream)

    def admit(self, frame: Any) -> tuple[Any, ...]:
        """The frames to hand ccxt now, in order: ``()`` when ``frame`` is held back."""
        spec = self._frames
        channel = spec.channel(frame)
        if channel is None or not channel.startswith(spec.prefix):
            return (frame,)
        market, interval = self._market_id(frame), spec.interval(frame)
        if market is None or interval is None:
            return (frame,)  # malformed: ccxt's handler reports it as before
        key = (market, interval)
        kline = spec.kline_of(frame)
        opened = spec.open_ms(kline) if kline is not None else None
        if opened is None:
            # Several candles in one frame (a catch-up after a stall), or a malformed one: ccxt gets it as it
            # is, after what was held of the series, as it would have before; the next frame starts afresh.
            dropped = self._latest.pop(key, None)
            held = dropped[1] if dropped is not None else None
            return (frame,) if held is None else (held, frame)
        latest = self._latest.get(key)
        if latest is None or opened > latest[0]:
            held = latest[1] if latest is not None else None
            self._latest[key] = [opened, None]
            return (frame,) if held is None else (held, frame)
        if opened < latest[0]:
            return (frame,)  # an older candle's update: ccxt decides, as before
        if self._closed(kline):
            latest[1] = None  # the final state supersedes what was held
            return (frame,)
        latest[1] = frame
        return ()

    def held(self) -> list[Any]:
        """Every frame held back, now no longer (the connection is closing: ccxt gets its last state)."""
        frames = [latest[1] for latest in self._latest.values() if latest[1] is not None]
        self._latest.clear()
        return frames
