"""Answer-distribution metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon as scipy_js_distance
from scipy.stats import wasserstein_distance

from vs_sim.errors import ConfigError
from vs_sim.metrics import (
    KSResult,
    as_distribution,
    binned_histogram,
    coverage,
    entropy,
    jensen_shannon,
    kl_divergence,
    kl_to_uniform,
    ks_two_sample,
    l1_binned,
    normalized_entropy,
    representativeness,
    total_variation,
    wasserstein_ordinal,
)


def test_counts_and_probabilities_are_accepted() -> None:
    assert as_distribution([2, 1, 1]).tolist() == [0.5, 0.25, 0.25]
    assert as_distribution([0.5, 0.25, 0.25]).tolist() == [0.5, 0.25, 0.25]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.5, 0.3], "sum to 0.8"),
        ([1, -1, 2], "negative entry -1.0 at index 1"),
        ([], "non-empty 1-D"),
        ([[0.5, 0.5]], "non-empty 1-D"),
        ([0, 0], "all entries are zero"),
        ([1, math.nan], "non-finite entry at index 1"),
        (["a", "b"], "not a numeric vector"),
    ],
)
def test_invalid_distributions_say_what_is_wrong(values: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        entropy(values)  # type: ignore[arg-type]
    assert str(info.value).startswith("p: ")


def test_mismatched_options_raise() -> None:
    with pytest.raises(ConfigError, match="p has 2 options but q has 3"):
        total_variation([0.5, 0.5], [1, 1, 1])


def test_entropy_hand_computed() -> None:
    # -(0.5 log2 0.5 + 2 * 0.25 log2 0.25) = 0.5 + 0.5 + 0.5 = 1.5 bits
    assert entropy([0.5, 0.25, 0.25]) == pytest.approx(1.5)
    assert entropy([2, 1, 1]) == pytest.approx(1.5)  # counts
    assert entropy([0.5, 0.25, 0.25], base=math.e) == pytest.approx(1.5 * math.log(2))
    assert entropy([1, 0, 0]) == 0.0
    # 1.5 / log2(3) = 1.5 / 1.5849625 = 0.9463946
    assert normalized_entropy([0.5, 0.25, 0.25]) == pytest.approx(0.9463946, abs=1e-7)
    assert normalized_entropy([1, 1, 1, 1]) == pytest.approx(1.0)
    assert normalized_entropy([7]) == 0.0
    with pytest.raises(ConfigError, match="log base"):
        entropy([1, 1], base=1)


def test_kl_divergence_hand_computed() -> None:
    # 0.5 log2(0.5/0.25) + 0.5 log2(0.5/0.75) = 0.5 + 0.5 * (-0.5849625) = 0.2075187
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.2075187, abs=1e-7)
    assert kl_divergence([1, 3], [1, 3]) == 0.0
    # KL(p || uniform) = log2 4 - H(p) = 2 - 0 = 2 bits for a one-hot p over 4 options
    assert kl_to_uniform([1, 0, 0, 0]) == pytest.approx(2.0)
    assert kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0)


def test_kl_divergence_smooths_zeros_in_q_as_documented() -> None:
    eps = 1e-6
    # q = [1, 0] has a zero -> q' = (q + eps) / (1 + 2 eps)
    q0, q1 = (1 + eps) / (1 + 2 * eps), eps / (1 + 2 * eps)
    expected = 0.5 * math.log2(0.5 / q0) + 0.5 * math.log2(0.5 / q1)  # about 8.9658 bits
    assert kl_divergence([0.5, 0.5], [1, 0]) == pytest.approx(expected)
    assert 8.9 < expected < 9.0
    assert kl_divergence([0.5, 0.5], [1, 0], epsilon=0) == math.inf
    # a zero in q where p is also zero costs nothing without smoothing
    assert kl_divergence([1, 0], [1, 0], epsilon=0) == 0.0


def test_coverage_counts_distinct_valid_answers() -> None:
    # hit: a, b (z is not valid and ignored) -> 2 of 4 valid answers
    assert coverage(["a", "b", "a", "z"], ["a", "b", "c", "d"]) == 0.5
    assert coverage([], ["a"]) == 0.0
    with pytest.raises(ConfigError, match="valid: coverage needs at least one valid answer"):
        coverage(["a"], [])


def test_total_variation_hand_computed() -> None:
    # 0.5 * (|0.5-0.25| + |0.5-0.25| + |0-0.5|) = 0.5 * 1.0 = 0.5
    assert total_variation([0.5, 0.5, 0], [0.25, 0.25, 0.5]) == pytest.approx(0.5)


def test_jensen_shannon_hand_computed() -> None:
    # m = [0.75, 0.25]; KL(p||m) = 0.5 log2(0.5/0.75) + 0.5 log2(0.5/0.25) = 0.2075187
    # KL(q||m) = log2(1/0.75) = 0.4150375; JS = (0.2075187 + 0.4150375) / 2 = 0.3112781
    assert jensen_shannon([0.5, 0.5], [1, 0]) == pytest.approx(0.3112781, abs=1e-7)
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon([1, 2], [2, 4]) == pytest.approx(0.0)


dists = st.lists(st.integers(0, 20), min_size=2, max_size=6).filter(lambda c: sum(c) > 0)


@given(dists, dists)
def test_jensen_shannon_is_the_square_of_scipys_distance(p: list[int], q: list[int]) -> None:
    n = min(len(p), len(q))
    p, q = p[:n], q[:n]
    if sum(p) == 0 or sum(q) == 0:
        return
    expected = scipy_js_distance(np.array(p) / sum(p), np.array(q) / sum(q), base=2) ** 2
    assert jensen_shannon(p, q) == pytest.approx(expected, abs=1e-9)
    assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(q, p))


def test_wasserstein_ordinal_hand_computed() -> None:
    # CDFs P = [1, 1], Q = [0, 0] over gaps [1, 1] -> 1 + 1 = 2
    assert wasserstein_ordinal([1, 0, 0], [0, 0, 1]) == pytest.approx(2.0)
    # positions 1, 2, 4 -> gaps 1, 2 -> 1*1 + 1*2 = 3
    assert wasserstein_ordinal([1, 0, 0], [0, 0, 1], positions=[1, 2, 4]) == pytest.approx(3.0)
    # P = [0.5, 1], Q = [0, 0.5] -> 0.5 + 0.5 = 1
    assert wasserstein_ordinal([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(1.0)
    # options given out of order are sorted by position: same as the first case
    assert wasserstein_ordinal([0, 1, 0], [0, 0, 1], positions=[2, 1, 3]) == pytest.approx(2.0)


@given(dists, dists)
def test_wasserstein_ordinal_matches_scipy(p: list[int], q: list[int]) -> None:
    n = min(len(p), len(q))
    p, q = p[:n], q[:n]
    if sum(p) == 0 or sum(q) == 0:
        return
    positions = [float(i * i) for i in range(n)]
    expected = wasserstein_distance(positions, positions, p, q)
    assert wasserstein_ordinal(p, q, positions) == pytest.approx(expected, abs=1e-9)


def test_wasserstein_positions_are_validated() -> None:
    with pytest.raises(ConfigError, match="positions: expected 3 positions"):
        wasserstein_ordinal([1, 0, 0], [0, 0, 1], positions=[1, 2])
    with pytest.raises(ConfigError, match="positions: positions must be distinct"):
        wasserstein_ordinal([1, 0, 0], [0, 0, 1], positions=[1, 1, 2])


def test_representativeness_hand_computed() -> None:
    # OpinionQA: positions 1..5, W = 4 (all mass moves from 1 to 5) -> 1 - 4/4 = 0
    assert representativeness([1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [1, 2, 3, 4, 5]) == 0.0
    # W = 1 (see above), span 3 - 1 = 2 -> 1 - 1/2 = 0.5
    assert representativeness([0.5, 0.5, 0], [0, 0.5, 0.5], [1, 2, 3]) == pytest.approx(0.5)
    assert representativeness([3, 1], [3, 1]) == 1.0
    with pytest.raises(ConfigError, match="at least 2"):
        representativeness([1], [1])


def test_ks_two_sample_hand_computed() -> None:
    # disjoint samples: the CDFs differ by 1 between 3 and 4
    result = ks_two_sample([1, 2, 3], [4, 5, 6])
    assert isinstance(result, KSResult)
    assert result.statistic == 1.0
    # at t = 2: F_x = 2/4, F_y = 0 -> 0.5; nowhere larger
    assert ks_two_sample([1, 2, 3, 4], [3, 4, 5, 6]).statistic == pytest.approx(0.5)
    same = ks_two_sample([0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 1.0, 2.0])
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    statistic, pvalue = ks_two_sample([1, 2, 3], [4, 5, 6])  # unpacks like a tuple
    assert statistic == 1.0
    assert 0.0 < pvalue < 0.5
    with pytest.raises(ConfigError, match="y: expected a non-empty"):
        ks_two_sample([1.0], [])


def test_binned_histogram_edges() -> None:
    # 0.1 + 0.2 = 0.30000000000000004 and 0.3 both sit on the edge of bin 3 = [0.3, 0.4)
    assert binned_histogram([0.3])[3] == 1.0
    assert binned_histogram([0.1 + 0.2])[3] == 1.0
    assert binned_histogram([0.29])[2] == 1.0
    # the right edge $2.00 joins the last bin [1.9, 2.0]; $0 is in the first
    h = binned_histogram([0.0, 2.0])
    assert h.size == 20
    assert (h[0], h[19]) == (0.5, 0.5)
    with pytest.raises(ConfigError, match=r"x: 1 value\(s\) outside \[0.0, 2.0\], first 2.5"):
        binned_histogram([1.0, 2.5])
    with pytest.raises(ConfigError, match="whole number"):
        binned_histogram([1.0], bin_width=0.3)


def test_l1_binned_hand_computed() -> None:
    # h_x: 0.5 in [0, 0.1), 0.5 in [0.1, 0.2); h_y: 1.0 in [0, 0.1) -> |0.5-1| + |0.5-0| = 1.0
    assert l1_binned([0.05, 0.15], [0.05, 0.05]) == pytest.approx(1.0)
    # disjoint histograms -> the maximum, 2
    assert l1_binned([0.0], [2.0]) == pytest.approx(2.0)
    # custom bins: 0..10 in bins of 5 -> [0, 5) and [5, 10]; x all in bin 0, y split -> 0.5+0.5
    assert l1_binned([1, 2], [3, 10], bin_width=5, lo=0, hi=10) == pytest.approx(1.0)
