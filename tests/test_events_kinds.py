"""read_records(kinds=...): the records of the kinds asked for, the others skipped undecoded.

Held to the unfiltered reader: the same records, in order, minus the other kinds; the torn-line
rules unchanged for every line that is decoded.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from vs_sim.errors import ConfigError
from vs_sim.events import (
    _KINDS,
    Choice,
    EventLog,
    ModelCall,
    RunEnded,
    RunStarted,
    Utterance,
    _skipper,
    read_records,
)


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "events.jsonl"
    with EventLog(log) as w:
        w.write(RunStarted(run_id="r", seed=1))
        w.write(ModelCall(conversation_id="c", turn=0, model="m"))
        w.write(Choice(index=0, rank=1, probability=1.0))
        w.write(Utterance(conversation_id="c", turn=0, speaker="a", text='say "kind":"x"'))
        w.write(RunEnded(run_id="r"))
    return log


@pytest.mark.parametrize(
    "kinds",
    [set(), {"utterance"}, {"run_started", "utterance"}, ["model_call", "choice"], _KINDS],
    ids=lambda k: "+".join(sorted(k)) or "none",
)
def test_the_records_of_the_kinds_asked_for_in_order(tmp_path: Path, kinds: set[str]) -> None:
    log = _log(tmp_path)
    everything = list(read_records(log))
    assert list(read_records(log, kinds=kinds)) == [r for r in everything if r["kind"] in kinds]


def test_the_byte_test_tells_each_kind_from_the_lines_the_writer_makes(tmp_path: Path) -> None:
    lines = _log(tmp_path).read_bytes().splitlines(keepends=True)
    skip_model_calls = _skipper({"model_call"})
    assert [skip_model_calls(line) for line in lines] == [False, True, False, False, False]
    skip_all = _skipper(_KINDS)
    assert all(skip_all(line) for line in lines)


@pytest.mark.parametrize(
    "line",
    [
        b'{"kind":"model_call","t":1.0}\n',  # another key order
        b'{"t":"x\\",\\"kind\\":\\"model_call","kind":"model_call"}\n',  # t is no number
        b'{"t":1.0,"kind":"model\\u005fcall"}\n',  # the kind spelled with an escape
        b'{"t":1.0,"kind":"model_call\n',  # torn inside the kind
        b'{"t":1.0,"model":"x","kind":"model_call"}\n',  # kind not second
    ],
)
def test_lines_not_written_as_vs_sim_writes_them_are_decoded(line: bytes) -> None:
    assert not _skipper({"model_call"})(line)


def test_a_decoded_record_of_another_kind_is_left_out(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    odd = {"kind": "model_call", "t": 1.0, "model": "m"}  # not skippable: decoded, then dropped
    said = Utterance(conversation_id="c", turn=0, speaker="a", text="hi")
    log.write_bytes(orjson.dumps(odd) + b"\n" + said.model_dump_json().encode() + b"\n")
    assert [r["kind"] for r in read_records(log, kinds={"utterance"})] == ["utterance"]


def test_damage_in_a_skipped_line_is_not_reported_but_in_a_decoded_one_it_is(
    tmp_path: Path,
) -> None:
    started = RunStarted(run_id="r", seed=1).model_dump_json()
    call = ModelCall(conversation_id="c", turn=0, model="m").model_dump_json()
    said = Utterance(conversation_id="c", turn=0, speaker="a", text="hi").model_dump_json()
    log = tmp_path / "events.jsonl"
    log.write_text(f"{started}\n{call[:-5]}\n{said}\n", encoding="utf-8")  # line 2 damaged
    assert [r["kind"] for r in read_records(log, kinds={"utterance"})] == ["utterance"]
    assert [r["kind"] for r in read_records(log, kinds={"utterance"}, strict=True)] == ["utterance"]
    for kinds in (None, {"model_call"}):
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:2: bad event"):
            list(read_records(log, kinds=kinds))


def test_after_a_torn_line_the_next_is_decoded_even_of_a_skipped_kind(tmp_path: Path) -> None:
    started = RunStarted(run_id="r", seed=1).model_dump_json()
    said = Utterance(conversation_id="c", turn=0, speaker="a", text="hi").model_dump_json()
    call = ModelCall(conversation_id="c", turn=0, model="m").model_dump_json()
    log = tmp_path / "events.jsonl"
    # a torn utterance then a model call: no fresh start follows, so the log is corrupt
    log.write_text(f"{started}\n{said[:30]}\n{call}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:2: bad event"):
        list(read_records(log, kinds={"utterance"}))
    # a torn utterance then a resume's run_started (not asked for): forgiven, as before
    log.write_text(f"{started}\n{said[:30]}\n{started}\n{said}\n", encoding="utf-8")
    assert [r["kind"] for r in read_records(log, kinds={"utterance"})] == ["utterance"]


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no event kind named utterances"):
        read_records(_log(tmp_path), kinds={"utterances"})
