"""``Pacer``: a websocket connection's outgoing messages (subscribe requests) at ccxt's pace, on the daemon's
clock.

ccxt.pro spaces each connection's messages by the exchange's ``rateLimit`` (MEXC: 50 ms, 20 a second) with
a throttler of its own that reads the wall clock. MEXC takes one ``sub.kline`` per symbol: 750 of them take
37.5 s. Everything else the daemon paces reads its injected clock; on a faster clock (the benchmarks' 10×
simulator) the wall-clock ramp lasted 375 simulated seconds, and the symbols subscribed after a candle's close
got that candle from REST minutes late. The same pace, on the daemon's clock.
"""

from __future__ import annotations

from typing import Any

from signalbots.clock import Clock


class Pacer:
    """A token bucket: ``rate`` messages a second, ``burst`` at once; a message over it waits its turn."""

    def __init__(self, *, clock: Clock, rate: float, burst: float) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at = clock.monotonic()

    async def __call__(self, cost: Any = None) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        # Taken now, even into debt: the callers queue in the order they came, each its own slot later.
        self._tokens -= float(cost) if isinstance(cost, int | float) and cost > 0 else 1.0
        if self._tokens < 0:
            await self._clock.sleep(-self._tokens / self._rate)
