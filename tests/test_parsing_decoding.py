"""The clean-answer fast path decodes with orjson: it must read exactly what json.loads reads.

orjson refuses NaN, Infinity, lone surrogates and deep nesting (those answers go the
``json.loads`` way) and reads integers beyond 64 bits as floats (never a clean number). For
everything else the fast path relies on orjson giving the same strings and the same floats,
bit for bit; these tests hold it to that, so an orjson upgrade that changed it would fail here.
"""

from __future__ import annotations

import json
import math
import struct
import sys

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from test_parsing_fast import general, same

from vs_sim.distribution import Candidate
from vs_sim.parsing import ParseResult, parse_response
from vs_sim.parsing.clean_json import _distinct
from vs_sim.parsing.response import _read_clean_json
from vs_sim.parsing.text import collapse_whitespace


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


_digits = st.text(alphabet="0123456789", min_size=1, max_size=40)
_literal = st.one_of(
    st.floats(min_value=0.0, max_value=1.0).map(repr),
    st.builds(lambda d: "0." + d, _digits),
    st.builds(lambda n, d, e: f"{n}.{d}e{e}", st.integers(1, 9), _digits, st.integers(-340, 3)),
    st.builds(lambda x, p: f"{x:.{p}e}", st.floats(0.0, 1.0), st.integers(0, 25)),
    st.builds(lambda x, p: f"{x:.{p}f}", st.floats(0.0, 1.0), st.integers(0, 25)),
    st.sampled_from(["0", "1", "-0", "-0.0", "5e-324", "2.2250738585072011e-308", "1E-2"]),
)


@settings(max_examples=2000, deadline=None)
@given(literal=_literal)
def test_orjson_reads_every_number_as_json_loads_does(literal: str) -> None:
    expected = json.loads(literal)  # (every literal here is valid JSON)
    got = orjson.loads(literal)
    assert type(got) is type(expected)
    if isinstance(expected, float):
        assert _bits(got) == _bits(expected), literal
    else:
        assert got == expected


_pieces = st.sampled_from(
    ["a", "é", "🎉", " ", "\\n", "\\t", '\\"', "\\\\", "\\/", "\\u00a0", "\\u2028", "\\u0000",
     "\\ud83c\\udf89", "\\uD83C\\uDF89", "'", "“", "\u2028", "\u00a0", "\x7f"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(parts=st.lists(_pieces, max_size=8))
def test_orjson_reads_every_string_as_json_loads_does(parts: list[str]) -> None:
    document = '{"text": "' + "".join(parts) + '", "probability": 0.5}'
    assert orjson.loads(document) == json.loads(document)


def test_what_orjson_refuses_or_reads_otherwise_gives_the_same_result() -> None:
    big = "18446744073709551616"  # one past 64 bits: orjson reads it as a float
    answers = [
        '{"responses": [{"text": "A", "probability": NaN}, {"text": "B", "probability": 0.5}]}',
        '{"responses": [{"text": "A", "probability": Infinity}]}',
        '{"responses": [{"text": "A", "probability": 1e400}, {"text": "B", "probability": 1}]}',
        '{"responses": [{"text": "A\\ud800", "probability": 0.5}]}',
        f'{{"responses": [{{"text": "A", "probability": {big}}}]}}',
        f'{{"responses": [{{"text": {big}, "probability": 0.5}}, {{"text": "B"}}]}}',
        f'{{"note": {big}, "responses": [{{"text": "A", "probability": 0.5}}]}}',
        f'{{"responses": [{{"text": "A", "probability": 0.5, "rank": -{big}}}]}}',
    ]
    for answer in answers:
        assert same(parse_response(answer), general(answer)), answer
    assert _read_clean_json(answers[3]) is None  # refused by orjson
    assert _read_clean_json(answers[6]) is not None  # the big number is in no candidate
    # nested too deep for orjson (and for json.loads): the lenient reader's result, as always
    deep = '{"responses": [{"text": "A", "probability": 0.5}], "x": ' + "[" * 1100 + "]" * 1100
    assert _read_clean_json(deep + "}") is None
    result = parse_response(deep + "}")
    assert result.texts == ["A"] and [r.kind for r in result.repairs] == [
        "surrounding_text",
        "bare_list",
    ]


def test_every_whitespace_character_but_the_space_is_unprintable() -> None:
    """What ``_distinct`` relies on to skip collapsing texts."""
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    assert len(spaces) > 20
    assert [c for c in spaces if c.isprintable()] == [" "]
    for c in spaces:  # str.split() splits at exactly these
        assert ("a" + c + "b").split() == ["a", "b"]


_words = st.lists(
    st.sampled_from(["a", "b", " ", "  ", "\t", "\n", "\u00a0", "\u2028", "\x7f", "é"]),
    max_size=6,
).map(lambda parts: "".join(parts).strip())


@settings(max_examples=1000, deadline=None)
@given(texts=st.lists(_words, min_size=1, max_size=5))
def test_distinct_finds_the_repeats_collapsing_whitespace_finds(texts: list[str]) -> None:
    keys = [collapse_whitespace(t) for t in texts]
    assert _distinct(texts) == (len(set(keys)) == len(keys))


def test_a_clean_answer_keeps_its_numbers_bit_for_bit() -> None:
    answer = (
        '{"responses": [{"text": "A", "probability": 0.1000000000000000055511151231257827},'
        ' {"text": "B", "probability": 5e-324}, {"text": "C", "probability": -0.0},'
        ' {"text": "D", "probability": 1}]}'
    )
    result = _read_clean_json(answer)
    assert result is not None
    stated = [c.stated for c in result.candidates]
    assert [repr(x) for x in stated] == ["0.1", "5e-324", "-0.0", "1.0"]
    assert [repr(c.weight) for c in result.candidates] == ["0.1", "5e-324", "0.0", "1.0"]
    total = math.fsum([0.1, 5e-324, 0.0, 1.0])
    expected = [0.1 / total, 5e-324 / total, 0.0, 1 / total]
    assert [c.probability for c in result.candidates] == expected
    assert same(result, general(answer))
    validated = ParseResult(
        candidates=[Candidate(**c.model_dump()) for c in result.candidates],
        repairs=[],
        truncated=False,
        format="json",
    )
    assert result.__getstate__() == validated.__getstate__()  # fields, set fields, extras
