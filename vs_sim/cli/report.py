"""``vs-sim report RUN_DIR``: the run's HTML report (self-contained, no network needed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a run's HTML report",
        description=(
            "Write an HTML report of a run (tables and figures rebuilt from its event log). "
            "The page is self-contained: it opens in a browser with no network."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or its events.jsonl)")
    p.add_argument("--out", metavar="FILE", help="where to write (default RUN_DIR/report.html)")
    p.add_argument(
        "--reference",
        metavar="FILE",
        help="human answer shares for a survey (CSV or JSON; default: the scenario's)",
    )
    p.add_argument(
        "--by",
        action="append",
        default=[],
        metavar="ATTRIBUTE",
        help="also draw survey shares per value of this persona attribute (repeatable)",
    )
    p.add_argument("--plots", action="store_true", help="also save the figures in RUN_DIR/plots")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import open_run
    from ..report import write_report

    opened = open_run(args.run_dir)
    notes: list[str] = []
    reference = opened.reference(args.reference, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    path = write_report(
        opened,
        args.out,
        reference=reference,
        by=args.by,
        plots_dir=opened.folder / "plots" if args.plots else None,
    )
    print(f"wrote {path}")
    return 0
