"""Telegram's HTML parse mode, strictly enough to catch what Telegram rejects, and its length measure."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)


class ParseError(Exception):
    """Telegram's "can't parse entities" reason."""


def utf16_len(text: str) -> int:
    """Telegram counts lengths and offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text a chat shows: ``text`` parsed when ``parse_mode`` is HTML, as is otherwise."""
    if parse_mode is not None and parse_mode.upper() == "HTML":
        return parse_html(text)
    return text


def parse_html(text: str) -> str:
    """Telegram's HTML parse mode, strictly enough to catch what it rejects; returns the plain text."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            offset = len(text[:i].encode())
            if m is None:
                raise ParseError(f'Unsupported start tag "" at byte offset {offset}')
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ParseError(f"Unexpected end tag at byte offset {offset}")
                stack.pop()
            else:
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if m is None:
                out.append(ch)
                i += 1
            else:
                out.append(html.unescape(m.group(0)))
                i = m.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)
