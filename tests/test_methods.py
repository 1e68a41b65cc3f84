"""Each method's prompt: what it asks for, and how its options change the words."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from vs_sim.errors import ConfigError
from vs_sim.methods import METHOD_NAMES, get_method

TASK = [{"role": "user", "content": "Tell me a joke about cats"}]


def system_of(name: str, **opts: object) -> str:
    return get_method(name, **opts).build_messages(TASK)[0]["content"]


def test_every_method_keeps_the_task_and_adds_a_system_message() -> None:
    for name in METHOD_NAMES:
        msgs = get_method(name).build_messages(TASK)
        assert msgs[0]["role"] == "system"
        assert msgs[-1] == TASK[0]


def test_vs_standard_asks_for_k_with_the_explicit_wording() -> None:
    text = system_of("vs_standard", k=7)
    assert "Generate 7 responses" in text
    assert (
        "the estimated probability from 0.0 to 1.0 of this response given the input prompt "
        "(relative to the full distribution)" in text
    )
    assert '"responses"' in text and '"probability"' in text
    assert "tails" not in text


@pytest.mark.parametrize(
    ("wording", "needle"),
    [
        ("implicit", "how likely this response would be"),
        ("relative", "the most likely response gets 1.0"),
        ("percentage", "as a percentage from 0 to 100"),
        ("confidence", '"confidence"'),
    ],
)
def test_probability_wordings(wording: str, needle: str) -> None:
    assert needle in system_of("vs_standard", wording=wording)


def test_tail_threshold_is_prompt_side_only() -> None:
    text = system_of("vs_standard", tail=0.1)
    assert "such that the probability of each response is less than 0.1" in text


def test_length_hint_is_optional_and_never_hard_coded() -> None:
    assert "words" not in system_of("vs_standard")
    assert "Keep each under 40 words." in system_of(
        "vs_standard", length_hint="Keep each under 40 words."
    )


def test_xml_format_and_all_plausible() -> None:
    text = system_of("vs_standard", format="xml", k=None)
    assert "<response><text>" in text and "<probability>" in text
    assert "all plausible responses" in text


def test_baselines_do_not_ask_for_probabilities() -> None:
    for name in ("direct", "cot", "sequence", "multi_turn"):
        assert "probability" not in system_of(name)
    assert "Generate 5 responses" in system_of("sequence")
    assert '"reasoning"' in system_of("cot")
    assert '"reasoning"' in system_of("vs_cot")


def test_call_shapes_match_the_paper() -> None:
    assert get_method("direct", k=5).independent_calls == 5
    assert get_method("vs_standard", k=5).independent_calls == 1
    assert get_method("multi_turn", k=4).turns == 4
    vs_multi = get_method("vs_multi", k=5, m=2)
    assert vs_multi.turns == 3 and vs_multi.turn_sizes() == [2, 2, 1]
    assert "3 more responses" in get_method("vs_multi", k=6, m=3).followup(3)


def test_json_schema_for_providers_that_take_one() -> None:
    schema = get_method("vs_cot").response_format()
    assert schema is not None
    body = schema["json_schema"]["schema"]
    assert body["required"] == ["reasoning", "responses"]
    assert body["properties"]["responses"]["items"]["required"] == ["text", "probability"]
    assert get_method("direct").response_format() is None
    assert get_method("vs_standard", format="xml").response_format() is None
    json.dumps(schema)  # serializable as sent


def test_bad_options_name_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="unknown method 'vs_magic'"):
        get_method("vs_magic")
    with pytest.raises(ConfigError, match="k must be >= 1"):
        get_method("vs_standard", k=0)
    with pytest.raises(ConfigError, match="tail"):
        get_method("vs_standard", tail=1.5)
    with pytest.raises(ConfigError, match="wording"):
        get_method("vs_standard", wording="vibes")
    with pytest.raises(ConfigError, match="needs a list method"):
        get_method("direct", k=None)


def test_user_templates_override_builtins(tmp_path: Path) -> None:
    (tmp_path / "vs_standard.j2").write_text("Give {{ k }} answers as JSON, pirate style.")
    text = get_method("vs_standard", k=3, template_dirs=[tmp_path]).build_messages(TASK)[0]
    assert text["content"] == "Give 3 answers as JSON, pirate style."


def test_existing_system_prompt_is_kept_first() -> None:
    msgs = get_method("vs_standard").build_messages(
        [{"role": "system", "content": "You are Ana, 34, a nurse."}, *TASK]
    )
    assert msgs[0]["content"].startswith("You are Ana, 34, a nurse.\n\nGenerate 5 responses")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_sentences_never_run_together(fmt: str) -> None:
    import re

    for name in METHOD_NAMES:
        for opts in ({}, {"tail": 0.1, "length_hint": "Keep it short."}):
            if name not in ("vs_standard", "vs_cot", "vs_multi") and "tail" in opts:
                continue
            text = get_method(name, format=fmt, **opts).instructions()
            assert not re.search(r"[.)][A-Z]", text), (name, opts, text)


def test_rendered_texts_are_kept_per_method_and_forgotten_with_it() -> None:
    from vs_sim import methods

    method = get_method("vs_multi", k=5, m=2)
    first = method.instructions(2)
    assert method.instructions(2) is first  # rendered once, then looked up
    assert method.instructions(1) != first and method.instructions() == method.instructions(2)
    assert get_method("vs_multi", k=5, m=2).instructions(2) == first  # an equal method agrees
    assert method.followup(1) == get_method("vs_multi", k=5, m=2).followup(1)
    key = id(method)
    assert key in methods._RENDERED
    del method
    methods._render_cached.cache_clear()  # (its keys hold methods too)
    gc.collect()
    assert key not in methods._RENDERED  # so a new object with that id starts afresh
