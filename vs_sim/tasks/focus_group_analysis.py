"""Focus group runs read back: each participant's stance, before, during and after.

:func:`focus_group_report` reads a run's events and gives, per group and participant, every
stance measurement in order (``pre``, ``turn<N>`` when asked after their own turns, ``post``)
with the drawn option, its position on the scale (1 = the first option) and the **expected
position** of the verbalized distribution (Σ p·position over the options, renormalized over
the mass that matched an option). From these:

- the **shift**: post − pre expected position (and the drawn positions' difference);
- who **moved most** in each group (the largest absolute shift);
- **moves**: consecutive measurements whose expected positions differ by at least
  ``min_shift``, each with the utterances that preceded it (the last ``context`` utterances
  spoken between the two measurements).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..events import Answer, ConversationStarted, Event, Utterance, read_events
from .focus_group import MIN_SHIFT, TASK


@dataclass(frozen=True)
class StanceMeasure:
    """One stance answer.

    Attributes:
        moment: ``pre``, ``turn<N>`` or ``post``.
        turn: Utterances the participant had seen when asked.
        value: The drawn option (``None``: unmatched or unreadable).
        position: Its position on the scale.
        expected: The expected position of the verbalized distribution.
    """

    moment: str
    turn: int
    value: str | None
    position: float | None
    expected: float | None


@dataclass(frozen=True)
class Move:
    """A change of stance between two consecutive measurements."""

    before: str
    after: str
    turn: int
    shift: float
    preceding: tuple[tuple[int, str, str], ...]
    """``(turn, speaker name, text)`` of the utterances just before the second measurement."""


@dataclass(frozen=True)
class ParticipantStance:
    """A participant's measurements, in order, and what changed."""

    agent_id: str
    name: str
    persona_id: str | None
    measures: tuple[StanceMeasure, ...]
    moves: tuple[Move, ...]

    def _at(self, moment: str) -> StanceMeasure | None:
        return next((m for m in self.measures if m.moment == moment), None)

    @property
    def pre(self) -> StanceMeasure | None:
        return self._at("pre")

    @property
    def post(self) -> StanceMeasure | None:
        return self._at("post")

    @property
    def shift(self) -> float | None:
        """Post − pre expected position."""
        pre, post = self.pre, self.post
        if pre is None or post is None or pre.expected is None or post.expected is None:
            return None
        return post.expected - pre.expected

    @property
    def drawn_shift(self) -> float | None:
        """Post − pre position of the drawn options."""
        pre, post = self.pre, self.post
        if pre is None or post is None or pre.position is None or post.position is None:
            return None
        return post.position - pre.position


@dataclass(frozen=True)
class GroupStances:
    """One group's participants and their stances."""

    conversation_id: str
    topic: str | None
    turns: int
    participants: tuple[ParticipantStance, ...]

    @property
    def moved_most(self) -> ParticipantStance | None:
        """The participant with the largest absolute shift (``None`` if none is known)."""
        known = [p for p in self.participants if p.shift is not None]
        return max(known, key=lambda p: abs(p.shift or 0.0)) if known else None


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.2f}" if signed else f"{x:.2f}"


@dataclass(frozen=True)
class FocusGroupReport:
    """Stance changes of every participant of every group."""

    question_id: str
    options: tuple[str, ...]
    groups: tuple[GroupStances, ...]
    min_shift: float = MIN_SHIFT

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-safe (for ``summary.json["focus_group"]``)."""
        shifts = [p.shift for g in self.groups for p in g.participants if p.shift is not None]
        return {
            "question_id": self.question_id,
            "options": list(self.options),
            "min_shift": self.min_shift,
            "participants": sum(len(g.participants) for g in self.groups),
            "mean_shift": sum(shifts) / len(shifts) if shifts else None,
            "moved_up": sum(s >= self.min_shift for s in shifts),
            "moved_down": sum(s <= -self.min_shift for s in shifts),
            "groups": [
                {
                    "conversation_id": g.conversation_id,
                    "topic": g.topic,
                    "turns": g.turns,
                    "moved_most": g.moved_most.agent_id if g.moved_most else None,
                    "participants": [_participant_dict(p) for p in g.participants],
                }
                for g in self.groups
            ],
        }

    def to_markdown(self, *, max_quote: int = 160) -> str:
        """A report section: per group, a table of stance changes, then the moves."""
        d = self.to_dict()
        lines = [
            "## Focus group: stance changes",
            "",
            f"Stance question `{self.question_id}`, positions 1 ({self.options[0]}) to "
            f"{len(self.options)} ({self.options[-1]}). Expected = the mean position of the "
            f"verbalized distribution. {d['moved_up']} participant(s) moved up and "
            f"{d['moved_down']} down by at least {self.min_shift:g} points.",
        ]
        for g in self.groups:
            lines += [
                "",
                f"### {g.conversation_id} ({g.turns} turns)",
                "",
                "| Participant | Before | After | Expected before → after | Shift |",
                "|---|---|---|---|---:|",
            ]
            for p in g.participants:
                pre, post = p.pre, p.post
                lines.append(
                    f"| {p.name} ({p.agent_id}) | {pre.value if pre else '—'} | "
                    f"{post.value if post else '—'} | "
                    f"{_fmt(pre.expected if pre else None)} → "
                    f"{_fmt(post.expected if post else None)} | {_fmt(p.shift, True)} |"
                )
            top = g.moved_most
            if top is not None:
                lines += ["", f"Moved most: {top.name} ({_fmt(top.shift, True)})."]
            for p in g.participants:
                for m in p.moves:
                    lines.append(
                        f"\n- {p.name}, {m.before} → {m.after}: {_fmt(m.shift, True)} "
                        f"after {m.turn} utterances" + (", following:" if m.preceding else ".")
                    )
                    for turn, who, text in m.preceding:
                        quote = text if len(text) <= max_quote else text[: max_quote - 1] + "…"
                        lines.append(f"  - turn {turn}, {who}: “{quote}”")
        return "\n".join(lines) + "\n"


def _participant_dict(p: ParticipantStance) -> dict[str, Any]:
    return {
        "agent_id": p.agent_id,
        "name": p.name,
        "persona_id": p.persona_id,
        "pre": p.pre.value if p.pre else None,
        "post": p.post.value if p.post else None,
        "pre_expected": p.pre.expected if p.pre else None,
        "post_expected": p.post.expected if p.post else None,
        "shift": p.shift,
        "drawn_shift": p.drawn_shift,
        "measures": [
            {
                "moment": m.moment,
                "turn": m.turn,
                "value": m.value,
                "position": m.position,
                "expected": m.expected,
            }
            for m in p.measures
        ],
        "moves": [
            {
                "before": m.before,
                "after": m.after,
                "turn": m.turn,
                "shift": m.shift,
                "preceding": [list(u) for u in m.preceding],
            }
            for m in p.moves
        ],
    }


def expected_position(soft: Mapping[str, float], options: Sequence[str]) -> float | None:
    """Σ p·position over the options (positions 1..n), renormalized over matched mass."""
    total = value = 0.0
    for i, option in enumerate(options, start=1):
        p = float(soft.get(option, 0.0))
        total += p
        value += p * i
    return value / total if total > 0 else None


def _order(moment: str, turn: int) -> tuple[int, int]:
    return (0 if moment == "pre" else 2 if moment == "post" else 1, turn)


def focus_group_report(
    events: Iterable[Event] | str | os.PathLike[str],
    *,
    min_shift: float = MIN_SHIFT,
    context: int = 3,
) -> FocusGroupReport:
    """Read every focus group's stances from its events (or log file, or run folder).

    Args:
        events: The events, an ``events.jsonl`` path, or a run folder holding one.
        min_shift: Least change of expected position reported as a move.
        context: Utterances quoted before each move.
    """
    if isinstance(events, str | os.PathLike):
        path = Path(events)
        events = read_events(path / "events.jsonl" if path.is_dir() else path)
    started: dict[str, ConversationStarted] = {}
    answers: dict[str, dict[str, Answer]] = {}
    spoken: dict[str, dict[int, Utterance]] = {}
    for e in events:
        if isinstance(e, ConversationStarted) and e.meta.get("task") == TASK:
            started.setdefault(e.conversation_id, e)
        elif isinstance(e, Answer) and e.agent_id is not None:
            answers.setdefault(e.conversation_id, {})[e.question_id] = e
        elif isinstance(e, Utterance):
            spoken.setdefault(e.conversation_id, {}).setdefault(e.turn, e)
    question_id, options = "", ()
    groups: list[GroupStances] = []
    for cid, s in started.items():
        stance = s.meta.get("stance") or {}
        question_id, options = str(stance.get("id", "")), tuple(stance.get("options", ()))
        names = {p.agent_id: p.name for p in s.participants}
        utterances = [spoken.get(cid, {})[t] for t in sorted(spoken.get(cid, {}))]
        people: list[ParticipantStance] = []
        for p in s.participants:
            if p.role != "participant":
                continue
            measures = []
            for qid, a in answers.get(cid, {}).items():
                prefix, suffix = f"{question_id}.", f".{p.agent_id}"
                if a.agent_id != p.agent_id or not (
                    qid.startswith(prefix) and qid.endswith(suffix)
                ):
                    continue
                moment = qid[len(prefix) : len(qid) - len(suffix)]
                value = a.value if a.matched and isinstance(a.value, str) else None
                measures.append(
                    StanceMeasure(
                        moment=moment,
                        turn=a.turn or 0,
                        value=value,
                        position=float(options.index(value) + 1) if value in options else None,
                        expected=expected_position(a.soft, options),
                    )
                )
            measures.sort(key=lambda m: _order(m.moment, m.turn))
            moves = _moves(measures, utterances, names, min_shift, context)
            people.append(
                ParticipantStance(p.agent_id, p.name, p.persona_id, tuple(measures), moves)
            )
        groups.append(GroupStances(cid, s.meta.get("topic"), len(utterances), tuple(people)))
    return FocusGroupReport(question_id, options, tuple(groups), min_shift)


def _moves(
    measures: Sequence[StanceMeasure],
    utterances: Sequence[Utterance],
    names: Mapping[str, str],
    min_shift: float,
    context: int,
) -> tuple[Move, ...]:
    out: list[Move] = []
    for a, b in itertools.pairwise(measures):
        if a.expected is None or b.expected is None:
            continue
        shift = b.expected - a.expected
        if abs(shift) + 1e-12 < min_shift:
            continue
        between = [u for u in utterances if a.turn <= u.turn < b.turn][-context:] if context else []
        out.append(
            Move(
                before=a.moment,
                after=b.moment,
                turn=b.turn,
                shift=shift,
                preceding=tuple((u.turn, names.get(u.speaker, u.speaker), u.text) for u in between),
            )
        )
    return tuple(out)
