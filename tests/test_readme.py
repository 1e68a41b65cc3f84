"""The README's Python examples run as written (in a scratch folder, on the offline model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)  # run folders land here, not in the checkout
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), namespace)
    assert len(namespace) > 1  # the example defined what it shows
