"""Reading candidate texts: options, labels, fuzzy matches, sets, orderings and numbers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vs_sim.tasks.matching import (
    FUZZY_THRESHOLD,
    MULTI_SEPARATORS,
    RANKING_SEPARATORS,
    OptionMatcher,
    normalize_text,
    parse_number,
)

LIKERT = [
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
]


@pytest.mark.parametrize(
    ("text", "index", "how"),
    [
        ("Agree", 3, "exact"),
        ("  Agree  ", 3, "exact"),
        ("agree.", 3, "normalized"),
        ("STRONGLY   agree!", 4, "normalized"),
        ('"Disagree"', 1, "normalized"),
        ("B", 1, "label"),
        ("b)", 1, "label"),
        ("(C)", 2, "label"),
        ("2", 1, "label"),
        ("2)", 1, "label"),
        ("5.", 4, "label"),
        ("Option 4", 3, "label"),
        ("D) Agree", 3, "label"),
        ("A) Agree", 3, "label"),  # the option text wins over a disagreeing label
        ("Strongly agre", 4, "fuzzy"),
        ("I strongly agree", 4, "fuzzy"),
        ("Z", None, None),
        ("6", None, None),
        ("Somewhat agree, mostly because of my job", None, None),
        ("", None, None),
    ],
)
def test_option_matching_rules(text: str, index: int | None, how: str | None) -> None:
    found = OptionMatcher(LIKERT).match(text)
    assert (found.index, found.how) == (index, how)
    if how == "fuzzy":
        assert FUZZY_THRESHOLD <= found.score < 1


def test_exact_text_wins_over_labels() -> None:
    matcher = OptionMatcher(["3", "2", "1"])
    assert matcher.match("1").index == 2  # the option "1", not the first option
    assert OptionMatcher(["B", "A"]).match("A").index == 1


def test_fuzzy_threshold_is_configurable() -> None:
    assert OptionMatcher(LIKERT, threshold=0.99).match("Strongly agre").index is None
    assert OptionMatcher(LIKERT).match("Strongly agre", fuzzy=False).index is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Housing; Jobs", [0, 2]),
        ("A and C", [0, 2]),
        ("Housing, Jobs", [0, 2]),
        ("housing & schools, jobs", [0, 1, 2]),
        ("News, TV", [3]),  # an option whose own text holds a comma
        ("Jobs, News, TV", [2, 3]),
        ("Schools and jobs", [1, 2]),
        ("Housing; Pizza", None),
    ],
)
def test_multi_select_texts(text: str, expected: list[int] | None) -> None:
    matcher = OptionMatcher(["Housing", "Schools", "Jobs", "News, TV"])
    assert matcher.match_many(text, MULTI_SEPARATORS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tea > Juice > Coffee", [0, 2, 1]),
        ("1. Juice\n2. Tea\n3. Coffee", [2, 0, 1]),
        ("coffee, tea, juice", [1, 0, 2]),
        ("Tea then Coffee", [0, 1]),
        ("Tea > Milk", None),
    ],
)
def test_ranking_texts(text: str, expected: list[int] | None) -> None:
    matcher = OptionMatcher(["Tea", "Coffee", "Juice"])
    assert matcher.match_many(text, RANKING_SEPARATORS) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1.50", 1.5),
        ("1,000", 1000.0),
        ("about 30", 30.0),
        ("30%", 30.0),
        ("-5", -5.0),
        ("−2.5 degrees", -2.5),
        ("20-30", 25.0),
        ("20 to 30 hours", 25.0),
        ("between 20 and 30", 25.0),
        ("5 and then 10", 5.0),
        ("2.5k", 2500.0),
        ("$1.2 million", 1_200_000.0),
        ("I'd say 12, maybe 15", 12.0),
        (".5", 0.5),
        ("none", None),
        ("a few", None),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda x: round(x, 4)))
def test_parse_number_reads_plain_numbers_back(x: float) -> None:
    parsed = parse_number(f"{x:.4f}")
    assert parsed is not None and math.isclose(parsed, x, abs_tol=1e-9)


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12)


@given(st.lists(_WORD, min_size=2, max_size=8, unique=True))
def test_every_option_matches_itself_in_any_case(options: list[str]) -> None:
    matcher = OptionMatcher(options)
    for i, option in enumerate(options):
        assert matcher.match(option).index == i
        assert matcher.match(f" {option.upper()}! ").index == i


def test_normalize_text_folds_case_accents_and_punctuation() -> None:
    assert normalize_text("  Très   BIEN!! ") == "tres bien"
    assert normalize_text("don't-know") == "don t know"
