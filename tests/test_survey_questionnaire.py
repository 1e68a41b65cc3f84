"""The questionnaire schema: defaults, round trips, and validation errors that name the path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vs_sim.errors import ConfigError
from vs_sim.tasks import Questionnaire, load_questionnaire


def base() -> dict[str, Any]:
    return {
        "name": "t",
        "questions": [
            {"id": "q0", "text": "Own a car?", "type": "single_choice", "options": ["Yes", "No"]},
            {"id": "q1", "text": "Agree?", "type": "scale", "options": ["No", "Maybe", "Yes"]},
            {"id": "q2", "text": "Age?", "type": "numeric", "min": 18, "max": 99, "unit": "years"},
            {"id": "q3", "text": "Pick", "type": "multi_select", "options": ["a", "b", "c"]},
            {"id": "q4", "text": "Rank", "type": "ranking", "options": ["a", "b"]},
            {"id": "q5", "text": "Why?", "type": "open_text"},
        ],
    }


def test_defaults_fill_positions_and_mode() -> None:
    q = Questionnaire.from_dict(base())
    assert q.mode == "independent"
    assert q.questions[1].positions == (1.0, 2.0, 3.0)
    assert q.question("q3").upper == 3  # type: ignore[union-attr]
    assert q.question("q2").option_texts == ()
    custom = base()
    custom["questions"][1]["options"] = [
        {"text": "No", "position": -1},
        {"text": "Maybe", "position": 0},
        {"text": "Yes", "position": 2.5},
    ]
    assert Questionnaire.from_dict(custom).questions[1].positions == (-1.0, 0.0, 2.5)


def test_round_trips_through_dict_yaml_and_json(tmp_path: Path) -> None:
    data = base()
    data["questions"][5]["show_if"] = {"question": "q1", "values": "Yes"}
    q = Questionnaire.from_dict(data)
    assert Questionnaire.from_dict(q.to_dict()) == q
    assert Questionnaire.from_dict(yaml.safe_load(q.to_yaml())) == q
    path = tmp_path / "q.json"
    path.write_text(json.dumps(q.to_dict()), encoding="utf-8")
    assert load_questionnaire(path) == q


def test_frozen() -> None:
    q = Questionnaire.from_dict(base())
    with pytest.raises(ValueError, match="frozen"):
        q.questions[0].text = "changed"  # type: ignore[misc]


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        ("questions.3.options", ["a"], "questions[3].options", "at least 2 options"),
        ("questions.1.options", ["Yes", "yes!"], "questions[1].options[1].text", "repeats"),
        (
            "questions.1.type",
            "likert",
            "questions[1].type",
            "unknown type 'likert'; expected one of single_choice, scale",
        ),
        ("questions.1.type", KeyError, "questions[1].type", "missing"),
        ("questions.2.max", 10, "questions[2].max", "greater than min"),
        ("questions.2.min", KeyError, "questions[2].min", "required"),
        ("questions.2.options", ["a", "b"], "questions[2].options", "unknown field"),
        ("questions.0.colour", "red", "questions[0].colour", "unknown field"),
        ("questions.3.max_select", 4, "questions[3].max_select", "exceeds the 3 options"),
        ("questions.3.min_select", 5, "questions[3].min_select", "exceeds max_select"),
        ("questions.4.id", "q 4", "questions[4].id", "no spaces"),
        ("questions.4.id", "q1", "questions[4].id", "already used by questions[1]"),
        ("questions.5.text", "", "questions[5].text", "at least 1 character"),
        ("mode", "chat", "mode", "'independent' or 'interview'"),
        ("questions", [], "questions", "no questions"),
        (
            "questions.1.options",
            [{"text": "a", "position": 1}, {"text": "b"}],
            "questions[1].options[1].position",
            "every option or for none",
        ),
        (
            "questions.1.options",
            [{"text": "a", "position": 1}, {"text": "b", "position": 1}],
            "questions[1].options[1].position",
            "used twice",
        ),
        (
            "questions.1.show_if",
            {"question": "q5", "values": ["x"]},
            "questions[1].show_if.question",
            "not an earlier question",
        ),
        (
            "questions.1.show_if",
            {"question": "q1", "values": ["x"]},
            "questions[1].show_if.question",
            "not an earlier question",
        ),
        (
            "questions.1.show_if",
            {"question": "nope", "values": ["x"]},
            "questions[1].show_if.question",
            "unknown question 'nope' (earlier questions: q0)",
        ),
        (
            "questions.2.show_if",
            {"question": "q1", "values": ["Yes", "Perhaps"]},
            "questions[2].show_if.values[1]",
            "'Perhaps' is not an option of 'q1'",
        ),
        (
            "questions.3.show_if",
            {"question": "q2", "values": ["old"]},
            "questions[3].show_if.values[0]",
            "numeric",
        ),
    ],
)
def test_validation_errors_name_the_field_path(
    path: str, value: Any, where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Questionnaire.from_dict(_set(base(), path, value), where="survey.yaml")
    assert info.value.where == f"survey.yaml {where}"
    assert message in str(info.value)


def test_file_errors_give_the_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "questions:\n"
        "  - id: a\n"
        "    text: First\n"
        "    type: scale\n"
        "    options: [x, y]\n"
        "  - id: b\n"
        "    text: Second\n"
        "    type: scale\n"
        "    options: [only]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_questionnaire(path)
    assert info.value.where == f"{path}:9 questions[1].options"
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        "questionnaire:\n  questions:\n    - {id: a, text: A, type: numeric, min: 3, max: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_questionnaire(nested)
    assert info.value.where == f"{nested}:3 questionnaire.questions[0].max"


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_questionnaire(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("questions: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_questionnaire(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'questions' list"):
        load_questionnaire(listy)


def test_reading_a_questionnaire_does_not_import_the_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import vs_sim.tasks.questionnaire; "
        "bad = [m for m in ('litellm', 'pandas', 'matplotlib', 'vs_sim.verbalizer') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_yes_and_no_options_survive_yaml(tmp_path: Path) -> None:
    path = tmp_path / "yn.yaml"
    path.write_text(
        "questions:\n"
        "  - {id: a, text: Own a car, type: single_choice, options: [Yes, No]}\n"
        "  - {id: b, text: Scale, type: scale, options: [1, 2, 3]}\n"
        "  - {id: c, text: Why, type: open_text, show_if: {question: b, values: [2, 3.0]}}\n",
        encoding="utf-8",
    )
    q = load_questionnaire(path)
    assert q.question("a").option_texts == ("Yes", "No")
    assert q.question("b").option_texts == ("1", "2", "3")
    with pytest.raises(ConfigError, match="quote the text") as info:
        Questionnaire.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert info.value.where == "questions[0].options[0]"


def test_public_names_of_vs_sim_tasks() -> None:
    import vs_sim.tasks as tasks

    assert sorted(tasks.__all__) == sorted(tasks._EXPORTS)
    for name in tasks.__all__:
        assert getattr(tasks, name).__name__ == name
