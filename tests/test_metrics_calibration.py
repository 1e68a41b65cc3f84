"""Calibration metrics against hand-computed values."""

from __future__ import annotations

import pytest

from vs_sim.distribution import Candidate, Distribution
from vs_sim.errors import ConfigError
from vs_sim.metrics import (
    answer_key,
    brier_score,
    calibration_records,
    expected_calibration_error,
    reliability_table,
)

PROBS = [0.9, 0.9, 0.1, 0.1]
OUTCOMES = [True, False, False, False]


def test_reliability_table_hand_computed() -> None:
    rows = reliability_table(PROBS, OUTCOMES, bins=10)
    assert len(rows) == 10
    # 0.9 -> bin 9 [0.9, 1.0]: 2 records, mean stated 0.9, turned up 1 of 2 = 0.5
    assert (rows[9].count, rows[9].mean_stated, rows[9].observed) == (2, 0.9, 0.5)
    # 0.1 -> bin 1 [0.1, 0.2): 2 records, mean 0.1, turned up 0 of 2
    assert (rows[1].count, rows[1].mean_stated, rows[1].observed) == (2, 0.1, 0.0)
    assert rows[0].count == 0
    assert rows[0].mean_stated is None
    assert rows[0].observed is None
    assert (rows[3].lo, rows[3].hi) == (0.3, 0.4)


def test_reliability_table_bin_edges() -> None:
    rows = reliability_table([0.0, 0.3, 1.0], [0, 0, 1], bins=10)
    # 0.0 in bin 0, 0.3 (on an edge) in bin 3, 1.0 in the last bin
    assert [r.count for r in rows] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_expected_calibration_error_hand_computed() -> None:
    # (2/4) * |0.5 - 0.9| + (2/4) * |0.0 - 0.1| = 0.2 + 0.05 = 0.25
    assert expected_calibration_error(PROBS, OUTCOMES) == pytest.approx(0.25)
    # perfectly calibrated: stated 0.5, half of them turn up
    assert expected_calibration_error([0.5, 0.5], [1, 0]) == 0.0


def test_brier_score_hand_computed() -> None:
    # ((0.9-1)^2 + (0.9-0)^2 + (0.1-0)^2 + (0.1-0)^2) / 4 = (0.01 + 0.81 + 0.01 + 0.01) / 4
    assert brier_score(PROBS, OUTCOMES) == pytest.approx(0.21)


def test_invalid_records_raise() -> None:
    with pytest.raises(ConfigError, match="outcomes: 1 outcomes for 2 probabilities"):
        brier_score([0.1, 0.2], [1])
    with pytest.raises(ConfigError, match=r"probs: probability 1\.5 at index 1"):
        brier_score([0.1, 1.5], [1, 0])
    with pytest.raises(ConfigError, match=r"outcomes: outcome 0\.5 at index 0 is not 0/1"):
        brier_score([0.1], [0.5])
    with pytest.raises(ConfigError, match="bins must be >= 1"):
        reliability_table([0.1], [1], bins=0)


def test_answer_key_normalizes_case_punctuation_and_spacing() -> None:
    assert answer_key("  Paris. ") == answer_key("paris") == "paris"
    assert answer_key("Paris, France") != answer_key("Paris")


def test_calibration_records_pair_each_candidate_with_each_answer() -> None:
    records = calibration_records([{"Paris": 0.7, "Lyon": 0.3}], ["paris.", "Paris", "Nice"])
    # Paris (0.7) matches 2 of 3 answers; Lyon (0.3) matches none
    assert records.probs.tolist() == [0.7, 0.7, 0.7, 0.3, 0.3, 0.3]
    assert records.outcomes.tolist() == [1, 1, 0, 0, 0, 0]
    assert len(records) == 6


def test_calibration_records_merge_duplicate_candidates_and_read_distributions() -> None:
    records = calibration_records([{"Paris": 0.5, "paris!": 0.2}], ["Paris"])
    assert records.probs.tolist() == [pytest.approx(0.7)]
    dist = Distribution.from_candidates(
        [Candidate(text="Paris", weight=3), Candidate(text="Lyon", weight=1)]
    )
    records = calibration_records([dist], ["Lyon", "Lyon"])
    # probabilities 3/4 and 1/4; Lyon turned up in both answers
    assert records.probs.tolist() == [0.75, 0.75, 0.25, 0.25]
    assert records.outcomes.tolist() == [0, 0, 1, 1]
    # Brier: ((0.75-0)^2 * 2 + (0.25-1)^2 * 2) / 4 = 0.5625
    assert brier_score(records.probs, records.outcomes) == pytest.approx(0.5625)


def test_calibration_records_validate() -> None:
    with pytest.raises(ConfigError, match="answers: calibration needs at least one answer"):
        calibration_records([{"a": 1.0}], [])
    with pytest.raises(ConfigError, match="distributions: calibration needs"):
        calibration_records([], ["a"])
    with pytest.raises(ConfigError, match=r"distributions\[0\]\[1\]: probability 1.2"):
        calibration_records([{"a": 0.1, "b": 1.2}], ["a"])
