"""A run folder's derived files, rebuilt from its event log (the truth).

``events.jsonl`` and ``scenario.yaml`` are written while a scenario runs; everything here
is a view of the log, written at the end and rewritten after a resume:

- ``graph.graphml`` and ``graph.json`` (node-link) — :class:`~vs_sim.graph.ConversationGraph`;
- ``tables/*.csv`` — personas, answers or utterances, candidates, choices, calls,
  conversations (the rows of :mod:`vs_sim.analysis.rows`), plus survey shares and the
  reference comparison;
- ``summary.json`` — counts, calls, cache hits, tokens, cost, time, the synthetic flag and
  the task's own results (survey comparison metrics, donation statistics, ...);
- ``report.md``, and ``report.html`` (:func:`vs_sim.report.write_report`) when asked for
  and pandas and matplotlib are installed.

CSV cells holding lists or dicts are JSON text. No pandas is needed to write any of it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis import rows as R
from .errors import ConfigError
from .events import Event, read_events

if TYPE_CHECKING:
    from .scenario_build import Prepared

LOG_NAME = "events.jsonl"
SYNTHETIC_NOTE = (
    "SYNTHETIC: no language model was used. This run's text comes from the offline model "
    "(offline/demo), which makes up plausible-looking answers; do not draw conclusions from it."
)
TABLES: tuple[str, ...] = (
    "personas",
    "answers",
    "utterances",
    "candidates",
    "choices",
    "calls",
    "conversations",
)
_BUILDERS = {
    "personas": R.persona_rows,
    "answers": R.answer_rows,
    "utterances": R.utterance_rows,
    "candidates": R.candidate_rows,
    "choices": R.choice_rows,
    "calls": R.call_rows,
    "conversations": R.conversation_rows,
}


def json_safe(value: Any) -> Any:
    """``value`` with tuples as lists and NaN/inf as ``None`` (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(json_safe(value), ensure_ascii=False)
    if value is None:
        return ""
    return value


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ()) -> None:
    """Rows as CSV with ``columns`` first, then any other keys in first-seen order."""
    header = list(columns)
    header += [k for k in dict.fromkeys(k for row in rows for k in row) if k not in header]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in header])


def write_tables(folder: Path, events: Sequence[Event]) -> list[Path]:
    """Every table with rows in it, as ``folder/tables/<name>.csv``."""
    out_dir = folder / "tables"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        rows = _BUILDERS[name](events)
        if not rows and name in ("answers", "utterances", "candidates", "choices"):
            continue
        path = out_dir / f"{name}.csv"
        write_csv(path, rows, R.TABLE_COLUMNS[name])
        written.append(path)
    return written


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


def write_graph(folder: Path, events: Sequence[Event]) -> None:
    """``graph.graphml`` and ``graph.json`` (node-link) of the conversation graph."""
    from .graph import ConversationGraph

    graph = ConversationGraph.from_events(events)
    graph.to_graphml(folder / "graph.graphml")
    graph.to_node_link(folder / "graph.json")


# -- the task's own results -----------------------------------------------------------------


def survey_results(
    prepared: Prepared, events: Sequence[Event], folder: Path | None
) -> dict[str, Any]:
    """Per-question counts and, with a reference file, the comparison metrics."""
    from .tasks.survey_analysis import load_answers, summarize
    from .tasks.survey_reference import compare_to_reference

    questionnaire = prepared.questionnaire
    section = prepared.scenario.survey
    assert questionnaire is not None and section is not None
    answers = load_answers(events)
    summary = summarize(answers, questionnaire, by=list(section.by) or None)
    out: dict[str, Any] = {
        "questions": len(questionnaire.questions),
        "respondents": len(answers.respondents()),
        "answers": len(answers),
        "mode": prepared.survey.mode if prepared.survey else questionnaire.mode,
        "method": section.method,
    }
    if folder is not None:
        write_csv(folder / "tables" / "shares.csv", summary.rows())
    if prepared.reference is not None:
        comparison = compare_to_reference(answers, prepared.reference, questionnaire)
        out["reference"] = {
            "file": section.reference,
            "means": comparison.means(),
            "questions": comparison.rows(),
            "notes": list(comparison.notes),
        }
        if folder is not None:
            write_csv(folder / "tables" / "reference_comparison.csv", comparison.rows())
    return out


def conversation_results(events: Sequence[Event]) -> dict[str, Any]:
    """End reasons and utterances per conversation."""
    rows = R.conversation_rows(events)
    reasons = Counter(str(r["reason"]) for r in rows if r["reason"] is not None)
    counts = [r["utterances"] for r in rows]
    return {
        "end_reasons": dict(sorted(reasons.items())),
        "utterances_per_conversation": (sum(counts) / len(counts)) if counts else None,
    }


def plugin_report(prepared: Prepared, log_path: Path) -> Any:
    """The persuasion or focus group task's report object (``to_dict``, ``to_markdown``)."""
    import importlib

    from .scenario_build import TASK_PLUGINS

    task = prepared.scenario.task
    module = importlib.import_module(TASK_PLUGINS[task][0])
    return getattr(module, f"{task}_report")(log_path)


# -- summary.json and reports ---------------------------------------------------------------


def build_summary(
    prepared: Prepared,
    events: Sequence[Event],
    *,
    folder: Path,
    elapsed: float,
    extra: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """``summary.json``'s content, and the task plugin's report (``None`` for the others)."""
    s = prepared.scenario
    summary: dict[str, Any] = {"scenario": s.name, **R.run_summary(events)}
    summary["task"] = s.task
    summary["elapsed"] = round(elapsed, 3)
    summary["synthetic"] = bool(summary.get("synthetic"))
    if summary["synthetic"]:
        summary["synthetic_note"] = SYNTHETIC_NOTE
    summary.update(extra or {})
    report = None
    if s.task == "survey":
        summary["survey"] = survey_results(prepared, events, folder)
    elif s.task == "conversation":
        summary["conversation"] = conversation_results(events)
    else:
        report = plugin_report(prepared, folder / LOG_NAME)
        summary[s.task] = report.to_dict()
    return json_safe(summary), report


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_report(
    prepared: Prepared, summary: Mapping[str, Any], events: Sequence[Event], plugin: Any
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
        ref = survey["reference"]
        lines += [f"## Comparison with {ref.get('file')}", ""]
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
            group = (
                f"{row['group_attribute']}={row['group_value']}" if row["group_attribute"] else ""
            )
            lines.append(
                f"| {row['question_id']} | {group} | {row['n']} "
                f"| {_fmt(row['representativeness_sampled'])} "
                f"| {_fmt(row['total_variation_sampled'])} |"
            )
        lines += ["", *(f"- {note}" for note in ref.get("notes") or []), ""]
    if plugin is not None and callable(getattr(plugin, "to_markdown", None)):
        lines += [str(plugin.to_markdown()).strip(), ""]
    transcript = [r for r in R.utterance_rows(events)]
    if transcript:
        first = transcript[0]["conversation_id"]
        lines += [f"## Transcript of {first}", ""]
        for row in [r for r in transcript if r["conversation_id"] == first][:40]:
            text = str(row["text"]).replace("\n", " ")
            lines.append(f"- **{row['name'] or row['speaker']}**: {text}")
        lines.append("")
    lines.append(f"Event log: `{LOG_NAME}`; tables in `tables/`; graph in `graph.graphml`.")
    return "\n".join(lines) + "\n"


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
    log_path = folder / LOG_NAME
    events = list(read_events(log_path))
    outputs = prepared.scenario.outputs
    notes: list[str] = []
    try:
        if outputs.tables:
            write_tables(folder, events)
        summary, plugin = build_summary(
            prepared, events, folder=folder, elapsed=elapsed, extra=extra
        )
        if outputs.graph:
            write_graph(folder, events)
        (folder / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if outputs.report != "none":
            text = markdown_report(prepared, summary, events, plugin)
            (folder / "report.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the run's files: {exc.strerror}", where=str(exc.filename or folder)
        ) from None
    if outputs.report == "html":
        notes.extend(_html_report(prepared, folder))
    return summary, notes


def _html_report(prepared: Prepared, folder: Path) -> list[str]:
    section = prepared.scenario.survey
    try:
        from .report import write_report

        write_report(folder, reference=prepared.reference, by=list(section.by) if section else [])
    except ImportError as exc:  # MissingDependency: pandas or matplotlib not installed
        return [f"report.html skipped ({exc}); report.md has the summary"]
    return []
