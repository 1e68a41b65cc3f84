"""The analysis notebooks run top to bottom on the offline model, and are committed clean.

Each notebook is executed with nbclient in a fresh kernel started from this interpreter (a
kernelspec written to a temp dir, so a ``python3`` kernel installed elsewhere on the machine
cannot be picked up instead), with the repository root as its working directory. A cell that
raises fails the test; a few printed values and the number of figures are checked too, so a
notebook that runs but shows nothing useful fails as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")  # the notebooks need the analysis extra
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
KERNEL = "vs-sim-test-python"

# Text each notebook must print (in a stream or as a cell's plain-text value), and the least
# number of figures it must show.
EXPECTED: dict[str, tuple[tuple[str, ...], int]] = {
    "01_verbalize_basics": (
        (
            "probabilities sum to 1.000000",
            "synthetic: True",
            "the prompt asks: Sample at random from the tails",
            "percentage",  # the wording table
            "semantic_diversity",  # the compare_methods table
        ),
        2,
    ),
    "02_survey_analysis": (
        (
            "SYNTHETIC: no language model was used",
            "respondents: 60, answers: 720",
            "representativeness_sampled",
            "report.html",
        ),
        5,
    ),
    "03_persuasion_analysis": (
        (
            "982 human donations in $0-$2: mean $0.352, median $0.04, 48.1% at $0",
            "KSResult(statistic=0.0, pvalue=1.0)",
            "stated in the chat:",
            "human chats;",
            "L1 over $0.10 bins",
            "semantic % (hashing)",
        ),
        3,
    ),
    "04_conversation_graphs": (
        (
            "2 conversations, 16 turns",
            "branch shares turns 0-2 with its parent: True",
            "both endings reachable from turn 0: True True",
            "after the moderator spoke:",
            "GraphML: same as the original: True; turn 3 text restored: True",
            "node-link: same as the original: True; turn 3 text restored: True",
        ),
        2,
    ),
}

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything the executed notebook printed or showed as text."""
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _figures(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", [])
    )


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running ``sys.executable``, found first on ``JUPYTER_PATH``; its name."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "vs_sim tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the notebooks' run folders go here
    return KERNEL


def test_the_four_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook with no code"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_says_its_text_is_synthetic(path: Path) -> None:
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    assert "Synthetic text" in first.source and "offline model" in first.source
    setup = next(c for c in _read(path).cells if c.cell_type == "code")
    assert 'MODEL = "offline/demo"' in setup.source  # the one line to switch models


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, kernel: str) -> None:
    nb = _read(path)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=600,
        resources={"metadata": {"path": str(ROOT)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    texts, figures = EXPECTED[path.stem]
    shown = _text(nb)
    missing = [t for t in texts if t not in shown]
    assert not missing, f"{path.name} did not print {missing}"
    assert _figures(nb) >= figures
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
