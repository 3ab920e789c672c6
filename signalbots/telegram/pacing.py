"""Our side of Telegram's flood limits, so that its 429s stay rare.

Telegram allows about one message per second to a private chat, 20 per minute to a group and 30 per second
overall; it answers anything faster with 429 and a ``retry_after`` that grows with repeated offences. The
pacer spaces requests evenly below those limits (``per_chat_interval``, ``group_per_minute``,
``global_per_second``); a group is a negative chat id.
"""

from __future__ import annotations

import math
from collections import deque

from signalbots.clock import Clock
from signalbots.settings import TelegramSettings


class Pacer:
    def __init__(self, *, settings: TelegramSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._chat_ready: dict[int, float] = {}  # monotonic time the chat may get its next request
        self._recent: deque[float] = deque()  # request times in the last second, all chats

    def chat_delay(self, chat: int) -> float:
        """Seconds until ``chat`` may get its next request (≤ 0: now)."""
        return self._chat_ready.get(chat, -math.inf) - self._clock.monotonic()

    async def acquire(self, chat: int) -> None:
        """Wait for a slot in the overall budget, then count a request to ``chat``."""
        while True:
            now = self._clock.monotonic()
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) < self.settings.global_per_second:
                break
            await self._clock.sleep(self._recent[0] + 1.0 - now)
        self._recent.append(now)
        self._chat_ready[chat] = now + self.interval(chat)

    def interval(self, chat: int) -> float:
        """Seconds between two requests to ``chat``."""
        s = self.settings
        return 60.0 / s.group_per_minute if chat < 0 else s.per_chat_interval
