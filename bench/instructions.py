"""Benchmark 2's workloads counted in machine instructions, under valgrind: a figure the load
of a shared machine does not move.

CPU seconds on a shared 2-core VM vary by ±25% from round to round (``bench/overhead.py``
prints them round by round), so a change worth 5% cannot be seen in them. The number of
instructions a workload executes hardly varies at all. This script runs each workload of
``bench/overhead.py`` at two sizes under ``valgrind --tool=cachegrind`` and prints the
difference per unit of work (imports, warm-up and start-up cancel out):

- ``turn``: a conversation turn of the run (engine, model wrappers, parsing, sampling, log);
- ``graph``: the run folder's graph files built from the log, per turn;
- ``answer``: a survey answer (run and log).

Instructions are a proxy, not time: here about 4,500 of them take a microsecond, and code
valgrind emulates differently (SHA-256, which it runs without the CPU's SHA instructions)
is over-counted. Compare counts of one workload across commits, not across workloads.

    python bench/instructions.py                 # all three (about 5 minutes)
    python bench/instructions.py turn graph
    python bench/instructions.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SIZES = {"turn": (0, 100), "graph": (100, 200), "answer": (0, 100)}
"""Per workload: the two sizes (conversations, or respondents) whose difference is counted."""
UNITS = {"turn": 10, "graph": 10, "answer": 5}
"""Units of work per conversation (turns) or per respondent (answers)."""


def _workload(what: str, n: int, folder: Path) -> None:
    """Run one workload at size ``n`` in this process (what valgrind counts)."""
    sys.path.insert(0, str(BENCH))
    from overhead import graph_cpu, run_conversations_cpu, survey_cpu

    out = Path(tempfile.mkdtemp(dir=folder))  # this run's own files (logs must be new)
    if what == "turn":
        run_conversations_cpu(4, 10, out / "warm.jsonl")
        if n:
            run_conversations_cpu(n, 10, out / "run.jsonl")
    elif what == "graph":
        graph_cpu(folder / "log-4.jsonl", out)  # imports and first calls
        graph_cpu(folder / f"log-{n}.jsonl", out)
    else:
        (out / "warm").mkdir()
        survey_cpu(4, out / "warm")
        if n:
            survey_cpu(n, out)


def _count(what: str, n: int, folder: Path) -> int:
    """Instructions valgrind counts for one workload run at size ``n`` in a fresh process."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        what,
        str(n),
        str(folder),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run of {what} (n={n}) failed:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def _graph_logs(folder: Path) -> None:
    """The logs the graph workload reads, made once (outside valgrind)."""
    sys.path.insert(0, str(BENCH))
    from overhead import run_conversations_cpu

    for n in (4, *SIZES["graph"]):
        run_conversations_cpu(n, 10, folder / f"log-{n}.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="*", help="turn, graph, answer (default: all three)")
    parser.add_argument("--json", metavar="PATH", help="also write the counts as JSON")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, n, folder = args.child
        _workload(what, int(n), Path(folder))
        return
    unknown = sorted(set(args.what) - SIZES.keys())
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    args.what = args.what or list(SIZES)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt install valgrind): nothing counted")
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "graph" in args.what:
            _graph_logs(folder)
        for what in args.what:
            small, large = SIZES[what]
            units = (large - small) * UNITS[what]
            counts[what] = (_count(what, large, folder) - _count(what, small, folder)) // units
            unit = "answer" if what == "answer" else "turn"
            print(f"{what:<8}{counts[what]:>12,} instructions per {unit}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(counts, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
