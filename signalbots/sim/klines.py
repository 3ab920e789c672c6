"""What every venue's kline stream shares: a cursor per connection and stream of the windows pushed.

A kline stream starts with the window open at subscription time; each tick pushes the final state of the
windows that closed since (a few at most, not a flood after a long pause) and the open window at once when
it rolls, then every 10 s (the exchanges: every 250 ms to 1 s).
"""

from __future__ import annotations

from signalbots.sim.venue import Connection

_CATCH_UP = 3  # closed windows pushed at most after a pause
_OPEN_EVERY_MS = 10_000


def start(conn: Connection, key: str, span: int, now_ms: int) -> None:
    """Subscribed: the stream's first window is the one open now (kept if already subscribed)."""
    cursors: dict[str, int] = conn.state.setdefault("kline", {})
    cursors.setdefault(key, now_ms // span * span)


def advance(conn: Connection, key: str, span: int, now_ms: int) -> tuple[int, int]:
    """(the window pushed last, the window open now); the cursor moves to the one open now."""
    current = now_ms // span * span
    cursors: dict[str, int] = conn.state.setdefault("kline", {})
    last = cursors.get(key, current)
    cursors[key] = current
    return last, current


def closed_since(last: int, current: int, span: int) -> range:
    """Open times of the windows that closed since ``last`` (the latest few)."""
    return range(max(last, current - _CATCH_UP * span), current, span)


def open_due(
    conn: Connection, key: str, now_ms: int, *, rolled: bool, every_ms: int = _OPEN_EVERY_MS
) -> bool:
    """Whether to push the open window now (and note that it was pushed); ``every_ms``: the cadence."""
    pushed: dict[str, int] = conn.state.setdefault("kline_pushed", {})
    if rolled or now_ms - pushed.get(key, 0) >= every_ms:
        pushed[key] = now_ms
        return True
    return False
