"""Which chat a message goes to, and whether it rings.

Alerts (signals, outcomes, charts) go to the alert chat, or their strategy's own chat when it has one;
everything else to the admin chat (the alert chat when none is set). A message may name its chat. A chat
that Telegram migrated (a group became a supergroup) is followed to its new id. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from signalbots.notifier import ALERT_KINDS, Kind, Message
from signalbots.settings import TelegramSettings


def route(message: Message, settings: TelegramSettings, migrated: Mapping[int, int]) -> int | None:
    """The chat ``message`` goes to; None when the settings name none."""
    if message.chat_id is not None:
        chat: int | None = message.chat_id
    elif message.kind in ALERT_KINDS:
        chat = settings.strategy_chat_ids.get(message.strategy or "", settings.alert_chat_id)
    else:
        chat = settings.admin_chat
    return None if chat is None else migrated.get(chat, chat)


def silent_by_default(kind: Kind, settings: TelegramSettings) -> bool:
    """``telegram.silent``: kinds sent without a notification sound unless the message says otherwise."""
    return next((quiet for name, quiet in settings.silent.items() if name == kind), False)
