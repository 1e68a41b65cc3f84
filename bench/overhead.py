"""Benchmark 2 of issue 7: the CPU vs_sim adds per turn, against a raw client's CPU per call.

A turn costs a model call plus vs_sim's own work around it: rendering the speaker's prompt,
the request key, the model wrappers (limits ▸ retry), parsing the candidates, normalizing and
sampling, and writing the turn's events to the log (``model_call``, ``distribution``,
``choice``, ``utterance``). Once the run is over, the run folder's graph files are built from
the log. This script measures both with a model that answers at once (so no time goes to any
network), per conversation turn (and per survey answer), and divides each by the CPU a bare
aiohttp client spends per chat call against the local server (``bench/raw_aiohttp.py``,
measured in the same run). It reports the run and the graph build as separate ratios (the
graph is built once, after the run, not per turn) and their sum. Target: <= 0.5.

    python bench/overhead.py                # figures and ratios
    python bench/overhead.py --profile      # plus the functions and modules that dominate
    python bench/overhead.py --parts        # plus each part of a turn timed on its own
    python bench/overhead.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import statistics
import tempfile
import time
import timeit
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from raw_aiohttp import ServerProcess, raw_calls

from vs_sim.agents import Agent, distribution_event
from vs_sim.conversation import Conversation, Termination
from vs_sim.distribution import Distribution
from vs_sim.events import Choice, EventLog, ModelCall, Utterance
from vs_sim.graph import ConversationGraph
from vs_sim.methods import get_method
from vs_sim.models import LimitedModel, RetryingModel
from vs_sim.models.base import Completion, Model, Request, Usage
from vs_sim.population import Population
from vs_sim.runner import arun_conversations
from vs_sim.scheduling import RandomSpeaker, mentions
from vs_sim.seeds import AddressedRng, derive_rng, derive_uniform
from vs_sim.tasks.survey import arun_survey
from vs_sim.testing.scripted import vs_answer
from vs_sim.verbalizer import averbalize, to_messages

REPO = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = REPO / "scenarios" / "data" / "opinion_questions.yaml"
US_ADULTS = REPO / "personas" / "populations" / "us_adults.yaml"
QUESTIONS = ["climate_worry", "remote_work", "ai_jobs", "four_day_week", "news_source"]
TARGET = 0.5


class InstantModel:
    """Answers every request at once with one of a few fixed VS replies (chosen by its key).

    What is left of a turn's CPU is vs_sim's own work; the replies are the fake server's, so
    parsing costs what it costs against a real server.
    """

    name = "openai/instant"
    supports_json_schema = False

    def __init__(self, k: int = 5, variants: int = 64) -> None:
        rng = random.Random(0)
        self.replies = [vs_answer(k, rng) for _ in range(variants)]

    async def acomplete(self, request: Request) -> Completion:
        key = request.key
        text = self.replies[int(key[:8], 16) % len(self.replies)]
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(prompt_tokens=300, completion_tokens=120),
            request_key=key,
        )


def stacked() -> Model:
    """The instant model under the wrappers ``build_model`` puts around a remote client."""
    return LimitedModel(RetryingModel(InstantModel(), timeout=60.0), concurrency=64)


# -- the workloads ----------------------------------------------------------------------------


def conversations(n: int, turns: int) -> list[Conversation]:
    """``n`` three-person conversations of ``turns`` utterances, VS-Standard k=5 for all."""
    agents = tuple(
        Agent(id=name.lower(), name=name, persona=f"You are {name}, a resident of Millbrook.")
        for name in ("Ana", "Ben", "Cy")
    )
    return [
        Conversation(
            id=f"conv{i:04d}",
            agents=agents,
            scheduler=RandomSpeaker(no_repeat=True),
            opening=f"Question {i}: should the town turn the old mill into housing?",
            termination=Termination(max_turns=turns),
        )
        for i in range(n)
    ]


def run_conversations_cpu(n: int, turns: int, log: Path) -> float:
    """CPU seconds of running ``n`` conversations into ``log`` (engine, model stack, log)."""
    convs = conversations(n, turns)

    async def go() -> float:
        model = stacked()
        cpu0 = time.process_time()
        result = await arun_conversations(
            convs, model=model, seed=1, log_path=log, concurrency=16, progress=False
        )
        cpu = time.process_time() - cpu0
        assert result.turns == n * turns, result
        return cpu

    return asyncio.run(go())


def graph_cpu(log: Path, folder: Path) -> float:
    """CPU seconds of the run folder's graph files: the graph from the log, GraphML and JSON."""
    cpu0 = time.process_time()
    graph = ConversationGraph.from_log(log)
    graph.to_graphml(folder / "graph.graphml")
    graph.to_node_link(folder / "graph.json")
    return time.process_time() - cpu0


def conversation_cpu(n: int, turns: int, folder: Path) -> dict[str, float]:
    """CPU ms per turn: the run (with its event log), then the graph built from the log."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"conversations-{n}.jsonl"
    run = run_conversations_cpu(n, turns, log)
    graph = graph_cpu(log, folder)
    total = n * turns
    return {
        "turns": total,
        "run_ms": run / total * 1000,
        "graph_ms": graph / total * 1000,
        "log_bytes_per_turn": log.stat().st_size / total,
    }


def survey_cpu(n: int, folder: Path) -> dict[str, float]:
    """CPU ms per answer of a survey (five questions, independent mode)."""
    log = folder / f"survey-{n}.jsonl"
    people = Population.from_yaml(US_ADULTS).sample(n, seed=1)

    async def go() -> float:
        model = stacked()
        cpu0 = time.process_time()
        result = await arun_survey(
            _questionnaire(),
            people,
            model=model,
            seed=1,
            log_path=log,
            concurrency=16,
            progress=False,
        )
        cpu = time.process_time() - cpu0
        assert result.run.completed == n, result.run
        return cpu

    cpu = asyncio.run(go())
    answers = n * len(QUESTIONS)
    return {"answers": answers, "run_ms": cpu / answers * 1000}


def _questionnaire() -> Any:
    from vs_sim.tasks.questionnaire import load_questionnaire

    full = load_questionnaire(QUESTIONNAIRE)
    data = full.to_dict()
    data["questions"] = [q for q in data["questions"] if q["id"] in QUESTIONS]
    return data


def raw_cpu_ms(calls: int, concurrency: int, latency: float) -> float:
    """A bare aiohttp client's CPU ms per chat call against the local server (own process)."""
    method = get_method("vs_standard", k=5)
    messages = method.build_messages(
        to_messages("Should the town turn the old mill into housing?"), method.turn_sizes()[0]
    )
    with ServerProcess(latency) as server:
        ok, _, cpu = asyncio.run(
            raw_calls(server.api_base, messages, calls=calls, concurrency=concurrency)
        )
    if ok != calls:
        raise SystemExit(f"the raw client finished only {ok} of {calls} calls")
    return cpu / calls * 1000


# -- the parts of a turn, one at a time ---------------------------------------------------------


def _best(fn: Callable[[], object], number: int = 2000, repeat: int = 7) -> float:
    """µs per call of ``fn``: the best of ``repeat`` timings (the least disturbed by load)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def _best_async(make: Callable[[], Any], number: int = 1000, repeat: int = 7) -> float:
    """µs per awaited ``make()``, run ``number`` times in a row on one event loop."""

    async def go() -> float:
        for _ in range(20):
            await make()
        start = time.perf_counter()
        for _ in range(number):
            await make()
        return (time.perf_counter() - start) / number * 1e6

    return min(asyncio.run(go()) for _ in range(repeat))


def parts() -> list[tuple[str, float]]:
    """Each piece of a conversation turn timed alone, with the inputs a turn gives it."""
    method = get_method("vs_standard", k=5)
    reply = vs_answer(5, random.Random(0))
    parsed = method.parse(reply)
    dist = Distribution.from_candidates(parsed.candidates, method="vs_standard", model="m")
    agents = conversations(1, 1)[0].agents
    messages = tuple(method.build_messages(to_messages("Should the mill become housing?"), 5))
    instant = InstantModel()
    stack = stacked()
    request = Request(model=instant.name, messages=messages, repeat=0)
    request.key  # noqa: B018 - computed once, as in a turn
    rng = AddressedRng(1, "conv", 1, "schedule")
    scheduler = RandomSpeaker(no_repeat=True)
    out = [
        ("Method.parse, a clean 5-candidate JSON answer", _best(lambda: method.parse(reply))),
        (
            "Distribution.from_candidates",
            _best(lambda: Distribution.from_candidates(parsed.candidates, method="vs_standard")),
        ),
        ("Request(...) and its key (JSON + SHA-256)", _best(lambda: Request(
            model=instant.name, messages=messages, repeat=1).key)),
        ("Request.trusted(...) and its key (what averbalize uses)", _best(lambda: Request.trusted(
            instant.name, messages, {}, 1).key)),
        ("the instant model alone (a Completion)", _best_async(lambda: instant.acomplete(request))),
        ("limits ▸ retry ▸ instant model", _best_async(lambda: stack.acomplete(request))),
        (
            "averbalize (prompt, key, wrappers, parse, Distribution)",
            _best_async(lambda: averbalize("Name a state.", k=5, model=stack)),
        ),
        (
            "distribution_event (the distribution's log record)",
            _best(lambda: distribution_event(dist, conversation_id="c", turn=3, speaker="ana")),
        ),
        ("derive_uniform (the candidate's draw)", _best(
            lambda: derive_uniform(1, "conv0001", 3, "choice"))),
        ("AddressedRng(...).random() (the speaker's draw)", _best(
            lambda: AddressedRng(1, "conv0001", 3, "schedule").random())),
        ("derive_rng (a numpy Generator; no longer in a turn)", _best(
            lambda: derive_rng(1, "conv0001", 3, "choice"))),
        ("RandomSpeaker (who speaks next)", _best(lambda: scheduler(agents, [], rng))),
        ("VSPolicy.select (which candidate)", _best(
            lambda: agents[0].policy.select(dist.probabilities, 0.42))),
        ("mentions (whom the utterance names)", _best(
            lambda: mentions("Ben, I think the mill should stay.", agents[1:], anywhere=False))),
    ]  # fmt: skip
    events = [
        ModelCall(conversation_id="c", turn=3, request_key="a" * 64, model="m", latency=0.05),
        distribution_event(dist, conversation_id="c", turn=3, speaker="ana"),
        Choice(conversation_id="c", turn=3, speaker="ana", index=1, rank=2, probability=0.3),
        Utterance(conversation_id="c", turn=3, speaker="ana", text=dist.texts[1], probability=0.3),
    ]
    with tempfile.TemporaryDirectory() as tmp, EventLog(Path(tmp) / "log.jsonl") as log:

        async def turn_of_events() -> None:
            for event in events:
                log.write(event)
            await asyncio.sleep(0)  # the next loop step, where the batch is flushed

        out.append(
            ("event log: a turn's 4 events, then one loop step", _best_async(turn_of_events))
        )
    return out


# -- profile ----------------------------------------------------------------------------------

AREAS: tuple[tuple[str, str], ...] = (
    ("vs_sim/parsing", "parsing"),
    ("vs_sim/methods", "methods (prompt, parse entry)"),
    ("vs_sim/distribution", "distribution (normalize, sample)"),
    ("vs_sim/verbalizer", "verbalizer"),
    ("vs_sim/conversation", "conversation engine"),
    ("vs_sim/agents", "agents (prompt building)"),
    ("vs_sim/scheduling", "scheduling"),
    ("vs_sim/events", "event log"),
    ("vs_sim/runner", "runner"),
    ("vs_sim/models", "model wrappers"),
    ("vs_sim/seeds", "seeds"),
    ("vs_sim/graph", "graph"),
    ("vs_sim/", "vs_sim (other)"),
    ("pydantic", "pydantic (events, models)"),
    ("numpy", "numpy"),
    ("asyncio", "asyncio"),
    ("json", "json"),
    ("jinja2", "jinja2"),
    ("networkx", "networkx"),
    ("xml/etree", "xml (GraphML writing)"),
    ("hashlib", "hashlib"),
)


def area_of(filename: str) -> str:
    """A readable area for a profiled function's file."""
    path = filename.replace("\\", "/")
    for needle, area in AREAS:
        if needle in path:
            return area
    if path.startswith("~") or path.startswith("<"):
        return "builtins (C)"
    return "other Python"


def profile(fn: Callable[[], object], top: int) -> tuple[list[tuple[str, float]], str]:
    """Run ``fn`` under cProfile: own time by area (shares), and the top functions."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof)
    by_area: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, tottime, _, _) in raw.items():
        area = area_of(filename)
        if area == "builtins (C)":
            area = _builtin_area(name)
        by_area[area] += tottime
    total = sum(by_area.values()) or 1.0
    shares = sorted(((a, t / total) for a, t in by_area.items()), key=lambda x: -x[1])
    out = __import__("io").StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return shares, out.getvalue()


def _builtin_area(name: str) -> str:
    if "write" in name or "flush" in name:
        return "file writes (C)"
    if "pydantic" in name or "serialize" in name or "validate" in name:
        return "pydantic (C)"
    if "select" in name or "poll" in name:
        return "event loop I/O (C)"
    if "json" in name:
        return "json (C)"
    if "sha256" in name or "hexdigest" in name:
        return "hashlib (C)"
    return "other builtins (C)"


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--turns", type=int, default=10, help="utterances per conversation")
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--raw-calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64, help="raw client concurrency")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="repeats; medians reported")
    parser.add_argument("--profile", action="store_true", help="where vs_sim's CPU goes")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--parts", action="store_true", help="also time each part of a turn on its own"
    )
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"vs_sim's CPU per turn (instant model, no network) vs a raw aiohttp client's CPU per "
        f"call; {os.cpu_count()} cores, load average {load:.1f}\n"
    )

    runs: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conversation_cpu(4, args.turns, folder / "warm")  # imports, templates, first calls
        for r in range(args.rounds):
            sub = folder / f"round{r}"
            sub.mkdir()
            conv = conversation_cpu(args.conversations, args.turns, sub)
            survey = survey_cpu(args.respondents, sub)
            raw = raw_cpu_ms(args.raw_calls, args.concurrency, args.latency)
            runs["turn_ms"].append(conv["run_ms"])
            runs["graph_ms"].append(conv["graph_ms"])
            runs["answer_ms"].append(survey["run_ms"])
            runs["raw_ms"].append(raw)
            runs["log_bytes"].append(conv["log_bytes_per_turn"])
            runs["round_ratio"].append((conv["run_ms"] + conv["graph_ms"]) / raw)
            print(
                f"  round {r + 1}: turn {conv['run_ms']:.3f} + graph {conv['graph_ms']:.3f} ms, "
                f"survey answer {survey['run_ms']:.3f} ms, raw call {raw:.3f} ms; "
                f"(turn + graph) ÷ raw {runs['round_ratio'][-1]:.2f}"
            )
        med = {k: statistics.median(v) for k, v in runs.items()}
        per_turn = med["turn_ms"] + med["graph_ms"]
        ratio = per_turn / med["raw_ms"]
        answer_ratio = med["answer_ms"] / med["raw_ms"]
        n_turns = args.conversations * args.turns
        print(
            f"\n{'what':<46}{'CPU ms':>10}{'÷ raw call':>12}\n"
            f"{'raw aiohttp client, per call':<46}{med['raw_ms']:>10.3f}{1:>12.2f}\n"
            f"{'conversation turn (run + event log)':<46}{med['turn_ms']:>10.3f}"
            f"{med['turn_ms'] / med['raw_ms']:>12.2f}\n"
            f"{'  + graph from the log (GraphML + JSON)':<46}{med['graph_ms']:>10.3f}"
            f"{med['graph_ms'] / med['raw_ms']:>12.2f}\n"
            f"{'conversation turn, all of it':<46}{per_turn:>10.3f}{ratio:>12.2f}\n"
            f"{'survey answer (run + event log)':<46}{med['answer_ms']:>10.3f}"
            f"{answer_ratio:>12.2f}\n"
        )
        print(
            f"{n_turns} turns ({args.conversations} conversations × {args.turns}), "
            f"{args.respondents * len(QUESTIONS)} survey answers, {args.raw_calls} raw calls "
            f"at concurrency {args.concurrency}; medians of {args.rounds} rounds; "
            f"event log {med['log_bytes']:.0f} bytes per turn"
        )
        run_ratio = med["turn_ms"] / med["raw_ms"]
        graph_ratio = med["graph_ms"] / med["raw_ms"]
        print(
            f"vs_sim CPU ÷ raw client CPU per call (target <= {TARGET}):\n"
            f"  the run, per turn (engine, model wrappers, parsing, sampling, event log): "
            f"{run_ratio:.2f}\n"
            f"  the graph files, built once from the log after the run, per turn:         "
            f"{graph_ratio:.2f}\n"
            f"  both together:                                                           "
            f"{ratio:.2f}\n"
            f"  both together, round by round: "
            f"{', '.join(f'{x:.2f}' for x in runs['round_ratio'])} "
            f"(the load moves the raw client's figure as much as vs_sim's)"
        )

        if args.parts:
            print("\nthe parts of a turn, best of 7 (µs per call; no network):")
            for name, micros in parts():
                print(f"  {name:<58}{micros:8.1f}")

        if args.profile:
            sub = folder / "profiled"
            sub.mkdir()
            log = sub / "conversations.jsonl"
            for title, job in (
                ("a conversation turn (run + event log)",
                 lambda: run_conversations_cpu(args.conversations, args.turns, log)),
                ("the graph files (from the log: GraphML + JSON)", lambda: graph_cpu(log, sub)),
            ):  # fmt: skip
                shares, table = profile(job, top=25)
                print(f"\nwhere the CPU of {title} goes (cProfile own time, by area):")
                for area, share in shares[:14]:
                    print(f"  {area:<36}{share * 100:6.1f} %")
                print("\ntop functions by own time:")
                print(table)

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "raw_call_cpu_ms": med["raw_ms"],
                    "turn_cpu_ms": med["turn_ms"],
                    "graph_cpu_ms_per_turn": med["graph_ms"],
                    "answer_cpu_ms": med["answer_ms"],
                    "ratio": ratio,
                    "run_ratio": run_ratio,
                    "graph_ratio": graph_ratio,
                    "answer_ratio": answer_ratio,
                    "target": TARGET,
                    "load_average": load,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
