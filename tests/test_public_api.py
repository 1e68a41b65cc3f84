"""The public face: a small, pinned set of names, and a fast import."""

from __future__ import annotations

import subprocess
import sys

import vs_sim


def test_all_is_the_public_face() -> None:
    assert vs_sim.__all__ == sorted(
        [
            "Agent",
            "Candidate",
            "Conversation",
            "ConversationGraph",
            "Distribution",
            "Method",
            "ModelError",
            "ParseError",
            "PersonaLibrary",
            "Population",
            "VSSimError",
            "__version__",
            "averbalize",
            "build_model",
            "load_scenario",
            "open_run",
            "parse_response",
            "run_conversations",
            "run_scenario",
            "verbalize",
        ]
    )
    for name in vs_sim.__all__:
        assert getattr(vs_sim, name) is not None


def test_import_does_not_pull_heavy_libraries() -> None:
    code = (
        "import sys, vs_sim; "
        "print(sorted(m for m in ('litellm', 'pandas', 'matplotlib', 'scipy', 'networkx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_functions_are_not_shadowed_by_submodules() -> None:
    import importlib

    import vs_sim.verbalizer  # a submodule import must not replace the function of that name

    importlib.reload(vs_sim)
    from vs_sim import averbalize, verbalize

    assert callable(verbalize) and callable(averbalize)
    assert verbalize is vs_sim.verbalizer.verbalize
