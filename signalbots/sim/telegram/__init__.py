"""A local Telegram Bot API server for tests and the demo.

It speaks the Bot API wire format (``POST /bot<token>/<method>``, form or JSON bodies, ``{"ok": true,
"result": ...}`` / ``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``) for the
methods signalbots uses, so the real aiogram client runs against it unchanged
(``AiohttpSession(api=TelegramAPIServer.from_base(sim.url))``).

``server`` (``TelegramSim``: lifecycle, request log, token check), ``methods`` (the Bot API methods and what
the chats hold), ``markup`` (HTML parse mode), ``admission`` (flood limits), ``faults`` (injected by script,
consumed in order, or on demand: refused connections, hung requests) and ``wire`` (answers and parameters).
"""

from __future__ import annotations

from signalbots.sim.telegram.faults import Fault, FaultKind
from signalbots.sim.telegram.methods import SentMessage
from signalbots.sim.telegram.server import SimRequest, TelegramSim

__all__ = ["Fault", "FaultKind", "SentMessage", "SimRequest", "TelegramSim"]
