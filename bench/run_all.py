"""All six benchmarks of issue 7, in order, then one table of figures against their targets.

What ``make bench`` runs. Each benchmark is its own script, run here in a fresh process with
its output shown as it comes:

1. and 6. ``bench/throughput.py``: VS calls/s against a raw aiohttp client at concurrency 64
   and 50 ms latency, then a re-run from the cache;
2. ``bench/overhead.py``: the CPU vs_sim adds per turn ÷ a raw client's CPU per call;
3. ``bench/startup.py``: ``import vs_sim`` and ``vs-sim --help``;
4. ``bench/scale.py``: a 10,000-respondent × 5-question survey on the offline model;
5. ``bench/cost.py``: tokens per distinct sample, VS-Standard vs Direct.

The figures are read from each script's ``--json`` file (throughput's from its printed
summary). Nothing here passes or fails: the table says which targets this machine met.

    python bench/run_all.py            # everything (about five minutes on 2 cores)
    python bench/run_all.py --quick    # smaller sizes, for a first look
    python bench/run_all.py --only 2 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    """One line of the final table."""

    benchmark: str
    figure: str
    value: str
    target: str = "—"
    met: bool | None = None


def run_script(name: str, args: list[str]) -> str:
    """Run ``bench/<name>`` with ``args``, echo its output live, and return the output."""
    command = [sys.executable, str(BENCH / name), *args]
    print(f"$ python bench/{name} {' '.join(args)}".rstrip(), flush=True)
    proc = subprocess.Popen(
        command,
        cwd=BENCH.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(f"  {line}", end="", flush=True)
        lines.append(line)
    proc.wait()
    if proc.returncode != 0:
        print(f"  (bench/{name} exited with code {proc.returncode})", flush=True)
    return "".join(lines)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def missing(benchmark: str, figure: str, target: str = "—") -> Row:
    return Row(benchmark, figure, "not measured", target, None)


# -- one function per benchmark: run it, return its rows --------------------------------------


def bench_throughput(quick: bool, tmp: Path) -> list[Row]:
    """Benchmarks 1 and 6: figures parsed from ``throughput.py``'s printed summary."""
    args = ["--calls", "500", "--rounds", "1"] if quick else []
    out = run_script("throughput.py", args)
    rows = []
    median = re.search(r"median ([\d.]+) \(target >= ([\d.]+)\)", out)
    if median:
        value, target = float(median.group(1)), float(median.group(2))
        rows.append(
            Row(
                "1 throughput",
                "vs_sim ÷ raw aiohttp calls/s",
                f"{value:.2f}",
                f">= {target:g}",
                value >= target,
            )
        )
    else:
        rows.append(missing("1 throughput", "vs_sim ÷ raw aiohttp calls/s", ">= 0.8"))
    lean = re.search(r"^vs_sim \(lean client\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if lean:
        rows.append(
            Row(
                "1 throughput",
                "vs_sim calls/s (÷ ideal)",
                f"{float(lean.group(2)):.0f} ({float(lean.group(4)):.2f})",
            )
        )
    cache = re.search(
        r"second pass \(from the cache\)\s+server calls\s+(\d+).*?wall\s+([\d.]+) s", out
    )
    if cache:
        calls, wall = int(cache.group(1)), float(cache.group(2))
        rows.append(Row("6 cache", "model calls on the re-run", str(calls), "= 0", calls == 0))
        rows.append(Row("6 cache", "re-run wall time", f"{wall:.2f} s"))
    else:
        rows.append(missing("6 cache", "model calls on the re-run", "= 0"))
    return rows


def bench_overhead(quick: bool, tmp: Path) -> list[Row]:
    """Benchmark 2."""
    path = tmp / "overhead.json"
    args = ["--json", str(path), "--profile"]
    if quick:
        args += ["--rounds", "1", "--conversations", "30", "--respondents", "60"]
    run_script("overhead.py", args)
    data = read_json(path)
    if data is None:
        return [missing("2 overhead", "CPU per turn ÷ raw client CPU per call", "<= 0.5")]
    target = float(data["target"])
    run_only = data["turn_cpu_ms"] / data["raw_call_cpu_ms"]
    return [
        Row(
            "2 overhead",
            "CPU per turn (run + log + graph) ÷ raw call",
            f"{data['ratio']:.2f}",
            f"<= {target:g}",
            data["ratio"] <= target,
        ),
        Row(
            "2 overhead",
            "  of which run + event log only",
            f"{run_only:.2f}",
            f"<= {target:g}",
            run_only <= target,
        ),
        Row(
            "2 overhead",
            "  CPU ms: turn / graph per turn / raw call",
            f"{data['turn_cpu_ms']:.2f} / {data['graph_cpu_ms_per_turn']:.2f} / "
            f"{data['raw_call_cpu_ms']:.2f}",
        ),
    ]


def bench_startup(quick: bool, tmp: Path) -> list[Row]:
    """Benchmark 3."""
    path = tmp / "startup.json"
    run_script("startup.py", ["--json", str(path), "--runs", "5" if quick else "9"])
    data = read_json(path)
    if data is None:
        return [missing("3 start-up", "import vs_sim", "< 0.3 s")]
    imp, hlp = data["import_s"], data["help_s"]
    return [
        Row(
            "3 start-up",
            "import vs_sim",
            f"{imp:.3f} s",
            f"< {data['import_target_s']:g} s",
            imp < data["import_target_s"] and not data["heavy_modules"],
        ),
        Row(
            "3 start-up",
            "vs-sim --help",
            f"{hlp:.3f} s",
            f"< {data['help_target_s']:g} s",
            hlp < data["help_target_s"],
        ),
    ]


def bench_scale(quick: bool, tmp: Path) -> list[Row]:
    """Benchmark 4."""
    path = tmp / "scale.json"
    sizes = ["200", "2000"] if quick else ["1000", "10000"]
    run_script("scale.py", ["--json", str(path), "--end-to-end", "--sizes", *sizes])
    data = read_json(path)
    if data is None or len(data["runner"]["sizes"]) < 2:
        return [missing("4 scale", "peak memory flat", "<= 1.1×")]
    runner, flat = data["runner"], data["flat_target"]
    small, big = runner["sizes"][0], runner["sizes"][-1]
    rows = [
        Row(
            "4 scale",
            f"n={big['n']:,} × {big['questions']} questions: wall time",
            f"{big['wall_s']:.1f} s ({big['respondents_per_s']:.0f}/s)",
        ),
        Row("4 scale", f"peak RSS at n={big['n']:,}", f"{big['rss_peak_mb']:.0f} MB"),
        Row("4 scale", "event-log bytes per respondent", f"{big['log_bytes_per_respondent']:.0f}"),
        Row(
            "4 scale",
            f"run's memory n={big['n']:,} ÷ n={small['n']:,}",
            f"{runner['run_share_ratio']:.2f}×",
            f"<= {flat:g}×",
            runner["run_share_ratio"] <= flat,
        ),
        Row("4 scale", "  peak RSS, whole process", f"{runner['peak_ratio']:.2f}×"),
    ]
    end = data.get("end_to_end")
    if end and len(end["sizes"]) > 1:
        rows.append(
            Row(
                "4 scale",
                "  end to end (run_scenario + tables)",
                f"{end['run_share_ratio']:.2f}× ({end['sizes'][-1]['rss_peak_mb']:.0f} MB)",
                f"<= {flat:g}×",
                end["run_share_ratio"] <= flat,
            )
        )
    return rows


def bench_cost(quick: bool, tmp: Path) -> list[Row]:
    """Benchmark 5."""
    path = tmp / "cost.json"
    run_script("cost.py", ["--json", str(path)])
    data = read_json(path)
    if data is None:
        return [missing("5 cost", "tokens per distinct sample, VS-Standard ÷ Direct")]
    vs, direct = data["vs_standard"], data["direct"]
    return [
        Row(
            "5 cost",
            "tokens per distinct sample: VS-Standard / Direct",
            f"{vs['tokens_per_distinct']:.1f} / {direct['tokens_per_distinct']:.1f}",
        ),
        Row(
            "5 cost",
            "  VS-Standard ÷ Direct (offline estimates)",
            f"{data['vs_over_direct_per_distinct']:.2f}",
        ),
    ]


BENCHMARKS: dict[str, tuple[str, Callable[[bool, Path], list[Row]]]] = {
    "1": ("throughput and cache (1 and 6)", bench_throughput),
    "2": ("overhead", bench_overhead),
    "3": ("start-up", bench_startup),
    "4": ("scale", bench_scale),
    "5": ("cost", bench_cost),
}


def print_table(rows: list[Row]) -> None:
    width = max(len(r.figure) for r in rows) + 2
    value_width = max(len(r.value) for r in rows) + 2
    print(f"\n{'benchmark':<14}{'figure':<{width}}{'value':>{value_width}}  {'target':<10}met?")
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        print(f"{r.benchmark:<14}{r.figure:<{width}}{r.value:>{value_width}}  {r.target:<10}{met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a first look)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*sorted(BENCHMARKS), "6"],
        help="run only these benchmarks (1 and 6 are one script)",
    )
    args = parser.parse_args()
    wanted = {"1" if b == "6" else b for b in (args.only or BENCHMARKS)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"vs_sim benchmarks (issue 7); {os.cpu_count()} cores, load average {load:.1f} at the "
        "start; the machine's other work moves every figure\n",
        flush=True,
    )
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for key, (title, run) in BENCHMARKS.items():
            if key not in wanted:
                continue
            print(f"\n== {key}. {title} ==", flush=True)
            rows.extend(run(args.quick, Path(tmp)))
    print_table(rows)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
