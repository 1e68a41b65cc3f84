"""Text diversity metrics against hand-computed values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vs_sim.embeddings import HashingEmbedder
from vs_sim.errors import ConfigError
from vs_sim.metrics import (
    distinct_n,
    lcs_length,
    lexical_diversity,
    rouge_l,
    semantic_diversity,
    semantic_diversity_of_embeddings,
    tokenize,
)


def test_tokenize_lowercases_and_splits_on_non_word_characters() -> None:
    assert tokenize("Don't STOP!  now_ok, 42") == ["don", "t", "stop", "now_ok", "42"]
    assert tokenize("...!") == []


def test_distinct_n_pooled_over_texts() -> None:
    texts = ["The cat sat.", "the cat ran"]
    # unigrams: the cat sat the cat ran -> 6 total, {the, cat, sat, ran} = 4 unique -> 4/6
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    # bigrams: (the cat) (cat sat) (the cat) (cat ran) -> 4 total, 3 unique -> 0.75
    assert distinct_n(texts, 2) == pytest.approx(0.75)
    # trigrams: (the cat sat) (the cat ran) -> 2 total, 2 unique -> 1.0
    assert distinct_n(texts, 3) == pytest.approx(1.0)


def test_distinct_n_never_crosses_text_boundaries() -> None:
    # bigrams within texts only: (a b), (a b) -> 2 total, 1 unique; "b a" across texts not counted
    assert distinct_n(["a b", "a b"], 2) == pytest.approx(0.5)
    # "x" is shorter than n=3 and adds nothing; "b c d" gives one trigram -> 1/1
    assert distinct_n(["x", "b c d"], 3) == 1.0


def test_distinct_n_degenerate_inputs_raise() -> None:
    with pytest.raises(ConfigError, match="at least 1 text"):
        distinct_n([], 1)
    with pytest.raises(ConfigError, match=r"texts\[1\]: text has no word tokens"):
        distinct_n(["fine", "  !? "], 1)
    with pytest.raises(ConfigError, match="no 3-grams"):
        distinct_n(["a b", "c"], 3)
    with pytest.raises(ConfigError, match="n must be >= 1"):
        distinct_n(["a"], 0)
    with pytest.raises(ConfigError, match="not a single string"):
        distinct_n("a b c", 1)


def _lcs_reference(a: list[str], b: list[str]) -> int:
    """Textbook O(mn) dynamic programme, to check the bit-parallel version."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


words = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=80)


@given(words, words)
def test_lcs_length_matches_dynamic_programme(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == _lcs_reference(a, b)
    assert lcs_length(a, b) == lcs_length(b, a)


def test_rouge_l_hand_computed() -> None:
    # a: the cat sat on the mat (6); b: the cat lay on a mat (6); LCS = the cat on mat = 4
    # P = 4/6, R = 4/6, F1 = 4/6
    assert rouge_l("The cat sat on the mat.", "the cat lay on a mat") == pytest.approx(4 / 6)
    # a: a b c d (4), b: a c (2); LCS = 2; P = 2/2 = 1, R = 2/4 = 0.5; F1 = 2*1*0.5/1.5 = 2/3
    assert rouge_l("a b c d", "a c") == pytest.approx(2 / 3)
    # word order matters: LCS("police killed the gunman", "the gunman killed police") = 2
    # ("the gunman"), so F1 = 2*2/(4+4) = 0.5
    assert rouge_l("police killed the gunman", "the gunman killed police") == pytest.approx(0.5)
    assert rouge_l("same words here", "Same words, here!") == 1.0
    assert rouge_l("alpha", "beta") == 0.0


@given(st.text(max_size=60), st.text(max_size=60))
def test_rouge_l_is_symmetric_and_bounded(a: str, b: str) -> None:
    if not tokenize(a) or not tokenize(b):
        with pytest.raises(ConfigError):
            rouge_l(a, b)
        return
    score = rouge_l(a, b)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(rouge_l(b, a))
    assert rouge_l(a, a) == 1.0


def test_lexical_diversity_is_mean_pairwise_rouge_l() -> None:
    # pairs: (a b, a c): LCS 1 -> F1 = 2*1/(2+2) = 0.5; (a b, d e): 0; (a c, d e): 0
    # mean = 0.5 / 3 = 1/6
    assert lexical_diversity(["a b", "a c", "d e"]) == pytest.approx(1 / 6)
    assert lexical_diversity(["same text", "same text"]) == 1.0


def test_lexical_diversity_needs_two_texts() -> None:
    with pytest.raises(ConfigError, match="at least 2 texts, got 1"):
        lexical_diversity(["only one"])
    with pytest.raises(ConfigError, match=r"texts\[0\]"):
        lexical_diversity(["", "second"])


def test_semantic_diversity_of_embeddings_hand_computed() -> None:
    # sims: e1.e2 = 1, e1.e3 = 0, e2.e3 = 0 -> mean 1/3 -> 100 * (1 - 1/3) = 66.67
    assert semantic_diversity_of_embeddings([[1, 0], [2, 0], [0, 5]]) == pytest.approx(200 / 3)
    # (3,4) and (4,3): cos = 24/25 = 0.96 -> 100 * 0.04 = 4.0 (rows normalized first)
    assert semantic_diversity_of_embeddings([[3, 4], [4, 3]]) == pytest.approx(4.0)


def test_semantic_diversity_clips_negative_similarities() -> None:
    # sims: (1,0)(-1,0) = -1 -> 0; (1,0)(1,0) = 1; (-1,0)(1,0) = -1 -> 0; mean 1/3 -> 66.67
    # (without clipping the mean would be -1/3 and the result 133.3)
    value = semantic_diversity_of_embeddings([[1, 0], [-1, 0], [1, 0]])
    assert value == pytest.approx(200 / 3)


def test_semantic_diversity_degenerate_embeddings_raise() -> None:
    with pytest.raises(ConfigError, match="at least 2 texts"):
        semantic_diversity_of_embeddings([[1.0, 0.0]])
    with pytest.raises(ConfigError, match=r"embeddings\[1\]: embedding is all zeros"):
        semantic_diversity_of_embeddings([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ConfigError, match="2-D"):
        semantic_diversity_of_embeddings([1.0, 0.0])
    with pytest.raises(ConfigError, match="non-finite"):
        semantic_diversity_of_embeddings([[1.0, 0.0], [math.nan, 1.0]])


class _ScriptedEmbedder:
    """Returns fixed vectors and records what it was asked to embed."""

    name = "scripted"

    def __init__(self, vectors: list[list[float]]) -> None:
        self.vectors = np.asarray(vectors, dtype=float)
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        self.calls.append(list(texts))
        return self.vectors


def test_semantic_diversity_embeds_the_texts_once() -> None:
    embedder = _ScriptedEmbedder([[1, 0], [0, 1]])
    # orthogonal -> mean similarity 0 -> 100 %
    assert semantic_diversity(["first", "second"], embedder) == pytest.approx(100.0)
    assert embedder.calls == [["first", "second"]]


def test_semantic_diversity_rejects_degenerate_texts_before_embedding() -> None:
    embedder = _ScriptedEmbedder([[1, 0]])
    with pytest.raises(ConfigError, match="at least 2 texts"):
        semantic_diversity(["one"], embedder)
    with pytest.raises(ConfigError, match=r"texts\[1\]"):
        semantic_diversity(["one", "   "], embedder)
    assert embedder.calls == []


def test_semantic_diversity_with_hashing_embedder() -> None:
    embedder = HashingEmbedder()
    assert semantic_diversity(["a sunny day"] * 5, embedder) == pytest.approx(0.0, abs=1e-9)
    varied = semantic_diversity(
        ["a sunny day", "quantum chromodynamics", "my grandmother's recipe"], embedder
    )
    assert 50.0 < varied <= 100.0
