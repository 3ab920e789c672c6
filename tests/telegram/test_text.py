"""HTML helpers: what a reader sees must survive escaping, splitting and the plain-text fallback."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from signalbots.telegram.text import escape, is_parse_error, is_too_long, length, split, to_plain

_TAG = re.compile(r"<[^<>]*>")


def test_escape_makes_values_inert() -> None:
    assert escape('<b>&"x"</b>') == "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"
    assert escape(1.5) == "1.5"


@given(st.text())
def test_plain_text_of_an_escaped_value_is_the_value(value: str) -> None:
    assert to_plain(escape(value)) == value


def test_to_plain_drops_tags_and_decodes_entities_but_keeps_stray_brackets() -> None:
    html = '<b>BTC</b> <a href="https://x.y/?a=1&amp;b=2">chart</a> &lt;5% &amp; <i>rising</i> a < b'
    assert to_plain(html) == "BTC chart <5% & rising a < b"


def test_errors_are_recognised_from_telegram_descriptions() -> None:
    assert is_parse_error('Bad Request: can\'t parse entities: Unsupported start tag "5" at byte offset 4')
    assert is_too_long("Bad Request: message is too long")
    assert not is_parse_error("Bad Request: chat not found")


def test_short_text_is_one_part() -> None:
    assert split("💚 one line") == ["💚 one line"]


def test_lines_are_never_broken_when_they_fit() -> None:
    lines = [f"<b>{i}</b> " + "z" * 90 for i in range(100)]
    parts = split("\n".join(lines), 1000)
    assert all(length(p) <= 1000 for p in parts)
    assert [line for p in parts for line in p.split("\n")] == lines


def test_emoji_count_double_as_telegram_counts_them() -> None:
    text = "🚀" * 3000  # 6000 UTF-16 code units
    parts = split(text)
    assert len(parts) == 2
    assert all(length(p) <= 4096 for p in parts)
    assert "".join(parts) == text


def test_a_long_line_is_cut_at_a_space_and_never_inside_a_tag_or_entity() -> None:
    text = " ".join(["<b>word</b>", "&amp;"] * 400)
    parts = split(text, 100)
    assert all(length(p) <= 100 for p in parts)
    for p in parts:
        assert p.count("<") == p.count(">")
        assert p.count("&") == p.count(";")
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300), max_size=40),
    st.integers(min_value=20, max_value=500),
)
def test_split_keeps_every_character_within_the_limit(lines: list[str], limit: int) -> None:
    text = "\n".join(escape(line) for line in lines)
    parts = split(text, limit)
    assert all(0 < length(p) <= limit for p in parts)
    assert all(p.strip() for p in parts)
    # Only line breaks (and blank stretches) are lost between parts; every other character survives in order.
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)
    for p in parts:  # no entity is cut in half
        assert re.search(r"&[a-z#0-9]*$", p) is None or p.endswith(";")
