"""`vs_sim.compare`: call budget, texts scored, coverage, results and bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from vs_sim.compare import (
    ComparePrompt,
    ComparisonResult,
    compare_methods,
    match_answers,
    read_prompts,
    score_texts,
)
from vs_sim.errors import ConfigError, MissingDependency, ModelError, ProviderError
from vs_sim.testing import ScriptedModel
from vs_sim.verbalizer import CallRecord

CREATIVE = ["Tell me a joke", "Write a two-line poem about the sea at night"]
STATES = ComparePrompt(
    text="Name a US state",
    valid=("Alabama", "Alaska", "Texas", "Ohio", "New York", "California", "Florida", "Utah"),
)


def _vs(*texts: str) -> str:
    return json.dumps({"responses": [{"text": t, "probability": 0.5} for t in texts]})


# -- call budget -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "calls"),
    [
        ("direct", 7),
        ("cot", 7),
        ("sequence", 3),  # ⌈7/3⌉ calls asking for 3, 3 and the last 1
        ("vs_standard", 3),
        ("vs_cot", 3),
        ("multi_turn", 7),  # one chat of 7 turns
        ("vs_multi", 5),  # chats of 3, 3, 1 candidates; turns of 2: 2 + 2 + 1 calls
    ],
)
def test_call_budget_per_method(method: str, calls: int) -> None:
    seen: list[CallRecord] = []
    result = compare_methods(
        ["Tell me a joke"], [method], n=7, k=3, embedder="hashing", on_call=seen.append
    )
    row = result.prompt_rows[0]
    assert len(seen) == calls == row.calls == result.rows[0].calls_per_prompt
    assert len(row.samples) == 7
    # every call is its own sample: no two calls share a cache key
    assert len({rec.request.key for rec in seen}) == calls


def test_scripted_model_sees_the_budget_and_the_concurrency_bound() -> None:
    model = ScriptedModel(delay=0.001)
    result = compare_methods(
        [*CREATIVE, "Describe a rainy day"],
        ["vs_standard", "direct"],
        n=10,
        k=2,
        model=model,
        embedder="hashing",
        concurrency=4,
    )
    assert len(model.history) == 3 * (5 + 10)
    assert 1 < model.max_in_flight <= 4
    assert [r.samples for r in result.rows] == [30, 30]
    # calls with the same messages differ in their repeat index, so no two share a key
    assert len({r.key for r in model.history}) == len(model.history)
    assert len({json.dumps(r.messages) for r in model.history}) < len(model.history)


# -- which texts are scored ------------------------------------------------------------------
def test_duplicates_count_and_lists_are_cut_to_the_size_asked() -> None:
    model = ScriptedModel(replies=[_vs("A cat", "A dog", "A cow"), _vs("A cat", "A cat")])
    result = compare_methods(
        ["Name an animal"], ["vs_standard"], n=4, k=2, model=model, embedder="hashing",
        concurrency=1,
    )  # fmt: skip
    assert result.prompt_rows[0].samples == ["A cat", "A dog", "A cat", "A cat"]


def test_an_answer_that_was_re_asked_gives_no_text() -> None:
    model = ScriptedModel(replies=["not json at all ???", _vs("Red", "Blue")])
    result = compare_methods(
        ["Name a colour"], ["vs_standard"], n=2, k=2, model=model, embedder="hashing"
    )
    row = result.prompt_rows[0]
    assert row.samples == ["Red", "Blue"] and row.calls == 2


def test_multi_turn_repeats_are_kept_not_merged() -> None:
    result = compare_methods(["Tell me a joke"], ["multi_turn"], n=12, embedder="hashing")
    samples = result.prompt_rows[0].samples
    assert len(samples) == 12 and len(set(samples)) < 12  # the offline model repeats itself


def test_draws_come_from_each_distribution_and_follow_the_seed() -> None:
    def run(seed: int, how: str) -> ComparisonResult:
        return compare_methods(
            ["Tell me a joke"], ["vs_standard"], n=10, k=5, embedder="hashing", seed=seed,
            vs_samples=how,  # type: ignore[arg-type]
        )  # fmt: skip

    listed = run(0, "candidates").prompt_rows[0].samples
    drawn = run(0, "draws").prompt_rows[0].samples
    assert len(drawn) == 10 and set(drawn) <= set(listed)
    assert drawn == run(0, "draws").prompt_rows[0].samples
    assert run(1, "candidates").prompt_rows[0].samples != listed  # another seed, fresh samples


# -- the offline model collapses, VS does not -------------------------------------------------
def test_vs_methods_are_more_diverse_than_direct_on_the_offline_model() -> None:
    methods = ["direct", "vs_standard", "vs_cot", "vs_multi"]
    result = compare_methods([*CREATIVE, STATES], methods, n=30, k=5, embedder="hashing")
    direct = result.prompt_rows[: len(CREATIVE) + 1]
    for name in methods[1:]:
        rows = [r for r in result.prompt_rows if r.method == name]
        for vs, base in zip(rows, direct):
            assert vs.semantic_diversity is not None and base.semantic_diversity is not None
            assert vs.semantic_diversity > base.semantic_diversity + 10, vs.prompt
            assert vs.lexical_diversity is not None and base.lexical_diversity is not None
            assert vs.lexical_diversity < base.lexical_diversity, vs.prompt
            assert (vs.distinct_1 or 0) > (base.distinct_1 or 0), vs.prompt
        assert (rows[-1].coverage or 0) > (direct[-1].coverage or 0)


@pytest.mark.slow
def test_vs_beats_direct_with_the_local_minilm_embedder() -> None:
    pytest.importorskip("sentence_transformers")
    result = compare_methods(CREATIVE, ["direct", "vs_standard"], n=20, k=5, embedder="local")
    assert result.embedder == "all-MiniLM-L6-v2"
    direct, vs = result["direct"], result["vs_standard"]
    assert vs["semantic_diversity"] > direct["semantic_diversity"] + 5


# -- coverage ------------------------------------------------------------------------------------
def test_coverage_against_a_hand_computed_value() -> None:
    # valid: texas, virginia, west virginia, ohio (4). The samples give texas twice, west
    # virginia once (not virginia: the longest answer inside wins) and one invalid answer.
    # coverage = 2/4, precision = 3/4.
    model = ScriptedModel(replies=["Texas", "texas!", "I'd pick West Virginia.", "Narnia"])
    prompt = ComparePrompt(
        text="Name a US state", valid=("Texas", "Virginia", "West Virginia", "Ohio")
    )
    result = compare_methods([prompt], ["direct"], n=4, model=model, embedder="hashing")
    row = result.prompt_rows[0]
    assert row.coverage == pytest.approx(0.5)
    assert row.precision == pytest.approx(0.75)
    assert result["direct"]["coverage"] == pytest.approx(0.5)


def test_valid_answers_for_all_prompts_and_matching_rules() -> None:
    assert match_answers(["New  York!", "york", "new york city"], ["New York"]) == [
        "new york",
        None,
        "new york",
    ]
    model = ScriptedModel(replies=["Ohio", "Utah"])
    result = compare_methods(
        ["Name a state"], ["direct"], n=2, model=model, embedder="hashing",
        valid=["Ohio", "Utah", "Iowa", "Maine"],
    )  # fmt: skip
    assert result.prompt_rows[0].coverage == pytest.approx(0.5)


def test_score_texts_hand_computed_and_undefined_values() -> None:
    scores = score_texts(["red", "blue", "red"], None, ["red", "green"])
    assert scores["distinct_1"] == pytest.approx(2 / 3)
    assert scores["distinct_2"] is None  # one-word answers have no bigrams
    assert scores["lexical_diversity"] == pytest.approx(1 / 3)  # pairs: 0, 1, 0
    assert scores["coverage"] == pytest.approx(0.5) and scores["precision"] == pytest.approx(2 / 3)
    single = score_texts(["only one"], None, None)
    assert single["lexical_diversity"] is None and single["semantic_diversity"] is None


# -- results -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> ComparisonResult:
    return compare_methods(
        [*CREATIVE, STATES], ["direct", "sequence", "vs_standard"], n=6, k=3, embedder="hashing"
    )


def test_result_is_a_mapping_that_plot_diversity_draws(small: ComparisonResult) -> None:
    pytest.importorskip("matplotlib")
    from vs_sim.plots import plot_diversity

    assert list(small) == ["direct", "sequence", "vs_standard"]
    assert set(small["sequence"]) == {
        "semantic_diversity", "lexical_diversity", "distinct_1", "distinct_2", "distinct_3",
        "coverage",
    }  # fmt: skip
    fig = plot_diversity(small)
    assert len(fig.axes) == 6
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(small)


def test_dataframes(small: ComparisonResult) -> None:
    pytest.importorskip("pandas")
    means = small.to_dataframe()
    assert list(means["method"]) == ["direct", "sequence", "vs_standard"]
    detail = small.to_dataframe(per_prompt=True)
    assert len(detail) == 9 and detail["samples"].map(len).eq(6).all()


def test_json_round_trip(small: ComparisonResult, tmp_path: Path) -> None:
    path = small.write(tmp_path / "out" / "results.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    again = ComparisonResult.from_dict(data)
    assert again.to_dict() == small.to_dict()
    assert data["prompts"][0]["samples"] == small.prompt_rows[0].samples


def test_csv_has_prompt_rows_then_means(small: ComparisonResult, tmp_path: Path) -> None:
    path = small.write(tmp_path / "results.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["scope"] for r in rows] == ["prompt"] * 9 + ["mean"] * 3
    assert float(rows[-1]["semantic_diversity"]) == pytest.approx(small.rows[-1].semantic_diversity)
    assert rows[0]["samples"] == "6" and rows[-1]["prompt_index"] == ""
    with pytest.raises(ConfigError, match=r"\.json or \.csv"):
        small.write(tmp_path / "results.txt")


# -- failures and bad input ------------------------------------------------------------------------
def test_a_failed_distribution_is_recorded_and_all_failing_raises() -> None:
    def fail_first(call: int, _: object) -> BaseException | None:
        return ProviderError("bad request", status=400) if call == 0 else None

    model = ScriptedModel(fail=fail_first)
    result = compare_methods(
        ["Tell me a joke"], ["vs_standard"], n=6, k=3, model=model, embedder="hashing",
        concurrency=1,
    )  # fmt: skip
    row = result.prompt_rows[0]
    assert len(row.samples) == 3 and len(row.errors) == 1 and "bad request" in row.errors[0]
    assert result.rows[0].errors == 1
    always = ScriptedModel(fail=lambda call, req: ProviderError("down", status=500))
    with pytest.raises(ModelError, match="every call failed"):
        compare_methods(["x y"], ["direct"], n=2, model=always, embedder="hashing")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["direct", "vs_magic"]}, "unknown method 'vs_magic'"),
        ({"methods": ["direct", "direct"]}, "listed twice"),
        ({"methods": []}, "no methods"),
        ({"n": 0}, "n must be >= 1, got 0"),
        ({"k": 0}, "k must be >= 1, got 0"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"prompts": []}, "no prompts given"),
        ({"prompts": ["  "]}, "prompts\\[0\\]: the prompt is empty"),
        ({"vs_samples": "best"}, "candidates or draws"),
    ],
)
def test_bad_arguments_raise_one_config_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"prompts": ["Tell me a joke"], "methods": ["direct"]}
    args.update(kwargs)
    seen: list[CallRecord] = []
    with pytest.raises(ConfigError, match=message):
        compare_methods(embedder="hashing", on_call=seen.append, **args)  # type: ignore[arg-type]
    assert seen == []  # nothing was called before the error


def test_read_prompts(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text(
        "# a comment\n\nTell me a joke\nName a colour ||  red | blue|| \n", encoding="utf-8"
    )
    prompts = read_prompts(path)
    assert [p.text for p in prompts] == ["Tell me a joke", "Name a colour"]
    assert prompts[0].valid is None and prompts[1].valid == ("red", "blue")
    assert prompts[1].where == f"{path}:4"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no prompts in the file"),
        ("# only a comment\n\n", "no prompts in the file"),
        ("ok\n|| a|b\n", r"p\.txt:2: the line has valid answers but no prompt"),
        ("Name one ||\n", r"p\.txt:1: '\|\|' must be followed by answers"),
    ],
)
def test_bad_prompt_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_prompts(path)


def test_default_embedder_falls_back_to_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from vs_sim.compare import default_embedder

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    name, note = default_embedder()
    assert name == "hashing" and 'pip install "vs_sim[embeddings]"' in note
    result = compare_methods(["Tell me a joke"], ["direct"], n=3)
    assert result.embedder == "hashing-256" and "not installed" in result.embedder_note


def test_a_missing_local_embedder_fails_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    seen: list[CallRecord] = []
    with pytest.raises(MissingDependency, match=r"vs_sim\[embeddings\]"):
        compare_methods(["Tell me a joke"], ["direct"], n=3, embedder="local", on_call=seen.append)
    assert seen == []


class _BrokenEmbedder:
    name = "broken"

    def embed(self, texts: Sequence[str]) -> Any:
        raise ProviderError("embedding service down", status=503)


def test_a_failing_embedder_keeps_the_samples_and_other_metrics() -> None:
    result = compare_methods(["Tell me a joke"], ["direct"], n=4, embedder=_BrokenEmbedder())
    row = result.prompt_rows[0]
    assert len(row.samples) == 4 and row.lexical_diversity is not None
    assert row.semantic_diversity is None
    assert "embedding failed" in result.embedder_note and "service down" in result.embedder_note


def test_import_stays_light() -> None:
    code = (
        "import sys, vs_sim.compare; "
        "print(sorted(m for m in ('litellm', 'pandas', 'matplotlib', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
