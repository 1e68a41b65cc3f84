"""`vs-sim compare`: the table, the JSON and CSV files, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import doctest
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vs_sim.cli import main

if TYPE_CHECKING:
    from vs_sim.testing.server import FakeOpenAIServer

PROMPTS = "# test prompts\nTell me a joke\n\nName a US state || Texas|Ohio|Utah|Iowa\n"
SHIPPED = Path(__file__).parent.parent / "scenarios" / "data" / "compare_prompts.txt"


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text(PROMPTS, encoding="utf-8")
    return path


def _compare(prompts: Path, *extra: str) -> int:
    return main(
        ["compare", "--prompts", str(prompts), "-n", "6", "-k", "3", "--embedder", "hashing",
         "--no-progress", *extra]
    )  # fmt: skip


def test_prints_a_table_per_method(prompts_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _compare(prompts_file, "--methods", "direct,vs_standard,vs_multi") == 0
    out = capsys.readouterr().out
    assert "Method comparison · offline/demo · 2 prompt(s), n=6, k=3" in out
    for header in ("semantic % ↑", "ROUGE-L ↓", "dist-3 ↑", "coverage ↑", "calls/prompt"):
        assert header in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert set(rows) == {"direct", "vs_standard", "vs_multi"}
    assert rows["direct"].split("│")[2].strip() == "12"  # samples: 2 prompts × 6
    assert rows["vs_standard"].split("│")[-4].strip() == "2.0"  # calls per prompt: ⌈6/3⌉
    assert "embedder: hashing-256 (chosen by name: 'hashing')" in out
    assert "synthetic" in out


def test_no_coverage_column_without_checkable_prompts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "open.txt"
    path.write_text("Tell me a joke\n", encoding="utf-8")
    assert _compare(path, "--methods", "direct") == 0
    assert "coverage" not in capsys.readouterr().out


def test_json_output(
    prompts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res" / "results.json"
    assert _compare(prompts_file, "--methods", "direct,sequence", "--out", str(out)) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [m["method"] for m in data["methods"]] == ["direct", "sequence"]
    assert len(data["prompts"]) == 4 and all(len(p["samples"]) == 6 for p in data["prompts"])
    states = [p for p in data["prompts"] if p["prompt"] == "Name a US state"]
    assert all(p["coverage"] is not None for p in states)
    assert data["embedder"] == "hashing-256" and data["n"] == 6 and data["synthetic"] is True


def test_csv_output_and_valid_file(tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("Name a US state\n", encoding="utf-8")
    valid = tmp_path / "valid.txt"
    valid.write_text("# states\nTexas\nOhio\n", encoding="utf-8")
    out = tmp_path / "results.csv"
    code = _compare(prompts, "--methods", "vs_standard", "--valid", str(valid), "--out", str(out))
    assert code == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["scope"] for r in rows] == ["prompt", "mean"]
    assert 0.0 <= float(rows[0]["coverage"]) <= 1.0
    assert rows[0]["coverage"] == rows[1]["coverage"]


def test_draw_option(prompts_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert _compare(prompts_file, "--methods", "vs_cot", "--draw", "--out", str(out)) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["vs_samples"] == "draws"


def test_shipped_prompts_file_runs(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert _compare(SHIPPED, "--methods", "direct,vs_standard", "--out", str(out)) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert any(p["coverage"] is not None for p in data["prompts"])
    assert any(p["coverage"] is None for p in data["prompts"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--methods", "direct,vs_magic"], "unknown method 'vs_magic'"),
        (["-n", "0"], "n: n must be >= 1, got 0"),
        (["-k", "-2"], "k: k must be >= 1, got -2"),
        (["--concurrency", "0"], "--concurrency: must be >= 1"),
        (["--out", "results.txt"], "the output must end in .json or .csv"),
    ],
)
def test_bad_options_are_one_line_and_exit_code_2(
    prompts_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _compare(prompts_file, *args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "Method comparison" not in captured.out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no prompts in the file"),
        ("\n# nothing here\n", "no prompts in the file"),
        ("fine\n|| a|b\n", "prompts.txt:2: the line has valid answers but no prompt"),
    ],
)
def test_bad_prompt_files_exit_2(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text(text, encoding="utf-8")
    assert _compare(path) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_missing_prompts_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _compare(tmp_path / "nope.txt") == 2
    err = capsys.readouterr().err
    assert "nope.txt: cannot read the file" in err


def test_progress_bar_counts_calls(
    prompts_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats stderr as a terminal
    code = main(
        ["compare", "--prompts", str(prompts_file), "-n", "4", "-k", "2", "--methods",
         "direct,vs_standard", "--embedder", "hashing"]
    )  # fmt: skip
    assert code == 0
    assert "12/12" in capsys.readouterr().err  # 2 prompts × (4 direct + 2 vs_standard) calls


def test_docstring_examples_run() -> None:
    import vs_sim.compare.run as run_module

    result = doctest.testmod(run_module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.http
def test_against_an_openai_compatible_server(
    prompts_file: Path,
    fake_openai_server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-compare")
    out = tmp_path / "r.json"
    code = main(
        ["compare", "--prompts", str(prompts_file), "-n", "4", "-k", "2", "--methods",
         "direct,vs_standard", "--model", "openai/fake-vs", "--api-base",
         fake_openai_server.base_url + "/v1", "--no-cache", "--embedder", "hashing",
         "--no-progress", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert fake_openai_server.count == 2 * (4 + 2)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["synthetic"] is False
    assert [m["calls_per_prompt"] for m in data["methods"]] == [4.0, 2.0]
    assert all(len(p["samples"]) == 4 for p in data["prompts"])
