"""Benchmark 5 of issue 7: prompt + completion tokens per DISTINCT sample, VS-Standard vs Direct.

The same prompts go to each method at the paper's equal sample budget: VS-Standard asks once
for k = 5 candidates; Direct asks k = 5 times (``repeat`` 0..4, so no cache can merge them)
for one answer each. Every call's usage is counted from the ``on_call`` records (re-asks
included). A sample is distinct when no earlier sample of the same prompt has the same text
once case, spacing and punctuation are ignored. VS-CoT and Sequence are shown for context.

By default the model is ``offline/demo``: its token counts are estimates (about four
characters per token) and its single answers repeat the most typical one 80 % of the time
(it mimics mode collapse), so read the figures as what the protocol costs in prompt length,
not as a measurement of any real model. ``--model`` (and ``--api-base``) run the same
comparison against a real one.

    python bench/cost.py [--prompts 20] [--k 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vs_sim.models.base import Model
from vs_sim.verbalizer import CallRecord, averbalize

TOPICS = (
    "a dog who learns to surf",
    "a lighthouse keeper's last night",
    "a city without cars",
    "a robot that collects stamps",
    "a grandmother's secret recipe",
    "a lost umbrella",
    "the first day of school",
    "a train that never stops",
    "a garden on the moon",
    "an unexpected letter",
    "a chess game in the park",
    "a town where it always rains",
    "a musician who forgot a song",
    "a bakery at midnight",
    "a map with one island missing",
    "a cat that runs a library",
    "the last bookstore in town",
    "a kite stuck in a tree",
    "a power cut during a storm",
    "a message in a bottle",
    "a broken elevator",
    "an old photograph",
    "a bicycle race through the hills",
    "a snowman in spring",
)
METHODS: tuple[tuple[str, str], ...] = (
    ("direct", "Direct (k calls, 1 answer each)"),
    ("vs_standard", "VS-Standard (1 call, k candidates)"),
    ("vs_cot", "VS-CoT (1 call, k candidates)"),
    ("sequence", "Sequence (1 call, k answers)"),
)


def prompts(n: int) -> list[str]:
    """``n`` short creative-writing prompts (topics repeat with a number past the list)."""
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        suffix = "" if i < len(TOPICS) else f" (version {i // len(TOPICS) + 1})"
        out.append(f"Write a one-sentence story about {topic}{suffix}.")
    return out


def normalized(text: str) -> str:
    """Text compared for distinctness: lower case, letters and digits, single spaces."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@dataclass
class Tally:
    """What one method spent and got over all prompts."""

    calls: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    samples: int = 0
    distinct: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, call: CallRecord) -> None:
        self.calls += 1
        if call.completion is None:
            self.failed += 1
            return
        self.prompt_tokens += call.completion.usage.prompt_tokens
        self.completion_tokens += call.completion.usage.completion_tokens

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def per(self, what: int) -> float:
        return self.tokens / what if what else float("inf")


async def measure(method: str, texts: Sequence[str], k: int, model: str | Model) -> Tally:
    """Run ``method`` on every prompt at a budget of ``k`` samples per prompt."""
    tally = Tally()
    for prompt in texts:
        if method == "direct":
            jobs = [
                averbalize(
                    prompt, method="direct", k=1, model=model, repeat=r, on_call=tally.record
                )
                for r in range(k)
            ]
        else:
            jobs = [averbalize(prompt, method=method, k=k, model=model, on_call=tally.record)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        seen: set[str] = set()
        for result in results:
            if isinstance(result, BaseException):
                tally.errors.append(f"{type(result).__name__}: {result}")
                continue
            for candidate in result.candidates:
                tally.samples += 1
                key = normalized(candidate.text)
                if key and key not in seen:
                    seen.add(key)
                    tally.distinct += 1
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--k", type=int, default=5, help="samples per prompt for every method")
    parser.add_argument("--model", default="offline/demo")
    parser.add_argument("--api-base", help="an OpenAI-compatible server for --model")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    texts = prompts(args.prompts)

    async def run_all() -> dict[str, Tally]:
        from vs_sim.models import build_model

        model = build_model(args.model, api_base=args.api_base, cache=False)
        try:
            return {m: await measure(m, texts, args.k, model) for m, _ in METHODS}
        finally:
            aclose = getattr(model, "aclose", None)
            if aclose is not None:
                await aclose()

    tallies = asyncio.run(run_all())
    note = (
        "offline model: token counts are its estimates (~4 characters a token), and its single "
        "answers repeat the typical one 80 % of the time"
        if args.model.startswith("offline/")
        else f"model {args.model}"
    )
    print(f"{args.prompts} prompts, {args.k} samples per prompt per method; {note}\n")
    print(
        f"{'method':<38}{'calls':>7}{'prompt tok':>12}{'compl. tok':>12}{'samples':>9}"
        f"{'distinct':>10}{'tok/sample':>12}{'tok/distinct':>14}"
    )
    for method, label in METHODS:
        t = tallies[method]
        print(
            f"{label:<38}{t.calls:>7}{t.prompt_tokens:>12,}{t.completion_tokens:>12,}"
            f"{t.samples:>9}{t.distinct:>10}{t.per(t.samples):>12.1f}{t.per(t.distinct):>14.1f}"
        )
        if t.errors:
            print(f"  {len(t.errors)} prompts failed; first: {t.errors[0]}")
    vs, direct = tallies["vs_standard"], tallies["direct"]
    ratio = vs.per(vs.distinct) / direct.per(direct.distinct)
    print(
        f"\nVS-Standard ÷ Direct, tokens per distinct sample: {ratio:.2f} "
        f"({vs.per(vs.distinct):.1f} vs {direct.per(direct.distinct):.1f}); per sample: "
        f"{vs.per(vs.samples) / direct.per(direct.samples):.2f}"
    )
    if args.json:
        out: dict[str, Any] = {
            m: {
                "calls": t.calls,
                "prompt_tokens": t.prompt_tokens,
                "completion_tokens": t.completion_tokens,
                "samples": t.samples,
                "distinct": t.distinct,
                "tokens_per_sample": t.per(t.samples),
                "tokens_per_distinct": t.per(t.distinct),
            }
            for m, t in tallies.items()
        }
        out["vs_over_direct_per_distinct"] = ratio
        out["model"] = args.model
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
