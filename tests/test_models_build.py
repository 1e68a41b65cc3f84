"""build_model's stack, the public face of vs_sim.models, and what importing costs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import vs_sim.models as models
from vs_sim.errors import ConfigError
from vs_sim.models import (
    CachedModel,
    LimitedModel,
    LiteLLMModel,
    Model,
    RetryingModel,
    build_model,
)


def test_public_names_are_pinned() -> None:
    assert sorted(models.__all__) == sorted(
        [
            "CachedModel",
            "Completion",
            "LimitedModel",
            "LiteLLMModel",
            "Message",
            "Model",
            "Request",
            "ResponseCache",
            "RetryingModel",
            "Usage",
            "aclose_model",
            "build_model",
            "complete_sync",
            "default_cache_path",
        ]
    )


def test_remote_stack_is_cache_limits_retry_base(tmp_path: Path) -> None:
    model = build_model(
        "openai/gpt-4o-mini",
        client="litellm",
        cache=tmp_path / "c.sqlite",
        concurrency=5,
        max_retries=2,
        timeout=9.0,
        rpm=100,
        tpm=5000,
        api_base="http://127.0.0.1:1/v1",
        api_key="sk-test-SECRET123",
        json_schema=True,
    )
    try:
        assert isinstance(model, CachedModel) and isinstance(model, Model)
        limited = model.inner
        assert isinstance(limited, LimitedModel)
        assert limited.concurrency == 5
        assert limited.rpm is not None and limited.rpm.capacity == 100
        assert limited.tpm is not None and limited.tpm.capacity == 5000
        retrying = limited.inner
        assert isinstance(retrying, RetryingModel)
        assert (retrying.max_retries, retrying.timeout) == (2, 9.0)
        base = retrying.inner
        assert isinstance(base, LiteLLMModel)
        assert base.api_base == "http://127.0.0.1:1/v1"
        assert model.name == "openai/gpt-4o-mini"
        assert model.supports_json_schema is True
        assert "sk-test-SECRET123" not in repr(model)
    finally:
        model.close()


def test_cache_false_builds_no_cache() -> None:
    model = build_model("openai/gpt-4o-mini", cache=False)
    assert isinstance(model, LimitedModel)


@pytest.mark.skipif(
    importlib.util.find_spec("vs_sim.models.offline") is None,
    reason="offline model not written yet",
)
def test_offline_names_build_the_uncached_offline_model(tmp_path: Path) -> None:
    model = build_model("offline/demo")
    assert type(model).__name__ == "OfflineModel"
    assert model.name == "offline/demo"
    cached = build_model("offline/demo", cache=tmp_path / "c.sqlite")
    assert isinstance(cached, CachedModel)
    cached.close()


def test_importing_models_and_testing_stays_light() -> None:
    code = (
        "import sys, vs_sim.models, vs_sim.testing\n"
        "heavy = {'litellm', 'aiohttp', 'openai', 'pandas', 'matplotlib'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_supports_json_schema_asks_litellm_when_not_told() -> None:
    assert LiteLLMModel("openai/gpt-4o-mini").supports_json_schema is True
    assert LiteLLMModel("openai/a-model-litellm-never-heard-of").supports_json_schema is False
    assert LiteLLMModel("openai/whatever", json_schema=True).supports_json_schema is True


def test_openai_compatible_servers_get_the_lean_client_by_default() -> None:
    from vs_sim.models.litellm_model import LiteLLMModel
    from vs_sim.models.openai_compat import OpenAICompatModel

    def base(model: object) -> object:
        while hasattr(model, "inner"):
            model = model.inner
        return model

    lean = build_model("openai/llama3", api_base="http://127.0.0.1:9/v1", cache=False)
    assert isinstance(base(lean), OpenAICompatModel)
    forced = build_model(
        "openai/llama3", api_base="http://127.0.0.1:9/v1", cache=False, client="litellm"
    )
    assert isinstance(base(forced), LiteLLMModel)
    assert isinstance(base(build_model("anthropic/claude-x", cache=False)), LiteLLMModel)
    assert isinstance(
        base(build_model("ollama/llama3", api_base="http://x", cache=False)), LiteLLMModel
    )
    with pytest.raises(ConfigError, match="needs an api_base"):
        build_model("openai/x", client="openai_compat", cache=False)
    with pytest.raises(ConfigError, match="unknown client"):
        build_model("openai/x", client="grpc", cache=False)  # type: ignore[arg-type]


def test_request_key_is_cached_but_never_stale() -> None:
    from vs_sim.models import Request

    request = Request(model="m", messages=({"role": "user", "content": "x"},))
    key = request.key
    assert request.key is key  # computed once
    changed = request.model_copy(update={"repeat": 1})
    assert changed.key != key
    assert changed.key == Request(model="m", messages=request.messages, repeat=1).key
