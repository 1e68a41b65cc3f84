"""Speed of the text-diversity metrics and the embedders; prints numbers, asserts nothing.

Run: ``.venv/bin/python bench/metrics.py`` (the MiniLM rows need ``vs_sim[embeddings]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from vs_sim.embeddings import HashingEmbedder, LocalEmbedder
from vs_sim.errors import MissingDependency
from vs_sim.metrics import distinct_n, lexical_diversity, semantic_diversity

WORDS = (
    "the a charity child donate money help school water food family give time dollar "
    "think maybe sure never always happy sad story village doctor rain"
).split()


def make_texts(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=length)) for _ in range(n)]


def timed(label: str, fn: Callable[[], object], repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{label:<52} {best * 1000:9.1f} ms   value {shown}")


def main() -> None:
    for n, length in [(30, 100), (30, 300), (100, 100)]:
        texts = make_texts(n, length)
        timed(f"distinct_n(n=2), {n} texts × {length} words", lambda t=texts: distinct_n(t, 2))
        timed(
            f"lexical_diversity, {n} texts × {length} words ({n * (n - 1) // 2} pairs)",
            lambda t=texts: lexical_diversity(t),
        )
        timed(
            f"semantic_diversity(hashing), {n} texts × {length} words",
            lambda t=texts: semantic_diversity(t, HashingEmbedder()),
        )
    try:
        local = LocalEmbedder(device="cpu")
        start = time.perf_counter()
        local.embed(["warm up"])
        print(
            f"{'LocalEmbedder first call (import + load)':<52} {time.perf_counter() - start:9.2f} s"
        )
        for n, length in [(30, 30), (30, 100)]:
            texts = make_texts(n, length)
            timed(
                f"semantic_diversity(MiniLM), {n} texts × {length} words",
                lambda t=texts: semantic_diversity(t, local),
            )
    except MissingDependency as exc:
        print(f"MiniLM skipped: {exc}")


if __name__ == "__main__":
    main()
