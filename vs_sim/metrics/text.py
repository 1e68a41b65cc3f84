"""Diversity of a set of texts: distinct-n, ROUGE-L, lexical and semantic diversity.

All token-based metrics share one tokenizer (:func:`tokenize`): lowercase the text,
then split on runs of non-word characters (``re`` ``\\W+``; word characters are
Unicode letters, digits and ``_``), dropping empty pieces. So ``"Don't stop!"`` is
``["don", "t", "stop"]``.

Degenerate input raises :class:`~vs_sim.errors.ConfigError` rather than returning
NaN: a set with too few texts, or a text with no word tokens, names the offending
position (``texts[3]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..embeddings import Embedder

_NON_WORD = re.compile(r"\W+")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of ``text`` (split on non-word characters)."""
    return [t for t in _NON_WORD.split(text.lower()) if t]


def _tokenized(texts: Sequence[str], min_texts: int, what: str) -> list[list[str]]:
    """Tokenize ``texts``, requiring ``min_texts`` of them and a word token in each."""
    if isinstance(texts, str):
        raise ConfigError(f"{what} takes a list of texts, not a single string")
    if len(texts) < min_texts:
        raise ConfigError(
            f"{what} needs at least {min_texts} text{'s' if min_texts > 1 else ''}, "
            f"got {len(texts)}"
        )
    out: list[list[str]] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f"expected a string, got {type(text).__name__}", where=f"texts[{i}]")
        tokens = tokenize(text)
        if not tokens:
            raise ConfigError(f"text has no word tokens: {text!r}", where=f"texts[{i}]")
        out.append(tokens)
    return out


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n: unique n-grams ÷ total n-grams, pooled over all texts.

    N-grams are taken within each text (never across two texts) from :func:`tokenize`
    tokens; a text shorter than ``n`` tokens adds none. Range (0, 1]; higher = more
    diverse. One text is enough (it measures repetition inside it).

    Args:
        texts: The texts.
        n: The n-gram length (1, 2 and 3 are the usual choices).

    Raises:
        ConfigError: ``n < 1``, no texts, a text without word tokens, or no text has
            ``n`` tokens.
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    token_lists = _tokenized(texts, 1, "distinct_n")
    grams: list[tuple[str, ...]] = []
    for tokens in token_lists:
        grams.extend(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if not grams:
        raise ConfigError(f"no text has {n} tokens, so there are no {n}-grams to count")
    return len(set(grams)) / len(grams)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Uses the bit-parallel recurrence of Allison & Dix (1986): a bit per position of
    ``a``, updated once per token of ``b`` with integer add/or, so long texts stay fast.
    """
    if not a or not b:
        return 0
    match: dict[str, int] = {}
    for i, tok in enumerate(a):
        match[tok] = match.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & match.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F1 of two texts (Lin, 2004), on :func:`tokenize` tokens.

    With ``L`` the longest common subsequence length of the token lists,
    ``P = L / len(b)``, ``R = L / len(a)`` and ``F1 = 2PR / (P + R)`` (0 when ``L = 0``).
    F1 is symmetric in ``a`` and ``b``. Range [0, 1]; 1 = same token sequence.

    Raises:
        ConfigError: Either text has no word tokens.
    """
    ta, tb = _tokenized([a, b], 2, "rouge_l")
    return _rouge_l_f1(ta, tb)


def _rouge_l_f1(ta: Sequence[str], tb: Sequence[str]) -> float:
    """ROUGE-L F1 of two non-empty token lists; ``2PR/(P+R)`` simplifies to ``2L/(|a|+|b|)``."""
    return 2 * lcs_length(ta, tb) / (len(ta) + len(tb))


def lexical_diversity(texts: Sequence[str]) -> float:
    """Mean ROUGE-L F1 over all unordered pairs of texts.

    ``mean_{i<j} rouge_l(texts[i], texts[j])``. Range [0, 1]; **lower = more diverse**
    (1 when all texts have the same tokens). The VS paper reports it this way.

    Raises:
        ConfigError: Fewer than 2 texts, or a text without word tokens.
    """
    token_lists = _tokenized(texts, 2, "lexical_diversity")
    scores = [_rouge_l_f1(ta, tb) for ta, tb in combinations(token_lists, 2)]
    return float(np.mean(scores))


def semantic_diversity_of_embeddings(embeddings: npt.ArrayLike) -> float:
    """Semantic diversity of precomputed embeddings (one row per text), in %.

    Rows are L2-normalized here, so any embedding works. With ``s_ij`` the cosine
    similarity of rows ``i`` and ``j``: ``100 × (1 − mean_{i<j} max(s_ij, 0))``.
    Range [0, 100]; **higher = more diverse**; 0 when all rows point the same way.

    Raises:
        ConfigError: Not a 2-D array, fewer than 2 rows, or a zero / non-finite row.
    """
    e = np.asarray(embeddings, dtype=float)
    if e.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-D array (texts × dims), got shape {e.shape}")
    if e.shape[0] < 2:
        raise ConfigError(f"semantic diversity needs at least 2 texts, got {e.shape[0]}")
    if not np.all(np.isfinite(e)):
        bad = int(np.where(~np.all(np.isfinite(e), axis=1))[0][0])
        raise ConfigError("embedding has non-finite values", where=f"embeddings[{bad}]")
    norms = np.linalg.norm(e, axis=1)
    if np.any(norms == 0):
        bad = int(np.where(norms == 0)[0][0])
        raise ConfigError("embedding is all zeros", where=f"embeddings[{bad}]")
    unit = e / norms[:, None]
    sims = unit @ unit.T
    upper = sims[np.triu_indices(len(unit), k=1)]
    mean_sim = float(np.mean(np.clip(upper, 0.0, 1.0)))
    return 100.0 * (1.0 - mean_sim)


def semantic_diversity(texts: Sequence[str], embedder: Embedder) -> float:
    """Semantic diversity as in the Verbalized Sampling paper, in %.

    Embeds ``texts`` with ``embedder`` and returns
    ``100 × (1 − mean_{i<j} max(cos(e_i, e_j), 0))``: one minus the mean pairwise
    cosine similarity, negative similarities clipped to 0. Range [0, 100];
    **higher = more diverse**. Values depend on the embedder: compare numbers only
    when they come from the same one (the paper used ``text-embedding-3-small``).

    Raises:
        ConfigError: Fewer than 2 texts, or a text without word tokens.
    """
    _tokenized(texts, 2, "semantic_diversity")
    return semantic_diversity_of_embeddings(embedder.embed(list(texts)))
