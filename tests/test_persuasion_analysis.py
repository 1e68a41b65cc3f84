"""The persuasion report: comparisons against hand-computed values, dict and markdown contents."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from vs_sim.errors import ConfigError
from vs_sim.events import (
    Answer,
    ConversationEnded,
    ConversationStarted,
    Event,
    Participant,
    Utterance,
    write_events,
)
from vs_sim.reference import (
    load_p4g_dialogues,
    load_p4g_donations,
    load_p4g_donations_by_dialogue,
    load_p4g_persuadee_turns,
)
from vs_sim.tasks.persuasion_analysis import (
    DialogueDonation,
    compare_donations,
    paired_comparison,
    persuasion_report,
)

SIM = [0.0, 0.0, 1.0, 2.0]
HUMAN = [0.0, 0.5, 0.5, 1.0, 1.0, 2.0]


def test_compare_donations_by_hand() -> None:
    out = compare_donations(SIM, HUMAN)
    sim, human = out["simulated"], out["human"]
    assert (sim["n"], sim["mean"], sim["median"], sim["share_zero"]) == (4, 0.75, 0.5, 0.5)
    assert (human["n"], human["median"], human["share_zero"]) == (6, 0.75, pytest.approx(1 / 6))
    assert human["mean"] == pytest.approx(5 / 6)
    # ECDF gap is largest on [0, 0.5): 2/4 - 1/6
    assert out["ks_statistic"] == pytest.approx(1 / 3)
    assert 0 < out["ks_pvalue"] <= 1
    # $0.10 bins: sim .5 in [0,.1), .25 in [1,1.1), .25 in [1.9,2];
    # human 1/6, 2/6 in [.5,.6), 2/6, 1/6  → |.5-1/6| + 1/3 + |.25-1/3| + |.25-1/6|
    assert out["l1_binned"] == pytest.approx(5 / 6)


def test_compare_donations_without_simulated_values() -> None:
    out = compare_donations([], HUMAN)
    assert out["simulated"] is None and out["ks_statistic"] is None and out["l1_binned"] is None
    assert out["human"]["n"] == 6


def test_paired_comparison_by_hand() -> None:
    out = paired_comparison([(1.0, 0.0), (0.5, 0.5), (2.0, 1.0)])
    assert out is not None
    assert out["n"] == 3
    assert out["mean_abs_diff"] == pytest.approx(2 / 3)
    assert out["mean_diff"] == pytest.approx(2 / 3)
    # deviations (-1/6, -2/3, 5/6) and (-1/2, 0, 1/2): cov 1/2, sums of squares 42/36 and 1/2
    assert out["correlation"] == pytest.approx(0.5 / math.sqrt(42 / 36 * 0.5))
    assert paired_comparison([]) is None
    assert paired_comparison([(1.0, 0.0), (1.0, 2.0), (1.0, 1.0)])["correlation"] is None  # type: ignore[index]


def dialogue(
    cid: str,
    donation: Any,
    stated: Any,
    *,
    soft: dict[str, float] | None = None,
    out_of_range: bool = False,
    status: str = "completed",
) -> list[Event]:
    events: list[Event] = [
        ConversationStarted(
            conversation_id=cid,
            participants=[
                Participant(agent_id="persuader", name="Persuader", role="persuader"),
                Participant(
                    agent_id="persuadee", name="Persuadee", persona_id=cid, role="persuadee"
                ),
            ],
            meta={"task": "persuasion", "payment": 2.0},
        ),
        Utterance(conversation_id=cid, turn=0, speaker="persuader", text="Hi"),
        Utterance(conversation_id=cid, turn=1, speaker="persuadee", text="Hello"),
        Answer(
            conversation_id=cid,
            question_id="donation",
            value=donation,
            matched=donation is not None,
            soft=soft or {},
            out_of_range=out_of_range,
        ),
        Answer(
            conversation_id=cid,
            question_id="donation_text",
            value=stated,
            matched=stated is not None,
            matched_by="amount" if stated is not None else None,
            raw=f"I'll donate ${stated}" if stated is not None else None,
        ),
        ConversationEnded(conversation_id=cid, reason="max_turns", status=status),  # type: ignore[arg-type]
    ]
    return events


def sample_events() -> list[Event]:
    return [
        *dialogue("d1", 1.0, 1.02, soft={"0": 0.5, "1": 0.25, "2": 0.25}),
        *dialogue("d2", 0.0, 1.0),
        *dialogue("d3", 0.5, None),
        *dialogue("d4", 5.0, 0.5, out_of_range=True, soft={"5": 1.0}),
        *dialogue("d5", None, None),
    ]


def test_report_reads_dialogues_and_counts_disagreements() -> None:
    report = persuasion_report(sample_events(), human=HUMAN, real={"d1": 1.0, "d2": 0.5})
    rows = {d.dialogue_id: d for d in report.dialogues}
    assert list(rows) == ["d1", "d2", "d3", "d4", "d5"]
    assert rows["d1"] == DialogueDonation(
        dialogue_id="d1",
        persona_id="d1",
        status="completed",
        turns=2,
        donation=1.0,
        out_of_range=False,
        expected=0.75,
        stated=1.02,
        stated_rule="amount",
        stated_text="I'll donate $1.02",
        real=1.0,
    )
    assert rows["d4"].expected is None  # no in-range mass
    # both exist in d1 (differ by 0.02: agree) and d2 (differ by 1.0); d4's answer is out of range
    assert report.disagreements() == {"threshold": 0.05, "both": 2, "differ": 1, "share": 0.5}
    assert report.donations.tolist() == [1.0, 0.0, 0.5]
    assert report.stated_donations.tolist() == [1.02, 1.0, 0.5]


def test_report_dict_is_json_and_holds_the_comparisons() -> None:
    report = persuasion_report(sample_events(), human=HUMAN, real={"d1": 1.0, "d2": 0.5})
    d = report.to_dict()
    json.dumps(d, allow_nan=False)
    assert (d["dialogues"], d["answered"], d["out_of_range"], d["unreadable"]) == (5, 4, 1, 1)
    assert d["stated_in_text"] == 3 and d["stated_rules"] == {"amount": 3}
    assert d["question"] == compare_donations([1.0, 0.0, 0.5], HUMAN)
    assert d["text"]["simulated"]["n"] == 3
    assert d["paired_question"]["n"] == 2
    assert d["paired_question"]["mean_abs_diff"] == pytest.approx(0.25)
    assert d["paired_text"]["mean_abs_diff"] == pytest.approx((0.02 + 0.5) / 2)
    assert [r["disagrees"] for r in d["per_dialogue"]] == [False, True, None, None, None]


def test_report_markdown_names_the_numbers() -> None:
    report = persuasion_report(sample_events(), human=HUMAN, real={"d1": 1.0, "d2": 0.5})
    md = report.to_markdown(max_rows=3)
    assert md.startswith("## Persuasion: donations\n")
    assert "5 dialogues (5 completed, 0 failed)" in md
    assert "3 answered in range, 1 out of range, 1 unreadable" in md
    assert "| n | 3 | 3 | 6 |" in md
    assert "| Mean | $0.50 | $0.84 | $0.83 |" in md
    assert "| Share at $0 | 33.3% | 0.0% | 16.7% |" in md
    assert "they differ by more than $0.05 in 1 (50.0%)" in md
    assert "| d2 | $0.00 | — | $1.00 | amount | $0.50 |" in md
    assert "(2 more dialogues in summary.json.)" in md


def test_report_reads_a_log_file_or_a_run_folder(tmp_path: Path) -> None:
    write_events(tmp_path / "events.jsonl", sample_events())
    a = persuasion_report(tmp_path / "events.jsonl", human=HUMAN, real={})
    b = persuasion_report(str(tmp_path), human=HUMAN, real={})
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["paired_question"] is None


def test_default_references_are_the_p4g_files() -> None:
    report = persuasion_report(dialogue("20180904-154250_98_live", 1.0, None))
    assert report.human.size == 982
    assert report.dialogues[0].real == 2.0


def test_p4g_loaders() -> None:
    by_id = load_p4g_donations_by_dialogue()
    assert len(by_id) == 982
    assert by_id["20180904-045349_715_live"] == 0.0
    assert sorted(by_id.values()) == sorted(load_p4g_donations().tolist())
    dialogues = load_p4g_dialogues()
    assert len(dialogues) == 1017
    first = dialogues["20180904-045349_715_live"]
    assert first[:2] == [
        (0, "persuader", "Good morning. How are you doing today?"),
        (0, "persuadee", "Hi. I am doing good. How about you?"),
    ]
    assert all(s in ("persuader", "persuadee") for _, s, _ in first)
    turns = load_p4g_persuadee_turns(dialogues=["20180904-045349_715_live"])
    assert turns == [t for _, s, t in first if s == "persuadee"]
    assert turns[1] == "Haha. Same here, but it really feels like a Monday."
    assert len(load_p4g_persuadee_turns()) == 10332  # every B4 == 1 row


def test_dialogue_rows_of_one_speaker_and_turn_are_joined(tmp_path: Path) -> None:
    csv = tmp_path / "dialog.csv"
    csv.write_text(
        ",Unit,Turn,B4,B2\n"
        "0,Hello there.,0,0,d1\n"
        "1,Hi.,0,1,d1\n"
        "2,How are you?,0,1,d1\n"
        "3,Fine.,1,0,d1\n"
        "4,Hey,0,0,d2\n"
    )
    assert load_p4g_dialogues(csv) == {
        "d1": [(0, "persuader", "Hello there."), (0, "persuadee", "Hi. How are you?"),
               (1, "persuader", "Fine.")],
        "d2": [(0, "persuader", "Hey")],
    }  # fmt: skip
    assert load_p4g_persuadee_turns(csv) == ["Hi. How are you?"]
    bad = tmp_path / "bad.csv"
    bad.write_text(",Unit,Turn,B4\n0,Hi,0,0\n")
    with pytest.raises(ConfigError, match=r"bad\.csv:1.*B2"):
        load_p4g_dialogues(bad)
