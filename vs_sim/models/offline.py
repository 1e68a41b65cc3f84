"""The offline model: synthetic, seeded, no network.

It reads a prompt the way a model would — the answer format and k from the system
message, options or a numeric range from the last user message — and writes a
well-formed answer in that format. Asked for a single answer it returns the most typical
one ``MODE_SHARE`` of the time (mimicking mode collapse); asked for a verbalized list it
spreads its probability. Everything it returns is marked ``synthetic``; it
exists so demos and tests run anywhere, and its text goes through the same parser as a
real model's.

Names: ``offline/<anything>``, with optional query options, e.g.
``offline/demo?latency=0.01&messy=0.2`` (``latency``: seconds per call; ``messy``: share of
answers written in a sloppy but recoverable style, to exercise the parser's repairs).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Iterable
from urllib.parse import parse_qs

import numpy as np

from ..errors import ConfigError
from .base import Completion, Request, Usage
from .offline_dialogue import dialogue_lines

MODE_SHARE = 0.8
"""How often a one-answer request gets the single most typical answer."""

_K_RE = re.compile(r"\b(\d{1,3}) (?:more |different |distinct )?responses?\b")
_RANGE_RE = re.compile(r"^\s*range:\s*(-?[\d.]+)\s*(?:to|-|–)\s*(-?[\d.]+)", re.I | re.M)
_OPTIONS_RE = re.compile(r"^\s*options\s*:\s*$", re.I | re.M)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = frozenset(
    "that this with what your have from they will would about there their which when were been "
    "into than them then these those could should more most some such only also very just like "
    "give respond response responses request write name tell make each other".split()
)

_OPENERS = (
    "Honestly,",
    "I think",
    "To be fair,",
    "In my experience,",
    "Frankly,",
    "Well,",
    "If you ask me,",
    "I'd say",
    "Look,",
    "From where I stand,",
    "Personally,",
    "I guess",
)
_BODIES = (
    "{t} matters more than people admit",
    "{t} is worth a second look",
    "I have mixed feelings about {t}",
    "{t} depends a lot on the details",
    "I'm not convinced about {t} yet",
    "{t} could really help if it's done right",
    "my family talks about {t} all the time",
    "I'd want to know more about {t} first",
    "{t} reminds me of something from last year",
    "{t} is simpler than it sounds",
    "people overthink {t}",
    "I'd start small with {t}",
    "{t} is a good idea, within reason",
    "I can see both sides of {t}",
    "{t} isn't really my thing",
    "I keep changing my mind on {t}",
)
_CLOSERS = (
    ".",
    ", but that's just me.",
    ", at least for now.",
    ", if I'm being honest.",
    ", and I'd stand by that.",
    ".",
    ", you know?",
    ", for what it's worth.",
)


_US_STATES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia "
    "Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts "
    "Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada New_Hampshire New_Jersey "
    "New_Mexico New_York North_Carolina North_Dakota Ohio Oklahoma Oregon Pennsylvania "
    "Rhode_Island South_Carolina South_Dakota Tennessee Texas Utah Vermont Virginia Washington "
    "West_Virginia Wisconsin Wyoming"
)
# A few word lists so common demo prompts get answers of the right kind (still synthetic).
_LEXICON: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("us state", "u.s. state", "american state"),
        tuple(w.replace("_", " ") for w in _US_STATES.split()),
    ),
    (
        ("color", "colour"),
        tuple("red blue green yellow purple orange teal black white pink brown gray".split()),
    ),
    (
        ("animal",),
        tuple("dog cat horse rabbit owl fox otter dolphin parrot turtle wolf bear".split()),
    ),
    (
        ("joke",),
        (
            "Why did the bicycle fall over? It was two-tired.",
            "I told my plants a joke. They didn't laugh, but they grew on me.",
            "Why don't eggs tell secrets? They'd crack up.",
            "My calendar's days are numbered.",
            "I used to hate facial hair, but then it grew on me.",
            "Why did the cookie see a doctor? It felt crummy.",
            "The scarecrow won an award for being outstanding in his field.",
            "I'm reading a book on gravity. I can't put it down.",
            "Why was the math book sad? Too many problems.",
            "What do you call a fish with no eyes? A fsh.",
        ),
    ),
)


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


class OfflineModel:
    """A deterministic stand-in for a language model (see module docstring).

    Args:
        name: ``offline/<label>[?latency=S&messy=R]``.
        seed: Mixed into every answer; the request's own ``seed`` parameter is too.
    """

    supports_json_schema = False

    def __init__(self, name: str = "offline/demo", *, seed: int = 0) -> None:
        if not name.startswith("offline/"):
            raise ConfigError(f"offline model names start with 'offline/', got {name!r}")
        base, _, query = name.partition("?")
        opts = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(opts) - {"latency", "messy"}
        if unknown:
            raise ConfigError(
                f"unknown option(s) {sorted(unknown)}; expected latency, messy", where=name
            )
        try:
            self.latency = float(opts.get("latency", 0.0))
            self.messy = float(opts.get("messy", 0.0))
        except ValueError as exc:
            raise ConfigError(f"bad option value: {exc}", where=name) from exc
        self.name = name
        self.label = base
        self.seed = seed

    def __repr__(self) -> str:
        return f"OfflineModel({self.name!r}, seed={self.seed})"

    async def acomplete(self, request: Request) -> Completion:
        start = time.perf_counter()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        text = self.respond(request)
        prompt_chars = sum(len(m.get("content", "")) for m in request.messages)
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(prompt_tokens=prompt_chars // 4 + 1, completion_tokens=len(text) // 4 + 1),
            cost=0.0,
            latency=time.perf_counter() - start,
            synthetic=True,
            request_key=request.key,
        )

    # -- answer writing --------------------------------------------------------------------
    def respond(self, request: Request) -> str:
        """The raw answer text for a request (pure function of the request and seed)."""
        messages = request.messages
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        users = [m["content"] for m in messages if m.get("role") == "user"]
        task = users[-1] if users else system
        first_task = users[0] if users else system
        persona = system.split("\n\n")[0]
        rng = np.random.default_rng(
            _hash(self.seed, request.params.get("seed"), request.key, request.repeat)
        )
        # A persona's leanings stay the same across its calls; the request varies the rest.
        lean = np.random.default_rng(_hash(self.seed, persona, first_task))

        instr = system.lower()
        followup = len(users) > 1 and "same request" in task
        count_source = task if followup and _K_RE.search(task) else system
        k_match = _K_RE.search(count_source)
        wants_list = bool(k_match) or "all plausible responses" in instr
        with_numbers = wants_list and ("probability" in instr or "confidence" in instr)
        xml = "<response>" in system
        reasoning = '"reasoning"' in system or "<reasoning>" in system
        key = (
            "confidence" if '"confidence"' in system or "<confidence>" in system else "probability"
        )
        percent = "percentage" in instr
        k = int(k_match.group(1)) if k_match else (5 if wants_list else 1)
        tail_match = re.search(r"less than ([0-9.]+)", system)
        tail = float(tail_match.group(1).rstrip(".")) if tail_match else None
        if followup:
            task = first_task
            rng = np.random.default_rng(_hash(self.seed, request.key, len(users)))

        if not wants_list:
            # Asked for one answer it collapses to the typical one most of the time, as
            # aligned models do (mode collapse), so baselines look like baselines offline.
            # The typical answer depends on the request, not on the sample: a follow-up
            # ("another, different one") still gets the same typical answer most of the time;
            # a conversation's next turn is a new request, with its own typical line.
            context = first_task if followup else messages
            task_rng = np.random.default_rng(_hash(self.seed, system, context))
            pool = dialogue_lines(system, messages, 8, task_rng, lean) or self._texts(
                task, 8, task_rng, lean
            )
            pick = 0 if rng.random() < MODE_SHARE or len(pool) == 1 else rng.integers(1, len(pool))
            texts = [pool[int(pick)]]
        else:
            texts = dialogue_lines(system, messages, k, rng, lean) or self._texts(
                task, k, rng, lean
            )
        if not wants_list:
            if '"response"' in system:  # cot, JSON
                return json.dumps({"reasoning": self._reasoning(task), "response": texts[0]})
            if "<reasoning>" in system:
                return (
                    f"<reasoning>{_xml(self._reasoning(task))}</reasoning>\n"
                    f"<response><text>{_xml(texts[0])}</text></response>"
                )
            return texts[0]
        probs = self._probabilities(len(texts), rng, lean, tail)
        numbers: list[float | int] = (
            [round(p * 100) for p in probs] if percent else [round(p, 3) for p in probs]
        )
        messy = self.messy > 0 and rng.random() < self.messy
        if xml:
            blocks = []
            for text, num in zip(texts, numbers):
                inner = f"<text>{_xml(text)}</text>"
                if with_numbers:
                    inner += f"<{key}>{num}</{key}>"
                blocks.append(f"<response>{inner}</response>")
            body = "\n".join(blocks)
            if reasoning:
                body = f"<reasoning>{_xml(self._reasoning(task))}</reasoning>\n{body}"
            return f"Here you go:\n{body}" if messy else body
        items: list[dict[str, object]] = []
        for text, num in zip(texts, numbers):
            item: dict[str, object] = {"text": text}
            if with_numbers:
                item[key] = f"{num}%" if messy and percent else num
            items.append(item)
        payload: dict[str, object] = {"responses": items}
        if reasoning:
            payload = {"reasoning": self._reasoning(task), **payload}
        out = json.dumps(payload, ensure_ascii=False)
        if messy:
            out = f"Sure! Here are the responses:\n```json\n{out[:-2]},]}}\n```"
        return out

    def _texts(
        self, task: str, k: int, rng: np.random.Generator, lean: np.random.Generator
    ) -> list[str]:
        options = _options(task)
        if options:
            order = lean.permutation(len(options))
            if 'separated by " > "' in task:  # a ranking: whole orderings
                return _distinct(
                    (
                        " > ".join(options[i] for i in rng.permutation(len(options)))
                        for _ in range(k * 4)
                    ),
                    k,
                )
            if 'separated by "; "' in task:  # multi-select: subsets, the persona's favourites first
                most = re.search(r"at most (\d+)", task)
                top = min(len(options), int(most.group(1))) if most else len(options)
                subsets = (
                    "; ".join(options[i] for i in sorted(order[: int(rng.integers(1, top + 1))]))
                    for _ in range(k * 4)
                )
                return _distinct(subsets, k)
            return [options[i] for i in order[: min(k, len(options))]]
        rng_match = _RANGE_RE.search(task)
        if rng_match:
            lo, hi = float(rng_match.group(1)), float(rng_match.group(2))
            if hi < lo:
                lo, hi = hi, lo
            step = 1.0 if hi - lo > 20 else (hi - lo) / 20 or 1.0
            grid = np.round(np.arange(lo, hi + step / 2, step), 2)
            picks = [lo, *rng.choice(grid, size=min(k, len(grid)), replace=False).tolist()]
            seen: list[float] = []
            for v in picks:
                if v not in seen:
                    seen.append(v)
            return [_number_text(v) for v in seen[:k]]
        lowered = task.lower()
        for keys, words in _LEXICON:
            if any(re.search(rf"\b{key}s?\b", lowered) for key in keys):
                order = rng.permutation(len(words))
                return [words[i] for i in order[: min(k, len(words))]]
        topic = _topic(task)
        out: list[str] = []
        for _ in range(k * 3):
            sentence = (
                f"{_OPENERS[int(rng.integers(len(_OPENERS)))]} "
                f"{_BODIES[int(rng.integers(len(_BODIES)))].format(t=topic)}"
                f"{_CLOSERS[int(rng.integers(len(_CLOSERS)))]}"
            )
            sentence = sentence[0].upper() + sentence[1:]
            if sentence not in out:
                out.append(sentence)
            if len(out) == k:
                break
        return out

    @staticmethod
    def _probabilities(
        n: int, rng: np.random.Generator, lean: np.random.Generator, tail: float | None
    ) -> list[float]:
        base = lean.dirichlet(np.full(n, 1.5))
        noise = rng.dirichlet(np.full(n, 20.0))
        p = 0.7 * base + 0.3 * noise
        p = p / p.sum()
        if tail is not None:
            p = p * min(1.0, (tail * 0.95) / float(p.max()))
        return [float(x) for x in p]

    @staticmethod
    def _reasoning(task: str) -> str:
        return f"The request is about {_topic(task)}; several different answers are reasonable."


def _distinct(texts: Iterable[str], k: int) -> list[str]:
    out: list[str] = []
    for text in texts:
        if text not in out:
            out.append(text)
            if len(out) == k:
                break
    return out


def _options(task: str) -> list[str]:
    match = _OPTIONS_RE.search(task)
    if not match:
        return []
    options: list[str] = []
    for line in task[match.end() :].splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            options.append(stripped[2:].strip())
        elif stripped and options:
            break
    return [o for o in options if o]


def _topic(task: str) -> str:
    words = [w for w in _WORD_RE.findall(task) if w.lower() not in _STOP]
    if not words:
        return "this"
    return " ".join(words[-2:]).lower() if len(words) >= 2 else words[0].lower()


def _number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
