"""Persona-population diversity against hand-computed values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from vs_sim.errors import ConfigError
from vs_sim.metrics import attribute_diversity

PEOPLE = [
    {"sex": "F", "age": 20},
    {"sex": "M", "age": 30},
    {"sex": "F", "age": 40},
    {"sex": "F", "age": 50},
]


def test_categorical_and_numeric_attributes_hand_computed() -> None:
    result = attribute_diversity(PEOPLE)
    assert list(result) == ["sex", "age"]
    # sex: F 3, M 1 over K = 2 observed levels -> -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.8112781
    assert result["sex"] == pytest.approx(0.8112781, abs=1e-7)
    # age: 10 bins of width 3 over [20, 50] -> 20 in bin 0, 30 in bin 3 (30 - 20 = 10 / 3 = 3.3),
    # 40 in bin 6, 50 in the last bin -> 4 bins with one each: ln 4 / ln 10 = 0.6020600
    assert result["age"] == pytest.approx(math.log(4) / math.log(10))


def test_levels_count_unseen_categories() -> None:
    # K = 3 levels: H = -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.5623351 nats;
    # divided by ln 3 = 1.0986123 -> 0.5118595
    result = attribute_diversity(PEOPLE, attributes=["sex"], levels={"sex": ["F", "M", "X"]})
    assert result == {"sex": pytest.approx(0.5118595, abs=1e-7)}
    with pytest.raises(ConfigError, match="attribute 'sex': value 'M' is not one of the levels"):
        attribute_diversity(PEOPLE, attributes=["sex"], levels={"sex": ["F"]})


def test_constant_and_uniform_attributes() -> None:
    same = [{"city": "Oslo", "n": 1}] * 3
    assert attribute_diversity(same) == {"city": 0.0, "n": 0.0}
    even = [{"city": c} for c in ["Oslo", "Lima", "Pune", "Oslo", "Lima", "Pune"]]
    assert attribute_diversity(even)["city"] == pytest.approx(1.0)


def test_missing_values_are_skipped_and_objects_accepted() -> None:
    @dataclass
    class Persona:
        attributes: dict[str, Any] = field(default_factory=dict)

    people = [
        Persona({"job": "nurse"}),
        Persona({"job": "pilot"}),
        Persona({"job": None}),
        Persona(),
    ]
    # two observed values, one each -> 1.0; the None and the absent value are left out
    assert attribute_diversity(people) == {"job": 1.0}


def test_bad_input_raises() -> None:
    with pytest.raises(ConfigError, match="needs at least one persona"):
        attribute_diversity([])
    with pytest.raises(ConfigError, match="attributes: no persona has attribute 'height'"):
        attribute_diversity(PEOPLE, attributes=["height"])
    with pytest.raises(ConfigError, match=r"personas\[1\]: expected a mapping"):
        attribute_diversity([{"a": 1}, 42])
    with pytest.raises(ConfigError, match="not hashable"):
        attribute_diversity([{"tags": ["a"]}, {"tags": ["b"]}])
