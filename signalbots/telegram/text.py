"""Telegram HTML text: escaping values, splitting long messages, the plain-text fallback.

Lengths are counted in UTF-16 code units of the HTML source. Telegram counts the text after entity
parsing, which is never longer, so a part that fits here fits there. Splits fall on line boundaries; a
single line longer than the limit is cut at a space where possible, never inside a tag or an entity. Our
renderers keep every tag on one line, so line splits keep tags balanced; a part that still fails to
parse is sent as plain text by the caller.
"""

from __future__ import annotations

import html
import re

MAX_LENGTH = 4096  # Telegram's limit for a text message
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>")
_PARSE_ERROR = "can't parse entities"
_TOO_LONG = "message is too long"


def escape(value: object) -> str:
    """A dynamic value made safe for HTML parse mode (text and attribute values)."""
    return html.escape(str(value), quote=False).replace('"', "&quot;")


def to_plain(text: str) -> str:
    """HTML → the plain text a reader would see (tags dropped, entities decoded)."""
    return html.unescape(_TAG.sub("", text))


def length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def is_parse_error(description: str) -> bool:
    return _PARSE_ERROR in description.lower()


def is_too_long(description: str) -> bool:
    return _TOO_LONG in description.lower()


def split(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """``text`` as parts of at most ``limit`` (blank parts dropped)."""
    return [text[start:end] for start, end in spans(text, limit)]


def spans(text: str, limit: int = MAX_LENGTH) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the parts ``split`` returns; the gaps between them are line breaks."""
    if limit < 1:
        raise ValueError("limit must be positive")
    out: list[tuple[int, int]] = []
    start: int | None = None  # of the part being built
    end = 0
    size = 0
    pos = 0
    for line in text.split("\n"):
        line_start, line_end = pos, pos + len(line)
        pos = line_end + 1
        line_len = length(line)
        if start is not None and size + 1 + line_len <= limit:
            end, size = line_end, size + 1 + line_len
            continue
        if start is not None:
            out.append((start, end))
            start = None
        if line_len <= limit:
            start, end, size = line_start, line_end, line_len
            continue
        for cut_start, cut_end in _cut_line(text, line_start, line_end, limit):
            out.append((cut_start, cut_end))
    if start is not None:
        out.append((start, end))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _cut_line(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut one over-long line into pieces of at most ``limit``."""
    pieces: list[tuple[int, int]] = []
    while start < end:
        stop, units = start, 0
        while stop < end:
            step = 2 if ord(text[stop]) > 0xFFFF else 1
            if units + step > limit:
                break
            units += step
            stop += 1
        if stop >= end:
            pieces.append((start, end))
            break
        cut = _safe_cut(text, start, stop)
        pieces.append((start, cut))
        start = cut
    return pieces


def _safe_cut(text: str, start: int, stop: int) -> int:
    """A cut in ``(start, stop]``: after a space if there is one, never inside ``<…>`` or ``&…;``."""
    cut = stop
    space = text.rfind(" ", start, stop)
    if space > start + (stop - start) // 2:
        cut = space + 1
    opened = max(text.rfind("<", start, cut), text.rfind("&", start, cut))
    if opened > start:
        closer = ">" if text[opened] == "<" else ";"
        closed = text.find(closer, opened, cut)
        if closed == -1:
            cut = opened
    return cut
