"""Benchmark: 1,000 simulated respondents × 10 questions on the offline model.

Prints the wall time of the survey run (every call, distribution, draw and answer logged),
of the summary by a demographic attribute, and of the comparison with the example reference
file. Target (issue 5): the survey run in under a minute on one core.

    python bench/survey.py [--n 1000] [--questions 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vs_sim.population import Population
from vs_sim.tasks import Questionnaire, load_questionnaire, run_survey

DATA = Path(__file__).resolve().parent.parent / "scenarios" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="respondents")
    parser.add_argument("--questions", type=int, default=10, help="questions (first N)")
    parser.add_argument("--out", type=Path, default=None, help="keep the log in this folder")
    args = parser.parse_args()

    full = load_questionnaire(DATA / "opinion_questions.yaml")
    data = full.to_dict()
    data["questions"] = data["questions"][: args.questions]
    questionnaire = Questionnaire.from_dict(data)
    population = Population.from_dict(
        {
            "template": "survey_respondent",
            "attributes": {
                "age": {"distribution": "uniform", "low": 18, "high": 90, "integer": True},
                "sex": {"weights": {"female": 51, "male": 49}},
                "party": {"weights": {"democrat": 33, "republican": 30, "independent": 37}},
            },
        }
    )
    t0 = time.perf_counter()
    personas = population.sample(args.n, seed=0)
    t_sample = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "survey_events.jsonl"
        if log.exists():
            log.unlink()
        t0 = time.perf_counter()
        result = run_survey(
            questionnaire, personas, model="offline/bench", seed=0, log_path=log, progress=False
        )
        t_run = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = result.summary(by="party")
        t_summary = time.perf_counter() - t0
        t0 = time.perf_counter()
        comparison = result.compare(DATA / "opinion_reference.csv")
        t_compare = time.perf_counter() - t0
        size = log.stat().st_size

    asked = sum(s.asked for s in summary.overall())
    means = comparison.means()
    print(f"respondents          {args.n}")
    print(f"questions            {len(questionnaire)} ({asked} asked after skip logic)")
    print(f"model calls          {result.run.calls}")
    print(f"sample personas      {t_sample:8.2f} s")
    print(
        f"survey run           {t_run:8.2f} s   ({1e3 * t_run / max(asked, 1):.2f} ms per question)"
    )
    print(f"summary by party     {t_summary:8.2f} s")
    print(
        f"reference comparison {t_compare:8.2f} s   ({len(comparison.questions)} question/groups)"
    )
    print(f"event log            {size / 1e6:8.1f} MB")
    print(
        "mean representativeness (drawn / verbalized): "
        f"{means['representativeness_sampled']:.3f} / {means['representativeness_soft']:.3f}"
        "  (offline model, illustrative reference: not a finding)"
    )
    verdict = "OK" if t_run < 60 else "TOO SLOW"
    print(f"target: survey run under 60 s on one core -> {verdict}")


if __name__ == "__main__":
    main()
