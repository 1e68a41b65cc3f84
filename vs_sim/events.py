"""The event log: an append-only JSONL file that is the truth about a run.

Every model call, distribution, choice, utterance and answer is appended and flushed as it
happens, so killing the process loses at most the calls in flight. Graphs, tables and reports
are views rebuilt from the log; ``resume`` reads it back to skip finished work.

Each line is one JSON object with a ``kind`` field naming its event type below.

Hot paths build their events with ``trusted`` (``Utterance.trusted(...)``: no validation,
the engine made the values). Readers that need a few fields of many events use
:func:`read_records` (plain dicts) rather than :func:`read_events` (validated events).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Annotated, Any, Literal, TypeVar, get_args

import orjson
from pydantic import ConfigDict, Field, TypeAdapter

from .errors import ConfigError
from .records import _UNSET, TrustedModel, trusted

SCHEMA_VERSION = 1


class _Record(TrustedModel):
    """Base of every model the log writes: unknown fields are refused, and hot paths that
    made their values themselves can skip validation with ``trusted(...)``
    (:class:`~vs_sim.records.TrustedModel`)."""

    model_config = ConfigDict(extra="forbid")


class _Event(_Record):
    t: float = Field(default_factory=time.time)
    """Wall-clock time the event was written (seconds since the epoch)."""


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    run_id: str
    seed: int
    config: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    synthetic: bool = False
    schema_version: int = SCHEMA_VERSION


class Participant(_Record):
    agent_id: str
    name: str
    persona_id: str | None = None
    template: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    role: str | None = None


class ConversationStarted(_Event):
    kind: Literal["conversation_started"] = "conversation_started"
    conversation_id: str
    participants: list[Participant] = Field(default_factory=list)
    parent_id: str | None = None
    """For a branch: the conversation it was forked from."""
    fork_turn: int | None = None
    """For a branch: turns before this one are shared with the parent."""
    meta: dict[str, Any] = Field(default_factory=dict)


class ModelCall(_Event):
    kind: Literal["model_call"] = "model_call"
    conversation_id: str | None = None
    turn: int | None = None
    purpose: str = "utterance"
    request_key: str | None = None
    model: str
    latency: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached: bool = False
    retries: int = 0
    error: str | None = None
    synthetic: bool = False


class CandidateRecord(_Record):
    text: str
    stated: float | str | None = None
    weight: float
    probability: float

    @classmethod
    def trusted(  # type: ignore[override]  # the same fields, spelled out
        cls,
        *,
        text: str,
        weight: float,
        probability: float,
        stated: float | str | None = _UNSET,
    ) -> CandidateRecord:
        """``trusted(...)`` spelled out for the record a turn makes five of: Python's own
        argument checks stand in for the generic lookups, at half the cost."""
        if stated is _UNSET:  # left out: the default, and not among the fields set
            stated, given = None, {"text", "weight", "probability"}
        else:
            given = {"text", "stated", "weight", "probability"}
        values = {"text": text, "stated": stated, "weight": weight, "probability": probability}
        return trusted(cls, values, given)


class DistributionRecorded(_Event):
    kind: Literal["distribution"] = "distribution"
    conversation_id: str | None = None
    turn: int | None = None
    speaker: str | None = None
    purpose: str = "utterance"
    method: str
    model: str | None = None
    candidates: list[CandidateRecord]
    dropped: list[CandidateRecord] = Field(default_factory=list)
    repairs: list[dict[str, Any]] = Field(default_factory=list)
    truncated: bool = False
    entropy: float = 0.0
    request_keys: list[str] = Field(default_factory=list)


class Choice(_Event):
    kind: Literal["choice"] = "choice"
    conversation_id: str | None = None
    turn: int | None = None
    speaker: str | None = None
    purpose: str = "utterance"
    index: int
    """Position of the chosen candidate in the distribution's candidate list."""
    rank: int
    """1 for the most probable candidate, 2 for the next, ..."""
    probability: float
    rule: str = "weighted"
    rng_key: list[str | int] = Field(default_factory=list)


class Utterance(_Event):
    kind: Literal["utterance"] = "utterance"
    conversation_id: str
    turn: int
    speaker: str
    text: str
    addressed_to: list[str] = Field(default_factory=list)
    reply_to: int | None = None
    probability: float | None = None
    rank: int | None = None
    entropy: float | None = None
    note: str | None = None
    """What the scheduler said about this turn (e.g. a fallback it took), if anything."""
    round_start: int | None = None
    """For a simultaneous round: the turn the round began at (all of it saw the same history)."""
    round_size: int | None = None
    """For a simultaneous round: how many utterances the round has."""


class MemorySummary(_Event):
    kind: Literal["memory_summary"] = "memory_summary"
    conversation_id: str
    agent_id: str
    turn: int
    """The turn about to be spoken when the summary was made."""
    covers: int
    """How many utterances (from the start) the summary stands for."""
    text: str


class Answer(_Event):
    kind: Literal["answer"] = "answer"
    conversation_id: str
    """The respondent's conversation (one per respondent in a survey)."""
    question_id: str
    value: Any = None
    """The answer drawn (an option label, a number, a list for multi-select/ranking, or text)."""
    matched: bool = True
    """False when the drawn text matched no option (kept verbatim in ``raw``)."""
    raw: str | None = None
    soft: dict[str, float] = Field(default_factory=dict)
    """The verbalized distribution over the options (the respondent's "soft" answer)."""
    skipped: bool = False
    unmatched: list[CandidateRecord] = Field(default_factory=list)
    """Candidates that read as no valid answer (kept with their text, weight and probability)."""
    matched_by: str | None = None
    """How the drawn text was read: exact, normalized, label, fuzzy, list, none, number, text."""
    out_of_range: bool = False
    """A numeric answer outside the question's range (kept in ``value``)."""
    error: str | None = None
    """Why the question has no answer although it was asked (e.g. an unreadable reply)."""
    agent_id: str | None = None
    """Who answered, in a conversation with several respondents (e.g. a focus group);
    ``None``: the conversation's one respondent."""
    turn: int | None = None
    """Asked during a conversation: how many of its utterances the respondent had seen."""


class ConversationEnded(_Event):
    kind: Literal["conversation_ended"] = "conversation_ended"
    conversation_id: str
    reason: str
    status: Literal["completed", "failed"] = "completed"
    error: str | None = None
    turns: int = 0


class RunEnded(_Event):
    kind: Literal["run_ended"] = "run_ended"
    run_id: str
    status: Literal["completed", "interrupted", "failed"] = "completed"
    summary: dict[str, Any] = Field(default_factory=dict)


Event = Annotated[
    RunStarted
    | ConversationStarted
    | ModelCall
    | DistributionRecorded
    | Choice
    | Utterance
    | MemorySummary
    | Answer
    | ConversationEnded
    | RunEnded,
    Field(discriminator="kind"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
_EVENT_CLASSES: tuple[type[_Event], ...] = get_args(get_args(Event)[0])  # the union's members
_KINDS = frozenset(cls.model_fields["kind"].default for cls in _EVENT_CLASSES)

# orjson refuses what it would write unlike pydantic (datetimes, dataclasses, subclasses of
# builtins, sets, huge ints, other models): such an event is written by pydantic instead.
_JSON_LINE = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_FIELDS_ARE_JSON = frozenset((*_EVENT_CLASSES, CandidateRecord, Participant))
"""Models with no custom serialization: their JSON is their field dict, in declaration order."""


def _json_line(event: _Event) -> bytes:
    """``event.model_dump_json()``'s bytes and a newline.

    orjson writes the field dict itself, several times faster than pydantic's serializer
    and byte for byte the same for the values events hold (``tests/test_events_fast.py``);
    a value it would write differently makes it refuse, and pydantic writes that event.
    """
    if type(event) in _FIELDS_ARE_JSON:
        try:
            # (positional: orjson parses keyword arguments slower than it writes a line)
            return orjson.dumps(event.__dict__, _fields_of, _JSON_LINE)
        except orjson.JSONEncodeError:
            pass
    return type(event).__pydantic_serializer__.to_json(event) + b"\n"


def _fields_of(value: Any) -> dict[str, Any]:
    """orjson's hook for what it cannot write itself: a nested record, or a refusal."""
    if type(value) in _FIELDS_ARE_JSON:
        return value.__dict__  # type: ignore[no-any-return]
    raise TypeError


_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|authorization|bearer)", re.I)
_SECRET_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+\S+)")
_TOKEN_COUNTS = {"prompt_tokens", "completion_tokens", "total_tokens", "max_tokens", "tokens"}


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets removed: keys that name a secret, and key-like strings.

    Example:
        >>> redact({"model": "gpt-4o", "api_key": "sk-abcdefghijkl"})
        {'model': 'gpt-4o', 'api_key': '[redacted]'}
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if _SECRET_KEY.search(name) and name not in _TOKEN_COUNTS and item is not None:
                out[name] = "[redacted]"
            else:
                out[name] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub("[redacted]", value)
    return value


def _lock_exclusively(file: IO[bytes], path: Path) -> None:
    """Hold an exclusive lock on the open log until it is closed, so a second process (a
    ``--resume`` started while the run still goes on) cannot write into it and pay for the
    same calls twice. Where the OS has no ``flock`` (Windows), nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.close()
        raise ConfigError(
            "another process is writing this run's log; let it finish (or stop it) first",
            where=str(path),
        ) from None


class EventLog:
    """Appends events to a JSONL file, one line per event, each flushed before anything else
    can happen.

    Outside an event loop every line is flushed to the OS as it is written. Inside one, the
    lines written during one step of the loop (everything between two awaits that
    suspend) are flushed together at the start of the next step, before the loop handles
    any new answer: one system call per batch instead of one per event, and a kill still
    loses at most the work of calls whose answers were still being handled.

    Use as a context manager. Writing is thread-safe; every line is complete JSON or,
    after a hard kill mid-write, a torn last line that :func:`read_events` skips.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._flush_on: asyncio.AbstractEventLoop | None = None  # a flush is scheduled there
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115
        _lock_exclusively(self._file, self.path)
        # A torn last line from a killed run would glue onto our first line: start a fresh one.
        if self.path.stat().st_size > 0:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self._file.write(b"\n")
                    self._file.flush()

    def write(self, event: _Event) -> None:
        """Append one event; it reaches the OS now, or (in an event loop) at the next step."""
        line = _json_line(event)
        file = self._file
        if file is None:
            raise ConfigError("the event log is closed", where=str(self.path))
        try:
            # One write call per line: the buffered file's own lock keeps each line whole
            # when threads write at once, so only the flush scheduling takes our lock.
            file.write(line)
        except ValueError:  # closed by another thread meanwhile
            raise ConfigError("the event log is closed", where=str(self.path)) from None
        loop = asyncio._get_running_loop()  # (get_running_loop, but None outside a loop)
        if loop is None or loop is not self._flush_on:
            self._schedule_flush(loop)
        # else this step's flush is queued on this thread's own loop: it runs after this step

    def _schedule_flush(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Flush now (no event loop), or at ``loop``'s next step (once per step)."""
        with self._lock:
            if self._file is None:
                return
            if loop is None:  # no event loop: to the OS now
                self._file.flush()
                self._flush_on = None
                return
            if loop is self._flush_on:
                return  # queued meanwhile
            if self._flush_on is not None:  # scheduled on a loop that is no longer running
                self._file.flush()
            self._flush_on = loop
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand every line written so far to the OS."""
        with self._lock:
            self._flush_on = None
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._flush_on = None
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_event(line: str | bytes | Mapping[str, Any]) -> Event:
    """One event from a JSON line (or an already-decoded dict)."""
    if isinstance(line, Mapping):
        return _EVENT_ADAPTER.validate_python(line)
    return _EVENT_ADAPTER.validate_json(line)


def read_events(path: str | os.PathLike[str], *, strict: bool = False) -> Iterator[Event]:
    """Read a log back, in file order, each line validated into its event class.

    A line torn by a kill is skipped: the last line (no newline after it), or a line a
    resume then followed with a fresh start (:class:`EventLog` ends the torn line, and the
    resumed run's first event is ``run_started``). Any other bad line is corruption and
    raises a :class:`ConfigError` naming ``file:line``, as every bad line does with
    ``strict=True``.
    """
    return _read_lines(
        path, strict, _EVENT_ADAPTER.validate_json, lambda event: isinstance(event, RunStarted)
    )


def read_records(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    kinds: Collection[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Read a log back as plain dicts (``orjson.loads`` of each line), in file order.

    For readers that need a few fields of many events (graphs, tables): no pydantic model is
    built, so a line costs a fraction of :func:`read_events`. A line only has to be a JSON
    object whose ``kind`` names an event type; its other fields are not checked. Torn and bad
    lines follow the same rules, with the same errors, as :func:`read_events`.

    Args:
        path: The log.
        strict: Every bad line is an error, a torn last one too.
        kinds: Only records of these kinds (``None``: all). A line of another kind that
            begins as vs_sim writes it (``{"t":<number>,"kind":"<kind>"``) is skipped
            without being decoded, so damage inside such a line is not reported here
            (:func:`read_events` reports it); every other line is decoded and checked.

    Raises:
        ConfigError: No log at ``path``, a bad line (naming ``file:line``), or an unknown
            name in ``kinds``.
    """
    if kinds is None:
        return _read_lines(path, strict, _decode_record, _is_run_started)
    wanted = frozenset(kinds)
    if not wanted <= _KINDS:
        unknown = ", ".join(sorted(wanted - _KINDS))
        raise ConfigError(f"no event kind named {unknown}", where="read_records(kinds=...)")
    return _read_lines(
        path,
        strict,
        _decode_record,
        _is_run_started,
        skip=_skipper(_KINDS - wanted),
        keep=lambda record: record["kind"] in wanted,
    )


def _is_run_started(record: dict[str, Any]) -> bool:
    return record["kind"] == "run_started"  # type: ignore[no-any-return]


def _decode_record(line: bytes) -> dict[str, Any]:
    record = orjson.loads(line)
    if type(record) is not dict or record.get("kind") not in _KINDS:
        raise ValueError("not an event: a JSON object with a known 'kind' was expected")
    return record


_KIND_KEY = b',"kind":"'


def _skipper(unwanted: Iterable[str]) -> Callable[[bytes], bool]:
    """A byte test telling a line of an ``unwanted`` kind from its first bytes, undecoded.

    It holds for the lines vs_sim writes: the key ``t`` (a number) first, then ``kind``. A
    line that does not begin so, or whose kind is spelled otherwise (escapes), is not
    skipped: it is decoded and checked as usual.
    """
    names = frozenset(kind.encode() for kind in unwanted)

    def skipped(line: bytes) -> bool:
        if not line.startswith(b'{"t":'):
            return False
        at = line.find(_KIND_KEY, 5, 64)
        if at < 0 or b'"' in line[5:at]:  # t's value is a number: no quote before "kind"
            return False
        start = at + len(_KIND_KEY)
        end = line.find(b'"', start, start + 40)
        return end >= 0 and line[start:end] in names

    return skipped


_T = TypeVar("_T")


def _read_lines(
    path: str | os.PathLike[str],
    strict: bool,
    decode: Callable[[bytes], _T],
    is_fresh_start: Callable[[_T], bool],
    *,
    skip: Callable[[bytes], bool] | None = None,
    keep: Callable[[_T], bool] | None = None,
) -> Iterator[_T]:
    """The one implementation of the torn-line rules: ``decode`` each non-blank line (it raises
    ``ValueError`` for a bad one); forgive a torn line as :func:`read_events` says.

    ``skip`` passes over a line undecoded (never right after a bad line: the next one must
    be read to tell whether it is a fresh start); ``keep`` filters the decoded items.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError("no event log here", where=str(p))
    torn: tuple[int, Exception] | None = None  # a bad line, forgiven if a fresh start follows
    with open(p, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if skip is not None and torn is None and skip(line):
                continue
            if not line.strip():
                continue
            try:
                item = decode(line)
            except ValueError as exc:  # orjson's and pydantic's errors are ValueErrors
                if torn is not None:
                    raise _bad_line(p, *torn) from torn[1]
                if strict or (line.endswith(b"\n") and _looks_complete(line)):
                    raise _bad_line(p, lineno, exc) from exc
                torn = (lineno, exc)
                continue
            if torn is not None and not is_fresh_start(item):
                raise _bad_line(p, *torn) from torn[1]
            torn = None
            if keep is None or keep(item):
                yield item


def _bad_line(path: Path, lineno: int, exc: Exception) -> ConfigError:
    return ConfigError(f"bad event (the log is corrupt): {exc}", where=f"{path}:{lineno}")


def _looks_complete(line: bytes) -> bool:
    try:
        json.loads(line)  # the stdlib's reader: it takes NaN, which a torn line never is
    except ValueError:  # not JSON, or cut inside a UTF-8 character
        return False  # torn by a kill: skip it
    return True


def write_events(path: str | os.PathLike[str], events: Iterable[_Event]) -> None:
    """Append several events (e.g. when copying or rewriting a log)."""
    with EventLog(path) as log:
        for event in events:
            log.write(event)
