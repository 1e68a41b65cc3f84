"""The response parser against a corpus of real-looking model answers, plus its edges."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from vs_sim.distribution import Distribution
from vs_sim.errors import ParseError, VSSimError
from vs_sim.parsing import ParseResult, parse_response, strip_code_fences, strip_reasoning

CORPUS = Path(__file__).parent / "parse_corpus"


def _load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            for case in yaml.safe_load(fh):
                case["file"] = path.name
                cases.append(case)
    return cases


CASES = _load_cases()


def test_corpus_is_large_and_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    options = case.get("options", {})
    if "error" in expect:
        with pytest.raises(ParseError) as info:
            parse_response(case["raw"], **options)
        assert expect["error"] in info.value.reason
        assert info.value.raw == case["raw"]
        return
    result = parse_response(case["raw"], **options)
    kinds = [r.kind for r in result.repairs]
    where = f"{case['file']}:{case['name']} repairs={kinds}"
    assert [c.text for c in result.candidates] == expect["texts"], where
    if "probabilities" in expect:
        assert [c.probability for c in result.candidates] == pytest.approx(
            expect["probabilities"], abs=1e-6
        ), where
    if "weights" in expect:
        assert [c.weight for c in result.candidates] == pytest.approx(
            expect["weights"], abs=1e-6
        ), where
    if "stated" in expect:
        assert [c.stated for c in result.candidates] == expect["stated"], where
    assert result.truncated is expect.get("truncated", False), where
    if "format" in expect:
        assert result.format == expect["format"], where
    if "repairs" in expect:
        assert kinds == expect["repairs"], where
    for kind in expect.get("repairs_include", []):
        assert kind in kinds, where
    for kind in expect.get("repairs_exclude", []):
        assert kind not in kinds, where
    assert math.isclose(sum(c.probability for c in result.candidates), 1.0, abs_tol=1e-9)


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("I would rather not answer that.", "no responses found"),
        ("{}", "no responses found"),
        ('{"responses": []}', "empty"),
        ('{"responses": [{"text": "  "}, {"text": ""}]}', "empty text"),
        ("<response><text></text></response>", "empty text"),
        ("<think>I should consider", "<think>"),
    ],
)
def test_unusable_answers_raise_parse_error_with_raw_text(raw: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_response(raw)
    assert info.value.raw == raw
    assert reason in info.value.reason
    assert isinstance(info.value, VSSimError) and isinstance(info.value, ValueError)


def test_parse_error_keeps_the_complete_raw_text_of_a_long_answer() -> None:
    raw = "No structure here. " * 200
    with pytest.raises(ParseError) as info:
        parse_response(raw)
    assert info.value.raw == raw
    assert len(str(info.value)) < 400  # the message previews; .raw keeps everything


def test_allow_plain_still_rejects_empty_answers() -> None:
    with pytest.raises(ParseError):
        parse_response("```\n\n```", allow_plain=True)
    with pytest.raises(ParseError):
        parse_response("<think>only reasoning</think>", allow_plain=True)


# -- options ------------------------------------------------------------------------------
def test_expect_probabilities_false_ignores_given_numbers_but_keeps_them_as_stated() -> None:
    raw = '{"responses": [{"text": "a", "probability": 0.9}, {"text": "b", "probability": 0.1}]}'
    result = parse_response(raw, expect_probabilities=False)
    assert [c.probability for c in result.candidates] == [0.5, 0.5]
    assert [c.stated for c in result.candidates] == [0.9, 0.1]
    assert [r.kind for r in result.repairs] == ["ignored_probability"]


def test_plain_text_requires_allow_plain() -> None:
    with pytest.raises(ParseError):
        parse_response("Sure, let's meet at noon.")
    result = parse_response("Sure, let's meet at noon.", allow_plain=True)
    assert result.format == "plain"
    assert [c.text for c in result.candidates] == ["Sure, let's meet at noon."]


def test_allow_plain_still_prefers_structure() -> None:
    raw = '{"responses": [{"text": "x", "probability": 0.2}, {"text": "y", "probability": 0.8}]}'
    result = parse_response(raw, allow_plain=True)
    assert result.format == "json"
    assert [c.text for c in result.candidates] == ["x", "y"]


def test_numbered_list_with_numbers_is_read_even_when_plain_is_allowed() -> None:
    result = parse_response("1. Yes (p=0.6)\n2. No (p=0.4)", allow_plain=True)
    assert result.format == "list"
    assert [c.probability for c in result.candidates] == pytest.approx([0.6, 0.4])


# -- repairs and results ------------------------------------------------------------------
def test_repair_items_point_at_positions_in_the_answer() -> None:
    raw = '{"responses": [{"text": "a", "probability": 0.5}, {"text": "b"}, {"text": "c"}]}'
    result = parse_response(raw)
    missing = [r for r in result.repairs if r.kind == "missing_probability"]
    assert [r.item for r in missing] == [1, 2]
    assert all(r.detail for r in result.repairs)


def test_weights_are_repaired_and_probabilities_normalized() -> None:
    raw = '{"responses": [{"text": "a", "probability": 2}, {"text": "b", "probability": 6}]}'
    result = parse_response(raw)
    assert [c.stated for c in result.candidates] == [2.0, 6.0]
    assert [c.weight for c in result.candidates] == pytest.approx([0.02, 0.06])
    assert [c.probability for c in result.candidates] == pytest.approx([0.25, 0.75])


def test_weights_above_100_are_kept_as_relative_weights() -> None:
    raw = '{"responses": [{"text": "a", "score": 150}, {"text": "b", "score": 50}]}'
    result = parse_response(raw)
    assert [c.weight for c in result.candidates] == [150.0, 50.0]
    assert [c.probability for c in result.candidates] == pytest.approx([0.75, 0.25])
    assert "percentage" not in [r.kind for r in result.repairs]


def test_huge_numbers_are_rescaled_to_stay_finite() -> None:
    raw = '{"responses": [{"text": "a", "weight": 1e308}, {"text": "b", "weight": 1e308}]}'
    result = parse_response(raw)
    assert all(math.isfinite(c.weight) for c in result.candidates)
    assert [c.probability for c in result.candidates] == pytest.approx([0.5, 0.5])
    assert "rescaled" in [r.kind for r in result.repairs]


def test_nan_and_infinity_count_as_missing() -> None:
    raw = '{"responses": [{"text": "a", "probability": NaN}, {"text": "b", "probability": 0.4}]}'
    result = parse_response(raw)
    assert [c.weight for c in result.candidates] == pytest.approx([0.6, 0.4])
    assert [r.kind for r in result.repairs] == ["invalid_number", "missing_probability"]


def test_result_feeds_a_distribution() -> None:
    raw = '{"responses": [{"text": "a", "probability": 0.1}, {"text": "b", "probability": 0.3}]}'
    result = parse_response(raw)
    dist = Distribution.from_candidates(result.candidates, repairs=result.repairs)
    assert dist.texts == ["a", "b"]
    assert dist.probabilities == pytest.approx([0.25, 0.75])


def test_all_zero_weights_become_the_uniform_weights_used() -> None:
    raw = '{"responses": [{"text": "a", "probability": 0}, {"text": "b", "probability": 0}]}'
    result = parse_response(raw)
    assert [c.weight for c in result.candidates] == [0.5, 0.5]
    # A distribution built from the result needs no second zero-sum repair.
    dist = Distribution.from_candidates(result.candidates)
    assert dist.repairs == []


def test_parse_result_round_trips_through_json() -> None:
    result = parse_response('```json\n[{"text": "a", "probability": "40%"}, "b"]\n```')
    again = ParseResult.model_validate_json(result.model_dump_json())
    assert again == result


def test_texts_keep_inner_content_and_lose_only_outer_whitespace() -> None:
    raw = '{"responses": [{"text": "  line one\\n\\n  line two  \\n", "probability": 1}]}'
    result = parse_response(raw)
    assert result.candidates[0].text == "line one\n\n  line two"


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    raw = "[" * 5000 + "]" * 5000
    with pytest.raises(ParseError):
        parse_response(raw)
    with pytest.raises(ParseError):
        parse_response("Answer: " + "{'a': " * 3000)


def test_offline_model_answers_parse() -> None:
    """The shapes the offline model writes (including its deliberately messy one)."""
    messy = (
        'Sure! Here are the responses:\n```json\n{"responses": [{"text": "A", "probability": '
        '"40%"}, {"text": "B", "probability": "60%"},]}\n```'
    )
    result = parse_response(messy)
    assert [c.probability for c in result.candidates] == pytest.approx([0.4, 0.6])
    kinds = {r.kind for r in result.repairs}
    assert {"code_fence", "surrounding_text", "trailing_comma", "percentage"} <= kinds
    xml = "Here you go:\n<reasoning>r</reasoning>\n<response><text>x &amp; y</text></response>"
    result = parse_response(xml, expect_probabilities=False)
    assert [c.text for c in result.candidates] == ["x & y"]


# -- the small public helpers -------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<think>plan</think>\nAnswer", "Answer"),
        ("<thinking>\nplan\n</thinking>Answer", "Answer"),
        ("<THINK>a</THINK><think>b</think> Answer", "Answer"),
        ("reasoning without an opening tag</think>\n\nAnswer", "Answer"),
        ("<think>never closed, still thinking", ""),
        ("  <think>never closed", ""),
        ("No reasoning here.", "No reasoning here."),
        ("Talk about the <think> tag itself", "Talk about the <think> tag itself"),
    ],
)
def test_strip_reasoning(raw: str, expected: str) -> None:
    assert strip_reasoning(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ("```\nplain\n```", "plain"),
        ("Intro\n```JSON\n[1]\n```\nOutro", "Intro\n\n[1]\n\nOutro"),
        ('```json {"a": 1}```', '{"a": 1}'),
        ("no fences", "no fences"),
    ],
)
def test_strip_code_fences(raw: str, expected: str) -> None:
    assert strip_code_fences(raw).strip() == expected


def test_docstring_examples_run() -> None:
    import doctest

    import vs_sim.parsing.response
    import vs_sim.parsing.text

    for module in (vs_sim.parsing.response, vs_sim.parsing.text):
        failures, tried = doctest.testmod(module, raise_on_error=False)
        assert tried > 0 and failures == 0, module.__name__
