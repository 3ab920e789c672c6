"""``OpenInterestBook``: the open interest context every alert carries where it is known.

The desk feeds it every ``OpenInterest`` event (live through the tracker task, in a backtest from the
replay) and asks it for a candidate's context before deciding: the current open interest in USD
(``oi_usd``), its change over the past hour (``oi_change_1h_pct``, in coins so that a price move alone is no
change; left out until an hour of samples is held) and, where the candidate carries a notional that
closed positions (a cascade's liquidated sum), that notional as a share of the open interest
(``oi_share_pct``). The rendering shows these on one line. Pure and bounded: per symbol, at most an hour and
a few minutes of samples.
"""

from __future__ import annotations

import math
from dataclasses import replace

from signalbots.events import OpenInterest
from signalbots.packed import Rows
from signalbots.signals.model import Candidate

HOUR_MS = 3_600_000
_SLACK_MS = 10 * 60_000  # the sample an hour back may be this much younger (Binance: one every 5 minutes)
_FRESH_MS = 15 * 60_000  # older than this, the current figure is not "current"
# Facts that are a notional of positions closed: shown as a share of the open interest.
NOTIONAL_FACTS = ("window_notional_usd",)


class OpenInterestBook:
    def __init__(self) -> None:
        # time, base, USD, packed: 70 minutes of one a minute per symbol as tuples, ~20 MB at full market
        self._samples: dict[tuple[str, str], Rows] = {}

    def observe(self, event: OpenInterest) -> None:
        if not (math.isfinite(event.base) and math.isfinite(event.usd) and event.base > 0 and event.usd > 0):
            return
        samples = self._samples.get((event.exchange, event.symbol))
        if samples is None:
            samples = self._samples[(event.exchange, event.symbol)] = Rows(3)
        last = samples.last_time()
        if last is not None and event.time_ms <= last:
            return
        samples.append(event.time_ms, event.base, event.usd)
        samples.drop_before(event.time_ms - HOUR_MS - _SLACK_MS)

    def facts(self, exchange: str, symbol: str, time_ms: int) -> dict[str, float]:
        """The context at ``time_ms`` (empty when no recent figure is held)."""
        samples = self._samples.get((exchange, symbol))
        now = None
        if samples:
            now = next((s for s in reversed(samples) if s[0] <= time_ms), None)
        if now is None or time_ms - now[0] > _FRESH_MS:
            return {}
        out = {"oi_usd": now[2]}
        assert samples is not None
        back = [s for s in samples if now[0] - HOUR_MS - _SLACK_MS <= s[0] <= now[0] - HOUR_MS + _SLACK_MS]
        if back:
            then = min(back, key=lambda s: abs(s[0] - (now[0] - HOUR_MS)))
            out["oi_change_1h_pct"] = (now[1] - then[1]) / then[1] * 100.0
        return out

    def with_context(self, c: Candidate) -> Candidate:
        """``c`` with its open interest facts added (its own facts win); ``c`` itself when none is known."""
        context = self.facts(c.exchange, c.symbol, c.time_ms)
        if not context:
            return c
        for name in NOTIONAL_FACTS:
            if name in c.facts:
                context["oi_share_pct"] = c.facts[name] / context["oi_usd"] * 100.0
                break
        return replace(c, facts={**context, **c.facts})
