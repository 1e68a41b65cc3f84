"""The fast path for clean JSON answers gives exactly what the general reader gives."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.distribution import Candidate
from vs_sim.errors import ParseError
from vs_sim.parsing import ParseResult, parse_response
from vs_sim.parsing.clean_json import read_clean
from vs_sim.parsing.items import Extraction
from vs_sim.parsing.json_form import items_from_value
from vs_sim.parsing.response import _finish
from vs_sim.testing.scripted import vs_answer


def general(text: str) -> ParseResult:
    """What the general reader makes of a JSON answer (the fast path skipped)."""
    found = items_from_value(json.loads(text))
    if found is None or not found.items:
        raise ParseError("no items", text)
    return _finish(Extraction(found.items, "json", found.repairs), text, True)


def same(a: ParseResult, b: ParseResult) -> bool:
    """Equal field by field, with the types of the numbers (``-0.0`` is not ``0.0`` here)."""

    def typed(r: ParseResult) -> str:
        return json.dumps(
            [[c.text, repr(c.stated), repr(c.weight), repr(c.probability)] for c in r.candidates]
            + [r.model_dump(mode="json", exclude={"candidates"})]
        )

    return typed(a) == typed(b)


def test_a_clean_answer_takes_the_fast_path_and_matches_the_general_reader() -> None:
    rng = random.Random(3)
    for _ in range(50):
        text = vs_answer(5, rng)
        assert read_clean(json.loads(text)) is not None
        fast = parse_response(text)
        assert fast.repairs == [] and fast.format == "json" and len(fast.candidates) == 5
        assert same(fast, general(text))


def test_answers_that_need_a_repair_leave_the_fast_path() -> None:
    repaired = [
        '{"responses": [{"text": "A", "probability": 40}, {"text": "B", "probability": 60}]}',
        '{"responses": [{"text": "A", "probability": "0.4"}, {"text": "B", "probability": 0.6}]}',
        '{"responses": [{"text": " \\"A\\" ", "probability": 0.4}]}',
        '{"responses": [{"text": "A", "probability": 0.4}, {"text": "A ", "probability": 0.1}]}',
        '{"responses": [{"text": "A", "probability": 0}, {"text": "B", "probability": 0}]}',
        '{"responses": [{"text": "A"}, {"text": "B", "probability": 0.5}]}',
        '{"Responses": [{"text": "A", "probability": 0.5}]}',
        '{"responses": [{"Text": "A", "probability": 0.5}]}',
        '{"responses": [{"text": "A", "probability": true}]}',
        '{"responses": [{"text": "A", "probability": -0.2}, {"text": "B", "probability": 1}]}',
        '{"responses": [{"text": "A", "prob": 0.5}]}',
        '[{"text": "A", "probability": 0.5}]',
    ]
    for text in repaired:
        assert read_clean(json.loads(text)) is None, text
        result = parse_response(text)
        assert same(result, general(text)), text


_number = st.one_of(
    st.floats(min_value=-0.5, max_value=1.5),
    st.sampled_from([0, 1, -0.0, 0.0, 1e-300, 5e-324, 10**400, 35, "0.3", None, True]),
)
_text = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["Paris", " Paris", "Paris ", "'Paris'", "“Lyon”", "a  b", "a b", ""]),
)
_key = st.sampled_from(["probability", "confidence", "Probability", "prob", "weight"])
_element = st.builds(
    lambda text, pairs, extra: {
        **({"text": text} if text is not None else {}),
        **dict(pairs),
        **({"reason": "why"} if extra else {}),
    },
    st.one_of(st.none(), _text),
    st.lists(st.tuples(_key, _number), max_size=2),
    st.booleans(),
)
_clean_element = st.fixed_dictionaries(
    {"text": st.text(alphabet="abcdef \t'", min_size=1, max_size=6), "probability": st.floats(0, 1)}
)
_elements = st.one_of(
    st.lists(_clean_element, min_size=1, max_size=6, unique_by=lambda e: e["text"]),
    st.lists(_element, min_size=1, max_size=6),  # mostly the general reader
)


@settings(max_examples=400, deadline=None)
@given(elements=_elements, top=st.sampled_from(["r", "rr"]))
def test_fast_path_and_general_reader_agree_on_near_clean_answers(
    elements: list[dict[str, object]], top: str
) -> None:
    payload: dict[str, object] = {"responses": elements}
    if top == "rr":
        payload["reasoning"] = "thought about it"
    text = json.dumps(payload)
    try:
        expected = general(text)
    except ParseError:
        expected = None
    try:
        got = parse_response(text)
    except ParseError:
        got = None
    if expected is None:  # the general reader found nothing; parse_response may try more
        assert read_clean(json.loads(text)) is None
        return
    assert got is not None and same(got, expected), text


def test_fast_path_candidates_are_the_validated_ones() -> None:
    rng = random.Random(5)
    for k in (1, 3, 5, 9):
        found = read_clean(json.loads(vs_answer(k, rng)))
        assert found is not None and len(found) == k
        for candidate in found:
            validated = Candidate(**candidate.__dict__)
            assert candidate.__getstate__() == validated.__getstate__()
            assert candidate.model_dump_json() == validated.model_dump_json()
            assert type(candidate.stated) is float and type(candidate.weight) is float
    assert read_clean(json.loads('{"responses": [{"text": "A", "probability": 1}]}')) == [
        Candidate(text="A", stated=1.0, weight=1.0, probability=1.0)
    ]
