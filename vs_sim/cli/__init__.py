"""The ``vs-sim`` command.

Each command group lives in its own module exposing ``register(subparsers)``; the
handlers import what they need when they run, so ``vs-sim --help`` stays fast.
Errors from vs_sim are printed as one line (exit code 2), never as a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import VSSimError

# Modules under vs_sim.cli that add subcommands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("run", "verbalize", "personas", "report", "compare")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (seeds, sample counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def existing_dir(text: str) -> str:
    """An argparse type: a folder that exists."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no folder at {text!r}")
    return text


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
    except BrokenPipeError:  # `vs-sim ... | head`: the reader left; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
