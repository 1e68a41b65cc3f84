"""Populations: seeded sampling, quotas, conditionals, joint tables, real people, errors."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vs_sim.errors import AttributeValidationError, ConfigError
from vs_sim.personas import BUILTIN_PERSONAS_DIR, PersonaLibrary
from vs_sim.population import Population
from vs_sim.population_draws import largest_remainder

POPULATIONS = BUILTIN_PERSONAS_DIR / "populations"


@pytest.fixture(autouse=True)
def _no_user_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VS_SIM_PERSONAS_PATH", raising=False)


def pop(attributes: dict[str, Any], **extra: Any) -> Population:
    return Population.from_dict(
        {"template": "survey_respondent", "attributes": attributes, **extra}
    )


def shares(values: list[Any]) -> dict[Any, float]:
    counts = Counter(values)
    return {k: v / len(values) for k, v in counts.items()}


# -- the shipped populations ----------------------------------------------------------------


@pytest.fixture(scope="module")
def us_adults() -> Population:
    return Population.from_yaml(POPULATIONS / "us_adults.yaml")


def test_us_adults_matches_every_target_marginal(us_adults: Population) -> None:
    personas = us_adults.sample(10_000, seed=2024)
    report = us_adults.report(personas)
    expected = {
        "sex", "age", "age_bracket", "race_ethnicity", "education", "income", "region",
        "party", "ideology", "religion",
    }  # fmt: skip
    assert {r.attribute for r in report.rows} == expected
    for row in report.rows:
        assert row.tv is not None, row.attribute
        assert row.tv < 0.02, (row.attribute, row.tv)
        assert 0.5 < row.entropy <= 1.0
    party = report.row("party")
    target = dict(zip(party.categories, party.target or []))
    assert target["independent"] == pytest.approx(0.46, abs=0.01)  # the mixture over age groups


def test_us_adults_personas_all_render(us_adults: Population) -> None:
    personas = us_adults.sample(300, seed=5)
    texts = us_adults.render(personas, PersonaLibrary())
    assert len(set(texts)) == 300
    assert all(re.match(r"You are an? \d+-year-old ", t) for t in texts)
    eighties = [t for p, t in zip(personas, texts) if 80 <= p.attributes["age"] <= 89]
    assert eighties and all(t.startswith("You are an 8") for t in eighties)
    assert all("age_bracket" not in p.attributes for p in personas)  # internal


def test_party_depends_on_age(us_adults: Population) -> None:
    personas = us_adults.sample(20_000, seed=9)
    young = [p.attributes["party"] for p in personas if p.attributes["age"] < 30]
    old = [p.attributes["party"] for p in personas if p.attributes["age"] >= 65]
    assert shares(young)["independent"] == pytest.approx(0.60, abs=0.03)
    assert shares(old)["independent"] == pytest.approx(0.32, abs=0.03)


def test_p4g_persuadees_are_the_real_people() -> None:
    population = Population.from_yaml(POPULATIONS / "p4g_persuadees.yaml")
    assert len(population.people_rows) == 982  # 35 out-of-range donations left out
    personas = population.sample(982, seed=1)
    ids = [p.id for p in personas]
    assert len(set(ids)) == 982 and ids[0].endswith("_live")
    by_id = {p.id: p for p in personas}
    first = by_id["20180904-045349_715_live"]  # the first persuadee in the file
    assert first.attributes["age"] == 50 and first.attributes["sex"] == "Female"
    assert first.attributes["extrovert"] == pytest.approx(3.2)
    assert first.attributes["ideology"] == "Conservative"
    ages = [p.attributes["age"] for p in personas]
    assert min(a for a in ages if a is not None) >= 18 and ages.count(None) == 7  # 6 blank + age 3
    texts = population.render(personas)  # every real row is a valid persuadee
    assert len(texts) == 982 and all("Save the Children" in t for t in texts)
    report = population.report(personas)
    assert report.max_tv == pytest.approx(0.0, abs=1e-12)  # all of them: the exact shares
    with pytest.raises(ConfigError, match=r"asked for 983 people but only 982 rows"):
        population.sample(983, seed=1)


# -- seeds --------------------------------------------------------------------------------------


def test_same_seed_same_population(us_adults: Population) -> None:
    a = us_adults.sample(200, seed=7)
    b = Population.from_yaml(POPULATIONS / "us_adults.yaml").sample(200, seed=7)
    assert a == b
    assert a != us_adults.sample(200, seed=8)
    assert [p.id for p in a[:3]] == ["p00001", "p00002", "p00003"]


def test_a_smaller_sample_is_a_prefix(us_adults: Population) -> None:
    assert us_adults.sample(20, seed=3) == us_adults.sample(500, seed=3)[:20]


def test_adding_an_attribute_leaves_the_others_alone() -> None:
    base = {"sex": {"weights": {"female": 1, "male": 1}}}
    one = pop({"age": {"value": 40}, **base}).sample(50, seed=1)
    two = pop(
        {"age": {"value": 40}, "region": {"weights": {"south": 1, "west": 1}}, **base}
    ).sample(50, seed=1)
    assert [p.attributes["sex"] for p in one] == [p.attributes["sex"] for p in two]


# -- kinds of attributes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "n", "expected"),
    [
        ([1, 1], 7, [4, 3]),
        ([1, 1], 1000, [500, 500]),
        ([1, 2, 3], 10, [2, 3, 5]),
        ([0, 5], 3, [0, 3]),
    ],
)
def test_largest_remainder(weights: list[float], n: int, expected: list[int]) -> None:
    assert largest_remainder(weights, n) == expected


def test_quotas_are_exact() -> None:
    population = pop(
        {
            "age": {"value": 40},
            "sex": {"weights": {"female": 50, "male": 50}, "quota": True},
            "region": {"weights": {"south": 1, "west": 2, "midwest": 1}, "quota": True},
        }
    )
    for n in (2, 9, 1001):
        personas = population.sample(n, seed=n)
        sexes = Counter(p.attributes["sex"] for p in personas)
        assert sexes["female"] == (n + 1) // 2 and sexes["male"] == n // 2
        regions = Counter(p.attributes["region"] for p in personas)
        assert list(regions.values()) and sum(regions.values()) == n
        assert regions == Counter(
            dict(zip(["south", "west", "midwest"], largest_remainder([1, 2, 1], n)))
        )
    orders = {tuple(p.attributes["sex"] for p in population.sample(10, seed=s)) for s in range(5)}
    assert len(orders) > 1  # exact counts, random order


def test_conditional_shares_follow_their_table() -> None:
    population = pop(
        {
            "age": {"value": 40},
            "sex": {"weights": {"female": 1, "male": 1}},
            "party": {
                "given": {
                    "sex": {
                        "female": {"democrat": 0.9, "republican": 0.1},
                        "male": {"democrat": 0.2, "republican": 0.6, "independent": 0.2},
                    }
                }
            },
        }
    )
    personas = population.sample(20_000, seed=4)
    tables = {
        "female": {"democrat": 0.9, "republican": 0.1},
        "male": {"democrat": 0.2, "republican": 0.6, "independent": 0.2},
    }
    for sex, table in tables.items():
        got = shares([p.attributes["party"] for p in personas if p.attributes["sex"] == sex])
        assert set(got) == set(table)
        for value, share in table.items():
            assert got[value] == pytest.approx(share, abs=0.02)
    row = population.report(personas).row("party")
    assert dict(zip(row.categories, row.target or [])) == pytest.approx(
        {"democrat": 0.55, "republican": 0.35, "independent": 0.1}
    )


def test_joint_rows_are_sampled_whole() -> None:
    rows = [
        ["white", "bachelor", "west", 3],
        ["black", "high_school", "south", 2],
        ["hispanic", "some_college", "west", 1],
    ]
    population = pop(
        {"age": {"value": 30}, "sex": {"value": "male"}},
        tables=[{"columns": ["race_ethnicity", "education", "region"], "rows": rows}],
    )
    personas = population.sample(6000, seed=3)
    combos = Counter(
        (p.attributes["race_ethnicity"], p.attributes["education"], p.attributes["region"])
        for p in personas
    )
    assert set(combos) == {tuple(r[:3]) for r in rows}  # never a mix of two rows
    assert combos[("white", "bachelor", "west")] / 6000 == pytest.approx(0.5, abs=0.02)
    assert population.report(personas).row("region").target == pytest.approx([4 / 6, 2 / 6])


def test_numeric_distributions() -> None:
    population = pop(
        {
            "sex": {"value": "female"},
            "age": {
                "distribution": "normal",
                "mean": 40,
                "sd": 15,
                "min": 18,
                "max": 90,
                "integer": True,
            },
            "score": {"distribution": "uniform", "low": 1, "high": 5},
            "wealth": {"distribution": "lognormal", "mu": 10, "sigma": 1},
        }
    )
    personas = population.sample(20_000, seed=1)
    ages = [p.attributes["age"] for p in personas]
    assert all(isinstance(a, int) and 18 <= a <= 90 for a in ages)
    assert sum(ages) / len(ages) == pytest.approx(41.5, abs=0.7)  # truncation lifts the mean
    scores = [p.attributes["score"] for p in personas]
    assert all(1 <= s < 5 for s in scores)
    wealth = sorted(p.attributes["wealth"] for p in personas)
    assert wealth[0] > 0 and wealth[10_000] == pytest.approx(22026, rel=0.05)  # median exp(10)
    report = population.report(personas)
    for name in ("age", "score", "wealth"):
        row = report.row(name)
        assert row.kind == "numeric" and row.tv is not None and row.tv < 0.03, name
        assert sum(row.target or []) == pytest.approx(1.0)


def test_derived_attributes() -> None:
    population = pop(
        {
            "sex": {"value": "female"},
            "age": {"distribution": "uniform", "low": 18, "high": 80, "integer": True},
            "bracket": {
                "derive": {"from": "age", "edges": [18, 40, 81], "labels": ["young", "old"]}
            },
            "party": {
                "derive": {"from": "bracket", "map": {"young": "independent", "old": "republican"}}
            },
        }
    )
    for p in population.sample(300, seed=2):
        expected = "young" if p.attributes["age"] < 40 else "old"
        assert p.attributes["bracket"] == expected
        assert p.attributes["party"] == ("independent" if expected == "young" else "republican")


# -- real people ------------------------------------------------------------------------------


CSV = """\
person,age_years,gender,score,donation
a1,34,female,3.5,0.5
a2,51,male,,1
a3,3,female,4.25,7
a4,67,male,2.0,2
"""


def people_population(tmp_path: Path, **people: Any) -> Population:
    (tmp_path / "people.csv").write_text(CSV, encoding="utf-8")
    spec = {
        "template": "survey_respondent",
        "people": {
            "csv": "people.csv",
            "id_column": "person",
            "columns": {"age_years": "age", "gender": "sex", "score": "score"},
            **people,
        },
    }
    (tmp_path / "people.yaml").write_text(__import__("yaml").safe_dump(spec), encoding="utf-8")
    return Population.from_yaml(tmp_path / "people.yaml")


def test_csv_rows_are_used_as_they_are(tmp_path: Path) -> None:
    population = people_population(tmp_path)
    personas = population.sample(4, seed=1)
    assert [p.id for p in personas] == ["a1", "a2", "a3", "a4"]  # file order
    assert personas[0].attributes == {"age": 34, "sex": "female", "score": 3.5}
    assert personas[1].attributes == {"age": 51, "sex": "male", "score": None}
    assert personas[3].attributes["score"] == 2.0


def test_csv_filter_valid_and_replacement(tmp_path: Path) -> None:
    population = people_population(
        tmp_path,
        filter={"donation": {"min": 0, "max": 2}},
        valid={"age_years": {"min": 18}},
        replace=True,
    )
    assert [r["age"] for r in population.people_rows] == [34, 51, 67]  # a3 dropped: donation 7
    personas = population.sample(12, seed=1)
    ids = [p.id for p in personas]
    assert len(set(ids)) == 12 and any("#" in i for i in ids)  # reused rows get #2, #3, ...
    assert {i.split("#")[0] for i in ids} <= {"a1", "a2", "a4"}
    kept = people_population(tmp_path, valid={"age_years": {"min": 18}})
    assert kept.people_rows[2]["age"] is None  # age 3 is treated as unknown, the row stays


def test_render_names_the_persona_that_fails(tmp_path: Path) -> None:
    population = people_population(tmp_path, columns={"age_years": "age", "gender": "sex"})
    # a3 is 3 years old: not a survey respondent
    personas = population.sample(4, seed=1)
    with pytest.raises(AttributeValidationError, match=r"personas\[2\] \(id 'a3'\): .*'age' = 3"):
        population.render(personas)


def test_dataframe_rows() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "age": [30, 40, 50],
            "sex": ["female", "male", "female"],
            "region": ["south", None, "west"],
        }
    )
    population = Population.from_dict({"template": "survey_respondent", "people": {"data": frame}})
    personas = population.sample(3, seed=0)
    assert [p.attributes for p in personas] == [
        {"age": 30, "sex": "female", "region": "south"},
        {"age": 40, "sex": "male", "region": None},
        {"age": 50, "sex": "female", "region": "west"},
    ]
    assert all(type(p.attributes["age"]) is int for p in personas)
    texts = population.render(personas)
    assert "lives in the South" in texts[0] and "lives in" not in texts[1]


# -- errors -----------------------------------------------------------------------------------


def write_spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "us_adults.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_negative_weight_names_the_field(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """
        template: survey_respondent
        attributes:
          sex: {weights: {female: 1, male: -1}}
        """,
    )
    with pytest.raises(ConfigError, match=r"us_adults\.yaml: attributes\.sex\.weights: weight -1"):
        Population.from_yaml(path)


def test_weights_summing_to_zero_name_the_table(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """
        template: survey_respondent
        attributes:
          age_bracket: {weights: {young: 1, old: 1}}
          party:
            given:
              age_bracket:
                young: {democrat: 0, republican: 0}
                old: {democrat: 1}
        """,
    )
    with pytest.raises(ConfigError) as info:
        Population.from_yaml(path)
    assert str(info.value).startswith(
        "us_adults.yaml: attributes.party.given.age_bracket.young: weights sum to zero"
    )
    assert info.value.where == "us_adults.yaml: attributes.party.given.age_bracket.young"


def test_table_missing_a_parent_value(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """
        template: survey_respondent
        attributes:
          age_bracket: {weights: {young: 1, old: 1}}
          party: {given: {age_bracket: {young: {democrat: 1}}}}
        """,
    )
    with pytest.raises(
        ConfigError,
        match=r"us_adults\.yaml: attributes\.party\.given\.age_bracket: no weights for ",
    ):
        Population.from_yaml(path).sample(20, seed=1)


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("sex: {wieghts: {a: 1}}", "attributes.sex", "did you mean 'weights'"),
        ("sex: {weights: {a: 1}, qouta: true}", "attributes.sex.qouta", "unknown field"),
        ("age: {distribution: normal, mean: 3}", "attributes.age.sd", "normal needs 'sd'"),
        ("age: {distribution: gamma}", "attributes.age.distribution", "Input should be"),
        ("p: {given: {nobody: {a: {x: 1}}}}", "attributes.p.given", "unknown attribute 'nobody'"),
        ("b: {derive: {from: age, edges: [1, 2]}}", "attributes.b.derive.labels", "one label"),
        ("age: {distribution: histogram, edges: [3, 2], weights: [1]}", "attributes.age.edges",
         "increasing"),
    ],
)  # fmt: skip
def test_spec_errors_name_file_and_path(
    tmp_path: Path, body: str, where: str, message: str
) -> None:
    path = write_spec(tmp_path, f"template: survey_respondent\nattributes:\n  {body}\n")
    with pytest.raises(ConfigError) as info:
        Population.from_yaml(path)
    assert info.value.where == f"us_adults.yaml: {where}"
    assert message in str(info.value)


def test_circular_dependencies_are_refused() -> None:
    with pytest.raises(ConfigError, match="circle: a -> b -> a"):
        pop(
            {
                "a": {"derive": {"from": "b", "map": {"x": "y"}}},
                "b": {"derive": {"from": "a", "map": {"y": "x"}}},
            }
        )


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "template: survey_respondent\nattributes:\n  sex: {weights: [\n")
    with pytest.raises(ConfigError, match=r"us_adults\.yaml:\d+: not valid YAML"):
        Population.from_yaml(path)


def test_joint_table_rows_need_a_weight() -> None:
    with pytest.raises(
        ConfigError, match=r"tables\[0\]\.rows\[1\]: expected 2 values and a weight"
    ):
        pop({}, tables=[{"columns": ["sex", "region"], "rows": [["male", "west", 1], ["male", 1]]}])


# -- report ---------------------------------------------------------------------------------------


def test_report_dataframe_and_entropy() -> None:
    pytest.importorskip("pandas")
    population = pop(
        {
            "sex": {"weights": {"female": 1, "male": 1}, "quota": True},
            "age": {"value": 40},
        }
    )
    report = population.report(population.sample(100, seed=1))
    frame = report.to_dataframe()
    assert list(frame.columns) == ["attribute", "kind", "categories", "tv", "entropy"]
    assert frame.set_index("attribute").loc["sex", "entropy"] == pytest.approx(1.0)
    assert frame.set_index("attribute").loc["age", "entropy"] == 0.0
    assert report.row("sex").tv == pytest.approx(0.0)
    long = report.to_dataframe(shares=True)
    assert set(long["category"]) == {"female", "male", "40"}
