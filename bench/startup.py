"""Benchmark 3 of issue 7: how fast ``import vs_sim`` and ``vs-sim --help`` are, in fresh processes.

Each figure is the median of several fresh interpreters (the first one is thrown away: it
warms the OS file cache and writes any missing ``.pyc`` files):

- ``import vs_sim``: the time the import statement takes inside the process
  (``time.perf_counter`` around it), target < 0.3 s;
- ``vs-sim --help``: the wall time of the whole command, interpreter start included, as a
  user waits for it, target < 0.5 s;
- a bare ``python -c pass`` for comparison (what no Python program can beat).

It also checks that the import pulls in none of the slow optional packages (litellm, pandas,
matplotlib, torch).

    python bench/startup.py [--runs 9] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPORT_TARGET = 0.3
HELP_TARGET = 0.5
HEAVY = ("litellm", "pandas", "matplotlib", "torch", "openai", "scipy")

PUBLIC = "from vs_sim import verbalize, build_model, run_scenario, Distribution"
"""Loads what a first ``verbalize`` or ``run_scenario`` needs (``import vs_sim`` is lazy)."""


def probe_code(statement: str) -> str:
    """A one-liner timing ``statement`` and listing the heavy modules loaded after it."""
    return (
        f"import sys, time, json; t = time.perf_counter(); {statement}; "
        "dt = time.perf_counter() - t; "
        f"print(json.dumps({{'seconds': dt, 'heavy': [m for m in {list(HEAVY)!r} "
        "if m in sys.modules], 'modules': len(sys.modules)}))"
    )


def vs_sim_command() -> list[str]:
    """How to run ``vs-sim``: the installed script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).with_name("vs-sim")
    if script.exists():
        return [str(script)]
    found = shutil.which("vs-sim")
    return [found] if found else [sys.executable, "-m", "vs_sim.cli"]


def wall(command: list[str]) -> float:
    """Seconds the command takes from start to exit (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def import_probe(statement: str = "import vs_sim") -> dict[str, object]:
    """One fresh interpreter timing ``statement`` and listing heavy modules it loaded."""
    out = subprocess.run(
        [sys.executable, "-c", probe_code(statement)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per figure")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"median of {args.runs} fresh processes each (one warm-up dropped); "
        f"{os.cpu_count()} cores, load average {load:.1f}\n"
    )

    import_probe()
    probes = [import_probe() for _ in range(args.runs)]
    imports = [float(p["seconds"]) for p in probes]  # type: ignore[arg-type]
    heavy = sorted({m for p in probes for m in p["heavy"]})  # type: ignore[attr-defined]
    import_probe(PUBLIC)
    public_probes = [import_probe(PUBLIC) for _ in range(args.runs)]
    publics = [float(p["seconds"]) for p in public_probes]  # type: ignore[arg-type]
    public_heavy = sorted({m for p in public_probes for m in p["heavy"]})  # type: ignore[attr-defined]

    help_cmd = [*vs_sim_command(), "--help"]
    wall(help_cmd)
    helps = [wall(help_cmd) for _ in range(args.runs)]
    wall([sys.executable, "-c", "pass"])
    bare = [wall([sys.executable, "-c", "pass"]) for _ in range(args.runs)]

    imp, hlp, base = (statistics.median(x) for x in (imports, helps, bare))
    print(f"{'what':<48}{'median s':>10}{'min s':>8}{'max s':>8}{'target':>10}")
    for label, values, target in (
        ("import vs_sim (inside the process)", imports, f"< {IMPORT_TARGET}"),
        ("  + its public names (verbalize, run_scenario)", publics, ""),
        ("vs-sim --help (whole command)", helps, f"< {HELP_TARGET}"),
        ("python -c pass (interpreter alone)", bare, ""),
    ):
        print(
            f"{label:<48}{statistics.median(values):>10.3f}{min(values):>8.3f}"
            f"{max(values):>8.3f}{target:>10}"
        )
    print(
        f"\nimport vs_sim loads {probes[-1]['modules']} modules; heavy packages loaded: "
        f"{', '.join(heavy) if heavy else 'none'}; with its public names "
        f"{public_probes[-1]['modules']} modules, heavy: "
        f"{', '.join(public_heavy) if public_heavy else 'none'}"
    )
    print(
        f"import vs_sim ÷ target: {imp / IMPORT_TARGET:.2f}; "
        f"vs-sim --help ÷ target: {hlp / HELP_TARGET:.2f}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "import_s": imp,
                    "public_names_s": statistics.median(publics),
                    "public_heavy_modules": public_heavy,
                    "help_s": hlp,
                    "python_s": base,
                    "heavy_modules": heavy,
                    "import_target_s": IMPORT_TARGET,
                    "help_target_s": HELP_TARGET,
                    "load_average": load,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
