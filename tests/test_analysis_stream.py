"""The streamed tables, sinks and tallies that let a run of any size be read in flat memory.

The rules are checked against small naive builders written here (hold everything, decide at
the end) on interleaved logs with failures, resumes, answers recorded twice and choices that
come late; and the tallies against :mod:`vs_sim.tasks.survey_analysis` on a real run.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path
from typing import Any, Literal

import pytest

from vs_sim.analysis import open_run
from vs_sim.analysis import rows as R
from vs_sim.analysis.digest import RunDigest, Tee
from vs_sim.analysis.shares import ShareTally, share_rows
from vs_sim.analysis.sinks import CsvSink, ListSink
from vs_sim.analysis.stream import TABLES, TableStream
from vs_sim.analysis.survey_tally import SurveyTally
from vs_sim.errors import ConfigError
from vs_sim.events import (
    Answer,
    CandidateRecord,
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    Event,
    ModelCall,
    Participant,
    RunEnded,
    RunStarted,
    Utterance,
    read_events,
)
from vs_sim.scenario_run import run_scenario
from vs_sim.scenario_schema import OutputsSpec
from vs_sim.scenarios import load_scenario
from vs_sim.tasks.questionnaire import Questionnaire
from vs_sim.tasks.survey_analysis import load_answers, summarize
from vs_sim.tasks.survey_reference import compare_to_reference, load_reference

ROOT = Path(__file__).resolve().parent.parent
SURVEY = ROOT / "scenarios" / "survey_opinion.yaml"
Status = Literal["completed", "failed"]


# -- logs with everything a resume can leave ------------------------------------------------


def _unit(rng: random.Random, conv: str) -> list[Event]:
    people = [
        Participant(
            agent_id=f"{conv}a",
            name="A",
            attributes={"party": rng.choice(["d", "r"]), "home": {"state": "OH"}},
            role="respondent",
        ),
        Participant(agent_id=f"{conv}b", name="B", role="persuader"),
    ][: rng.randint(1, 2)]
    out: list[Event] = [ConversationStarted(conversation_id=conv, participants=people)]
    for turn in range(rng.randint(0, 4)):
        purpose = rng.choice(["utterance", "q1", "q2", "next_speaker"])
        k = rng.randint(1, 3)
        out.append(
            ModelCall(
                conversation_id=conv,
                turn=turn,
                purpose=purpose,
                model=rng.choice(["m1", "m2"]),
                request_key=f"{conv}{turn}",
                cost=rng.choice([None, 0.01]),
            )
        )
        out.append(
            DistributionRecorded(
                conversation_id=conv,
                turn=turn,
                speaker=people[0].agent_id,
                purpose=purpose,
                method="vs_standard",
                candidates=[
                    CandidateRecord(text=f"t{i}", weight=1.0, probability=1 / k) for i in range(k)
                ],
                dropped=[CandidateRecord(text="low", weight=0.0, probability=0.0)]
                if rng.random() < 0.3
                else [],
                entropy=1.0,
            )
        )
        for _ in range(rng.choice([0, 1, 1, 1, 2])):  # no draw, one, or two
            out.append(
                Choice(
                    conversation_id=conv,
                    turn=turn,
                    purpose=purpose,
                    index=rng.randint(0, k),  # k itself is out of range: no candidate
                    rank=1,
                    probability=0.5,
                )
            )
        if purpose == "utterance":
            speaker = rng.choice([p.agent_id for p in people] + ["stranger"])
            out.append(Utterance(conversation_id=conv, turn=turn, speaker=speaker, text="hi"))
        else:
            agent = rng.choice([None, people[0].agent_id])
            for value in ["a", "again"][: rng.choice([1, 1, 2])]:  # answered twice: last wins
                out.append(
                    Answer(conversation_id=conv, question_id=purpose, value=value, agent_id=agent)
                )
    return out


def resumed_log(seed: int) -> list[Event]:
    """Units interleaved; some fail halfway and are retried after a second run_started."""
    rng = random.Random(seed)
    units = {f"c{i}": _unit(rng, f"c{i}") for i in range(rng.randint(1, 10))}
    failing = {u for u in units if rng.random() < 0.3}
    pos = dict.fromkeys(units, 0)
    out: list[Event] = [RunStarted(run_id="r", seed=1, config={"task": "x"})]
    active, retried = list(units), []
    while active:
        u = rng.choice(active)
        if u in failing and u not in retried and pos[u] == len(units[u]) // 2 + 1:
            out.append(ConversationEnded(conversation_id=u, reason="error", status="failed"))
            retried.append(u)
            active.remove(u)
        elif pos[u] < len(units[u]):
            out.append(units[u][pos[u]])
            pos[u] += 1
        else:
            if rng.random() < 0.9:  # else: killed before it ended
                out.append(ConversationEnded(conversation_id=u, reason="done"))
            active.remove(u)
    out += [RunEnded(run_id="r"), RunStarted(run_id="r", seed=1)]
    while retried:
        u = rng.choice(retried)
        if pos[u] < len(units[u]):
            out.append(units[u][pos[u]])
            pos[u] += 1
        else:
            status: Status = rng.choice(["completed", "failed"])
            out.append(ConversationEnded(conversation_id=u, reason="done", status=status))
            retried.remove(u)
    return [e.model_copy(update={"t": 1000.0 + i}) for i, e in enumerate(out)]


def naive_answers(events: list[Event]) -> list[tuple[str, str, Any]]:
    latest: dict[tuple[str, str | None, str], Answer] = {}
    for e in events:
        if isinstance(e, Answer):
            key = (e.conversation_id, e.agent_id, e.question_id)
            latest.pop(key, None)
            latest[key] = e
    return [(a.conversation_id, a.question_id, a.value) for a in latest.values()]


def naive_chosen(events: list[Event]) -> list[tuple[int, int, bool]]:
    numbers: dict[tuple[Any, ...], int] = {}
    sizes: list[tuple[int, int]] = []  # (kept, dropped) per distribution
    chosen: set[tuple[int, int]] = set()
    for e in events:
        if isinstance(e, DistributionRecorded):
            numbers[(e.conversation_id, e.turn, e.purpose)] = len(sizes)
            sizes.append((len(e.candidates), len(e.dropped)))
        elif isinstance(e, Choice):
            number = numbers.get((e.conversation_id, e.turn, e.purpose))
            if number is not None and 0 <= e.index < sizes[number][0]:
                chosen.add((number, e.index))  # the latest distribution's kept candidate
    return [(n, i, (n, i) in chosen) for n, (k, d) in enumerate(sizes) for i in range(k + d)]


def naive_status(events: list[Event]) -> dict[str, str]:
    status: dict[str, str] = {}
    for e in events:
        if isinstance(e, ConversationStarted | Utterance | Answer):
            status.setdefault(e.conversation_id, "unfinished")
        elif isinstance(e, ConversationEnded):
            status[e.conversation_id] = e.status
    return status


def streamed(events: list[Event]) -> tuple[dict[str, list[R.Row]], TableStream]:
    sinks = {name: ListSink() for name in TABLES}
    stream = TableStream(sinks)
    stream.feed_all(events)
    stream.close()
    return {name: sink.rows() for name, sink in sinks.items()}, stream


@pytest.mark.parametrize("seed", range(40))
def test_streamed_tables_follow_the_rules_on_resumed_logs(seed: int) -> None:
    events = resumed_log(seed)
    tables, stream = streamed(events)
    answers = [(r["conversation_id"], r["question_id"], r["value"]) for r in tables["answers"]]
    assert answers == naive_answers(events)
    chosen = [(r["distribution"], r["index"], r["chosen"]) for r in tables["candidates"]]
    assert chosen == naive_chosen(events)
    status = naive_status(events)
    rows = tables["conversations"]
    assert [(r["conversation_id"], r["status"]) for r in rows] == list(status.items())
    summary = stream.summary()
    for state in ("completed", "failed", "unfinished"):
        assert summary[state] == sum(s == state for s in status.values())
    assert summary["answers"] == len(answers)
    assert summary["utterances"] == len(tables["utterances"]) == sum(r["utterances"] for r in rows)
    assert len(tables["choices"]) == sum(isinstance(e, Choice) for e in events)
    assert summary["calls"] == len(tables["calls"])


def test_a_completed_unit_is_let_go_and_a_failed_one_kept() -> None:
    events: list[Event] = [RunStarted(run_id="r", seed=1)]
    rng = random.Random(3)
    for i in range(200):
        unit = _unit(rng, f"c{i}")
        status: Status = "failed" if i % 50 == 0 else "completed"
        events += [*unit, ConversationEnded(conversation_id=f"c{i}", reason="x", status=status)]
    stream = TableStream({name: ListSink() for name in TABLES})
    most = 0
    for event in events:
        stream.feed(event)
        most = max(most, stream.held)
    assert most <= 4 + 1  # the four failed units, and the one at work
    assert stream.held == 4


def test_a_late_choice_and_a_retried_unit_replace_what_was_written() -> None:
    dist = DistributionRecorded(
        conversation_id="c",
        turn=0,
        purpose="q",
        method="vs_standard",
        candidates=[CandidateRecord(text=t, weight=1, probability=0.5) for t in "xy"],
    )
    events: list[Event] = [
        ConversationStarted(conversation_id="c", participants=[Participant(agent_id="a", name="")]),
        dist,
        ConversationEnded(conversation_id="c", reason="error", status="failed", error="boom"),
        ConversationStarted(conversation_id="d"),
        ConversationEnded(conversation_id="d", reason="done"),
        Choice(conversation_id="c", turn=0, purpose="q", index=1, rank=1, probability=0.5),
        Answer(conversation_id="c", question_id="q", value="y"),
        ConversationEnded(conversation_id="c", reason="done"),
    ]
    sinks = {name: ListSink() for name in TABLES}
    stream = TableStream(sinks)
    for event in events[:5]:
        stream.feed(event)
    assert [r["chosen"] for r in sinks["candidates"].rows()] == [False, False]  # written
    assert sinks["conversations"].rows()[0]["status"] == "failed"
    for event in events[5:]:
        stream.feed(event)
    stream.close()
    assert [r["chosen"] for r in sinks["candidates"].rows()] == [False, True]
    first = sinks["conversations"].rows()[0]
    assert (first["conversation_id"], first["status"], first["answers"]) == ("c", "completed", 1)
    assert stream.summary()["completed"] == 2 and stream.summary()["failed"] == 0


# -- CSV files ------------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_csv_sink_grows_its_header_and_applies_replacements(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with CsvSink(path, ["a"]) as sink:
        sink.write({"a": 1, "b": None})
        second = sink.write({"a": 2, "b": [1, "x"]})
        sink.write({"a": 3, "c": {"k": math.nan}})  # a column after the first row
        sink.replace(0, None, {"a": 1})
        sink.replace(second, {"a": 20, "b": "y"}, {"a": 2})
    assert read_csv(path) == [["a", "b", "c"], ["20", "y", ""], ["3", "", '{"k": null}']]
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob("*.tmp"))


def test_csv_sink_leaves_the_older_file_when_empty_or_failing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("old\n", encoding="utf-8")
    with CsvSink(path, ["a"], keep_empty=False):
        pass
    assert path.read_text(encoding="utf-8") == "old\n"
    with pytest.raises(RuntimeError), CsvSink(path, ["a"]) as sink:
        sink.write({"a": 1})
        raise RuntimeError("the log went bad")
    assert path.read_text(encoding="utf-8") == "old\n" and not list(tmp_path.glob("*.part"))
    with CsvSink(path, ["a"]):
        pass
    assert read_csv(path) == [["a"]]


# -- survey tallies against the in-memory analysis ------------------------------------------


@pytest.fixture(scope="module")
def survey_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = load_scenario(SURVEY)
    scenario = scenario.model_copy(update={"outputs": OutputsSpec(report="none", graph=False)})
    out = tmp_path_factory.mktemp("survey") / "run"
    run_scenario(scenario, n=12, out=out, progress=False)
    return out


def test_survey_tally_gives_what_summarize_and_compare_give(
    survey_run: Path, tmp_path: Path
) -> None:
    events = list(read_events(survey_run / "events.jsonl"))
    questionnaire = Questionnaire.from_dict(open_run(survey_run).config["questionnaire"])
    assert {q.type for q in questionnaire.questions} >= {"numeric", "ranking", "open_text"}
    tally = SurveyTally(questionnaire, by=["party", "age", "zodiac"])
    tally.feed_all(events)
    answers = load_answers(events)
    for by in ([], ["party", "age"]):
        assert tally.summary(by) == summarize(answers, questionnaire, by=by)
    assert (tally.answers, tally.respondents) == (len(answers), len(answers.respondents()))
    with pytest.raises(ConfigError, match="no respondent has attribute 'zodiac'"):
        tally.summary(["zodiac"])
    rows = (ROOT / "scenarios" / "data" / "opinion_reference.csv").read_text(encoding="utf-8")
    extra = "climate_worry,zodiac,leo,Very worried,1\n"  # a group the respondents lack
    (tmp_path / "ref.csv").write_text(rows + extra, encoding="utf-8")
    reference = load_reference(tmp_path / "ref.csv", questionnaire)
    expected = compare_to_reference(answers, reference, questionnaire)
    assert tally.compare(reference) == expected
    assert any("zodiac" in note for note in expected.notes)
    assert open_run(survey_run).reference_comparison(reference) == expected


def test_survey_tally_takes_an_answer_recorded_twice_once(survey_run: Path) -> None:
    events = list(read_events(survey_run / "events.jsonl"))
    questionnaire = Questionnaire.from_dict(open_run(survey_run).config["questionnaire"])
    first = next(e for e in events if isinstance(e, Answer) and e.question_id == "climate_worry")
    other = next(
        e
        for e in events
        if isinstance(e, Answer) and e.question_id == first.question_id and e.value != first.value
    )
    end = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, ConversationEnded) and e.conversation_id == first.conversation_id
    )
    again = other.model_copy(update={"conversation_id": first.conversation_id})
    events.insert(end, again)  # recorded again before the respondent ended: it wins
    tally = SurveyTally(questionnaire, by=["party"])
    tally.feed_all(events)
    expected = summarize(load_answers(events), questionnaire, by=["party"])
    assert close(tally.summary(["party"]).rows(), expected.rows())
    tallies = {by: ShareTally(by, questionnaire) for by in (None, "party")}
    stream = TableStream({"answers": Tee(*tallies.values())})
    stream.feed_all(events)
    stream.close()
    rows = R.answer_rows(events)
    for by, shares in tallies.items():
        assert close(shares.rows(), share_rows(rows, by=by, questionnaire=questionnaire))


def close(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 (an answer taken out and another put in sums in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(close(a[k], b[k]) for k in a)
    return bool(a == b)


# -- the digest and narrow tables -----------------------------------------------------------


def test_digest_holds_what_reports_show() -> None:
    events = resumed_log(11)
    digest = RunDigest.read(events)
    tables, _ = streamed(events)
    calls = tables["calls"]
    by_model = {row["model"]: row for row in digest.calls}
    for model in {c["model"] for c in calls}:
        mine = [c for c in calls if c["model"] == model]
        assert by_model[model]["calls"] == len(mine)
        costs = [c["cost"] for c in mine if c["cost"] is not None]
        assert by_model[model]["cost"] == (pytest.approx(sum(costs)) if costs else None)
    if len(by_model) > 1:
        assert by_model["all"]["calls"] == len(calls)
    bad = [r["conversation_id"] for r in tables["conversations"] if r["status"] != "completed"]
    assert [r["conversation_id"] for r in digest.incomplete] == bad
    first = next((r["conversation_id"] for r in tables["utterances"]), None)
    assert list(digest.transcripts)[:1] == ([first] if first else [])
    answered = [e.question_id for e in events if isinstance(e, Answer)]
    assert digest.question_ids == list(dict.fromkeys(answered))
    assert digest.summary == R.run_summary(events)


def test_a_table_narrowed_to_some_columns(survey_run: Path) -> None:
    pytest.importorskip("pandas")
    columns = ["conversation_id", "question_id", "party"]
    narrow = open_run(survey_run).answers(columns=columns)
    full = open_run(survey_run).answers()
    assert narrow.equals(full[columns])
    run = open_run(survey_run)
    run.answers()  # cached: the narrow view comes from it
    assert run.answers(columns=columns).equals(narrow)
    with pytest.raises(ConfigError, match="no column 'partey' in the answers table"):
        open_run(survey_run).answers(columns=["partey"])
