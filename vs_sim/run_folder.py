"""A run folder's derived files, rebuilt from its event log (the truth).

``events.jsonl`` and ``scenario.yaml`` are written while a scenario runs; everything here
is a view of the log, written at the end and rewritten after a resume:

- ``tables/*.csv`` — personas, answers or utterances, candidates, choices, calls,
  conversations (the rows of :mod:`vs_sim.analysis.rows`), plus survey shares and the
  reference comparison;
- ``summary.json`` — counts, calls, cache hits, tokens, cost, time, the synthetic flag and
  the task's own results (survey comparison metrics, donation statistics, ...);
- ``graph.graphml`` and ``graph.json`` (node-link) — :class:`~vs_sim.graph.ConversationGraph`,
  see :data:`GRAPH_AUTO_LIMIT`;
- ``report.md``, and ``report.html`` (:func:`vs_sim.report.write_report`) when asked for
  and pandas and matplotlib are installed.

Memory stays flat however big the run: the log is read once, as a stream, and every table
row is written as soon as it is final (:class:`~vs_sim.analysis.stream.TableStream`); what
is kept are counts and shares per question and group
(:class:`~vs_sim.analysis.survey_tally.SurveyTally`) and what the report shows
(:class:`~vs_sim.analysis.digest.RunDigest`). No pandas is needed to write any of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis.digest import DigestSinks, RunDigest, Tee
from .analysis.rows import TABLE_COLUMNS
from .analysis.shares import ShareTally
from .analysis.sinks import CsvSink, RowSink, json_safe, write_csv
from .analysis.stream import TABLES, TableStream
from .analysis.survey_tally import SurveyTally
from .errors import ConfigError
from .events import read_events

if TYPE_CHECKING:
    from .scenario_build import Prepared

__all__ = [
    "GRAPH_AUTO_LIMIT",
    "LOG_NAME",
    "SYNTHETIC_NOTE",
    "TABLES",
    "json_safe",
    "write_csv",
    "write_outputs",
    "write_reference",
]

LOG_NAME = "events.jsonl"
SYNTHETIC_NOTE = (
    "SYNTHETIC: no language model was used. This run's text comes from the offline model "
    "(offline/demo), which makes up plausible-looking answers; do not draw conclusions from it."
)
GRAPH_AUTO_LIMIT = 20_000
"""``outputs.graph: auto`` writes the graph when the run has at most this many utterances
and answers together. Past that the graph costs more memory and time than the run itself
(every node is held, and the GraphML written, at once) and adds nothing the tables lack: a
survey's graph is its respondents, a conversation graph that large cannot be drawn.
``summary.json`` says how to build it anyway (``outputs.graph: true``, or
``ConversationGraph.from_log``)."""
MAYBE_EMPTY: frozenset[str] = frozenset({"answers", "utterances", "candidates", "choices"})
"""Tables not written at all when they have no row (the others get their header)."""


@dataclass(frozen=True)
class LogViews:
    """What one pass over the log gave: the report's figures and the survey's tallies."""

    digest: RunDigest
    survey: SurveyTally | None
    shares: dict[str | None, ShareTally]


def write_reference(folder: Path, prepared: Prepared) -> Path | None:
    """The survey's reference shares as used (normalized; only the questions asked), kept
    in the run folder as ``reference.csv`` so the folder is complete on its own."""
    reference, questionnaire = prepared.reference, prepared.questionnaire
    if reference is None or questionnaire is None:
        return None
    path = folder / "reference.csv"
    if Path(reference.path).resolve() == path.resolve():
        return path  # a resumed run reads the copy it kept: nothing to do
    rows = []
    for dist in reference.distributions:
        options = questionnaire.question(dist.question_id).option_texts
        for option, share in zip(options, dist.shares, strict=True):
            rows.append(
                {
                    "question_id": dist.question_id,
                    "group_attribute": dist.group_attribute,
                    "group_value": dist.group_value,
                    "option": option,
                    "share": round(share, 12),
                }
            )
    write_csv(path, rows, ("question_id", "group_attribute", "group_value", "option", "share"))
    origin = Path(reference.path)
    notes = [f"# The reference shares this run compared with, from {origin}: normalized, and only"]
    notes.append("# for the questions asked. The original file's own notes follow.")
    if origin.suffix.lower() == ".csv" and origin.is_file():
        for line in origin.read_text(encoding="utf-8").splitlines():
            if not line.lstrip().startswith("#"):
                break
            notes.append(line)
    path.write_text("\n".join(notes) + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


# -- the one pass over the log --------------------------------------------------------------


def _survey_tally(prepared: Prepared) -> SurveyTally | None:
    questionnaire, section = prepared.questionnaire, prepared.scenario.survey
    if prepared.scenario.task != "survey" or questionnaire is None or section is None:
        return None
    reference = prepared.reference
    by = [*section.by, *(reference.group_attributes if reference is not None else [])]
    return SurveyTally(questionnaire, by=by)


def read_log(prepared: Prepared, folder: Path, *, tables: bool) -> LogViews:
    """Read the log once: write ``tables/*.csv`` (when ``tables``) as rows come, and keep
    the report's figures and the survey's tallies.

    Raises:
        OSError: A table cannot be written (the older tables, if any, stay as they were).
    """
    digest = DigestSinks(transcripts=2, turns=40)
    survey = _survey_tally(prepared)
    shares: dict[str | None, ShareTally] = {}
    if survey is not None and prepared.survey is not None:  # what report.html will show
        by = prepared.scenario.survey.by if prepared.scenario.survey else []
        shares = {b: ShareTally(b, prepared.survey.questionnaire) for b in [None, *by]}
    with ExitStack() as stack:
        sinks: dict[str, RowSink] = dict(digest.sinks())
        sinks["answers"] = Tee(sinks["answers"], *shares.values())
        if tables:
            out_dir = folder / "tables"
            out_dir.mkdir(parents=True, exist_ok=True)
            for name in TABLES:
                csv_sink = stack.enter_context(
                    CsvSink(
                        out_dir / f"{name}.csv",
                        TABLE_COLUMNS[name],
                        keep_empty=name not in MAYBE_EMPTY,
                    )
                )
                sinks[name] = Tee(sinks[name], csv_sink) if name in sinks else csv_sink
        stream = TableStream(sinks)
        for event in read_events(folder / LOG_NAME):
            stream.feed(event)
            digest.observe(event)
            if survey is not None:
                survey.feed(event)
        stream.close()
    return LogViews(digest.digest(stream), survey, shares)


# -- the task's own results -----------------------------------------------------------------


def survey_results(prepared: Prepared, tally: SurveyTally, folder: Path | None) -> dict[str, Any]:
    """Per-question counts and, with a reference file, the comparison metrics."""
    questionnaire = prepared.questionnaire
    section = prepared.scenario.survey
    assert questionnaire is not None and section is not None
    summary = tally.summary(list(section.by))
    out: dict[str, Any] = {
        "questions": len(questionnaire.questions),
        "respondents": tally.respondents,
        "answers": tally.answers,
        "mode": prepared.survey.mode if prepared.survey else questionnaire.mode,
        "method": section.method,
    }
    if folder is not None:
        write_csv(folder / "tables" / "shares.csv", summary.rows())
    if prepared.reference is not None:
        comparison = tally.compare(prepared.reference)
        out["reference"] = {
            "file": section.reference,
            "means": comparison.means(),
            "questions": comparison.rows(),
            "notes": list(comparison.notes),
        }
        if folder is not None:
            write_csv(folder / "tables" / "reference_comparison.csv", comparison.rows())
    return out


def conversation_results(digest: RunDigest) -> dict[str, Any]:
    """End reasons and utterances per conversation."""
    count = digest.summary["conversations"]
    return {
        "end_reasons": dict(digest.end_reasons),
        "utterances_per_conversation": digest.summary["utterances"] / count if count else None,
    }


def plugin_report(prepared: Prepared, log_path: Path) -> Any:
    """The persuasion or focus group task's report object (``to_dict``, ``to_markdown``)."""
    import importlib

    from .scenario_build import TASK_PLUGINS

    task = prepared.scenario.task
    module = importlib.import_module(TASK_PLUGINS[task][0])
    return getattr(module, f"{task}_report")(log_path)


# -- summary.json, the graph and the reports ------------------------------------------------


def build_summary(
    prepared: Prepared,
    views: LogViews,
    *,
    folder: Path,
    elapsed: float,
    extra: Mapping[str, Any] | None = None,
    tables: bool = True,
) -> tuple[dict[str, Any], Any]:
    """``summary.json``'s content, and the task plugin's report (``None`` for the others)."""
    s = prepared.scenario
    summary: dict[str, Any] = {"scenario": s.name, **views.digest.summary}
    summary["task"] = s.task
    summary["elapsed"] = round(elapsed, 3)
    summary["synthetic"] = bool(summary.get("synthetic"))
    if summary["synthetic"]:
        summary["synthetic_note"] = SYNTHETIC_NOTE
    summary.update(extra or {})
    report = None
    if s.task == "survey":
        assert views.survey is not None
        summary["survey"] = survey_results(prepared, views.survey, folder if tables else None)
    elif s.task == "conversation":
        summary["conversation"] = conversation_results(views.digest)
    else:
        report = plugin_report(prepared, folder / LOG_NAME)
        summary[s.task] = report.to_dict()
    return json_safe(summary), report


def graph_size(summary: Mapping[str, Any]) -> int:
    """What ``outputs.graph: auto`` weighs: the run's utterances and answers together."""
    return int(summary.get("utterances") or 0) + int(summary.get("answers") or 0)


def wants_graph(setting: bool | str, summary: Mapping[str, Any]) -> bool:
    """Whether ``outputs.graph`` (``true``, ``false`` or ``auto``) writes this run's graph."""
    if isinstance(setting, bool):
        return setting
    return graph_size(summary) <= GRAPH_AUTO_LIMIT


def graph_note(summary: Mapping[str, Any], log: Path) -> str:
    """``summary.json``'s note on a graph ``auto`` did not write: why, and how to have it."""
    return (
        f"graph.graphml and graph.json not written: the run has {graph_size(summary):,} "
        f"utterances and answers, more than the {GRAPH_AUTO_LIMIT:,} outputs.graph: auto "
        "writes a graph for (it would take more memory and time than the run, and the tables "
        "hold the same). To have it: set outputs.graph: true and resume the run, or in "
        f"Python: vs_sim.ConversationGraph.from_log({str(log)!r}).to_graphml('graph.graphml')"
    )


def write_graph(folder: Path) -> None:
    """``graph.graphml`` and ``graph.json`` (node-link) of the conversation graph."""
    from .graph import ConversationGraph

    graph = ConversationGraph.from_log(folder / LOG_NAME)
    graph.to_graphml(folder / "graph.graphml")
    graph.to_node_link(folder / "graph.json")


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_report(
    prepared: Prepared, summary: Mapping[str, Any], digest: RunDigest, plugin: Any
) -> str:
    """A plain Markdown report: summary, the task's results, a sample transcript."""
    s = prepared.scenario
    lines = [f"# {s.name}", ""]
    if s.description:
        lines += [s.description.strip(), ""]
    if summary.get("synthetic"):
        lines += [f"> **{SYNTHETIC_NOTE}**", ""]
    if summary.get("stopped"):
        lines += [f"> Stopped early: {summary['stopped']} (resume to finish).", ""]
    keys = [
        ("Task", "task"),
        ("Status", "status"),
        ("Model(s)", "models"),
        ("Seed", "seed"),
        ("Units (respondents or conversations)", "conversations"),
        ("Completed", "completed"),
        ("Failed", "failed"),
        ("Unfinished", "unfinished"),
        ("Answers", "answers"),
        ("Utterances", "utterances"),
        ("Model calls", "calls"),
        ("Cache hits", "cache_hits"),
        ("Prompt tokens", "prompt_tokens"),
        ("Completion tokens", "completion_tokens"),
        ("Cost ($)", "cost"),
        ("Elapsed (s)", "elapsed"),
    ]
    lines += ["## Summary", "", "| | |", "|---|---|"]
    for label, key in keys:
        value = summary.get(key)
        shown = ", ".join(value) if isinstance(value, list) else _fmt(value)
        lines.append(f"| {label} | {shown} |")
    lines.append("")
    survey = summary.get("survey")
    if isinstance(survey, Mapping) and isinstance(survey.get("reference"), Mapping):
        lines += _comparison_lines(survey["reference"])
    if plugin is not None and callable(getattr(plugin, "to_markdown", None)):
        lines += [str(plugin.to_markdown()).strip(), ""]
    if digest.transcripts:
        first, rows = next(iter(digest.transcripts.items()))
        lines += [f"## Transcript of {first}", ""]
        for row in rows[:40]:
            text = str(row["text"]).replace("\n", " ")
            lines.append(f"- **{row['name'] or row['speaker']}**: {text}")
        lines.append("")
    graph = "graph in `graph.graphml`" if "graph_note" not in summary else "no graph (see summary)"
    lines.append(f"Event log: `{LOG_NAME}`; tables in `tables/`; {graph}.")
    return "\n".join(lines) + "\n"


def _comparison_lines(ref: Mapping[str, Any]) -> list[str]:
    lines = [f"## Comparison with {ref.get('file')}", ""]
    lines += ["| metric | drawn answers | verbalized (soft) |", "|---|---|---|"]
    means = ref.get("means") or {}
    for metric in ("representativeness", "total_variation", "jensen_shannon"):
        lines.append(
            f"| {metric} | {_fmt(means.get(metric + '_sampled'))} "
            f"| {_fmt(means.get(metric + '_soft'))} |"
        )
    lines += ["", "| question | group | n | representativeness | total variation |"]
    lines.append("|---|---|---|---|---|")
    for row in ref.get("questions") or []:
        group = f"{row['group_attribute']}={row['group_value']}" if row["group_attribute"] else ""
        lines.append(
            f"| {row['question_id']} | {group} | {row['n']} "
            f"| {_fmt(row['representativeness_sampled'])} "
            f"| {_fmt(row['total_variation_sampled'])} |"
        )
    return [*lines, "", *(f"- {note}" for note in ref.get("notes") or []), ""]


@contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """An OSError while writing the run's files, as a ConfigError naming the file."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(
            f"cannot write the run's files: {exc.strerror}", where=str(exc.filename or folder)
        ) from None


def write_outputs(
    prepared: Prepared,
    folder: Path,
    *,
    elapsed: float,
    extra: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write every derived file of ``folder``; returns ``summary.json``'s content and notes.

    Raises:
        ConfigError: A file cannot be written (naming it).
    """
    outputs = prepared.scenario.outputs
    notes: list[str] = []
    with _writing(folder):
        views = read_log(prepared, folder, tables=outputs.tables)
        summary, plugin = build_summary(
            prepared, views, folder=folder, elapsed=elapsed, extra=extra, tables=outputs.tables
        )
        if wants_graph(outputs.graph, summary):
            write_graph(folder)
        elif outputs.graph == "auto":
            summary["graph_note"] = graph_note(summary, folder / LOG_NAME)
            notes.append(
                f"no graph.graphml: {graph_size(summary):,} utterances and answers are more "
                f"than outputs.graph: auto writes one for ({GRAPH_AUTO_LIMIT:,}); summary.json "
                "says how to build it"
            )
            for stale in ("graph.graphml", "graph.json"):  # they would not match the log
                (folder / stale).unlink(missing_ok=True)
        (folder / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if outputs.report != "none":
            text = markdown_report(prepared, summary, views.digest, plugin)
            (folder / "report.md").write_text(text, encoding="utf-8")
    if outputs.report == "html":
        notes.extend(_html_report(prepared, folder, views))
    return summary, notes


def _html_report(prepared: Prepared, folder: Path, views: LogViews) -> list[str]:
    """``report.html``, from the figures the pass gathered (the log is not read again)."""
    from .analysis import Run

    section = prepared.scenario.survey
    run = Run(folder / LOG_NAME, digest=views.digest, shares=views.shares, survey=views.survey)
    try:
        from .report import write_report

        write_report(run, reference=prepared.reference, by=list(section.by) if section else [])
    except ImportError as exc:  # MissingDependency: pandas or matplotlib not installed
        return [f"report.html skipped ({exc}); report.md has the summary"]
    return []
