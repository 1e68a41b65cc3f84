"""Properties of the parser: it never crashes, and what it writes it reads back."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.errors import ParseError
from vs_sim.parsing import ParseResult, parse_response

EXAMPLES = 300
_QUOTE_PAIRS = {('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»"), ("„", "“")}


def _check(text: str, expect_probabilities: bool = True, allow_plain: bool = False) -> None:
    """Either a valid result or a ParseError carrying the raw text; nothing else."""
    try:
        result = parse_response(
            text, expect_probabilities=expect_probabilities, allow_plain=allow_plain
        )
    except ParseError as exc:
        assert exc.raw == text
        return
    assert isinstance(result, ParseResult)
    assert result.candidates
    for c in result.candidates:
        assert c.text.strip(), result
        assert math.isfinite(c.weight) and c.weight >= 0, result
        assert math.isfinite(c.probability) and c.probability >= 0, result
    assert abs(sum(c.probability for c in result.candidates) - 1.0) <= 1e-9, result


options = st.fixed_dictionaries(
    {"expect_probabilities": st.booleans(), "allow_plain": st.booleans()}
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=st.text(), opts=options)
def test_arbitrary_text_parses_or_raises_parse_error(text: str, opts: dict[str, bool]) -> None:
    _check(text, **opts)


# -- JSON-ish text: real answers, then broken the ways models break them ---------------------
_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["35%", "0.3", "high", "", "1/3", "-5%", "1e999"]),
    st.none(),
)
_item = st.one_of(
    st.text(max_size=20),
    st.dictionaries(
        st.sampled_from(["text", "response", "content", "probability", "nll", "p", "weight"]),
        st.one_of(st.text(max_size=20), _number),
        max_size=4,
    ),
    st.lists(st.one_of(st.text(max_size=8), _number), max_size=3),
    _number,
)
_answer = st.one_of(
    st.fixed_dictionaries(
        {
            "responses": st.lists(_item, max_size=6),
        },
        optional={"reasoning": st.text(max_size=20), "response": st.text(max_size=10)},
    ),
    st.lists(_item, max_size=6),
    st.dictionaries(st.text(max_size=8), _item, max_size=3),
)


@st.composite
def jsonish(draw: st.DrawFn) -> str:
    text = json.dumps(draw(_answer), ensure_ascii=draw(st.booleans()))
    edits = draw(st.lists(st.integers(min_value=0, max_value=7), max_size=3))
    for edit in edits:
        if not text:
            break
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if edit == 0:
            text = text[:at]  # truncated
        elif edit == 1:
            text = text[:at] + text[at + 1 :]  # a character lost
        elif edit == 2:
            text = text.replace('"', "'")  # Python-style quotes
        elif edit == 3:
            text = text.replace("}", ",}").replace("]", ",]")  # trailing commas
        elif edit == 4:
            text = f"Here you go:\n```json\n{text}\n```\nHope that helps!"
        elif edit == 5:
            text = f"<think>{draw(st.text(max_size=20))}</think>{text}"
        elif edit == 6:
            text = text[:at] + draw(st.sampled_from(list("{}[],:\"'\\\n%<>"))) + text[at:]
        else:
            text = json.dumps(text)  # double-encoded
    return text


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=jsonish(), opts=options)
def test_jsonish_text_parses_or_raises_parse_error(text: str, opts: dict[str, bool]) -> None:
    _check(text, **opts)


_XML_TOKENS = [
    "<responses>", "</responses>", "<response>", "</response>", '<response id="1">',
    '<response probability="0.2">', "<text>", "</text>", "<content>", "</content>",
    "<probability>", "</probability>", "<confidence>", "</confidence>", "<nll>", "</nll>",
    "<candidate>", "</candidate>", "<item>", "</item>", "<p>", "</p>", "<![CDATA[", "]]>",
    "&amp;", "&lt;", "&#0;", "&#x110000;", "&#55296;", "<think>", "</think>", "<reasoning>",
    "</reasoning>", "0.3", "45", "35%", "-1", "Paris", " ", "\n", "1. ", "- ", "(p=0.2)",
    " - 20%", "**1.**", "| a | probability |", "|---|---|", "| b | 0.5 |", "Probability: 0.3",
    "Text: hi", "```", '"', "'",
]  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    parts=st.lists(st.one_of(st.sampled_from(_XML_TOKENS), st.text(max_size=4)), max_size=30),
    opts=options,
)
def test_xmlish_and_listish_text_parses_or_raises_parse_error(
    parts: list[str], opts: dict[str, bool]
) -> None:
    _check("".join(parts), **opts)


# -- round trips ------------------------------------------------------------------------------
def _quote_wrapped(text: str) -> bool:
    return len(text) >= 2 and (text[0], text[-1]) in _QUOTE_PAIRS


_texts = (
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
    .map(str.strip)
    .filter(lambda t: bool(t) and not _quote_wrapped(t))
)
_pairs = st.lists(
    st.tuples(_texts, st.floats(min_value=1e-6, max_value=1e6)),
    min_size=1,
    max_size=8,
    unique_by=lambda pair: " ".join(pair[0].split()),
)


def _assert_same(result: ParseResult, pairs: list[tuple[str, float]]) -> None:
    assert [c.text for c in result.candidates] == [t for t, _ in pairs]
    total = sum(w for _, w in pairs)
    expected = [w / total for _, w in pairs]
    assert [c.probability for c in result.candidates] == pytest.approx(expected, rel=1e-9)
    assert not result.truncated


@settings(max_examples=EXAMPLES, deadline=None)
@given(pairs=_pairs)
def test_json_round_trip(pairs: list[tuple[str, float]]) -> None:
    raw = json.dumps({"responses": [{"text": t, "probability": w} for t, w in pairs]})
    result = parse_response(raw)
    assert result.format == "json"
    _assert_same(result, pairs)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=EXAMPLES, deadline=None)
@given(pairs=_pairs, wrapped=st.booleans())
def test_xml_round_trip(pairs: list[tuple[str, float]], wrapped: bool) -> None:
    blocks = "\n".join(
        f"<response><text>{_xml_escape(t)}</text><probability>{w!r}</probability></response>"
        for t, w in pairs
    )
    raw = f"<responses>\n{blocks}\n</responses>" if wrapped else blocks
    result = parse_response(raw)
    assert result.format == "xml"
    _assert_same(result, pairs)
