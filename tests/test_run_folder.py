"""A run folder's derived files, written in one streamed pass: the CSV tables hold exactly the
rows of the in-memory tables, and ``outputs.graph: auto`` skips a big run's graph, saying why
and how to build it, while ``true`` forces it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from vs_sim import run_folder
from vs_sim.analysis import open_run
from vs_sim.analysis import rows as R
from vs_sim.analysis.sinks import cell
from vs_sim.analysis.stream import TABLES
from vs_sim.events import read_events
from vs_sim.graph import ConversationGraph
from vs_sim.scenario_run import run_scenario
from vs_sim.scenario_schema import OutputsSpec, Scenario
from vs_sim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
ROUNDTABLE = ROOT / "scenarios" / "conversation_roundtable.yaml"


def with_outputs(path: Path, **outputs: Any) -> Scenario:
    scenario = load_scenario(path)
    spec = OutputsSpec(**{"report": "markdown", **outputs})
    return scenario.model_copy(update={"outputs": spec})


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def as_cells(rows: list[R.Row], header: list[str]) -> list[dict[str, str]]:
    """Rows as the csv module reads them back: text, JSON for lists and dicts, "" for None."""
    return [{c: str(cell(row.get(c))) for c in header} for row in rows]


@pytest.mark.parametrize("path", [QUICKSTART, ROUNDTABLE], ids=["survey", "conversation"])
def test_csv_tables_hold_the_rows_of_the_tables(path: Path, tmp_path: Path) -> None:
    run = run_scenario(with_outputs(path), n=3, out=tmp_path / "run", progress=False)
    assert run.folder is not None
    events = list(read_events(run.folder / "events.jsonl"))
    expected = R.table_rows(events, *TABLES)
    for name in TABLES:
        file = run.folder / "tables" / f"{name}.csv"
        if not expected[name]:
            assert not file.exists() or name not in run_folder.MAYBE_EMPTY
            continue
        written = read_csv(file)
        header = list(written[0])
        assert header[: len(R.TABLE_COLUMNS[name])] == list(R.TABLE_COLUMNS[name])
        assert written == as_cells(expected[name], header), name
    summary = json.loads((run.folder / "summary.json").read_text(encoding="utf-8"))
    counts = R.run_summary(events)
    assert {k: summary[k] for k in ("completed", "calls", "answers", "utterances")} == {
        k: counts[k] for k in ("completed", "calls", "answers", "utterances")
    }


def test_survey_shares_and_comparison_are_those_of_the_analysis(tmp_path: Path) -> None:
    from vs_sim.tasks.survey_analysis import load_answers, summarize
    from vs_sim.tasks.survey_reference import compare_to_reference

    run = run_scenario(with_outputs(QUICKSTART), n=8, out=tmp_path / "q", progress=False)
    assert run.folder is not None
    opened = open_run(run.folder)
    questionnaire = opened.questionnaire()
    reference = opened.reference()
    assert questionnaire is not None and reference is not None
    answers = load_answers(run.folder / "events.jsonl")
    shares = summarize(answers, questionnaire, by=["party"]).rows()
    header = list(read_csv(run.folder / "tables" / "shares.csv")[0])
    assert read_csv(run.folder / "tables" / "shares.csv") == as_cells(shares, header)
    compared = compare_to_reference(answers, reference, questionnaire)
    assert run.summary["survey"]["reference"]["means"] == pytest.approx(compared.means())
    assert run.summary["survey"]["respondents"] == 8


def test_the_markdown_report_shows_the_first_conversation(tmp_path: Path) -> None:
    run = run_scenario(with_outputs(ROUNDTABLE), n=2, out=tmp_path / "c", progress=False)
    assert run.folder is not None
    first = next(r for r in R.utterance_rows(read_events(run.folder / "events.jsonl")))
    text = (run.folder / "report.md").read_text(encoding="utf-8")
    assert f"## Transcript of {first['conversation_id']}" in text
    assert str(first["text"]).replace("\n", " ") in text
    assert "graph in `graph.graphml`" in text


# -- the graph: auto, true, false -----------------------------------------------------------


def test_auto_skips_a_big_runs_graph_and_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_folder, "GRAPH_AUTO_LIMIT", 10)  # 3 respondents × 4 answers = 12
    out = tmp_path / "big"
    out.mkdir()
    (out / "graph.graphml").write_text("stale", encoding="utf-8")  # from a smaller session
    run = run_scenario(with_outputs(QUICKSTART), n=3, out=out, progress=False)
    assert not (out / "graph.graphml").exists() and not (out / "graph.json").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    note = summary["graph_note"]
    assert "12 utterances and answers" in note and "outputs.graph: true" in note
    assert f"ConversationGraph.from_log({str(out / 'events.jsonl')!r})" in note
    assert any("no graph.graphml" in n for n in run.notes)
    assert "no graph (see summary)" in (out / "report.md").read_text(encoding="utf-8")
    built = ConversationGraph.from_log(out / "events.jsonl")  # what the note says works
    assert built.graph.number_of_nodes() == 3


def test_true_forces_the_graph_and_false_skips_it_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_folder, "GRAPH_AUTO_LIMIT", 10)
    forced = run_scenario(
        with_outputs(QUICKSTART, graph=True), n=3, out=tmp_path / "t", progress=False
    )
    assert forced.folder is not None
    graph = ConversationGraph.read_graphml(forced.folder / "graph.graphml")
    assert graph.graph.number_of_nodes() == 3 and "graph_note" not in forced.summary
    off = run_scenario(
        with_outputs(QUICKSTART, graph=False), n=3, out=tmp_path / "f", progress=False
    )
    assert off.folder is not None
    assert not (off.folder / "graph.graphml").exists() and "graph_note" not in off.summary


def test_auto_writes_a_small_runs_graph(tmp_path: Path) -> None:
    run = run_scenario(with_outputs(ROUNDTABLE), n=1, out=tmp_path / "s", progress=False)
    assert run.folder is not None and "graph_note" not in run.summary
    graph = ConversationGraph.read_graphml(run.folder / "graph.graphml")
    assert len(graph.path(graph.conversations[0])) == run.summary["utterances"]


def test_graph_setting_reads_auto_true_and_false() -> None:
    assert OutputsSpec().graph == "auto" and OutputsSpec(graph=False).graph is False
    with pytest.raises(ValueError, match="expected auto, true or false, got 'sometimes'"):
        OutputsSpec(graph="sometimes")  # type: ignore[arg-type]
    small, big = {"utterances": 5, "answers": 0}, {"utterances": 0, "answers": 20_001}
    assert run_folder.wants_graph("auto", small) and not run_folder.wants_graph("auto", big)
    assert run_folder.wants_graph(True, big) and not run_folder.wants_graph(False, small)
