"""Benchmark 4 of issue 7: a 10,000-respondent × 5-question survey on the offline model.

Each size runs in a fresh process (peak memory is a per-process high-water mark) that
samples the respondents from the built-in US adults population, builds the survey and runs
it with ``run_survey`` on ``offline/demo`` into an event log. It reports:

- wall time of the run, and respondents per second;
- peak memory: the process's RSS high-water mark (``resource.getrusage``), before the run
  (interpreter, imports, the personas) and after it; the run's own share is the difference;
- event-log bytes per respondent.

Peak memory must stay flat from n = 1,000 to 10,000: the runner keeps no events or results
in memory as a run goes on (the log on disk is the record). The personas themselves grow
with n (they are the input), so "flat" is judged on the run's share.

The whole ``vs-sim run`` is measured too, as a user runs it: one ``vs-sim run`` process per
size (its peak RSS read with ``getrusage(RUSAGE_CHILDREN)`` by a fresh parent, so sizes do
not mix), once with every output off (the run alone: event log and ``summary.json``) and
once with the default outputs (tables, graph as ``auto`` decides, ``report.md`` and
``report.html``, which imports pandas and matplotlib). Its ratio is of the whole process.

    python bench/scale.py                       # n = 1,000 and 10,000
    python bench/scale.py --sizes 1000 --json out.json
    python bench/scale.py --only-cli            # just the two vs-sim run tables
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = REPO / "scenarios" / "data" / "opinion_questions.yaml"
US_ADULTS = REPO / "personas" / "populations" / "us_adults.yaml"
QUESTIONS = ["climate_worry", "remote_work", "ai_jobs", "four_day_week", "news_source"]
FLAT = 1.10
"""Peak memory at the largest size may be at most this many times that at the smallest."""
FLAT_CLI = 1.20
"""The same for a whole ``vs-sim run`` process (interpreter, imports and personas included)."""
REFERENCE = REPO / "scenarios" / "data" / "opinion_reference.csv"


def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(
    n: int, folder: Path, concurrency: int, end_to_end: bool, cli: str | None = None
) -> dict[str, Any]:
    """One size, in this (fresh) process: build, run, measure."""
    if cli:
        return cli_child(n, folder, concurrency, outputs=cli == "full")
    if end_to_end:
        return child_scenario(n, folder, concurrency)
    from vs_sim.population import Population
    from vs_sim.tasks.questionnaire import load_questionnaire
    from vs_sim.tasks.survey import run_survey

    data = load_questionnaire(QUESTIONNAIRE).to_dict()
    data["questions"] = [q for q in data["questions"] if q["id"] in QUESTIONS]
    people = Population.from_yaml(US_ADULTS).sample(n, seed=1)
    log = folder / f"survey-{n}.jsonl"
    before = peak_rss_mb()
    start = time.perf_counter()
    cpu0 = time.process_time()
    result = run_survey(
        data,
        people,
        model="offline/demo",
        seed=1,
        log_path=log,
        concurrency=concurrency,
        progress=False,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    if result.run.completed != n:
        raise SystemExit(f"only {result.run.completed} of {n} respondents completed")
    return figures(n, log, wall, cpu, before, result.run.calls)


def child_scenario(n: int, folder: Path, concurrency: int) -> dict[str, Any]:
    """The same survey through ``run_scenario``: the run, then the run folder's derived files."""
    from vs_sim.scenario_run import run_scenario
    from vs_sim.scenarios import parse_scenario

    data = {
        "name": "scale",
        "task": "survey",
        "seed": 1,
        "n": n,
        "concurrency": concurrency,
        "population": str(US_ADULTS),
        "model": "offline/demo",
        "survey": {"questionnaire": str(QUESTIONNAIRE), "questions": QUESTIONS},
        "outputs": {"report": "none"},
    }
    scenario = parse_scenario(data, file=folder / "scale.yaml")
    before = peak_rss_mb()
    start = time.perf_counter()
    cpu0 = time.process_time()
    run = run_scenario(scenario, out=folder / "run", progress=False)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    if run.summary.get("completed") != n:
        raise SystemExit(f"only {run.summary.get('completed')} of {n} respondents completed")
    return figures(n, folder / "run" / "events.jsonl", wall, cpu, before, run.summary["calls"])


def cli_scenario(n: int, concurrency: int, outputs: bool) -> dict[str, Any]:
    """The survey as a scenario file, with the default outputs or with every output off."""
    return {
        "name": "scale",
        "task": "survey",
        "seed": 1,
        "n": n,
        "concurrency": concurrency,
        "population": str(US_ADULTS),
        "model": "offline/demo",
        "survey": {
            "questionnaire": str(QUESTIONNAIRE),
            "questions": QUESTIONS,
            "reference": str(REFERENCE),
            "by": ["party"],
        },
        "outputs": {} if outputs else {"tables": False, "graph": False, "report": "none"},
    }


def cli_child(n: int, folder: Path, concurrency: int, outputs: bool) -> dict[str, Any]:
    """Run ``vs-sim run`` as this (fresh) process's only child and read its peak RSS."""
    scenario = folder / "scale.yaml"
    scenario.write_text(json.dumps(cli_scenario(n, concurrency, outputs)))  # JSON is YAML
    out = folder / "run"
    code = "import sys; from vs_sim.cli import main; sys.exit(main())"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, "run", str(scenario), "--out", str(out), "--quiet"],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if summary.get("completed") != n:
        raise SystemExit(f"only {summary.get('completed')} of {n} respondents completed")
    size = (out / "events.jsonl").stat().st_size
    written = sorted(p.name for p in out.iterdir())
    return {
        "n": n,
        "questions": len(QUESTIONS),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "respondents_per_s": n / wall,
        "rss_peak_mb": peak,
        "log_bytes": size,
        "log_bytes_per_respondent": size / n,
        "calls": summary["calls"],
        "files": written,
        "graph_note": summary.get("graph_note"),
    }


def figures(
    n: int, log: Path, wall: float, cpu: float, before: float, calls: int
) -> dict[str, Any]:
    """What one size did, as the parent prints it."""
    size = log.stat().st_size
    return {
        "n": n,
        "questions": len(QUESTIONS),
        "wall_s": wall,
        "cpu_s": cpu,
        "respondents_per_s": n / wall,
        "rss_before_mb": before,
        "rss_peak_mb": peak_rss_mb(),
        "log_bytes": size,
        "log_bytes_per_respondent": size / n,
        "calls": calls,
    }


def measure(n: int, concurrency: int, end_to_end: bool, cli: str = "") -> dict[str, Any]:
    """Run one size in a fresh interpreter and read its figures (``cli``: ``off`` or ``full``
    to measure a ``vs-sim run`` child of that interpreter instead)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--folder", tmp]
            + ["--concurrency", str(concurrency)]
            + (["--child-end-to-end"] if end_to_end else [])
            + (["--child-cli", cli] if cli else []),
            check=True,
            capture_output=True,
            text=True,
        )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def cli_table(label: str, sizes: list[int], concurrency: int, outputs: bool) -> dict[str, Any]:
    """Measure ``vs-sim run`` at every size, print one table and the whole-process ratio."""
    print(label)
    print(f"{'n':>7}{'wall s':>9}{'resp/s':>9}{'CPU s':>8}{'RSS peak':>11}{'bytes/resp':>12}")
    rows = []
    for n in sizes:
        r = measure(n, concurrency, False, "full" if outputs else "off")
        rows.append(r)
        print(
            f"{n:>7}{r['wall_s']:>9.1f}{r['respondents_per_s']:>9.0f}{r['cpu_s']:>8.1f}"
            f"{r['rss_peak_mb']:>9.1f}MB{r['log_bytes_per_respondent']:>12.0f}"
        )
        if outputs:
            print(f"{'':>7}wrote: {', '.join(r['files'])}")
    out: dict[str, Any] = {"sizes": rows}
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        out["peak_ratio"] = big["rss_peak_mb"] / small["rss_peak_mb"]
        print(
            f"peak RSS of the whole vs-sim run process at n={big['n']:,} ÷ at "
            f"n={small['n']:,}: {out['peak_ratio']:.2f}× (target <= {FLAT_CLI})"
        )
    print()
    return out


def table(label: str, sizes: list[int], concurrency: int, end_to_end: bool) -> dict[str, Any]:
    """Measure every size, print one table and the flatness verdict; return the figures."""
    print(label)
    print(
        f"{'n':>7}{'wall s':>9}{'resp/s':>9}{'CPU s':>8}{'RSS before':>12}{'RSS peak':>10}"
        f"{'run share':>11}{'log MB':>9}{'bytes/resp':>12}"
    )
    rows = []
    for n in sizes:
        r = measure(n, concurrency, end_to_end)
        rows.append(r)
        print(
            f"{n:>7}{r['wall_s']:>9.1f}{r['respondents_per_s']:>9.0f}{r['cpu_s']:>8.1f}"
            f"{r['rss_before_mb']:>10.1f}MB{r['rss_peak_mb']:>8.1f}MB"
            f"{r['rss_peak_mb'] - r['rss_before_mb']:>9.1f}MB"
            f"{r['log_bytes'] / 1e6:>9.1f}{r['log_bytes_per_respondent']:>12.0f}"
        )
    out: dict[str, Any] = {"sizes": rows}
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        run_small = small["rss_peak_mb"] - small["rss_before_mb"]
        run_big = big["rss_peak_mb"] - big["rss_before_mb"]
        out.update(
            peak_ratio=big["rss_peak_mb"] / small["rss_peak_mb"],
            run_share_ratio=run_big / run_small if run_small > 0 else float("inf"),
            per_extra_respondent_kb=(big["rss_peak_mb"] - small["rss_peak_mb"])
            * 1024
            / (big["n"] - small["n"]),
        )
        print(
            f"peak RSS at n={big['n']:,} ÷ at n={small['n']:,}: {out['peak_ratio']:.2f}; the "
            f"run's own share: {run_small:.1f} MB → {run_big:.1f} MB "
            f"({out['run_share_ratio']:.2f}×, target <= {FLAT}); "
            f"{out['per_extra_respondent_kb']:.1f} KB more peak per extra respondent; "
            f"before the run (imports, personas): {small['rss_before_mb']:.1f} MB → "
            f"{big['rss_before_mb']:.1f} MB"
        )
    print()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also through run_scenario: the run and the run folder's tables, graph and summary",
    )
    parser.add_argument(
        "--only-cli", action="store_true", help="only the two whole vs-sim run tables"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--child-end-to-end", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-cli", choices=["off", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        result = child(
            args.child, Path(args.folder), args.concurrency, args.child_end_to_end, args.child_cli
        )
        print(json.dumps(result))
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"survey of n respondents × {len(QUESTIONS)} questions on offline/demo, concurrency "
        f"{args.concurrency}, each size in a fresh process; {os.cpu_count()} cores, "
        f"load average {load:.1f}\n"
    )
    out: dict[str, Any] = {"flat_target": FLAT, "flat_cli_target": FLAT_CLI, "load_average": load}
    if not args.only_cli:
        out["runner"] = table(
            "the run (run_survey: runner, respondents, event log)",
            args.sizes,
            args.concurrency,
            False,
        )
    out["cli_run_only"] = cli_table(
        "vs-sim run, every output off (the run, event log, summary.json)",
        args.sizes,
        args.concurrency,
        outputs=False,
    )
    out["cli_full"] = cli_table(
        "vs-sim run, default outputs (tables, graph: auto, report.md and report.html)",
        args.sizes,
        args.concurrency,
        outputs=True,
    )
    if args.end_to_end and not args.only_cli:
        out["end_to_end"] = table(
            "end to end (run_scenario: the run, then tables, graph and summary.json)",
            args.sizes,
            args.concurrency,
            True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
