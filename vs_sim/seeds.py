"""Addressed randomness: every decision draws from its own generator.

A generator is derived from (run seed, conversation id, turn, purpose, ...), so the
value drawn for one decision never depends on how many draws happened elsewhere or
on the order in which concurrent calls finished.

Most decisions of a run (which candidate an agent says, which speaker goes next, which
answer a respondent gives) take a single uniform draw. :func:`derive_uniform` serves those
straight from the address's hash (about 1 µs); seeding a numpy generator costs about ten
times that, which mattered because a turn makes two such draws. :class:`AddressedRng` is
the same idea for code that wants a generator: ``random()`` reads the address's hash
stream, and any other numpy ``Generator`` method is served by :func:`derive_rng` of the
same address, built on first use.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

_SCALE = 2.0**-53
_sha256 = hashlib.sha256


def _address(seed: int, keys: tuple[object, ...]) -> bytes:
    return "\x1f".join(map(str, (int(seed), *keys))).encode("utf-8")


def derive_seed(seed: int, *keys: object) -> int:
    """A 64-bit integer derived from a run seed and any keys (stable across machines)."""
    return int.from_bytes(hashlib.sha256(_address(seed, keys)).digest()[:8], "little")


def derive_rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator for the decision addressed by ``keys`` under run ``seed``.

    Example:
        >>> a = derive_rng(7, "conv-3", 2, "choice").random()
        >>> b = derive_rng(7, "conv-3", 2, "choice").random()
        >>> a == b
        True
    """
    return np.random.Generator(np.random.PCG64(derive_seed(seed, *keys)))


def _draw(address: bytes, index: int) -> float:
    """Draw ``index`` of an address's stream: 53 bits of SHA-256(address, index) in [0, 1)."""
    digest = _sha256(address + b"\x1e" + str(index).encode("ascii")).digest()
    return (int.from_bytes(digest[:8], "little") >> 11) * _SCALE


def derive_uniform(seed: int, *keys: object) -> float:
    """One uniform draw in [0, 1) for the decision addressed by ``keys`` under run ``seed``.

    The first value of :meth:`AddressedRng.random` for the same address.

    Example:
        >>> derive_uniform(7, "conv-3", 2, "choice") == derive_uniform(7, "conv-3", 2, "choice")
        True
        >>> 0.0 <= derive_uniform(7, "conv-3", 2, "choice") < 1.0
        True
    """
    digest = _sha256(_address(seed, keys) + b"\x1e0").digest()  # (_draw of index 0)
    return (int.from_bytes(digest[:8], "little") >> 11) * _SCALE


class AddressedRng:
    """The random source of one decision, addressed like :func:`derive_rng`.

    ``random()`` (no arguments) returns the address's hash stream, one SHA-256 per draw;
    every other ``numpy.random.Generator`` method and ``random(size)`` go to ``derive_rng``
    of the same address, built the first time one is used (see :attr:`generator`). The two
    streams are independent, and both are fixed by the address.

    Example:
        >>> rng = AddressedRng(7, "conv-3", 2, "schedule")
        >>> rng.random() == derive_uniform(7, "conv-3", 2, "schedule")
        True
        >>> int(rng.integers(10)) == int(derive_rng(7, "conv-3", 2, "schedule").integers(10))
        True
    """

    __slots__ = ("_address", "_count", "_generator", "_keys", "_seed")

    def __init__(self, seed: int, *keys: object) -> None:
        self._seed = seed
        self._keys = keys
        self._address = b""  # made on the first draw: a scheduler may draw nothing
        self._count = 0
        self._generator: np.random.Generator | None = None

    def random(self, size: Any = None, **kwargs: Any) -> Any:
        """The next uniform draw in [0, 1); with arguments, numpy's ``Generator.random``."""
        if size is not None or kwargs:
            return self.generator.random(size, **kwargs)
        if not self._address:
            self._address = _address(self._seed, self._keys)
        value = _draw(self._address, self._count)
        self._count += 1
        return value

    @property
    def generator(self) -> np.random.Generator:
        """The numpy Generator of the same address (``derive_rng(seed, *keys)``)."""
        if self._generator is None:
            self._generator = derive_rng(self._seed, *self._keys)
        return self._generator

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.generator, name)

    def __repr__(self) -> str:
        return f"AddressedRng({self._seed}, {', '.join(map(repr, self._keys))})"
