"""The ``vs-sim`` command.

Each command group lives in its own module exposing ``register(subparsers)``; the
handlers import what they need when they run, so ``vs-sim --help`` stays fast.
Errors from vs_sim are printed as one line (exit code 2), never as a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import VSSimError

# Modules under vs_sim.cli that add subcommands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("run", "verbalize", "personas", "report", "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vs-sim",
        description="Simulate varied people with Verbalized Sampling.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vs-sim``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(f"vs-sim {__version__}")
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        code: int = args.handler(args)
        return code
    except VSSimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
