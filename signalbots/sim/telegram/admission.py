"""Telegram's flood limits, on the simulator's clock.

A private chat gets a small burst then 1 message/s, a group (negative id) 20 per minute, the bot 30 per
second overall; a request over a limit is answered 429 with ``parameters.retry_after``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Pacer:
    """Telegram-like flood limits, on the sim's clock."""

    private_burst: int
    tokens: dict[int, tuple[float, float]] = field(default_factory=dict)  # chat → (tokens, at)
    groups: dict[int, deque[float]] = field(default_factory=dict)
    overall: deque[float] = field(default_factory=deque)

    def check(self, chat_id: int, now: float) -> int:
        """0 when allowed (and counted); otherwise the seconds to wait."""
        while self.overall and self.overall[0] <= now - 1.0:
            self.overall.popleft()
        if len(self.overall) >= 30:
            return 1
        if chat_id < 0:
            window = self.groups.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= 20:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
        else:
            have, at = self.tokens.get(chat_id, (float(self.private_burst), now))
            have = min(float(self.private_burst), have + (now - at))
            if have < 1.0:
                return max(1, math.ceil(1.0 - have))
            self.tokens[chat_id] = (have - 1.0, now)
        self.overall.append(now)
        return 0
