"""The event log's fast paths, each held to the general one it stands in for.

read_records follows read_events' torn-line rules; Cls.trusted(...) gives what Cls(...) gives;
the writer's lines are the events' own model_dump_json().
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.agents import distribution_event
from vs_sim.distribution import Candidate, Distribution, Repair
from vs_sim.errors import ConfigError
from vs_sim.events import (
    _EVENT_CLASSES,
    Answer,
    CandidateRecord,
    Choice,
    DistributionRecorded,
    EventLog,
    ModelCall,
    Participant,
    RunEnded,
    RunStarted,
    Utterance,
    _json_line,
    read_events,
    read_records,
    write_events,
)
from vs_sim.models.base import Completion, Request, Usage
from vs_sim.runner import call_event
from vs_sim.verbalizer import CallRecord


class _Label(str, enum.Enum):
    YES = "yes"


Reader = Callable[..., Iterator[Any]]
READERS = [pytest.param(read_events, id="read_events"), pytest.param(read_records, id="records")]


def _kinds(items: Iterator[Any]) -> list[str]:
    return [i["kind"] if isinstance(i, dict) else i.kind for i in items]


def _lines() -> tuple[str, str]:
    started = RunStarted(run_id="run-1", seed=3).model_dump_json()
    ended = RunEnded(run_id="run-1", status="completed").model_dump_json()
    return started, ended


# -- read_records: the same dicts as the validated events' JSON --------------------------------


def test_read_records_gives_each_line_as_the_dict_its_event_dumps_to(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    cands = [CandidateRecord(text="a", stated=0.7, weight=0.7, probability=0.7)]
    with EventLog(log) as w:
        w.write(RunStarted(run_id="r", seed=1, config={"k": [1, 2.5, None]}))
        w.write(ModelCall(conversation_id="c", turn=0, model="m", latency=0.25))
        w.write(DistributionRecorded(method="vs", candidates=cands, entropy=0.1))
        w.write(Choice(index=0, rank=1, probability=0.7, rng_key=["c", 0]))
        w.write(Utterance(conversation_id="c", turn=0, speaker="ana", text='héllo "x"\n'))
    records = list(read_records(log))
    events = list(read_events(log))
    assert records == [e.model_dump(mode="json") for e in events]
    assert [r["kind"] for r in records] == [
        "run_started",
        "model_call",
        "distribution",
        "choice",
        "utterance",
    ]
    assert records[4]["text"] == 'héllo "x"\n'
    assert records[2]["candidates"][0] == {
        "text": "a",
        "stated": 0.7,
        "weight": 0.7,
        "probability": 0.7,
    }


# -- the torn-line rules, for both readers ------------------------------------------------------


@pytest.mark.parametrize("read", READERS)
def test_a_torn_last_line_is_skipped_unless_strict(tmp_path: Path, read: Reader) -> None:
    started, ended = _lines()
    log = tmp_path / "events.jsonl"
    log.write_text(f"{started}\n\n{ended[:25]}", encoding="utf-8")  # killed mid-write
    assert _kinds(read(log)) == ["run_started"]
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:3: bad event"):
        list(read(log, strict=True))


@pytest.mark.parametrize("read", READERS)
def test_a_torn_line_a_resume_followed_is_skipped(tmp_path: Path, read: Reader) -> None:
    started, ended = _lines()
    log = tmp_path / "events.jsonl"
    log.write_text(f"{started}\n{ended[:25]}", encoding="utf-8")
    with EventLog(log) as writer:  # a resume: ends the torn line, then run_started
        writer.write(RunStarted(run_id="run-1", seed=3))
    assert _kinds(read(log)) == ["run_started", "run_started"]


@pytest.mark.parametrize("read", READERS)
def test_a_line_torn_inside_a_utf8_character_is_skipped_too(tmp_path: Path, read: Reader) -> None:
    started, _ = _lines()
    said = Utterance(conversation_id="c", turn=0, speaker="a", text="café").model_dump_json()
    cut = said.encode()[: said.encode().index("é".encode()) + 1]  # half of the "é"
    log = tmp_path / "events.jsonl"
    log.write_bytes(f"{started}\n".encode() + cut + f"\n{started}\n".encode())
    assert _kinds(read(log)) == ["run_started", "run_started"]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ("{started}\n{torn}\n{ended}\n", 2),  # a torn line not followed by a fresh start
        ("{started}\nname: quickstart\ntask: survey\n", 2),  # not JSON at all
        ("{started}\n[1, 2]\n{ended}\n", 2),  # JSON, but no event
        ('{started}\n{{"kind": "nope"}}\n', 2),  # an unknown kind
        ("{started}\n{torn}\n{torn}\n{started}\n", 2),  # two torn lines in a row
    ],
)
def test_a_bad_line_in_the_middle_is_an_error_naming_file_and_line(
    tmp_path: Path, read: Reader, body: str, bad: int
) -> None:
    started, ended = _lines()
    log = tmp_path / "events.jsonl"
    log.write_text(body.format(started=started, ended=ended, torn=ended[:25]), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(log))}:{bad}: bad event \(the log is corrupt\)"
    ):
        list(read(log))


@pytest.mark.parametrize("read", READERS)
def test_a_missing_log_says_where(tmp_path: Path, read: Reader) -> None:
    with pytest.raises(ConfigError, match="no event log here"):
        list(read(tmp_path / "nope.jsonl"))


def test_invalid_utf8_is_corruption_not_a_crash(tmp_path: Path) -> None:
    started, ended = _lines()
    log = tmp_path / "events.jsonl"
    log.write_bytes(f"{started}\n".encode() + b'{"kind": "\xff"}\n' + f"{ended}\n".encode())
    for read in (read_events, read_records):
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:2: bad event"):
            list(read(log))


def test_only_read_events_checks_the_fields(tmp_path: Path) -> None:
    started, _ = _lines()
    log = tmp_path / "events.jsonl"
    odd = {**orjson.loads(started), "seed": "not a number"}
    log.write_bytes(orjson.dumps(odd) + b"\n")
    assert [r["seed"] for r in read_records(log)] == ["not a number"]
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:1: bad event"):
        list(read_events(log))


# -- trusted(): the same record as validation gives, for every class the log writes ------------

RECORD_CLASSES: list[type[Any]] = [*_EVENT_CLASSES, CandidateRecord, Participant]

_json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits: pydantic writes those
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _values_of(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of a field's declared type, as a hot path would make them (no conversion)."""
    if annotation is Any:
        return _json_values
    if annotation in (CandidateRecord, Participant):
        return _fields(annotation).map(lambda f: annotation.trusted(**f))
    simple = {
        str: st.text(max_size=12),
        int: st.integers(min_value=-(2**70), max_value=2**70),
        float: st.floats(allow_nan=False),
        bool: st.booleans(),
        type(None): st.none(),
    }
    if annotation in simple:
        return simple[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, UnionType):
        return st.one_of([_values_of(a) for a in args])
    if origin is list:
        return st.lists(_values_of(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=4), _values_of(args[1]), max_size=3)
    raise AssertionError(f"no strategy for {annotation!r}")  # a new field type: add it here


def _fields(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Every required field, and any subset of the others (defaults omitted or given)."""
    required = {n: _values_of(f.annotation) for n, f in cls.model_fields.items() if f.is_required()}
    optional = {
        n: _values_of(f.annotation) for n, f in cls.model_fields.items() if not f.is_required()
    }
    return st.fixed_dictionaries(required, optional=optional)


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_trusted_equals_validated_and_dumps_the_same_json(
    cls: type[Any], data: st.DataObject
) -> None:
    fields = data.draw(_fields(cls))
    trusted = cls.trusted(**fields)
    validated = cls(**fields)
    assert trusted.model_fields_set == validated.model_fields_set == set(fields)
    if "t" in cls.model_fields and "t" not in fields:  # each filled the time itself
        assert abs(trusted.t - validated.t) < 60
        validated = validated.model_copy(update={"t": trusted.t})
    assert trusted == validated
    assert trusted.model_dump_json() == validated.model_dump_json()  # no warning either
    if cls in _EVENT_CLASSES:  # and the log writes the same line
        assert _json_line(trusted) == validated.model_dump_json().encode() + b"\n"
    assert list(trusted.__dict__) == list(cls.model_fields)  # the JSON key order


def _full(cls: type[Any]) -> dict[str, Any]:
    """Every field of ``cls``, each with a value that is not its default."""
    return {name: _sample(f.annotation) for name, f in cls.model_fields.items()}


def _sample(annotation: Any) -> Any:
    samples: dict[Any, Any] = {str: "x", int: 7, float: 0.25, bool: True, Any: {"n": [1, None]}}
    if annotation in samples:
        return samples[annotation]
    if annotation in (CandidateRecord, Participant):
        return annotation.trusted(**_full(annotation))
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return args[-1]
    if origin in (Union, UnionType):
        return _sample(args[0])
    if origin is list:
        return [_sample(args[0])]
    assert origin is dict, annotation
    return {"k": _sample(args[1])}


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
def test_trusted_with_every_field_given_or_only_the_required(cls: type[Any]) -> None:
    full = _full(cls)
    assert cls.trusted(**full) == cls(**full)
    assert cls.trusted(**full).model_dump_json() == cls(**full).model_dump_json()
    required = {n: v for n, v in full.items() if cls.model_fields[n].is_required()}
    before = time.time()
    a, b = cls.trusted(**required), cls.trusted(**required)
    expected = cls(**required)
    if "t" in required or "t" not in cls.model_fields:
        assert a == expected
    else:
        assert before <= a.t <= time.time()
        assert a == expected.model_copy(update={"t": a.t})
    for name, value in a.__dict__.items():  # mutable defaults are fresh, as pydantic makes them
        if name not in required and isinstance(value, list | dict):
            assert value is not b.__dict__[name]


def test_trusted_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(TypeError, match=r"Utterance.trusted\(\): unknown \['txt'\]"):
        Utterance.trusted(conversation_id="c", turn=0, speaker="a", text="x", txt="y")
    with pytest.raises(TypeError, match=r"missing \['speaker'\]"):
        Utterance.trusted(conversation_id="c", turn=0, text="x")


# -- the writer: each line is the event's model_dump_json(), whoever serializes it ---------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_logged_line_is_the_events_own_json(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    events = [
        data.draw(_fields(cls).map(lambda f, c=cls: c(**f)))  # type: ignore[misc]
        for cls in _EVENT_CLASSES
    ]
    log = tmp_path_factory.mktemp("log") / "events.jsonl"
    write_events(log, events)
    assert log.read_text("utf-8") == "".join(e.model_dump_json() + "\n" for e in events)


class _Stamp(Utterance):
    """A subclass the writer knows nothing about: pydantic writes it."""

    stamp: str = "s"


@pytest.mark.parametrize(
    "event",
    [
        RunStarted(run_id="r", seed=2**80, config={"big": 2**80}),  # past 64 bits
        RunStarted(
            run_id="r",
            seed=1,
            config={"when": datetime(2024, 5, 1, 12, 30, 0, 12, tzinfo=timezone.utc)},
        ),
        RunStarted(run_id="r", seed=1, config={"tags": {"a"}, "path": Path("x/y")}),
        RunStarted(run_id="r", seed=1, config={"keys": {1: "one"}, "pair": (1, 2.5)}),
        RunStarted(run_id="r", seed=1, config={"n": float("nan"), "inf": float("-inf")}),
        Answer(conversation_id="c", question_id="q", value=_Label.YES),
        Answer(
            conversation_id="c",
            question_id="q",
            value=CandidateRecord(text="a", weight=1, probability=1),
        ),
        _Stamp(conversation_id="c", turn=0, speaker="a", text="x"),
    ],
    ids=[
        "huge-int",
        "datetime",
        "set-and-path",
        "int-keys-and-tuple",
        "nan",
        "enum",
        "model",
        "subclass",
    ],
)
def test_values_orjson_would_write_differently_are_written_by_pydantic(
    tmp_path: Path, event: Any
) -> None:
    log = tmp_path / "events.jsonl"
    with EventLog(log) as w:
        w.write(event)
    assert log.read_bytes() == type(event).__pydantic_serializer__.to_json(event) + b"\n"


# -- the turn's own records: built straight from a validated distribution and completion --------


_candidates = st.lists(
    st.builds(
        Candidate,
        text=st.text(max_size=12),
        stated=st.none() | st.floats(0, 100) | st.text(max_size=4),
        weight=st.floats(0, 100),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    candidates=_candidates,
    tau=st.none() | st.floats(0.0, 0.5),
    repairs=st.lists(
        st.builds(Repair, kind=st.text(max_size=5), item=st.none() | st.integers(0, 5))
    ),
    keys=st.lists(st.text(max_size=6), max_size=3),
    turn=st.none() | st.integers(0, 50),
)
def test_distribution_event_is_the_validated_event(
    candidates: list[Candidate],
    tau: float | None,
    repairs: list[Repair],
    keys: list[str],
    turn: Any,
) -> None:
    dist = Distribution.from_candidates(
        candidates, tau=tau, method="vs_standard", model="m", repairs=repairs, request_keys=keys
    )
    fast = distribution_event(dist, conversation_id="c", turn=turn, speaker="ana", purpose="p")
    slow = DistributionRecorded(
        t=fast.t,
        conversation_id="c",
        turn=turn,
        speaker="ana",
        purpose="p",
        method=dist.method,
        model=dist.model,
        candidates=[c.model_dump() for c in dist.candidates],
        dropped=[c.model_dump() for c in dist.dropped],
        repairs=[r.model_dump(mode="json") for r in dist.repairs],
        truncated=dist.truncated,
        entropy=dist.entropy(),
        request_keys=keys,
    )
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set - {"t"}
    assert [c.model_fields_set for c in fast.candidates] == [
        c.model_fields_set for c in slow.candidates
    ]
    assert _json_line(fast) == slow.model_dump_json().encode() + b"\n"
    assert list(fast.__dict__) == list(DistributionRecorded.model_fields)
    assert fast.request_keys is not dist.request_keys  # its own list
    before = time.time()
    assert before - 60 < fast.t <= before


@pytest.mark.parametrize("request_key", ["k" * 64, None])
def test_call_event_for_a_completion_is_the_validated_event(request_key: str | None) -> None:
    request = Request(model="m", messages=({"role": "user", "content": "hi"},), repeat=0)
    usage = Usage(prompt_tokens=12, completion_tokens=3)
    comp = Completion(
        text="x", model="m2", usage=usage, cost=0.5, latency=0.25, cached=True, retries=2,
        synthetic=True, request_key=request_key,
    )  # fmt: skip
    fast = call_event(CallRecord(request, comp, None), "c", 4, "answer")
    slow = ModelCall(
        t=fast.t,
        conversation_id="c",
        turn=4,
        purpose="answer",
        request_key=request_key or request.key,
        model="m2",
        latency=0.25,
        prompt_tokens=12,
        completion_tokens=3,
        cost=0.5,
        cached=True,
        retries=2,
        synthetic=True,
    )
    assert fast == slow and fast.model_fields_set == slow.model_fields_set - {"t"}
    assert _json_line(fast) == slow.model_dump_json().encode() + b"\n"
    assert list(fast.__dict__) == list(ModelCall.model_fields)
    failed = call_event(CallRecord(request, None, ValueError("no")), "c", 4, "answer")
    assert failed.error == "ValueError: no" and failed.request_key == request.key
