"""`vs-sim verbalize` and the CLI's error handling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vs_sim.cli import main


def test_prints_k_candidates_summing_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verbalize", "Name a US state", "-k", "5", "--model", "offline/demo"]) == 0
    out = capsys.readouterr().out
    assert "5 candidates, probabilities sum to 1.000" in out
    assert "synthetic" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "verbalize",
            "Tell me a joke",
            "-k",
            "3",
            "--method",
            "vs_cot",
            "--json",
            "--sample",
            "2",
            "--seed",
            "4",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "vs_cot" and len(data["candidates"]) == 3
    assert abs(sum(c["probability"] for c in data["candidates"]) - 1) < 1e-9
    assert len(data["samples"]) == 2


def test_bad_input_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verbalize", "x", "--method", "vs_magic"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown method 'vs_magic'" in err
    assert "Traceback" not in err


def test_console_script_help_is_fast_to_import() -> None:
    # `vs-sim --help` must not import litellm, pandas or matplotlib
    code = (
        "import sys; from vs_sim.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('litellm', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_numbers_and_folders_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, needle in (
        (["verbalize", "x", "--seed", "-3"], "expected a number >= 0"),
        (["verbalize", "x", "--sample", "-1"], "expected a number >= 0"),
        (["verbalize", "x", "--templates", "/no/such/folder"], "no folder at"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert needle in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error() -> None:
    # `vs-sim ... --json | head -1`: the reader leaves early
    script = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-m', 'vs_sim.cli', 'population', 'sample', "
        "'us_adults', '-n', '2000', '--json'], stdout=subprocess.PIPE, stderr=subprocess.PIPE); "
        "p.stdout.readline(); p.stdout.close(); err = p.stderr.read().decode(); p.wait(); "
        "print(p.returncode, 'Traceback' in err)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]
