"""Shared fixtures: every test writes under a temp folder, and a fake OpenAI server on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vs_sim.testing.server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Send vs_sim's and common tools' user folders to a temp dir, so tests never write in $HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("VS_SIM_HOME", str(home / "vs_sim"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("MPLCONFIGDIR", str(home / ".config" / "matplotlib"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for secret in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(secret, raising=False)
    return home


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """A started :class:`~vs_sim.testing.server.FakeOpenAIServer` on an ephemeral port."""
    from vs_sim.testing.server import FakeOpenAIServer

    with FakeOpenAIServer(seed=0) as server:
        yield server
