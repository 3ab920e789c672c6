"""Logs: one line per event, for our code and for every library, with secrets removed.

``configure_logging`` routes everything through stdlib ``logging`` into one handler on the root logger whose
``structlog.stdlib.ProcessorFormatter`` renders both structlog events and plain library records (aiohttp,
aiogram, ccxt, asyncio, warnings) the same way: console, logfmt or JSON. Calling it again (reload) swaps
that handler, so a new level, format or secret applies to loggers already handed out.

Under systemd (``$JOURNAL_STREAM`` names the output stream) each line starts with its syslog priority
(``<4>`` for warnings, ...), so ``journalctl -p warning`` filters correctly.

Redaction runs after exceptions are formatted and again on the rendered line, so a token in an exception
message, a URL (aiogram/aiohttp put ``/bot<token>/`` in theirs) or a traceback never reaches the output.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO
from urllib.parse import quote, quote_plus

import structlog
from structlog.dev import ConsoleRenderer, plain_traceback
from structlog.processors import ExceptionRenderer, JSONRenderer, LogfmtRenderer, TimeStamper
from structlog.stdlib import ProcessorFormatter
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

Format = Literal["auto", "console", "logfmt", "json"]

REDACTED = "[REDACTED]"

# Telegram bot tokens are "<bot id>:<35 chars>"; also caught when nobody told us the token (a second bot,
# a token in a library's URL) and when percent-encoded.
_TOKEN_RE = re.compile(r"(?:(?<=bot)\d+|\b\d{5,})(?::|%3[Aa])[A-Za-z0-9_-]{30,}")

# journald's stream protocol: "<N>" at the start of a line sets its priority (sd-daemon(3)).
_PRIORITY = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "exception": 3, "critical": 2}

# Libraries that chatter at info (aiohttp's access log, aiogram's "update handled") stay at these
# floors even when our level is lower.
_LIBRARY_FLOORS = (
    ("aiohttp.access", logging.WARNING),
    ("aiogram.event", logging.WARNING),
    ("ccxt", logging.WARNING),
    ("asyncio", logging.WARNING),
)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class Redactor:
    """Removes known secrets and anything shaped like a bot token from text and event dicts."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        secret = secret.strip()
        if not secret:
            return
        variants = {*self._secrets, secret, quote(secret, safe=""), quote_plus(secret, safe="")}
        # Longest first: a secret that contains another is removed whole.
        self._secrets = tuple(sorted(variants, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN_RE.sub(REDACTED, text)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {self._scrub(k): self._scrub(v) for k, v in event_dict.items()}

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._scrub(v) for v in value]
        # Renderers call str() or repr() on anything else (URLs, exceptions, requests): check both.
        try:
            text, rep = str(value), repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"
        if self.redact(text) != text or self.redact(rep) != rep:
            return self.redact(text)
        return value


class _Render:
    """Renderer + a last redaction pass over the line + the journald priority prefix."""

    def __init__(self, renderer: Processor, redactor: Redactor, *, journal: bool) -> None:
        self._renderer = renderer
        self._redactor = redactor
        self._journal = journal

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        level = str(event_dict.get("level", method_name))
        line = self._redactor.redact(str(self._renderer(logger, method_name, event_dict)))
        if not self._journal:
            return line
        prefix = f"<{_PRIORITY.get(level, 6)}>"
        # Only the console renderer emits several lines (a traceback); each keeps the event's priority.
        return "\n".join(prefix + part for part in line.split("\n"))


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our one root handler; also where ``add_secret``/``redact`` find the live redactor."""

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        super().__init__(stream)
        self.redactor = redactor

    def handleError(self, record: logging.LogRecord) -> None:
        # The default prints the record's message and args to stderr: they may hold the secret.
        err = sys.exc_info()[1]
        try:
            self.stream.write(f"logging error in {record.name}: {type(err).__name__}\n")
            self.flush()
        except Exception:  # nowhere left to report a broken log stream
            pass


def is_journal_stream(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when ``$JOURNAL_STREAM`` ("dev:inode") is this stream's file, i.e. systemd reads it."""
    dev, sep, ino = env.get("JOURNAL_STREAM", "").partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def configure_logging(
    *,
    fmt: Format = "auto",
    level: str = "info",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    journal: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog and stdlib logging for the whole process; call again to reconfigure.

    ``fmt``: ``auto`` is console on a TTY, logfmt otherwise. ``secrets``: values that never appear in
    output (bot token, API keys). ``stream``: default ``sys.stderr``. ``journal``: force the ``<N>``
    priority prefix on or off; ``None`` detects it from ``$JOURNAL_STREAM`` in ``env`` (default
    ``os.environ``).
    """
    if fmt not in ("auto", "console", "logfmt", "json"):
        raise ValueError(f"unknown log format {fmt!r} (auto, console, logfmt, json)")
    if level.lower() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r} ({', '.join(_LEVELS)})")
    out = stream if stream is not None else sys.stderr
    environ = os.environ if env is None else env
    if journal is None:
        journal = is_journal_stream(out, environ)
    tty = _isatty(out)
    if fmt == "auto":
        fmt = "console" if tty and not journal else "logfmt"
    redactor = Redactor(secrets)
    old = _installed_handler()
    if old is not None:  # keep secrets added at runtime across a reload
        for secret in old.redactor._secrets:
            redactor.add(secret)

    timestamper = TimeStamper(fmt="iso", utc=True)
    renderer: Processor
    exceptions: Processor
    if fmt == "json":
        renderer = _leading_keys_first(JSONRenderer())
        exceptions = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    else:
        exceptions = ExceptionRenderer()  # plain text traceback, no locals
        if fmt == "console":
            colors = tty and not journal and "NO_COLOR" not in environ
            renderer = ConsoleRenderer(colors=colors, exception_formatter=plain_traceback, sort_keys=False)
        else:
            renderer = LogfmtRenderer(key_order=["timestamp", "level", "event", "logger"], drop_missing=True)

    formatter = ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            timestamper,
        ],
        processors=[
            ProcessorFormatter.remove_processors_meta,
            exceptions,
            redactor,
            _Render(renderer, redactor, journal=journal),
        ],
    )
    handler = _Handler(out, redactor)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    root_level = _LEVELS[level.lower()]
    root.addHandler(handler)
    if old is not None:
        root.removeHandler(old)
    root.setLevel(root_level)
    for name, floor in _LIBRARY_FLOORS:
        logging.getLogger(name).setLevel(max(floor, root_level))
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            timestamper,
            structlog.processors.StackInfoRenderer(),
            ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: the handler above is what changes on reconfigure, and tests capture logs.
        cache_logger_on_first_use=False,
    )


def _leading_keys_first(renderer: Processor) -> Processor:
    """JSON lines read better (and grep better) with time, level and event first."""

    def render(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> Any:
        lead = {k: event_dict.pop(k) for k in ("timestamp", "level", "event", "logger") if k in event_dict}
        return renderer(logger, method_name, {**lead, **event_dict})

    return render


def add_secret(value: str) -> None:
    """Redact ``value`` from now on (e.g. a token that arrived after startup)."""
    handler = _installed_handler()
    if handler is not None:
        handler.redactor.add(value)


def redact(text: str) -> str:
    """``text`` with every configured secret and token-shaped string replaced by ``[REDACTED]``.

    For text that leaves the process by another way than the log (heartbeat errors, /status replies).
    """
    handler = _installed_handler()
    return (handler.redactor if handler is not None else Redactor()).redact(text)


def _installed_handler() -> _Handler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h, _Handler)), None)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False


def log_expected(log: Any, level: str, event: str, err: BaseException, **fields: Any) -> None:
    """An expected failure (the network down, a port in use, a refused credential): one line at ``level``
    that names it; its traceback, which shows only our own call stack, on a second line at debug."""
    getattr(log, level)(event, **fields)
    log.debug("traceback", of=event, exc_info=err)


def shorten(text: str, limit: int = 200) -> str:
    """``text`` on one line and at most ``limit`` characters, cut at a word boundary with an ellipsis.

    Error texts reach the heartbeat, /healthz and log lines: ``…[Name o`` reads as a bug, ``…`` as a cut.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # a word boundary not too far back; else one very long word is cut inside
        cut = cut[:space]
    return cut.rstrip(" :;,.-([{'\"") + "…"
