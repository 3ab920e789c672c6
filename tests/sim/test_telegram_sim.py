"""The Bot API simulator, checked with the real aiogram client: wire shapes, limits, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, ReplyParameters
from pydantic import SecretStr
from structlog.testing import capture_logs

from signalbots.clock import ManualClock
from signalbots.settings import TelegramSettings
from signalbots.sim.telegram import Fault, FaultKind, TelegramSim
from signalbots.telegram.bot import open_bot

TOKEN = "424242:AAHsimTOKENsecret_abcdefghijklmnopqrstu"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[TelegramSim]:
    async with TelegramSim(token=TOKEN, clock=clock) as s:
        yield s


@pytest.fixture
async def bot(sim: TelegramSim) -> AsyncIterator[Bot]:
    settings = TelegramSettings(bot_token=SecretStr(TOKEN), api_url=sim.url, request_timeout=0.2)
    async with open_bot(settings) as b:
        yield b


async def test_send_message_records_what_telegram_would_show(sim: TelegramSim, bot: Bot) -> None:
    first = await bot.send_message(5, "<b>LONG</b> BTC &amp; ETH", disable_notification=True)
    reply = await bot.send_message(
        5, "outcome", parse_mode=None, reply_parameters=ReplyParameters(message_id=first.message_id)
    )
    legacy = await bot.send_message(-100, "group", reply_to_message_id=7)
    assert first.text == "LONG BTC & ETH"  # the parsed text, as Telegram returns it
    assert (first.message_id, reply.message_id, legacy.message_id) == (1, 2, 1)  # ids count per chat
    a, b, c = sim.sent
    assert (a.chat_id, a.text, a.parse_mode) == (5, "<b>LONG</b> BTC &amp; ETH", "HTML")
    assert a.disable_notification
    assert (b.parse_mode, b.reply_to_message_id, b.disable_notification) == (None, 1, False)
    assert (c.chat_id, c.reply_to_message_id) == (-100, 7)


async def test_json_bodies_are_accepted(sim: TelegramSim, bot: Bot) -> None:
    session = await bot.session.create_session()  # type: ignore[attr-defined]
    async with session.post(f"{sim.url}/bot{TOKEN}/sendMessage", json={"chat_id": 9, "text": "json"}) as resp:
        body = await resp.json()
    assert body["ok"] is True and body["result"]["chat"]["id"] == 9
    async with session.post(f"{sim.url}/bot123:wrong/getMe") as resp:
        assert (resp.status, (await resp.json())["error_code"]) == (401, 401)


async def test_html_is_validated_like_telegram(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(5, "price <5% now")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(5, "<b>unclosed")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(5, "x" * 4097)
    sent = await bot.send_message(5, "<b>" + "x" * 4096 + "</b>")  # the limit counts the parsed text
    assert len(sent.text or "") == 4096


async def test_private_chat_gets_a_small_burst_then_one_per_second(
    sim: TelegramSim, bot: Bot, clock: ManualClock
) -> None:
    for i in range(3):
        await bot.send_message(5, f"burst {i}")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(5, "too fast")
    assert info.value.retry_after == 1
    await bot.send_message(6, "another chat is not limited by chat 5")
    clock.advance(1.0)
    await bot.send_message(5, "after a second")
    assert [m.text for m in sim.sent_to(5)] == ["burst 0", "burst 1", "burst 2", "after a second"]


async def test_group_gets_twenty_per_minute(bot: Bot, clock: ManualClock) -> None:
    for i in range(20):
        await bot.send_message(-100, f"m{i}")
        clock.advance(1.0)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(-100, "21st within a minute")
    assert info.value.retry_after == 40  # until the first of the twenty (sent at 0 s; now is 20 s) leaves
    clock.advance(40)
    await bot.send_message(-100, "fine again")


async def test_thirty_per_second_overall(bot: Bot) -> None:
    for chat in range(1, 31):
        await bot.send_message(chat, "hello")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(31, "one too many this second")


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        (Fault.flood(7), TelegramRetryAfter, "retry after 7"),
        (Fault(FaultKind.SERVER_ERROR), TelegramServerError, "Internal Server Error"),
        (Fault(FaultKind.BAD_GATEWAY), ClientDecodeError, "Failed to decode"),
        (Fault(FaultKind.PARSE_ERROR), TelegramBadRequest, "can't parse entities"),
        (Fault(FaultKind.TOO_LONG), TelegramBadRequest, "message is too long"),
        (Fault(FaultKind.CHAT_NOT_FOUND), TelegramBadRequest, "chat not found"),
        (Fault(FaultKind.BLOCKED), TelegramForbiddenError, "bot was blocked by the user"),
        (Fault(FaultKind.HANG), TelegramNetworkError, "timeout"),
    ],
)
async def test_injected_faults_reach_aiogram_as_telegram_would_send_them(
    sim: TelegramSim, bot: Bot, fault: Fault, error: type[Exception], text: str
) -> None:
    sim.inject(fault, chat_id=5)
    await bot.send_message(6, "other chats are not affected")
    with pytest.raises(error, match=text):
        await bot.send_message(5, "faulty")
    sim.release()
    await bot.send_message(5, "next one is fine")
    assert [m.text for m in sim.sent] == ["other chats are not affected", "next one is fine"]


async def test_faults_are_a_script_consumed_in_order(sim: TelegramSim, bot: Bot) -> None:
    sim.inject(Fault(FaultKind.SERVER_ERROR))
    sim.inject(Fault.flood(3))
    with pytest.raises(TelegramServerError):
        await bot.send_message(5, "a")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(5, "b")
    await bot.send_message(5, "c")
    assert [r.status for r in sim.requests] == [500, 429, 200]


async def test_refused_connections_until_the_server_is_back_on_the_same_port(
    sim: TelegramSim, bot: Bot
) -> None:
    url = sim.url
    await sim.stop_listening()
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    await sim.start_listening()
    assert sim.url == url
    assert (await bot.get_me()).username == "signalbots_sim_bot"


async def test_wrong_token_is_unauthorized(sim: TelegramSim) -> None:
    other_token = SecretStr("424242:AAHotherTOKENsecret_abcdefghijklmnop")
    settings = TelegramSettings(bot_token=other_token, api_url=sim.url)
    async with open_bot(settings) as other:
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()


async def test_get_updates_long_polls_and_confirms_with_offset(sim: TelegramSim, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5, request_timeout=10))
    await sim.wait_for(lambda: len(sim.requests) == 1)
    update_id = sim.push_command(1001, 501, "/pause volume")
    [update] = await poll
    assert update.update_id == update_id
    assert update.message is not None and update.message.text == "/pause volume"
    assert update.message.chat.id == 1001 and update.message.from_user is not None
    assert update.message.from_user.id == 501
    assert await bot.get_updates(offset=update_id, timeout=0) == [update]
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == []


async def test_a_second_poller_terminates_the_first(sim: TelegramSim, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5, request_timeout=10))
    await sim.wait_for(lambda: len(sim.requests) == 1)
    second = asyncio.create_task(bot.get_updates(timeout=5, request_timeout=10))
    with pytest.raises(TelegramConflictError):
        await first
    sim.push_command(1, 1, "/help")
    assert len(await second) == 1


async def test_commands_webhook_and_edits(sim: TelegramSim, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand(command="status", description="status")])
    assert await bot.delete_webhook()
    sent = await bot.send_message(5, "draft")
    edited = await bot.edit_message_text("final", chat_id=5, message_id=sent.message_id)
    assert sim.my_commands == [{"command": "status", "description": "status"}]
    assert sim.edits == [(5, 1, "final")]
    assert not isinstance(edited, bool) and edited.text == "final"


async def test_wait_sent_returns_when_enough_arrived(sim: TelegramSim, bot: Bot) -> None:
    waiter = asyncio.create_task(sim.wait_sent(2))
    await bot.send_message(5, "one")
    assert not waiter.done()
    await bot.send_message(5, "two")
    assert [m.text for m in await waiter] == ["one", "two"]


async def test_on_message_sees_each_delivery(clock: ManualClock) -> None:
    seen: list[str] = []
    async with TelegramSim(token=TOKEN, clock=clock, on_message=lambda m: seen.append(m.text)) as sim:
        settings = TelegramSettings(bot_token=SecretStr(TOKEN), api_url=sim.url)
        async with open_bot(settings) as bot:
            await bot.send_message(5, "shown in the demo")
            with pytest.raises(TelegramBadRequest):
                await bot.send_message(5, "<oops>")
    assert seen == ["shown in the demo"]


async def test_the_token_is_not_in_the_simulator_logs(sim: TelegramSim, bot: Bot) -> None:
    with capture_logs() as logs:
        await bot.get_me()
        sim.inject(Fault(FaultKind.SERVER_ERROR))
        with pytest.raises(TelegramServerError):
            await bot.send_message(5, "x")
        await sim.stop_listening()
        await sim.start_listening()
    assert logs
    assert all(TOKEN not in repr(entry) and TOKEN.split(":")[1] not in repr(entry) for entry in logs)
