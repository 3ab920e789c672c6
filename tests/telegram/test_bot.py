"""Building the Bot from settings, and describing its errors without the token."""

from __future__ import annotations

import pytest
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import SendMessage
from pydantic import SecretStr, ValidationError

from signalbots.settings import ConfigError, TelegramSettings
from signalbots.sim.telegram import TelegramSim
from signalbots.telegram.bot import create_bot, describe_error, open_bot, redact

from .conftest import ALERT_CHAT, TOKEN


def test_missing_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SIGNALBOTS_TELEGRAM__BOT_TOKEN"):
        create_bot(TelegramSettings())


def test_malformed_token_is_refused_by_the_settings_without_echoing_it() -> None:
    # The settings are the one validation (check-config refuses it as `run` does), before any Bot exists.
    with pytest.raises(ValidationError) as info:
        TelegramSettings(bot_token=SecretStr("not-a-token-but-a-secret"))
    assert "not-a-token-but-a-secret" not in str(info.value)
    assert "not a bot token" in str(info.value)


async def test_bot_talks_to_the_configured_server(sim: TelegramSim, settings: TelegramSettings) -> None:
    async with open_bot(settings) as bot:
        me = await bot.get_me()
        sent = await bot.send_message(ALERT_CHAT, "<b>hello</b>")
    assert me.username == "signalbots_sim_bot"
    assert sent.message_id == 1
    assert sim.sent[0].parse_mode == "HTML"  # HTML is the default parse mode


async def test_network_errors_are_described_without_the_token(
    sim: TelegramSim, settings: TelegramSettings
) -> None:
    async with open_bot(settings) as bot:
        await bot.send_message(ALERT_CHAT, "keeps a pooled connection")
        await sim.stop_listening()
        with pytest.raises(TelegramNetworkError) as info:
            await bot.send_message(ALERT_CHAT, "refused")
    text = describe_error(info.value)
    assert text.startswith("TelegramNetworkError")
    assert TOKEN not in text


def test_redact_removes_token_shapes() -> None:
    assert redact(f"http://127.0.0.1:1/bot{TOKEN}/sendMessage") == "http://127.0.0.1:1/bot<token>/sendMessage"
    assert redact("price 65000:12 is fine") == "price 65000:12 is fine"


def test_errors_quoting_the_request_url_are_redacted() -> None:
    # What aiohttp says when a pooled connection dies mid-request (seen against the simulator).
    err = TelegramNetworkError(
        method=SendMessage(chat_id=1, text="x"),
        message=f"ClientOSError: [Errno None] Can not write request body for http://127.0.0.1:1/bot{TOKEN}/sendMessage",
    )
    text = describe_error(err)
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert (
        text == "TelegramNetworkError: ClientOSError: [Errno None] Can not write request body for "
        "http://127.0.0.1:1/bot<token>/sendMessage"
    )


def test_decode_errors_leave_the_body_out() -> None:
    err = ClientDecodeError("Failed to decode object", ValueError("bad json"), "<html>502 Bad Gateway</html>")
    assert describe_error(err) == "ClientDecodeError: Failed to decode object (ValueError)"
