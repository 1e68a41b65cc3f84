"""The hot-path shortcuts of Distribution give exactly what the plain definitions give.

Construction without ``__init__`` (or without validation), sampling without numpy, and the
elicited normalization in plain floats: each is checked here against its definition, bit for
bit, on many random inputs.
"""

from __future__ import annotations

import math
import struct
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vs_sim.distribution import Candidate, Distribution, Repair, normalize_weights
from vs_sim.errors import ConfigError
from vs_sim.models.base import Usage
from vs_sim.parsing import ParseResult
from vs_sim.records import trusted


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", x) for x in values]


def _state(model: Any) -> dict[str, Any]:
    """Everything pydantic keeps on an instance (fields, set fields, extras, private)."""
    return dict(model.__getstate__())


# -- trusted construction ----------------------------------------------------------------------
def test_a_trusted_instance_is_the_validated_one() -> None:
    values = {"text": "Paris", "stated": "35%", "weight": 0.35, "probability": 0.5}
    fast, slow = trusted(Candidate, dict(values)), Candidate(**values)
    assert fast == slow and _state(fast) == _state(slow) and hash(fast) == hash(slow)
    assert fast.model_dump_json() == slow.model_dump_json()
    with pytest.raises(ValidationError):  # frozen like any other candidate
        fast.text = "Lyon"  # type: ignore[misc]
    result = {"candidates": [slow], "repairs": [], "truncated": False, "format": "json"}
    assert _state(trusted(ParseResult, dict(result))) == _state(ParseResult(**result))
    partial = trusted(Candidate, dict(values), {"text"})
    assert partial.model_fields_set == {"text"} and partial == slow


# -- from_candidates ----------------------------------------------------------------------------
_weights = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, -0.0, 5e-324, 1e300, 7.0])),
    min_size=1,
    max_size=10,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "method": st.sampled_from(["vs_standard", "vs_cot"]),
        "model": st.sampled_from([None, "m"]),
        "prompt": st.sampled_from([None, [{"role": "user", "content": "hi"}]]),
        "usage": st.builds(Usage, prompt_tokens=st.integers(0, 9)),
        "cost": st.sampled_from([None, 0.5, 2]),  # an int cost is converted
        "calls": st.integers(1, 3),
        "truncated": st.booleans(),
        "synthetic": st.booleans(),
        "request_keys": st.sampled_from([[], ["a", "b"], ("a",)]),
        "repairs": st.sampled_from([[], [Repair(kind="x")], [{"kind": "y"}]]),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    weights=_weights,
    fields=_fields,
    normalization=st.sampled_from(["elicited", "uniform", "temperature"]),
    tau=st.sampled_from([None, 0.0, 0.2]),
)
def test_from_candidates_builds_what_the_validating_constructor_builds(
    weights: list[float], fields: dict[str, Any], normalization: str, tau: float | None
) -> None:
    cands = [Candidate(text=f"c{i}", stated=w, weight=w) for i, w in enumerate(weights)]
    if not sum(weights) > 0 and normalization == "temperature":
        normalization = "elicited"
    dist = Distribution.from_candidates(cands, normalization=normalization, tau=tau, **fields)
    again = Distribution(**{name: getattr(dist, name) for name in dist.model_fields_set})
    assert repr(dist.__dict__) == repr(again.__dict__)  # the same values, of the same types
    assert _state(dist) == _state(again)
    assert dist.model_fields_set == {
        "candidates", "normalization", "temperature", "tau", "dropped", "repairs", *fields
    }  # fmt: skip
    if "prompt" in fields and fields["prompt"] is not None:
        assert dist.prompt == fields["prompt"] and dist.prompt is not fields["prompt"]


_HI = {"role": "user", "content": "hi"}
_exact_fields = st.fixed_dictionaries(
    {},
    optional={  # what averbalize passes: every value already of its declared type
        "method": st.sampled_from(["vs_standard", "vs_cot"]),
        "model": st.sampled_from([None, "m"]),
        "prompt": st.sampled_from([None, [{"role": "system", "content": "s"}, _HI]]),
        "usage": st.builds(Usage, prompt_tokens=st.integers(0, 9)),
        "cost": st.sampled_from([None, 0.5]),
        "calls": st.integers(1, 3),
        "truncated": st.booleans(),
        "synthetic": st.booleans(),
        "request_keys": st.sampled_from([[], ["a", "b"]]),
        "repairs": st.sampled_from([[], [Repair(kind="x")]]),
    },
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    weights=_weights,
    fields=_exact_fields,
    normalization=st.sampled_from(["elicited", "uniform", "temperature"]),
    tau=st.sampled_from([None, 0.0, 0.2, 0.6]),
)
def test_a_trusted_call_builds_what_validation_builds(
    weights: list[float], fields: dict[str, Any], normalization: str, tau: float | None
) -> None:
    cands = [Candidate(text=f"c{i}", stated=w, weight=w) for i, w in enumerate(weights)]
    if not sum(weights) > 0 and normalization == "temperature":
        normalization = "elicited"
    options: dict[str, Any] = {"normalization": normalization, "tau": tau, "min_keep": 2}
    fast = Distribution.from_candidates(cands, trusted=True, **options, **fields)
    slow = Distribution.from_candidates(cands, **options, **fields)
    assert repr(fast.__dict__) == repr(slow.__dict__)  # the same values, of the same types
    assert _state(fast) == _state(slow) and fast.model_dump_json() == slow.model_dump_json()


def test_a_trusted_call_still_converts_the_options_and_ignores_unknown_fields() -> None:
    cands = [Candidate(text="a", weight=1.0), Candidate(text="b", weight=3.0)]
    first = Distribution.from_candidates(cands, trusted=True)
    second = Distribution.from_candidates(cands, trusted=True)
    first.request_keys.append("k")  # each distribution has its own default lists
    assert second.request_keys == [] and Distribution.from_candidates(cands).request_keys == []
    assert first.usage is second.usage  # (the frozen default, as validation gives it)
    converted = Distribution.from_candidates(
        cands, normalization="temperature", temperature=2, tau=0, trusted=True
    )
    assert type(converted.temperature) is float and type(converted.tau) is float
    odd = Distribution.from_candidates(cands, trusted=True, bogus=1)  # validation ignores it
    assert _state(odd) == _state(Distribution.from_candidates(cands, bogus=1))
    assert "bogus" not in odd.__dict__


def test_from_candidates_converts_and_refuses_as_validation_does() -> None:
    cands = [Candidate(text="a", weight=1.0), Candidate(text="b", weight=3.0)]
    dist = Distribution.from_candidates(
        cands, cost=1, request_keys=("k",), repairs=[{"kind": "x"}], prompt=None
    )
    assert type(dist.cost) is float and dist.request_keys == ["k"]
    assert dist.repairs == [Repair(kind="x")] and dist.probabilities == [0.25, 0.75]
    assert dist.usage == Usage() and "usage" not in dist.model_fields_set
    with pytest.raises(ValidationError, match="Distribution"):
        Distribution.from_candidates(cands, calls="many")
    with pytest.raises(TypeError, match="multiple values"):
        Distribution.from_candidates(cands, dropped=[])
    look_alike = SimpleNamespace(text="a", stated=None, weight=1.0, probability=1.0)
    with pytest.raises(ValidationError):  # not a candidate, though it has a candidate's fields
        Distribution.from_candidates([look_alike])  # type: ignore[list-item]


def test_a_candidate_keeps_its_object_only_when_its_probability_is_the_same_float() -> None:
    zero = Candidate(text="a", weight=-0.0, probability=0.0)  # normalizes to -0.0, not 0.0
    same = Candidate(text="b", weight=1.0, probability=1.0)
    dist = Distribution.from_candidates([zero, same])
    assert dist.candidates[1] is same
    assert dist.candidates[0] is not zero and repr(dist.candidates[0].probability) == "-0.0"
    given = [same]
    kept = Distribution.from_candidates(given)
    assert kept.candidates[0] is same and kept.candidates is not given


# -- normalization and sampling ----------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(weights=_weights)
def test_elicited_probabilities_are_each_weight_over_the_exact_sum(weights: list[float]) -> None:
    probs, repairs = normalize_weights(weights)
    total = math.fsum(weights)
    if total > 0:
        assert _bits(probs) == _bits([w / total for w in weights]) and repairs == []
    else:
        assert probs == [1 / len(weights)] * len(weights) and repairs[0].kind == "zero_sum"


def test_invalid_weights_are_refused_before_they_are_added() -> None:
    for weights in ([1e308, 1e308, math.inf], [1e308, 1e308, math.nan], [0.5, -1e-300]):
        with pytest.raises(ConfigError, match="finite and non-negative"):
            normalize_weights(weights)
    with pytest.raises(OverflowError):  # finite but too large to add: as math.fsum says
        normalize_weights([1e308, 1e308])


_probability = st.one_of(
    st.floats(0, 1),
    st.sampled_from([0.0, -0.0, 1e-300, 0.5, -0.25, 2.0, 1e308, math.inf, -math.inf, math.nan]),
)


@settings(max_examples=1000, deadline=None)
@given(
    probabilities=st.lists(_probability, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_sample_index_draws_what_numpy_cumsum_and_searchsorted_draw(
    probabilities: list[float], seed: int
) -> None:
    dist = Distribution(
        candidates=[Candidate(text=f"c{i}", probability=p) for i, p in enumerate(probabilities)]
    )
    reference_rng = np.random.default_rng(seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        with warnings.catch_warnings(record=True) as expected_warnings:
            warnings.simplefilter("always")
            try:
                cdf = np.cumsum(probabilities)
                u = float(reference_rng.random()) * float(cdf[-1])
                expected: object = min(
                    int(np.searchsorted(cdf, u, side="right")), len(probabilities) - 1
                )
            except IndexError:
                expected = IndexError
        with warnings.catch_warnings(record=True) as got_warnings:
            warnings.simplefilter("always")
            try:
                got: object = dist.sample_index(rng)
            except IndexError:
                got = IndexError
        assert got == expected
        assert [str(w.message) for w in got_warnings] == [str(w.message) for w in expected_warnings]
    assert reference_rng.random() == rng.random()  # the same draws were taken


def test_a_draw_picks_the_first_candidate_whose_cumulative_probability_exceeds_it() -> None:
    dist = Distribution.from_candidates(
        [Candidate(text=t, weight=w) for t, w in (("a", 0.25), ("none", 0.0), ("b", 0.75))]
    )
    assert [dist.index_for(u) for u in (0.0, 0.2499, 0.25, 0.5, 0.9999)] == [0, 0, 2, 2, 2]
    assert dist.sample_index(np.random.default_rng(4)) == dist.index_for(
        np.random.default_rng(4).random()
    )
    with pytest.raises(IndexError):
        Distribution(candidates=[]).index_for(0.5)


def test_entropy_and_the_reading_helpers() -> None:
    dist = Distribution.from_candidates(
        [Candidate(text=t, weight=w) for t, w in (("a", 0.5), ("b", 0.25), ("c", 0.25), ("d", 0))]
    )
    assert dist.entropy() == 1.5 and dist.texts == ["a", "b", "c", "d"]
    assert dist.probabilities == [0.5, 0.25, 0.25, 0.0]
    assert str(Distribution.from_candidates([Candidate(text="a")]).entropy()) == "0.0"
