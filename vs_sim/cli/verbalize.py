"""``vs-sim verbalize``: one verbalized distribution, printed as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import existing_dir, non_negative_int


def register(sub: Any) -> None:
    p = sub.add_parser(
        "verbalize",
        help="ask a model for k candidates with probabilities",
        description="Ask a model for a verbalized distribution and print its candidates.",
    )
    p.add_argument("prompt", help="the task prompt, e.g. 'Tell me a joke'")
    p.add_argument("-k", type=int, default=5, help="candidates to ask for (default 5)")
    p.add_argument("--all-plausible", action="store_true", help="let the model decide k")
    p.add_argument("--model", default="offline/demo", help="model name (default offline/demo)")
    p.add_argument(
        "--method",
        default="vs_standard",
        help="direct, cot, sequence, multi_turn, vs_standard (default), vs_cot, vs_multi",
    )
    p.add_argument("--system", help="a system prompt put before the method's instructions")
    p.add_argument("--tau", type=float, help="drop candidates below this probability")
    p.add_argument("--min-keep", type=int, default=1, help="fewest candidates tau may leave")
    p.add_argument("--tail", type=float, help="ask for responses with probability below this")
    p.add_argument(
        "--wording",
        default="explicit",
        help="probability wording: explicit, implicit, relative, percentage, confidence",
    )
    p.add_argument("--format", default="json", choices=["json", "xml"], help="answer format")
    p.add_argument("--temperature", type=float, help="the model's sampling temperature")
    p.add_argument(
        "--seed", type=non_negative_int, help="seed passed to the model, and for --sample"
    )
    p.add_argument(
        "--sample", type=non_negative_int, default=0, metavar="N", help="also draw N samples"
    )
    p.add_argument(
        "--templates",
        action="append",
        type=existing_dir,
        default=[],
        metavar="DIR",
        help="folder of method templates overriding the built-ins",
    )
    p.add_argument("--api-base", help="address of an OpenAI-compatible server")
    p.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    p.add_argument("--json", action="store_true", help="print the distribution as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..models import build_model
    from ..verbalizer import verbalize

    model = build_model(args.model, api_base=args.api_base, cache=False if args.no_cache else None)
    options: dict[str, Any] = {"wording": args.wording, "format": args.format}
    if args.tail is not None:
        options["tail"] = args.tail
    if args.templates:
        options["template_dirs"] = tuple(args.templates)
    dist = verbalize(
        args.prompt,
        k=None if args.all_plausible else args.k,
        method=args.method,
        model=model,
        system=args.system,
        tau=args.tau,
        min_keep=args.min_keep,
        temperature=args.temperature,
        seed=args.seed,
        **options,
    )
    draws = dist.sample_n(args.sample, args.seed) if args.sample else []
    if args.json:
        data = dist.model_dump(mode="json")
        if draws:
            data["samples"] = [c.text for c in draws]
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{dist.method} · {dist.model}")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    table.add_column("stated", justify="right")
    table.add_column("probability", justify="right")
    for i, cand in enumerate(dist.candidates, 1):
        stated = "" if cand.stated is None else str(cand.stated)
        table.add_row(str(i), cand.text, stated, f"{cand.probability:.3f}")
    console.print(table)
    total = sum(dist.probabilities)
    console.print(
        f"{len(dist)} candidates, probabilities sum to {total:.3f}; "
        f"{dist.calls} call(s), {dist.usage.total_tokens} tokens"
        + (f", ${dist.cost:.4f}" if dist.cost else "")
    )
    if dist.repairs:
        kinds = sorted({r.kind for r in dist.repairs})
        console.print(f"parser repairs: {', '.join(kinds)}")
    if dist.synthetic:
        console.print(
            "[yellow]synthetic: this text comes from the offline model, not a "
            "language model[/yellow]"
        )
    for i, cand in enumerate(draws, 1):
        console.print(f"sample {i}: {cand.text}")
    return 0
