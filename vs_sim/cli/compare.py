"""``vs-sim compare``: every prompting method on the same prompts, scored side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from ..compare import ComparisonResult

_DEFAULT_METHODS = "direct,sequence,multi_turn,vs_standard,vs_cot,vs_multi"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compare prompting methods' diversity at the same call budget",
        description=(
            "Run each method with the Verbalized Sampling paper's call budget (N samples per "
            "prompt; list methods use ceil(N/k) calls) and print semantic and lexical "
            "diversity, distinct-n, coverage, calls, tokens and cost per sample."
        ),
    )
    p.add_argument(
        "--prompts",
        required=True,
        metavar="FILE",
        help="one prompt per line; 'prompt || a|b|c' lists valid answers (for coverage)",
    )
    p.add_argument(
        "--methods", default=_DEFAULT_METHODS, help=f"comma-separated (default {_DEFAULT_METHODS})"
    )
    p.add_argument("-n", type=int, default=30, help="samples per prompt and method (default 30)")
    p.add_argument("-k", type=int, default=5, help="candidates per list call (default 5)")
    p.add_argument(
        "--per-turn", type=int, metavar="M", help="vs_multi candidates per turn (default ceil(k/2))"
    )
    p.add_argument("--model", default="offline/demo", help="model name (default offline/demo)")
    p.add_argument(
        "--embedder",
        help="hashing, local (MiniLM) or a litellm embedding model (default: local when "
        "sentence-transformers is installed, else hashing)",
    )
    p.add_argument("--seed", type=int, default=0, help="sample set and draw seed (default 0)")
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    p.add_argument("--valid", metavar="FILE", help="valid answers, one per line, for every prompt")
    p.add_argument(
        "--draw",
        action="store_true",
        help="score samples drawn from each VS distribution instead of its listed candidates",
    )
    p.add_argument("--temperature", type=float, help="the model's sampling temperature")
    p.add_argument("--api-base", help="address of an OpenAI-compatible server")
    p.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", metavar="PATH", help="write results.json (all detail) or results.csv")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..compare import compare_methods, read_prompts, read_valid
    from ..errors import ConfigError
    from ..models import build_model

    if args.out and Path(args.out).suffix.lower() not in (".json", ".csv"):
        raise ConfigError("the output must end in .json or .csv", where=f"--out {args.out}")
    if args.concurrency < 1:
        raise ConfigError(f"must be >= 1, got {args.concurrency}", where="--concurrency")
    prompts = read_prompts(args.prompts)
    valid = read_valid(args.valid) if args.valid else None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    model = build_model(
        args.model,
        api_base=args.api_base,
        cache=False if args.no_cache else None,
        concurrency=args.concurrency,
    )
    try:
        result = compare_methods(
            prompts,
            methods,
            n=args.n,
            k=args.k,
            m=args.per_turn,
            model=model,
            embedder=args.embedder,
            seed=args.seed,
            concurrency=args.concurrency,
            valid=valid,
            vs_samples="draws" if args.draw else "candidates",
            temperature=args.temperature,
            progress=not args.no_progress,
        )
    finally:
        close = getattr(model, "close", None)
        if callable(close):
            close()
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(render_table(result))
    for line in notes(result):
        console.print(line)
    if args.out:
        path = result.write(args.out)
        console.print(f"wrote {path}")
    return 0


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def render_table(result: ComparisonResult) -> Table:
    """The per-method means as a ``rich`` table (↑: higher is more diverse, ↓: lower)."""
    from rich.table import Table

    checkable = any(row.coverage is not None for row in result.rows)
    prompts = len({r.prompt_index for r in result.prompt_rows})
    table = Table(
        title=f"Method comparison · {result.model} · {prompts} prompt(s), n={result.n}, "
        f"k={result.k} · means over prompts"
    )
    headers = ["method", "samples", "semantic % ↑", "ROUGE-L ↓", "dist-1 ↑", "dist-2 ↑"]
    headers += ["dist-3 ↑"]
    if checkable:
        headers += ["coverage ↑", "valid"]
    headers += ["calls/prompt", "tokens/sample", "$/sample"]
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in result.rows:
        cells = [
            row.method,
            str(row.samples),
            _fmt(row.semantic_diversity, ".1f"),
            _fmt(row.lexical_diversity, ".3f"),
            _fmt(row.distinct_1, ".3f"),
            _fmt(row.distinct_2, ".3f"),
            _fmt(row.distinct_3, ".3f"),
        ]
        if checkable:
            cells += [_fmt(row.coverage, ".1%"), _fmt(row.precision, ".0%")]
        cells += [
            _fmt(row.calls_per_prompt, ".1f"),
            _fmt(row.tokens_per_sample, ".1f"),
            _fmt(row.cost_per_sample, ".6f"),
        ]
        table.add_row(*cells)
    return table


def notes(result: ComparisonResult) -> list[str]:
    """Lines printed under the table: what was measured with what, and any failure."""
    scored = "drawn from each VS distribution" if result.vs_samples == "draws" else "listed"
    lines = [
        f"semantic diversity embedder: {result.embedder} ({result.embedder_note})",
        f"texts scored: one per call (direct, cot), one per turn (multi_turn), every listed "
        f"candidate (sequence); VS methods: {scored} candidates",
    ]
    failed = [(r.method, e) for r in result.prompt_rows for e in r.errors]
    if failed:
        lines.append(
            f"[red]{len(failed)} distribution(s) failed; their samples are missing. "
            f"First ({failed[0][0]}): {failed[0][1]}[/red]"
        )
    unscored = sum(r.unscored for r in result.prompt_rows)
    if unscored:
        lines.append(f"{unscored} sample(s) without a word were left out of the metrics")
    if result.synthetic:
        lines.append(
            "[yellow]synthetic: these texts come from the offline model, not a language "
            "model[/yellow]"
        )
    return lines
