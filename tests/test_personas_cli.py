"""``vs-sim personas list|render`` and ``vs-sim population sample``, through ``main()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vs_sim.cli import main
from vs_sim.personas import BUILTIN_PERSONAS_DIR
from vs_sim.population import Population

US_ADULTS = str(BUILTIN_PERSONAS_DIR / "populations" / "us_adults.yaml")


@pytest.fixture(autouse=True)
def _no_user_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VS_SIM_PERSONAS_PATH", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personas", "list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "survey_respondent",
        "persuader",
        "persuadee",
        "focus_group_participant",
        "moderator",
    ):
        assert name in out
    assert "age*, sex*" in out  # required attributes are starred


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personas", "list", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    age = listed["survey_respondent"]["attributes"]["age"]
    assert age["required"] is True and age["min"] == 18 and age["type"] == "int"
    assert listed["persuadee"]["attributes"]["extrovert"]["required"] is False


def test_render(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["personas", "render", "survey_respondent", "--set", "age=34", "--set", "sex=female"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("You are a 34-year-old woman.")
    assert "You are answering a survey." in out


def test_render_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["personas", "render", "survey_respondent", "--set", "agee=34", "--set", "sex=female"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "did you mean 'age'?" in err
    assert main(["personas", "render", "survey_respondent", "--set", "age"]) == 2
    assert "--set: expected NAME=VALUE" in capsys.readouterr().err
    assert main(["personas", "render", "astronaut"]) == 2
    assert "template 'astronaut' not found; searched:" in capsys.readouterr().err


def test_render_with_user_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "chef.j2").write_text(
        "{#- ---\ndescription: A chef.\nattributes: {dish: {}}\n--- -#}\n"
        '{% extends "survey_respondent.j2" %}\n'
        "{% block instructions %}You cook {{ dish }}.{% endblock %}\n",
        encoding="utf-8",
    )
    argv = ["personas", "render", "chef", "--path", str(tmp_path)]
    assert main([*argv, "--set", "age=40", "--set", "sex=male", "--set", "dish=ramen"]) == 0
    assert capsys.readouterr().out.strip().endswith("You cook ramen.")
    assert main(["personas", "list", "--path", str(tmp_path)]) == 0
    assert "chef" in capsys.readouterr().out


def test_population_sample_json_matches_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["population", "sample", US_ADULTS, "-n", "5", "--seed", "1", "--json", "--report"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    expected = Population.from_yaml(US_ADULTS).sample(5, seed=1)
    assert [p["id"] for p in out["personas"]] == [p.id for p in expected]
    assert [p["attributes"] for p in out["personas"]] == [p.attributes for p in expected]
    assert out["personas"][0]["prompt"] == expected[0].render()
    assert {r["attribute"] for r in out["report"]} >= {"sex", "age", "party"}


def test_population_sample_table_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["population", "sample", US_ADULTS, "-n", "5", "--seed", "1", "--report"]) == 0
    out = capsys.readouterr().out
    assert all(f"p0000{i}" in out for i in range(1, 6))
    assert "Population report: us_adults.yaml (n = 5)" in out
    assert "age_bracket" in out  # internal attributes appear in the report, not the table


def test_population_sample_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["population", "sample", US_ADULTS, "-n", "2", "--seed", "3", "--prompts"]) == 0
    out = capsys.readouterr().out
    assert out.count("You are answering a survey.") == 2


def test_population_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["population", "sample", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read population file" in capsys.readouterr().err


def test_population_sample_takes_builtin_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["population", "sample", "us_adults", "-n", "3", "--seed", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["personas"]) == 3
    assert main(["population", "sample", "nosuch", "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert "no built-in population 'nosuch'" in err and "us_adults" in err
