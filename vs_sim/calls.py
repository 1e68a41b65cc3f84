"""One distribution's model calls: the request of each, the re-asks when an answer cannot be
parsed, and the totals (usage, cost, request keys, repairs) the distribution records.

:class:`~vs_sim.verbalizer.CallPlan` holds what stays the same across calls; a
:class:`Caller` is made per distribution and runs its calls under that plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .distribution import Candidate, Repair
from .errors import ModelError, ParseError
from .models.base import Completion, Message, Request, Usage
from .parsing import strip_code_fences, strip_reasoning
from .parsing.response import clean_candidates

if TYPE_CHECKING:
    from .verbalizer import CallPlan

_PARSE_RETRY_STRIDE = 1 << 20  # a re-asked call is a new sample: its repeat index moves far away


@dataclass(frozen=True)
class CallRecord:
    """One model call as seen by ``on_call`` hooks (success or failure)."""

    request: Request
    completion: Completion | None
    error: BaseException | None


CallHook = Callable[[CallRecord], None]


def all_text(messages: list[Message]) -> bool:
    """Whether every key and value of every message is a ``str`` (not even a subclass).

    Such messages are what validating a :class:`Request` would leave unchanged; anything
    else (bytes, numbers) still goes through validation, which converts or refuses it.
    """
    for message in messages:
        for name, value in message.items():
            if type(name) is not str or type(value) is not str:
                return False
    return True


class Caller:
    """Runs one distribution's calls, recording usage, cost, keys and repairs."""

    __slots__ = (
        "cost",
        "keys",
        "on_call",
        "params",
        "plan",
        "repairs",
        "synthetic",
        "truncated",
        "trusted",
        "usage",
    )

    def __init__(
        self, plan: CallPlan, params: dict[str, Any], on_call: CallHook | None, trusted: bool
    ) -> None:
        self.plan = plan
        self.params = params
        self.on_call = on_call
        self.trusted = trusted  # every message holds only str: nothing to validate
        self.usage: Usage | None = None
        self.cost: float | None = None
        self.keys: list[str] = []
        self.repairs: list[Repair] = []
        self.synthetic = False
        self.truncated = False

    async def call(
        self, messages: Sequence[Message], repeat: int
    ) -> tuple[str, list[Candidate], list[Repair]]:
        """One call, re-asked up to ``parse_retries`` times if the answer cannot be parsed.

        Returns:
            The raw answer, its candidates and the parser's repairs.
        """
        last: ParseError | None = None
        chat = tuple(messages)
        plan = self.plan
        for attempt in range(plan.parse_retries + 1):
            request = self._request(chat, repeat + attempt * _PARSE_RETRY_STRIDE)
            try:
                completion = await plan.model.acomplete(request)
            except ModelError as exc:
                if self.on_call:
                    self.on_call(CallRecord(request, None, exc))
                raise
            if self.on_call:
                self.on_call(CallRecord(request, completion, None))
            self._count(request, completion)
            if plan.clean:  # an answer with nothing to repair needs no ParseResult
                candidates = clean_candidates(completion.text)
                if candidates is not None:
                    return completion.text, candidates, []
            try:
                result = plan.method.parse(completion.text)
            except ParseError as exc:
                last = exc
                self.repairs.append(
                    Repair(kind="parse_retry", detail=f"attempt {attempt + 1}: {exc.reason}")
                )
                continue
            self.truncated = self.truncated or result.truncated
            return completion.text, result.candidates, result.repairs
        assert last is not None
        text = strip_code_fences(strip_reasoning(last.raw)).strip()
        if plan.fallback and text:
            self.repairs.append(
                Repair(
                    kind="fallback_single",
                    detail="no candidates could be read; used the whole answer as one candidate",
                )
            )
            return last.raw, [Candidate(text=text, weight=1.0, probability=1.0)], []
        raise last

    def _request(self, chat: tuple[Message, ...], repeat: int) -> Request:
        """The request of one call; each gets its own params dict, as validation gave it."""
        name = self.plan.model.name
        if self.trusted:  # built here from checked text: validating would only copy it
            return Request.trusted(name, chat, dict(self.params), repeat)
        return Request(model=name, messages=chat, params=self.params, repeat=repeat)

    def _count(self, request: Request, completion: Completion) -> None:
        """Add one answered call to the totals (usage, cost, keys, synthetic)."""
        usage = completion.usage
        self.usage = usage if self.usage is None else self.usage + usage
        if completion.cost is not None:  # a sum of the known costs, as sum() would add them
            self.cost = (0 if self.cost is None else self.cost) + completion.cost
        self.keys.append(request.key)
        self.synthetic = self.synthetic or completion.synthetic
