"""Logs as an operator reads them: one line per event, journald priorities, and no secret anywhere.

The library errors are real: aiohttp and aiogram talk to a local server that fails in ways that put the
bot token into the exception's URL (a 500 with ``raise_for_status``, a redirect loop).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from signalbots.errors import TransientError
from signalbots.logs import (
    REDACTED,
    Format,
    Redactor,
    add_secret,
    configure_logging,
    log_expected,
    redact,
)

TOKEN = "7212345678:AAF3kq0Yx_example-token-ZZ9aBcDeFgHi"
TOKEN_SECRET_PART = TOKEN.partition(":")[2]
API_KEY = "ex-Key-5f3c1a"  # not token-shaped: only redacted because it is configured
OTHER_TOKEN = "bot987654321:AAE0zzzYx_unconfigured-token-QQ1aBc"  # nobody told us about this one
LOCAL_CANARY = "canary-in-a-frame-local-4711"

RENDERERS: list[tuple[Format, bool]] = [
    ("console", False),
    ("logfmt", False),
    ("json", False),
    ("console", True),
    ("logfmt", True),
    ("json", True),
]
PRIORITY_RE = re.compile(r"^<(\d)>")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("aiohttp.access", "aiogram.event", "ccxt", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    config = structlog.get_config()
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)
    logging.captureWarnings(False)
    structlog.configure(**config)


@pytest.fixture
async def failing_server() -> AsyncIterator[str]:
    """``/bot<token>/sendMessage`` redirects to itself forever; every other path is a 500."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/sendMessage"):
            raise web.HTTPFound(request.path)
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _aiohttp_error(base: str) -> aiohttp.ClientResponseError:
    async with aiohttp.ClientSession() as session:
        try:
            await session.get(f"{base}/bot{TOKEN}/getMe?key={API_KEY}", raise_for_status=True)
        except aiohttp.ClientResponseError as err:
            return err
    raise AssertionError("the server should have answered 500")


async def _aiogram_error(base: str) -> Exception:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramNetworkError

    session = AiohttpSession(api=TelegramAPIServer.from_base(base))
    bot = Bot(TOKEN, session=session)
    try:
        await bot.send_message(chat_id=1, text="hello")
    except TelegramNetworkError as err:
        return err
    finally:
        await session.close()
    raise AssertionError("aiogram should have given up on the redirect loop")


def _raise_with_a_secret_local() -> None:
    hint = LOCAL_CANARY  # a frame local: must never be rendered
    raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getUpdates failed ({len(hint)})")


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


async def test_no_secret_in_any_renderer(failing_server: str) -> None:
    aiohttp_err = await _aiohttp_error(failing_server)
    aiogram_err = await _aiogram_error(failing_server)
    try:
        _raise_with_a_secret_local()
    except RuntimeError as err:
        own_err = err
    # The premise: the libraries really do put the token into what gets logged.
    assert TOKEN in str(aiohttp_err)
    assert TOKEN in str(aiogram_err)
    assert TOKEN in str(aiogram_err.__cause__)

    for fmt, journal in RENDERERS:
        stream = io.StringIO()
        configure_logging(fmt=fmt, level="info", secrets=[TOKEN, API_KEY], stream=stream, journal=journal)
        log = structlog.get_logger("signalbots.telegram.outbox").bind(task="outbox")
        log.error("send_failed", exc_info=aiohttp_err)
        log.error("telegram_failed", exc_info=aiogram_err, error=aiogram_err)
        log.error("own_failed", exc_info=own_err)
        log.info("request", url=URL(f"https://api.telegram.org/bot{TOKEN}/getMe"), headers={"X-Key": API_KEY})
        log.warning("other_bot", detail=f"see https://api.telegram.org/{OTHER_TOKEN}/getMe")
        logging.getLogger("aiohttp.client").warning("request to %s failed", f"{failing_server}/bot{TOKEN}/x")
        logging.getLogger("asyncio").error("Task exception was never retrieved", exc_info=aiogram_err)
        out = stream.getvalue()

        context = f"{fmt} journal={journal}:\n{out}"
        assert TOKEN_SECRET_PART not in out, context
        assert API_KEY not in out, context
        assert OTHER_TOKEN.partition(":")[2] not in out, context
        assert LOCAL_CANARY not in out, context
        assert out.count(REDACTED) >= 8, context
        for event in (
            "send_failed",
            "telegram_failed",
            "own_failed",
            "request",
            "other_bot",
            "Task exception was never retrieved",
        ):
            assert event in out, context
        assert "TelegramNetworkError" in out and "TooManyRedirects" in out, context
        if journal:
            assert all(PRIORITY_RE.match(line) for line in _lines(out)), context
        if fmt != "console":
            assert len(_lines(out)) == 7, context  # one line per event, tracebacks included


def test_json_tracebacks_carry_no_frame_locals() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", secrets=[TOKEN], stream=stream, journal=False)
    try:
        _raise_with_a_secret_local()
    except RuntimeError:
        structlog.get_logger("t").exception("failed")
    (line,) = _lines(stream.getvalue())
    record = json.loads(line)
    frames = record["exception"][0]["frames"]
    assert frames and all("locals" not in frame for frame in frames)
    assert record["exception"][0]["exc_value"].startswith(f"GET https://api.telegram.org/bot{REDACTED}/")
    assert LOCAL_CANARY not in line


def test_journal_priority_prefix_when_journal_stream_is_our_stream(tmp_path: Path) -> None:
    with open(tmp_path / "journal", "w+", encoding="utf-8") as stream:
        st_ = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{st_.st_dev}:{st_.st_ino}"}
        configure_logging(fmt="auto", level="debug", stream=stream, env=env)
        log = structlog.get_logger("signalbots.app")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        log.critical("c")
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("x")
        logging.getLogger("ccxt.base.exchange").warning("lib w")
        stream.seek(0)
        lines = _lines(stream.read())
    assert [PRIORITY_RE.match(line)[1] for line in lines] == ["7", "6", "4", "3", "2", "3", "4"]  # type: ignore[index]
    assert not any("\x1b[" in line for line in lines)  # auto under journald: logfmt, no colours
    assert all(" event=" in line for line in lines)


def test_no_priority_prefix_when_journal_stream_names_another_file(tmp_path: Path) -> None:
    other = os.stat(tmp_path)
    with open(tmp_path / "out", "w+", encoding="utf-8") as stream:
        configure_logging(
            fmt="logfmt",
            level="info",
            stream=stream,
            env={"JOURNAL_STREAM": f"{other.st_dev}:{other.st_ino}"},
        )
        structlog.get_logger("x").warning("w")
        stream.seek(0)
        (line,) = _lines(stream.read())
    assert line.startswith("timestamp=")


def test_logfmt_line_has_iso_utc_time_level_and_bound_task_fields() -> None:
    stream = io.StringIO()
    configure_logging(fmt="logfmt", level="info", stream=stream, journal=False)
    structlog.get_logger("signalbots.strategies.volume").bind(
        task="volume", strategy="volume", exchange="binanceusdm"
    ).info("spike", symbol="XRP/USDT:USDT")
    (line,) = _lines(stream.getvalue())
    assert re.match(
        r"timestamp=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z level=info event=spike "
        r"logger=signalbots\.strategies\.volume ",
        line,
    ), line
    assert "task=volume strategy=volume exchange=binanceusdm symbol=XRP/USDT:USDT" in line


def test_levels_filter_ours_and_library_chatter() -> None:
    stream = io.StringIO()
    configure_logging(fmt="logfmt", level="warning", stream=stream, journal=False)
    log = structlog.get_logger("signalbots.app")
    log.info("hidden_info")
    log.warning("shown_warning")
    logging.getLogger("aiohttp.client").info("hidden lib info")
    out = stream.getvalue()
    assert "shown_warning" in out and "hidden" not in out

    stream = io.StringIO()
    configure_logging(fmt="logfmt", level="debug", stream=stream, journal=False)
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /healthz" 200')
    logging.getLogger("aiogram.event").info("Update id=1 is handled")
    logging.getLogger("ccxt.base.exchange").debug("GET https://fapi.binance.com/fapi/v1/exchangeInfo")
    logging.getLogger("aiogram.dispatcher").info("Start polling")
    log.debug("shown_debug")
    out = stream.getvalue()
    assert "shown_debug" in out and "Start polling" in out
    assert "/healthz" not in out and "Update id" not in out and "exchangeInfo" not in out


def test_reconfigure_applies_to_loggers_already_handed_out() -> None:
    first = io.StringIO()
    configure_logging(fmt="logfmt", level="info", stream=first, journal=False)
    log = structlog.get_logger("signalbots.app").bind(task="app")  # bound before the reload
    log.debug("before_reload", key="new-secret-value-1")
    second = io.StringIO()
    configure_logging(fmt="json", level="debug", secrets=["new-secret-value-1"], stream=second, journal=False)
    log.debug("after_reload", key="new-secret-value-1")
    assert first.getvalue() == ""
    (line,) = _lines(second.getvalue())
    assert json.loads(line) | {"timestamp": None} == {
        "timestamp": None,
        "level": "debug",
        "event": "after_reload",
        "logger": "signalbots.app",
        "task": "app",
        "key": REDACTED,
    }


def test_secret_added_at_runtime_is_redacted_in_logs_and_text() -> None:
    stream = io.StringIO()
    configure_logging(fmt="logfmt", level="info", stream=stream, journal=False)
    add_secret("late-api-key-123")
    structlog.get_logger("x").info("uses", key="late-api-key-123")
    assert "late-api-key-123" not in stream.getvalue()
    assert (
        redact(f"error at /bot{TOKEN}/ with late-api-key-123") == f"error at /bot{REDACTED}/ with {REDACTED}"
    )


def test_secret_is_redacted_when_percent_encoded() -> None:
    redactor = Redactor(["p@ss:w/rd+1"])
    assert redactor.redact("?key=p%40ss%3Aw%2Frd%2B1&x=1") == f"?key={REDACTED}&x=1"


@given(before=st.text(max_size=40), after=st.text(max_size=40))
def test_a_configured_secret_never_survives_redaction(before: str, after: str) -> None:
    redactor = Redactor([TOKEN, API_KEY])
    text = redactor.redact(before + TOKEN + after + API_KEY)
    assert TOKEN_SECRET_PART not in text and API_KEY not in text


def _render(event_dict: dict[str, Any]) -> Any:
    return Redactor([API_KEY])(None, "info", event_dict)


def test_redaction_reaches_nested_values_and_objects() -> None:
    class Request:
        def __repr__(self) -> str:
            return f"<Request key={API_KEY}>"

    out = _render(
        {"event": "x", "nested": {"list": [f"a{API_KEY}b", (1, API_KEY)]}, "req": Request(), "n": 3}
    )
    assert out == {
        "event": "x",
        "nested": {"list": [f"a{REDACTED}b", [1, REDACTED]]},
        "req": f"<Request key={REDACTED}>",
        "n": 3,
    }


def test_error_texts_are_cut_at_a_word_with_an_ellipsis() -> None:
    from signalbots.logs import shorten

    text = (
        "bybit load_markets: bybit GET https://api.bybit.com/v5/market/instruments-info?category=linear"
        "&limit=1000: Cannot connect to host api.bybit.com:443 ssl:default [Name or service not known]"
    )
    cut = shorten(text, 180)
    assert len(cut) <= 180 and cut.endswith("…")
    assert cut.removesuffix("…") == text[: len(cut) - 1]  # a prefix of the text …
    assert text[len(cut) - 1] == " "  # … ending where a word ends, not inside "[Name or"
    assert shorten("short\nand\ttidy") == "short and tidy"
    assert shorten("x" * 300, 50) == "x" * 49 + "…"  # one endless word: cut inside it, still marked


async def _refused_error() -> TransientError:
    """What the network being down looks like to us: aiohttp's refusal, translated at the edge."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the request is made: refused at once
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/fapi") as resp:
            resp.raise_for_status()
    except aiohttp.ClientError as err:
        try:
            raise TransientError(f"binanceusdm load_markets: {err}") from err
        except TransientError as translated:
            return translated
    raise AssertionError("the closed port answered")


@pytest.mark.parametrize("fmt", ["logfmt", "json", "console"])
async def test_an_expected_failure_is_one_short_line_its_traceback_only_at_debug(fmt: Format) -> None:
    """Issue 21, finding 7: with no network each task_failed line was 7–8 KB of traceback."""
    err = await _refused_error()
    said: dict[str, list[str]] = {}
    for level in ("info", "debug"):
        stream = io.StringIO()
        configure_logging(fmt=fmt, level=level, stream=stream, journal=False)
        log_expected(structlog.get_logger("supervisor"), "warning", "task_failed", err, error=str(err))
        said[level] = _lines(stream.getvalue())
    (line,) = said["info"]
    assert "task_failed" in line and "Connect call failed" in line and "Traceback" not in line
    assert len(line) < 500
    first, traceback, *_ = said["debug"]
    assert "task_failed" in first and "ClientConnectorError" not in first
    assert "debug" in traceback and "task_failed" in traceback  # its own line, at debug, saying whose
    assert "ClientConnectorError" in "\n".join(said["debug"][1:])  # the cause's traceback too
