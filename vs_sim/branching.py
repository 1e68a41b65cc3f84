"""Branching: fork a logged conversation at turn t and continue it another way.

``fork(log, "c1", 3, candidate=2)`` takes candidate 2 of turn 3's distribution instead of the
one drawn (or, with ``candidate=None``, draws again with ``seed``) and continues the
conversation with the same agents, scheduler and rules. The branch is appended to the same
log as a new conversation with ``parent_id`` and ``fork_turn``; it shares turns ``0 .. t-1``
with its parent (in the graph its first utterance hangs off the parent's turn ``t-1``), and
it reuses the parent's logged distribution at turn t, so the fork itself costs no call.

Conversations are rebuilt from what the log recorded (``ConversationStarted.meta["spec"]``),
so forking needs no Python objects from the original run unless it used a custom scheduler.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .agents import Turn
from .conversation import Conversation, Fork
from .errors import ConfigError
from .events import (
    ConversationStarted,
    DistributionRecorded,
    Event,
    RunStarted,
    Utterance,
    read_events,
)
from .models.base import Model
from .runner import arun_units
from .scheduling import Scheduler
from .sync import run_sync


class _Log:
    """The parts of a log that branching needs, indexed by conversation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started: dict[str, ConversationStarted] = {}
        self.utterances: dict[str, dict[int, Utterance]] = defaultdict(dict)
        self.dists: dict[tuple[str, int, str], DistributionRecorded] = {}
        self.run: RunStarted | None = None
        events: list[Event] = list(read_events(path))
        for e in events:
            if isinstance(e, RunStarted) and self.run is None:
                self.run = e
            elif isinstance(e, ConversationStarted):
                self.started.setdefault(e.conversation_id, e)
            elif isinstance(e, Utterance):
                self.utterances[e.conversation_id].setdefault(e.turn, e)
            elif (
                isinstance(e, DistributionRecorded)
                and e.purpose == "utterance"
                and e.conversation_id
                and e.turn is not None
                and e.speaker
            ):
                self.dists[(e.conversation_id, e.turn, e.speaker)] = e

    def owner(self, conv: str, turn: int) -> str | None:
        """The conversation whose log holds ``turn`` of ``conv``'s path."""
        seen: set[str] = set()
        while conv not in seen:
            seen.add(conv)
            if turn in self.utterances.get(conv, {}):
                return conv
            start = self.started.get(conv)
            if start is None or start.parent_id is None or start.fork_turn is None:
                return None
            if turn >= start.fork_turn:
                return None
            conv = start.parent_id
        return None

    def length(self, conv: str) -> int:
        """How many turns ``conv``'s path has in the log."""
        n = 0
        while self.owner(conv, n) is not None:
            n += 1
        return n

    def turns(self, conv: str, upto: int) -> list[Utterance]:
        """Turns ``0 .. upto-1`` of ``conv``'s path (shared turns from its ancestors)."""
        out = []
        for turn in range(upto):
            owner = self.owner(conv, turn)
            if owner is None:
                raise ConfigError(
                    f"turn {turn} of {conv!r} is not in the log", where=str(self.path)
                )
            out.append(self.utterances[owner][turn])
        return out


def _turns(utterances: Sequence[Utterance]) -> tuple[Turn, ...]:
    return tuple(Turn(u.turn, u.speaker, u.text, tuple(u.addressed_to)) for u in utterances)


def _spec(log: _Log, conv: str) -> dict[str, Any]:
    start = log.started.get(conv)
    if start is None:
        raise ConfigError(f"no conversation {conv!r} in the log", where=str(log.path))
    spec = start.meta.get("spec")
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"conversation {conv!r} has no recorded spec; pass spec=", where=str(log.path)
        )
    return dict(spec)


def _rebuild(log: _Log, conv: str, scheduler: Scheduler | None) -> Conversation:
    """A conversation (a branch with its fork) rebuilt from its ``ConversationStarted``."""
    start = log.started[conv]
    base = Conversation.from_description(conv, _spec(log, conv), scheduler=scheduler)
    meta = {k: v for k, v in start.meta.items() if k != "spec"}
    if start.parent_id is None or start.fork_turn is None:
        return base.model_copy(update={"meta": meta})
    info = dict(meta.get("fork") or {})
    turn = start.fork_turn
    speaker = str(info.get("speaker"))
    owner = log.owner(start.parent_id, turn)
    dist = log.dists.get((conv, turn, speaker)) or (
        log.dists.get((owner, turn, speaker)) if owner else None
    )
    if dist is None:
        raise ConfigError(
            f"branch {conv!r} lacks its distribution at turn {turn}", where=str(log.path)
        )
    fork = Fork(
        parent_id=start.parent_id,
        turn=turn,
        speaker=speaker,
        distribution=dist,
        candidate=info.get("candidate"),
        prefix=_turns(log.turns(start.parent_id, turn)),
    )
    return base.model_copy(update={"fork": fork, "meta": meta})


def conversations_from_log(
    path: str | os.PathLike[str], *, schedulers: Mapping[str, Scheduler] | None = None
) -> list[Conversation]:
    """Every conversation in a log, rebuilt from what it recorded (e.g. to resume a run).

    Args:
        path: The event log.
        schedulers: Conversation id → scheduler, for those that used a custom one.
    """
    log = _Log(Path(path))
    schedulers = schedulers or {}
    return [_rebuild(log, conv, schedulers.get(conv)) for conv in log.started]


async def afork(
    log_path: str | os.PathLike[str],
    conversation_id: str,
    turn: int,
    *,
    candidate: int | None = None,
    seed: int | None = None,
    new_id: str | None = None,
    model: str | Model | None = None,
    scheduler: Scheduler | None = None,
    progress: bool = False,
) -> str:
    """Fork ``conversation_id`` at ``turn`` and run the branch into the same log.

    Args:
        log_path: The run's event log.
        conversation_id: The conversation to branch (itself possibly a branch).
        turn: The first turn that differs; turns before it are shared.
        candidate: The index (in the logged distribution of ``turn``) to take instead;
            ``None`` draws again from that distribution with ``seed``.
        seed: The branch's seed for its own draws (default: the parent's).
        new_id: The branch's conversation id (default ``<id>~t<turn>c<candidate>``, made
            unique).
        model: Default: the run's model as recorded in ``RunStarted``.
        scheduler: Needed when the parent used a custom scheduler.
        progress: Show a progress bar.

    Returns:
        The branch's conversation id.

    Raises:
        ConfigError: Unknown conversation, a turn or candidate out of range.
    """
    log = _Log(Path(log_path))
    spec = _spec(log, conversation_id)
    if log.run is None:
        raise ConfigError("the log has no RunStarted event", where=str(log_path))
    owner = log.owner(conversation_id, turn) if turn >= 0 else None
    if owner is None:
        raise ConfigError(
            f"turn {turn} is not a logged turn of {conversation_id!r} "
            f"(it has turns 0..{log.length(conversation_id) - 1})",
            where=str(log_path),
        )
    speaker = log.utterances[owner][turn].speaker
    dist = log.dists.get((owner, turn, speaker))
    if dist is None:
        raise ConfigError(
            f"no distribution logged for turn {turn} of {owner!r}", where=str(log_path)
        )
    if candidate is not None and not 0 <= candidate < len(dist.candidates):
        raise ConfigError(
            f"candidate {candidate} out of range: turn {turn} has {len(dist.candidates)}",
            where=f"{log_path}: {owner} turn {turn}",
        )
    base_id = new_id or f"{conversation_id}~t{turn}" + (
        f"c{candidate}" if candidate is not None else f"s{seed}"
    )
    branch_id, n = base_id, 1
    while branch_id in log.started:
        if new_id is not None:
            raise ConfigError(f"conversation {new_id!r} already exists", where=str(log_path))
        n += 1
        branch_id = f"{base_id}-{n}"
    parent = Conversation.from_description(branch_id, spec, scheduler=scheduler)
    parent_meta = {
        k: v for k, v in log.started[conversation_id].meta.items() if k not in ("spec", "fork")
    }
    branch = parent.model_copy(
        update={
            "seed": seed if seed is not None else parent.seed,
            "meta": {**parent_meta, "fork": {"speaker": speaker, "candidate": candidate}},
            "fork": Fork(
                parent_id=conversation_id,
                turn=turn,
                speaker=speaker,
                distribution=dist,
                candidate=candidate,
                prefix=_turns(log.turns(conversation_id, turn)),
            ),
        }
    )
    await arun_units(
        [branch],
        model=model or str(log.run.config.get("model", "offline/demo")),
        seed=log.run.seed,
        log_path=log_path,
        resume=True,
        progress=progress,
        run_config={
            "fork": {
                "parent_id": conversation_id,
                "turn": turn,
                "candidate": candidate,
                "branch_id": branch_id,
            }
        },
    )
    return branch_id


def fork(log_path: str | os.PathLike[str], conversation_id: str, turn: int, **kwargs: Any) -> str:
    """Synchronous :func:`afork` (same arguments); works inside a running loop too."""
    return run_sync(afork(log_path, conversation_id, turn, **kwargs))
