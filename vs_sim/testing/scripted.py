"""A scripted model for tests: queued replies, a record of every request, injected failures.

:class:`ScriptedModel` implements the model protocol without any network. Queue
replies (text, a :class:`~vs_sim.models.base.Completion`, or an exception to raise)
with :meth:`ScriptedModel.enqueue`; read what it was asked in
:attr:`ScriptedModel.history`. With an empty queue it answers a Verbalized
Sampling reply made by :func:`vs_answer`, the same generator the fake OpenAI server
uses.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..models.base import Completion, Request, Usage
from ..models.limits import estimate_tokens

Reply = str | Completion | BaseException
FailureHook = Callable[[int, Request], BaseException | None]

DEFAULT_K = 5

_K_PATTERN = re.compile(
    r"\b(\d{1,3})\s+(?:\w+\s+){0,2}?"
    r"(?:responses|candidates|answers|samples|replies|options|continuations|utterances)\b",
    re.IGNORECASE,
)

_OPENERS = (
    "Honestly, I think",
    "From where I stand,",
    "I'd say",
    "My guess is that",
    "It seems to me that",
    "If you ask me,",
    "To be fair,",
    "I keep coming back to the idea that",
    "Looking at it another way,",
    "Speaking for myself,",
)
_CLAUSES = (
    "it depends on who you ask",
    "the simplest answer is usually right",
    "people underestimate how much this matters",
    "we should wait and see",
    "there is more than one good answer here",
    "the costs outweigh the benefits",
    "it is worth trying at least once",
    "most people would disagree with me",
    "the details matter more than the headline",
    "it comes down to trust",
    "nobody really knows yet",
    "it is better than the alternatives",
)


def requested_k(messages: Iterable[Mapping[str, str]], default: int = DEFAULT_K) -> int:
    """How many responses the prompt asks for ("5 responses" → 5), else ``default``."""
    k = default
    for message in messages:
        found = _K_PATTERN.findall(message.get("content") or "")
        if found:
            k = int(found[-1])
    return max(1, min(k, 100))


_OPTIONS_BLOCK = re.compile(r"^Options:[ \t]*\n((?:[ \t]*[-*•][ \t]+\S.*(?:\n|$))+)", re.MULTILINE)


def listed_options(messages: Sequence[Mapping[str, object]]) -> list[str]:
    """The options a survey question lists in the last user message (``Options:`` followed
    by ``- option`` lines), or ``[]`` when it lists none."""
    for message in reversed(messages):
        if message.get("role") == "user":
            match = _OPTIONS_BLOCK.search(str(message.get("content") or ""))
            if match is None:
                return []
            lines = match.group(1).splitlines()
            return [line.strip()[1:].strip() for line in lines if line.strip()]
    return []


def vs_answer(k: int, rng: random.Random, options: Sequence[str] = ()) -> str:
    """A Verbalized Sampling answer: ``{"responses": [{"text", "probability"}, ...]}``.

    Texts are distinct sentences; probabilities are random weights rounded to two
    decimals that sum to about 1, as a real model's would. Given a question's ``options``,
    the texts are ``k`` of them (all of them when there are fewer), so a survey's answers
    match its options.

    Args:
        k: How many responses.
        rng: Source of the texts and weights (seed it for reproducible answers).
        options: Answer options to choose the texts from.
    """
    texts: list[str] = []
    seen: set[str] = set()
    if options:
        distinct = list(dict.fromkeys(options))
        texts = rng.sample(distinct, min(k, len(distinct)))
    while len(texts) < k and not options:
        text = f"{rng.choice(_OPENERS)} {rng.choice(_CLAUSES)}."
        if text in seen:
            text = f"{text[:-1]}, in case {len(texts) + 1}."
        seen.add(text)
        texts.append(text)
    weights = [rng.uniform(0.05, 1.0) for _ in texts]
    total = sum(weights)
    responses = [
        {"text": text, "probability": round(weight / total, 2)}
        for text, weight in zip(texts, weights)
    ]
    return json.dumps({"responses": responses}, ensure_ascii=False)


class ScriptedModel:
    """A model that answers from a queue, for unit tests of code that takes a model.

    Args:
        name: The model's name.
        replies: Initial queue: texts, completions, or exceptions to raise.
        supports_json_schema: What the model claims about JSON-schema output.
        delay: Seconds each call takes (an ``asyncio.sleep``), to exercise concurrency.
        fail: Called with the call number (from 0) and the request before each call;
            when it returns an exception, that exception is raised instead of answering.
        seed: Seed of the default VS answers.
        cost: Cost reported for each answered call.

    Attributes:
        history: Every request received, in order (including failed ones).
        in_flight: Calls running now; ``max_in_flight`` is the most seen at once.
    """

    def __init__(
        self,
        name: str = "scripted/test",
        replies: Sequence[Reply] = (),
        *,
        supports_json_schema: bool = False,
        delay: float = 0.0,
        fail: FailureHook | None = None,
        seed: int = 0,
        cost: float | None = None,
    ) -> None:
        self.name = name
        self.supports_json_schema = supports_json_schema
        self.delay = delay
        self.fail = fail
        self.cost = cost
        self.history: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque(replies)
        self._rng = random.Random(seed)

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies: a text, a :class:`Completion`, or an exception to raise."""
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Replies still queued."""
        return len(self._queue)

    async def acomplete(self, request: Request) -> Completion:
        """Answer the next queued reply (or a VS answer), after ``delay`` seconds."""
        call = len(self.history)
        self.history.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.perf_counter()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail is not None:
                failure = self.fail(call, request)
                if failure is not None:
                    raise failure
            reply: Reply = (
                self._queue.popleft()
                if self._queue
                else vs_answer(requested_k(request.messages), self._rng)
            )
        finally:
            self.in_flight -= 1
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, Completion):
            return reply.model_copy(update={"request_key": request.key})
        return Completion(
            text=reply,
            model=self.name,
            usage=Usage(
                prompt_tokens=estimate_tokens(request.messages),
                completion_tokens=max(1, len(reply) // 4),
            ),
            cost=self.cost,
            latency=time.perf_counter() - started,
            request_key=request.key,
        )

    def __repr__(self) -> str:
        return f"ScriptedModel({self.name!r}, pending={self.pending})"
