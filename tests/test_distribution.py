"""Distribution maths: normalization, tau, sampling, entropy, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vs_sim.distribution import Candidate, Distribution, normalize_weights
from vs_sim.errors import ConfigError


def dist(weights: list[float], **kw: object) -> Distribution:
    cands = [Candidate(text=f"c{i}", stated=w, weight=w) for i, w in enumerate(weights)]
    return Distribution.from_candidates(cands, **kw)  # type: ignore[arg-type]


def test_elicited_normalizes_proportionally() -> None:
    d = dist([0.2, 0.2, 0.6, 1.0])
    assert d.probabilities == pytest.approx([0.1, 0.1, 0.3, 0.5])
    assert [c.stated for c in d.candidates] == [0.2, 0.2, 0.6, 1.0]  # what the model said is kept


def test_uniform_and_temperature() -> None:
    assert dist([0.7, 0.2, 0.1], normalization="uniform").probabilities == pytest.approx(
        [1 / 3] * 3
    )
    # temperature 0.5 squares the weights: 0.49, 0.04, 0.01 over 0.54
    hot = dist([0.7, 0.2, 0.1], normalization="temperature", temperature=0.5)
    assert hot.probabilities == pytest.approx([0.49 / 0.54, 0.04 / 0.54, 0.01 / 0.54])
    # temperature 1 equals elicited
    same = dist([0.7, 0.2, 0.1], normalization="temperature", temperature=1.0)
    assert same.probabilities == pytest.approx([0.7, 0.2, 0.1])


def test_zero_sum_falls_back_to_uniform_and_is_recorded() -> None:
    d = dist([0.0, 0.0])
    assert d.probabilities == [0.5, 0.5]
    assert [r.kind for r in d.repairs] == ["zero_sum"]


def test_bad_inputs_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown normalization"):
        normalize_weights([1.0], "softmax")
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        normalize_weights([1.0], "temperature", 0.0)
    with pytest.raises(ConfigError, match="non-negative"):
        normalize_weights([-1.0, 2.0])
    with pytest.raises(ConfigError, match="at least one candidate"):
        Distribution.from_candidates([])


def test_tau_filter_drops_and_renormalizes() -> None:
    d = dist([0.5, 0.3, 0.15, 0.05], tau=0.1)
    assert d.texts == ["c0", "c1", "c2"]
    assert d.probabilities == pytest.approx([0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95])
    assert [c.text for c in d.dropped] == ["c3"]
    assert not any(r.kind == "tau_relaxed" for r in d.repairs)


def test_tau_relaxed_keeps_min_keep_and_records_it() -> None:
    d = dist([0.4, 0.35, 0.25], tau=0.5, min_keep=2)
    assert d.texts == ["c0", "c1"]
    assert any(r.kind == "tau_relaxed" for r in d.repairs)


def test_sampling_is_reproducible_and_follows_probabilities() -> None:
    d = dist([0.1, 0.6, 0.3])
    assert d.sample(42) == d.sample(42)
    draws = d.sample_n(20_000, seed=7)
    counts = np.bincount([int(c.text[1]) for c in draws], minlength=3) / 20_000
    assert counts == pytest.approx([0.1, 0.6, 0.3], abs=0.015)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert [d.sample(rng_a).text for _ in range(10)] == [d.sample(rng_b).text for _ in range(10)]


def test_argmax_and_entropy() -> None:
    d = dist([0.25, 0.25, 0.5])
    assert d.argmax().text == "c2"
    assert d.entropy() == pytest.approx(1.5)  # -(2 * .25 log2 .25 + .5 log2 .5)
    assert d.normalized_entropy() == pytest.approx(1.5 * math.log(2) / math.log(3))
    assert str(dist([1.0]).entropy()) == "0.0"  # not -0.0
    assert dist([1.0]).normalized_entropy() == 0.0


def test_json_round_trip_keeps_everything() -> None:
    d = dist([0.5, 0.3, 0.2, 0.01], tau=0.05, method="vs_cot", model="offline/demo")
    back = Distribution.from_json(d.to_json())
    assert back == d
    assert back.dropped[0].text == "c3"


def test_renormalized_reuses_weights() -> None:
    d = dist([0.6, 0.3, 0.1])
    u = d.renormalized("uniform")
    assert u.probabilities == pytest.approx([1 / 3] * 3)
    assert u.renormalized("elicited").probabilities == pytest.approx([0.6, 0.3, 0.1])


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=30))
def test_probabilities_always_sum_to_one(weights: list[float]) -> None:
    for mode in ("elicited", "uniform", "temperature"):
        probs, _ = normalize_weights(weights, mode, 0.7)
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-9)
        assert all(p >= 0 for p in probs)
