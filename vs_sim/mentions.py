"""Whom an utterance names: ``@Ana``, or ``Ana, ...`` at its start, or a name anywhere.

Schedulers (``ModeratorLed``, ``AddressedReply``, ``ModelChosen``) and the conversation
engine (an utterance's ``addressed_to``) ask this on every turn, so each name's patterns
are compiled once and reused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agents import Agent


Label = tuple[str, re.Pattern[str], re.Pattern[str], str | None]
"""One name (or id) of an agent: the agent's id, its ``@label`` and whole-word patterns, and
the lowered label when it is ASCII."""


def mentions(text: str, agents: Sequence[Agent], *, anywhere: bool = True) -> list[str]:
    """Agent ids named in ``text``, in order of first appearance.

    ``@name`` or ``@id`` mentions come first; without any, a name (or id) at the start of the
    text (``"Ana, what do you think?"``) counts, and with ``anywhere`` a name anywhere does.
    Matching is case-insensitive on whole words.
    """
    return mentions_of(text, mention_labels(agents), anywhere=anywhere)


def mention_labels(agents: Sequence[Agent]) -> tuple[Label, ...]:
    """The labels :func:`mentions_of` looks for: each agent's name and id (blank ones left out).

    Worked out once for a caller that asks about the same agents again and again (the
    conversation engine, for each speaker's listeners).
    """
    labels: list[Label] = []
    for agent in agents:
        for label in {agent.name, agent.id}:
            patterns = _label_patterns(label)
            if patterns is not None:
                labels.append((agent.id, *patterns))
    return tuple(labels)


def mentions_of(text: str, labels: Sequence[Label], *, anywhere: bool = True) -> list[str]:
    """:func:`mentions` of the agents whose labels :func:`mention_labels` gave."""
    found: list[tuple[int, str]] = []
    at: list[tuple[int, str]] = []
    folded = text.lower() if text.isascii() else None
    for agent_id, at_name, word, ascii_label in labels:
        if folded is not None and ascii_label is not None and ascii_label not in folded:
            continue  # (all ASCII: a case-insensitive match needs the lowered label)
        m = at_name.search(text)
        if m:
            at.append((m.start(), agent_id))
        m = word.search(text)
        if m and (anywhere or not text[: m.start()].strip(" \t\n\"'*")):
            found.append((m.start(), agent_id))
    ordered = sorted(at) if at else sorted(found)
    out: list[str] = []
    for _, agent_id in ordered:
        if agent_id not in out:
            out.append(agent_id)
    return out


@lru_cache(maxsize=4096)
def _label_patterns(label: str) -> tuple[re.Pattern[str], re.Pattern[str], str | None] | None:
    """The compiled ``@label`` and whole-word patterns of a name (built once per name), and
    the lowered label when it is ASCII; ``None`` for a blank label."""
    stripped = label.strip()
    if not stripped:
        return None
    pattern = re.escape(stripped)
    return (
        re.compile(rf"@{pattern}\b", re.I),
        re.compile(rf"(?<![\w@]){pattern}\b", re.I),
        stripped.lower() if stripped.isascii() else None,
    )
