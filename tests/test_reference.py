"""The PersuasionForGood human donations: the facts the analysis must reproduce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from vs_sim.errors import ConfigError
from vs_sim.metrics import ks_two_sample, l1_binned
from vs_sim.reference import P4G_DONATIONS_CSV, donation_summary, load_p4g_donations

REPO_CSV = Path(__file__).resolve().parents[1] / "data/persuasionforgood/persuadee_donations.csv"


@pytest.fixture(scope="module")
def human() -> npt.NDArray[np.float64]:
    return load_p4g_donations(REPO_CSV)


def test_default_path_is_the_repository_copy(human: npt.NDArray[np.float64]) -> None:
    assert P4G_DONATIONS_CSV == REPO_CSV
    assert np.array_equal(load_p4g_donations(), human)


def test_human_donation_facts(human: npt.NDArray[np.float64]) -> None:
    summary = donation_summary(human)
    assert summary["n"] == 982  # 1,017 dialogues minus 35 out-of-range entries
    assert round(summary["mean"], 3) == 0.352
    assert summary["median"] == 0.04
    assert round(summary["share_zero"] * 100, 1) == 48.1
    assert (summary["min"], summary["max"]) == (0.0, 2.0)
    assert summary["top_amounts"][:4] == [(0.0, 472), (1.0, 131), (0.5, 65), (2.0, 57)]


def test_human_against_itself(human: npt.NDArray[np.float64]) -> None:
    result = ks_two_sample(human, human)
    assert result.statistic == 0.0
    assert result.pvalue == 1.0
    assert l1_binned(human, human) == 0.0
    # everyone giving $0: all mass in bin [0, 0.1), where 517 of 982 humans are (472 at $0 plus
    # 45 between $0.01 and $0.09) -> L1 = (1 - 517/982) + 465/982 = 2 * 465/982 = 0.9470468
    assert (human < 0.1).sum() == 517
    assert l1_binned(human, np.zeros(10)) == pytest.approx(2 * 465 / 982)


def test_donation_summary_hand_computed() -> None:
    # [0, 0, 0.5, 1]: mean 1.5/4 = 0.375, median (0 + 0.5)/2 = 0.25, 2 of 4 at $0
    s = donation_summary([0, 0, 0.5, 1])
    assert (s["n"], s["mean"], s["median"], s["share_zero"]) == (4, 0.375, 0.25, 0.5)
    assert s["top_amounts"][0] == (0.0, 2)
    with pytest.raises(ConfigError, match="non-empty"):
        donation_summary([])


def test_loader_errors_name_the_file_and_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match=r"nope\.csv: PersuasionForGood donations file not found"):
        load_p4g_donations(missing)
    no_column = tmp_path / "a.csv"
    no_column.write_text("persuadee_donation\n0.5\n")
    with pytest.raises(ConfigError, match=r"a.csv:1: missing column\(s\) \['in_task_range_0_2'\]"):
        load_p4g_donations(no_column)
    bad = tmp_path / "b.csv"
    bad.write_text("persuadee_donation,in_task_range_0_2\n0.5,1\nlots,1\n700,0\n")
    with pytest.raises(ConfigError, match=r"b.csv:3: not a number"):
        load_p4g_donations(bad)
    good = tmp_path / "c.csv"
    good.write_text("persuadee_donation,in_task_range_0_2\n0.5,1\n700,0\n0,1\n")
    assert load_p4g_donations(good).tolist() == [0.5, 0.0]
