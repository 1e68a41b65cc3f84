"""``vs-sim run SCENARIO`` and ``vs-sim validate SCENARIO``: a study from a YAML file.

``run`` is :func:`vs_sim.run_scenario` with a live progress bar and a summary table at the
end; ``validate`` checks a scenario (and every file and persona it names) without running.
A bad scenario is one line naming the file, line and field, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..scenario_run import ScenarioRun


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario file (survey, conversation, persuasion, focus group)",
        description=(
            "Run a scenario: sample personas, run every respondent or conversation with "
            "Verbalized Sampling, and write a run folder (event log, graph, tables, summary, "
            "report). With no model configured it runs on the offline model (synthetic text)."
        ),
    )
    p.add_argument("scenario", nargs="?", help="the scenario YAML file (optional with --resume)")
    p.add_argument("--model", help="use this model instead of the scenario's")
    p.add_argument("--n", type=int, help="respondents (survey) or conversations to run")
    p.add_argument("--seed", type=int, help="the run seed")
    p.add_argument("--concurrency", type=int, help="respondents or conversations at once")
    p.add_argument("--max-cost", type=float, metavar="DOLLARS", help="stop the run at this cost")
    p.add_argument("--out", metavar="DIR", help="the run folder (default runs/<name>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print every prompt of the first persona; call no model, write nothing",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or notes")
    p.set_defaults(handler=run)

    v = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        description=(
            "Check scenario files: the schema, and every file, questionnaire, reference, "
            "population and persona template they name. No model is called."
        ),
    )
    v.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files")
    v.set_defaults(handler=validate)


def _console() -> Any:
    from rich.console import Console

    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    return Console(file=sys.stdout, width=width, highlight=False)


def run(args: argparse.Namespace) -> int:
    from ..errors import VSSimError
    from ..run_folder import LOG_NAME
    from ..scenario_run import run_scenario

    folders: list[Path] = []  # the run folder, once run_scenario has made it
    try:
        result = run_scenario(
            args.scenario,
            model=args.model,
            n=args.n,
            seed=args.seed,
            concurrency=args.concurrency,
            max_cost=args.max_cost,
            out=args.out,
            resume=args.resume,
            dry_run=args.dry_run,
            progress=not args.quiet,
            on_folder=folders.append,
        )
    except KeyboardInterrupt:
        if folders:
            print(f"to continue the run: vs-sim run --resume {folders[0]}", file=sys.stderr)
        raise
    except VSSimError as exc:
        # The error alone (a stack trace helps nobody), then where the partial run is.
        if args.quiet or not folders or not (folders[0] / LOG_NAME).is_file():
            raise
        print(f"error: {exc}", file=sys.stderr)
        print(
            f"the partial run is in {folders[0]}; continue it with: "
            f"vs-sim run --resume {folders[0]}",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        for note in result.notes:
            print(f"note: {note}")
        print(result.prompts_text())
        print(f"\n(dry run: {len(result.previews)} prompt(s) shown, no model called)")
        return 0
    print_summary(result)
    return 0


def print_summary(result: ScenarioRun) -> None:
    """The end-of-run table: units done and failed, calls, cache hits, tokens, cost, time."""
    from rich.table import Table

    s = result.summary
    survey = result.scenario.task == "survey"
    unit = "respondents" if survey else "conversations"
    table = Table(title=f"{result.scenario.name} · {result.scenario.task}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    cost = s.get("cost")
    rows = [
        (f"{unit} done", s.get("completed")),
        (f"{unit} failed", s.get("failed")),
        (f"{unit} unfinished", s.get("unfinished")),
        ("answers" if survey else "utterances", s.get("answers" if survey else "utterances")),
        ("model calls", s.get("calls")),
        ("cache hits", s.get("cache_hits")),
        ("tokens", f"{(s.get('prompt_tokens') or 0) + (s.get('completion_tokens') or 0):,}"),
        ("cost", "unknown" if cost is None else f"${cost:.4f}"),
        ("time", f"{float(s.get('elapsed') or 0):.1f} s"),
    ]
    reference = (s.get("survey") or {}).get("reference") if survey else None
    if isinstance(reference, dict):
        means = reference.get("means") or {}
        value = means.get("representativeness_sampled")
        if value is not None:
            rows.append(("representativeness vs reference", f"{value:.3f}"))
    for label, value in rows:
        table.add_row(label, "—" if value is None else str(value))
    console = _console()
    console.print(table)
    console.print(f"run folder: {result.folder}", markup=False)
    if result.stopped:
        console.print(f"[yellow]stopped early ({result.stopped}); resume to finish[/yellow]")
    if result.synthetic:
        console.print(
            "[yellow]synthetic: this run used the offline model; its text is made up, not "
            "written by a language model[/yellow]"
        )


def validate(args: argparse.Namespace) -> int:
    """Check every file given, reporting each; exit code 2 when any of them failed."""
    from ..errors import VSSimError
    from ..scenarios import load_scenario, validate_scenario

    failed = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path, check=False)
            prepared = validate_scenario(scenario)
        except VSSimError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        n = prepared.n
        unit = {"survey": "respondent", "persuasion": "dialogue", "focus_group": "group"}.get(
            scenario.task, "conversation"
        )
        what = f"{n} {unit}{'s' if n != 1 else ''}"
        if prepared.questionnaire is not None:
            what += f" × {len(prepared.questionnaire)} questions"
        model = scenario.model_spec.name
        synthetic = " (synthetic text)" if scenario.synthetic else ""
        print(f"ok  {path}: {scenario.task}, {what}, model {model}{synthetic}")
    if failed and len(args.scenarios) > 1:
        print(f"{failed} of {len(args.scenarios)} scenario files failed", file=sys.stderr)
    return 2 if failed else 0
