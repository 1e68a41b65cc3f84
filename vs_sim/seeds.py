"""Addressed randomness: every decision draws from its own generator.

A generator is derived from (run seed, conversation id, turn, purpose, ...), so the
value drawn for one decision never depends on how many draws happened elsewhere or
on the order in which concurrent calls finished.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *keys: object) -> int:
    """A 64-bit integer derived from a run seed and any keys (stable across machines)."""
    text = "\x1f".join([str(int(seed)), *(str(k) for k in keys)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def derive_rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator for the decision addressed by ``keys`` under run ``seed``.

    Example:
        >>> a = derive_rng(7, "conv-3", 2, "choice").random()
        >>> b = derive_rng(7, "conv-3", 2, "choice").random()
        >>> a == b
        True
    """
    return np.random.Generator(np.random.PCG64(derive_seed(seed, *keys)))
