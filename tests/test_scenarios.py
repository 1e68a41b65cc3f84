"""Scenario files: the schema, paths, overrides, the as-run copy, and one clear error per problem
(file, line, field path) for every kind of mistake."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from vs_sim.errors import ConfigError, ScenarioError
from vs_sim.scenario_build import (
    CheckedPersona,
    build_units,
    prepare,
    render_persona,
    sample_personas,
)
from vs_sim.scenario_schema import Scenario
from vs_sim.scenarios import as_run_data, load_scenario, parse_scenario, with_overrides

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scenarios" / "data"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


SURVEY = f"""
name: tiny
task: survey
n: 3
population: us_adults
survey:
  questionnaire: {DATA / "opinion_questions.yaml"}
  questions: [climate_worry, remote_work]
  reference: {DATA / "opinion_reference.csv"}
"""


def error_of(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def test_a_survey_scenario_loads_with_inferred_task_and_resolved_files(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", SURVEY.replace("task: survey\n", ""))
    scenario = load_scenario(path)
    assert scenario.task == "survey"
    assert scenario.file == str(path)
    assert scenario.synthetic and scenario.model_spec.name == "offline/demo"
    prepared = prepare(scenario)
    assert prepared.questionnaire is not None
    assert prepared.questionnaire.ids == ("climate_worry", "remote_work")
    # the reference is kept only for the questions asked
    assert prepared.reference is not None
    assert {d.question_id for d in prepared.reference.distributions} == {
        "climate_worry",
        "remote_work",
    }
    units = build_units(prepared)
    assert [u.id for u in units] == ["p00001", "p00002", "p00003"]
    # every template was checked up front, but the respondents wait in line without their
    # rendered prompts (memory stays flat with n); they render the same text when asked
    people = sample_personas(prepared, 3)
    for unit, (persona, path) in zip(units, people):
        held = unit.persona  # type: ignore[attr-defined]
        assert isinstance(held, CheckedPersona) and not hasattr(held, "text")
        assert held.render() == render_persona(prepared, persona, path).text
        assert (held.id, held.template, dict(held.attributes)) == (
            persona.id,
            persona.template,
            dict(persona.attributes),
        )


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "my_study.yaml", SURVEY.replace("name: tiny\n", ""))
    assert load_scenario(path).name == "my_study"


def test_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    folder = tmp_path / "nested"
    folder.mkdir()
    (folder / "q.yaml").write_text(
        (DATA / "opinion_questions.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = write(
        folder,
        "s.yaml",
        """
        name: rel
        n: 2
        population: us_adults
        survey: {questionnaire: q.yaml, questions: [climate_worry]}
        """,
    )
    prepared = prepare(load_scenario(path))
    assert prepared.questionnaire is not None and prepared.questionnaire.ids == ("climate_worry",)


def test_overrides_are_validated_and_keep_the_rest(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "s.yaml", SURVEY))
    changed = with_overrides(scenario, n=7, seed=3, model="openai/gpt-4o-mini")
    assert (changed.n, changed.seed, changed.model_spec.name) == (7, 3, "openai/gpt-4o-mini")
    assert changed.survey == scenario.survey and changed.file == scenario.file
    with pytest.raises(ScenarioError, match=r"--n .*greater than or equal to 1"):
        with_overrides(scenario, n=0)


def test_the_as_run_copy_reloads_from_the_run_folder(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "s.yaml", SURVEY))
    run_folder = tmp_path / "runs" / "x"
    run_folder.mkdir(parents=True)
    data = as_run_data(with_overrides(scenario, n=5), run_folder)
    assert data["n"] == 5 and data["model"]["name"] == "offline/demo"
    import yaml

    copy = run_folder / "scenario.yaml"
    copy.write_text(yaml.safe_dump(data), encoding="utf-8")
    again = load_scenario(copy)
    assert again.n == 5
    assert again.survey == scenario.survey


def test_secrets_never_reach_the_copy(tmp_path: Path) -> None:
    text = (
        SURVEY
        + "model: {name: openai/gpt-4o-mini, api_base: 'http://x/v1?key=sk-abcdefghijklmnop'}\n"
    )
    scenario = load_scenario(write(tmp_path, "s.yaml", text), check=False)
    data = as_run_data(scenario, tmp_path)
    assert "sk-abcdefghijklmnop" not in repr(data)


def test_a_dict_built_in_python_is_a_scenario() -> None:
    scenario = parse_scenario(
        {
            "name": "py",
            "conversation": {
                "agents": [
                    {"id": "a", "system_prompt": "You are A."},
                    {"id": "b", "system_prompt": "You are B."},
                ],
                "termination": {"max_turns": 2},
            },
        }
    )
    assert scenario.task == "conversation" and scenario.file is None
    units = build_units(prepare(scenario))
    assert len(units) == 1
    assert [a.id for a in units[0].agents] == ["a", "b"]  # type: ignore[attr-defined]


def test_agents_with_count_draw_different_people_per_conversation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        name: c
        n: 2
        population: us_adults
        conversation:
          agents:
            - {id: host, template: moderator, attributes: {topic: parks}}
            - id: p
              count: 3
              names: [Ana, Ben, Cleo]
              from_population: true
              template: focus_group_participant
              attributes: {topic: parks}
          scheduler: {name: moderator_led, moderator: host}
          termination: {max_turns: 4}
        """,
    )
    units = build_units(prepare(load_scenario(path)))
    first, second = (list(u.agents) for u in units)  # type: ignore[attr-defined]
    assert [a.id for a in first] == ["host", "p1", "p2", "p3"]
    assert [a.name for a in first[1:]] == ["Ana", "Ben", "Cleo"]
    assert "You are Ana" in first[1].system_prompt()
    drawn = {a.persona.id for a in first[1:]} | {a.persona.id for a in second[1:]}
    assert len(drawn) == 6  # six different people over the two conversations


# -- one clear error per mistake -------------------------------------------------------------


def test_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", SURVEY.replace("n: 3", "n: many"))
    err = error_of(path)
    assert str(err).startswith(f"{path}:3 n: ")
    assert "integer" in str(err) and "'many'" in str(err)


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", SURVEY.replace("survey:", "survy:"))
    err = error_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+ survy: unknown field 'survy'", str(err))
    assert "did you mean 'survey'?" in str(err)


def test_unknown_nested_key_is_named_with_its_path(tmp_path: Path) -> None:
    text = SURVEY.replace("  questions:", "  methd: vs_cot\n  questions:")
    err = error_of(write(tmp_path, "bad.yaml", text))
    assert "survey.methd: unknown field 'methd' (did you mean 'method'?)" in str(err)


def test_unknown_scheduler(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: c
        conversation:
          agents:
            - {id: a, system_prompt: You are A.}
            - {id: b, system_prompt: You are B.}
          scheduler: loudest_first
        """,
    )
    err = error_of(path)
    assert str(err).startswith(f"{path}:6 conversation.scheduler.name: unknown scheduler")
    assert "'loudest_first'" in str(err) and "moderator_led" in str(err)


def test_scheduler_naming_an_unknown_agent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: c
        conversation:
          agents:
            - {id: a, system_prompt: You are A.}
            - {id: b, system_prompt: You are B.}
          scheduler: {name: moderator_led, moderator: host}
        """,
    )
    err = error_of(path)
    assert "conversation.scheduler.moderator: no agent 'host'; the agents are a, b" in str(err)


def test_missing_persona_attribute_for_the_template(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: c
        conversation:
          agents:
            - id: host
              template: moderator
              attributes: {style: warm}
            - {id: b, system_prompt: You are B.}
        """,
    )
    err = error_of(path)
    assert str(err).startswith(f"{path}:6 conversation.agents[0].attributes: ")
    assert "missing attribute 'topic'" in str(err)


def test_missing_attribute_of_a_listed_persona(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        f"""
        name: s
        personas:
          - {{template: survey_respondent, attributes: {{age: 40, sex: female}}}}
          - {{template: survey_respondent, attributes: {{sex: male}}}}
        survey: {{questionnaire: {DATA / "opinion_questions.yaml"}}}
        """,
    )
    scenario = load_scenario(path, check=False)
    with pytest.raises(ScenarioError) as info:
        build_units(prepare(scenario))
    assert str(info.value).startswith(f"{path}:4 personas[1].attributes: persona 'p00002'")
    assert "missing attribute 'age'" in str(info.value)


def test_choice_question_without_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: s
        n: 2
        population: us_adults
        survey:
          questionnaire:
            questions:
              - {id: q1, type: scale, text: How are you, options: [Bad, Good]}
              - id: q2
                type: single_choice
                text: Pick one
        """,
    )
    err = error_of(path)
    assert str(err) == (
        f"{path}:8 survey.questionnaire.questions[1].options: this field is required"
    )


def test_options_missing_in_a_questionnaire_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "q.yaml",
        """
        questions:
          - id: q1
            type: scale
            text: How are you?
        """,
    )
    path = write(
        tmp_path,
        "bad.yaml",
        "name: s\nn: 2\npopulation: us_adults\nsurvey: {questionnaire: q.yaml}\n",
    )
    err = error_of(path)
    assert str(err).startswith(f"{path}:4 survey.questionnaire: ")
    assert "q.yaml:2 questions[0].options: this field is required" in str(err)


def test_reference_naming_an_unknown_question(tmp_path: Path) -> None:
    ref = tmp_path / "ref.csv"
    ref.write_text(
        "question_id,option,share\nclimate_worry,Very worried,1.0\nnot_asked,Yes,1.0\n",
        encoding="utf-8",
    )
    path = write(
        tmp_path, "bad.yaml", SURVEY.replace(str(DATA / "opinion_reference.csv"), "ref.csv")
    )
    err = error_of(path)
    assert str(err).startswith(f"{path}:8 survey.reference: ")
    assert "ref.csv:3: unknown question 'not_asked'" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        "name: s\nn: 2\npopulation: us_adults\nsurvey: {questionnaire: nope.yaml}\n",
    )
    err = error_of(path)
    assert str(err).startswith(f"{path}:4 survey.questionnaire: no questionnaire at 'nope.yaml'")


def test_unknown_builtin_population(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", SURVEY.replace("us_adults", "martians")))
    assert "population: no built-in population 'martians' (built-in: " in str(err)
    assert "us_adults" in str(err)


def test_inline_population_error_points_inside_it(tmp_path: Path) -> None:
    text = SURVEY.replace(
        "population: us_adults",
        "population:\n  template: survey_respondent\n"
        "  attributes:\n    age: {distribution: uniform}\n",
    )
    err = error_of(write(tmp_path, "bad.yaml", text))
    assert "population.attributes.age" in str(err)


def test_task_section_must_match_the_task(tmp_path: Path) -> None:
    err = error_of(
        write(tmp_path, "bad.yaml", SURVEY.replace("task: survey", "task: conversation"))
    )
    assert "conversation: task is conversation: add a conversation: section" in str(err)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", "name: s\nsurvey: [unclosed\n"))
    assert str(err).startswith(f"{tmp_path / 'bad.yaml'}:") and "not valid YAML" in str(err)


def test_errors_are_scenario_errors_and_config_errors(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", SURVEY.replace("n: 3", "n: -1")))
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert err.where is not None and err.where.endswith(":3 n")


def test_persona_id_and_agent_validation_in_python() -> None:
    with pytest.raises(ScenarioError, match=r"conversation.agents\[0\].template: say who"):
        parse_scenario({"name": "x", "conversation": {"agents": [{"id": "a"}]}})
    with pytest.raises(ScenarioError, match="names: give 2 names"):
        parse_scenario(
            {
                "name": "x",
                "conversation": {
                    "agents": [{"id": "a", "count": 2, "names": ["A"], "system_prompt": "x"}]
                },
            }
        )
    assert isinstance(
        parse_scenario(
            {"name": "x", "conversation": {"agents": [{"id": "a", "system_prompt": "x"}]}}
        ),
        Scenario,
    )


def test_a_typo_in_a_task_section_is_named_with_a_hint(tmp_path: Path) -> None:
    head = "name: p\ntask: persuasion\nn: 2\npopulation: p4g_persuadees\npersuasion:\n"
    path = write(tmp_path, "p.yaml", head + "  max_turn: 4\n")
    err = error_of(path)
    assert str(err) == (
        f"{path}:6 persuasion.max_turn: unknown field 'max_turn' (did you mean 'max_turns'?)"
    )
    path = write(tmp_path, "q.yaml", head + "  persuader:\n    polcy: {method: direct}\n")
    assert str(error_of(path)) == (
        f"{path}:7 persuasion.persuader.polcy: unknown field 'polcy' (did you mean 'policy'?)"
    )


def test_a_bad_attribute_in_a_task_section_points_at_its_attributes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        """
        name: p
        task: persuasion
        n: 2
        population: p4g_persuadees
        persuasion:
          max_turns: 4
          persuader:
            attributes: {aproach: any}
        """,
    )
    err = str(error_of(path))
    assert err.startswith(f"{path}:8 persuasion.persuader.attributes: persona template ")
    assert "unknown attribute 'aproach' (did you mean 'approach'?)" in err
    path = write(
        tmp_path,
        "f.yaml",
        """
        name: f
        task: focus_group
        n: 2
        population: us_adults
        focus_group:
          topic: remote work
          moderator:
            attributes: {tpoic: x}
        """,
    )
    err = str(error_of(path))
    assert err.startswith(f"{path}:8 focus_group.moderator.attributes: persona template ")
    assert "unknown attribute 'tpoic'" in err
