"""Persuasion figures: the donation-extraction rules on the real dialogues, and run speed.

    .venv/bin/python bench/persuasion.py [--dialogues 100] [--turns 20]

1. The extraction rules (``vs_sim.tasks.persuasion_extract``) over the 1,017 human
   PersuasionForGood dialogues: how often a donation is stated, by which rule, and how often
   the stated amount equals the person's real donation (within $0.05), also against the
   human-annotated intended donation where the data has one in range.
2. A persuasion run on the offline model (synthetic text): dialogues per second, calls, and
   the report's comparison with the human donations (meaningless numbers, but the whole path).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import Counter
from pathlib import Path

from vs_sim.population import Population
from vs_sim.reference import (
    P4G_DONATIONS_CSV,
    load_p4g_dialogues,
    load_p4g_donations_by_dialogue,
)
from vs_sim.runner import run_units
from vs_sim.tasks.persuasion import PersuasionConfig, build_persuasion_units, persuasion_report
from vs_sim.tasks.persuasion_extract import extract_donation

ROOT = Path(__file__).resolve().parent.parent


def extraction() -> None:
    started = time.perf_counter()
    dialogues = load_p4g_dialogues()
    loaded = time.perf_counter() - started
    real = load_p4g_donations_by_dialogue()
    with P4G_DONATIONS_CSV.open(newline="", encoding="utf-8") as fh:
        intended = {
            r["dialogue_id"]: float(r["annotated_intended_donation"])
            for r in csv.DictReader(fh)
            if r["annotated_intended_donation"] and float(r["annotated_intended_donation"]) <= 2
        }
    rules: Counter[str] = Counter()
    stated = agree_real = with_real = agree_intended = with_intended = 0
    started = time.perf_counter()
    for dialogue_id, turns in dialogues.items():
        found = extract_donation(turns, "persuadee")
        if found is None:
            continue
        stated += 1
        rules[found.rule] += 1
        if dialogue_id in real:
            with_real += 1
            agree_real += abs(found.amount - real[dialogue_id]) <= 0.05
        if dialogue_id in intended:
            with_intended += 1
            agree_intended += abs(found.amount - intended[dialogue_id]) <= 0.05
    took = time.perf_counter() - started
    n = len(dialogues)
    print("## Extraction rules on the human PersuasionForGood dialogues")
    print(f"dialogues: {n} (file read in {loaded:.2f} s; rules ran in {took:.2f} s)")
    print(f"a donation stated: {stated} ({stated / n:.1%})")
    print("by rule: " + ", ".join(f"{k} {v}" for k, v in rules.most_common()))
    print(
        f"equals the real donation (±$0.05): {agree_real} of {with_real} "
        f"({agree_real / max(with_real, 1):.1%}) where the real one is in $0-$2"
    )
    print(
        f"equals the annotated intended donation (±$0.05): {agree_intended} of {with_intended} "
        f"({agree_intended / max(with_intended, 1):.1%}) where both exist"
    )


def offline_run(n: int, turns: int) -> None:
    people = Population.from_yaml(ROOT / "personas/populations/p4g_persuadees.yaml").sample(n, 1)
    units = build_persuasion_units(PersuasionConfig(max_turns=turns), people, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        result = run_units(units, model="offline/demo", seed=0, log_path=log, progress=False)
        took = time.perf_counter() - started
        started = time.perf_counter()
        report = persuasion_report(log)
        d = report.to_dict()
        report_took = time.perf_counter() - started
    print()
    print(f"## Offline run: {n} dialogues x {turns} utterances (synthetic text)")
    print(
        f"{result.completed} completed, {result.failed} failed, {result.turns} utterances, "
        f"{result.calls} calls in {took:.2f} s ({n / took:.1f} dialogues/s, "
        f"{result.calls / took:.0f} calls/s); report in {report_took:.2f} s"
    )
    q = d["question"]
    print(
        f"final-question donations: mean ${q['simulated']['mean']:.2f} vs human "
        f"${q['human']['mean']:.2f}; KS {q['ks_statistic']:.3f} (p {q['ks_pvalue']:.3g}); "
        f"L1 {q['l1_binned']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=100)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    extraction()
    offline_run(args.dialogues, args.turns)


if __name__ == "__main__":
    main()
