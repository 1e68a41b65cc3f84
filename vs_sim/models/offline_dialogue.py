"""Conversation lines for the offline model, so demo dialogues read like dialogues.

The offline model calls :func:`dialogue_lines` when a prompt is a turn of a conversation
(the engine's system prompt ends with "Write your next message ..." or "Open the
conversation"). A persuasion turn (the PersuasionForGood task) gets persuader or persuadee
lines — persuadees state amounts such as "$0.50", so donation extraction has something to
read; a moderator names whom it asks; anyone else reacts to the last speaker on the topic.
Everything here is synthetic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .base import Message

_TURN_CUE = re.compile(r"Write your next message in this conversation|Open the conversation")
_SPEAKER = re.compile(r"^([A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?): ", re.M)
_PARTICIPANTS = re.compile(r"The participants are ([^.\n]+)\.")
_TOPIC = re.compile(r"\b(?:about|discuss(?:ing)?|on the topic of|topic:)\s+([^.\n]{3,60})", re.I)

_PERSUADER_OPEN = (
    "Hi! How are you doing today?",
    "Hello! Have you ever heard of Save the Children?",
    "Hey there, thanks for chatting with me. How's your day going?",
    "Hi! I wanted to tell you about a charity I really like, Save the Children.",
)
_PERSUADER = (
    "Save the Children helps kids get food, schooling and medical care in places hit by war "
    "and disasters.",
    "Even a small part of your payment, like 50 cents, can go a long way for a child.",
    "Would you consider donating some of your $2 today?",
    "Most of what they raise goes straight to their programs for children.",
    "How much would you feel comfortable giving?",
    "I'm giving part of my own payment too, if that helps.",
    "Do you have kids yourself, or kids in your family?",
    "It's completely up to you, but any amount helps.",
    "They work in the US as well as abroad, with early learning and disaster relief.",
    "Thanks for hearing me out, I really appreciate it.",
)
_PERSUADEE_EARLY = (
    "Hi, I'm doing well, thanks. What's this about?",
    "I've heard of them, but I don't know much about what they do.",
    "How do I know the money actually gets to the kids?",
    "Money is a bit tight for me right now, to be honest.",
    "That does sound like a good cause.",
    "What kind of work do they do exactly?",
    "I usually give to charities closer to home.",
    "I'm not sure yet, let me think about it.",
)
_PERSUADEE_YES = (
    "I think I can give ${amount}.",
    "OK, I'll donate ${amount}.",
    "Sure, put me down for ${amount}.",
    "I'd be happy to give ${amount} of my payment.",
)
_PERSUADEE_NO = (
    "I'd rather keep my payment this time, sorry.",
    "I don't think I'll donate today, but thanks for telling me about them.",
    "Not this time, I need the money myself.",
)
_AMOUNTS = (0.1, 0.2, 0.25, 0.5, 0.5, 1.0, 1.0, 2.0)

_MODERATOR = (
    "{name}, what's your first impression of {topic}?",
    "{name}, would you use {topic} yourself? Why or why not?",
    "{name}, what would make {topic} more appealing to you?",
    "{name}, what worries you most about {topic}?",
    "{name}, has anything you heard today changed your mind?",
    "{name}, how much would you expect to pay for {topic}?",
)
_REACTIONS = (
    "I agree with {name}, {topic} could be useful if the price is right.",
    "I see it differently from {name}: I'm not sure I need {topic}.",
    "For me, {topic} would only work if it's easy to use.",
    "Honestly, {topic} sounds like something I'd try once and forget.",
    "{name} makes a good point, but I'd want to see reviews first.",
    "I like the idea of {topic}, my family would probably use it.",
    "I'm skeptical about {topic}; these things rarely live up to the ads.",
    "What {name} said about cost is my main concern too.",
    "I could see myself buying {topic} for the right occasion.",
    "I've changed my mind a bit, {topic} sounds better than I thought.",
)


def dialogue_lines(
    system: str,
    messages: Sequence[Message],
    k: int,
    rng: np.random.Generator,
    lean: np.random.Generator,
) -> list[str] | None:
    """Up to ``k`` distinct candidate lines for a conversation turn, or ``None`` if the
    prompt is not a conversation turn."""
    if not _TURN_CUE.search(system):
        return None
    history = [m for m in messages if m.get("role") in ("user", "assistant")]
    own_turns = sum(1 for m in history if m.get("role") == "assistant")
    others = _speakers(messages)
    if "persuade them to donate" in system:
        bank: Sequence[str] = _PERSUADER_OPEN if not history or own_turns == 0 else _PERSUADER
        return _pick(bank, k, rng)
    if "donate part of your payment" in system:
        return _persuadee(k, own_turns, rng, lean)
    topic = _topic_of(system, messages)
    if re.search(r"\byou are an? [\w ]*moderator\b", system, re.I):
        listed = _PARTICIPANTS.search(system)
        roster = [n.strip() for n in re.split(r",|\band\b", listed.group(1))] if listed else []
        roster = [n for n in roster if n]
        # invite the quieter people first: those who have not spoken lately
        quiet = [n for n in roster if n not in others[-2:]]
        names = quiet or roster or others or ["Everyone"]
        lines = [
            line.format(name=names[int(rng.integers(len(names)))], topic=topic)
            for line in _MODERATOR
        ]
        return _pick(lines, k, rng)
    last = others[-1] if others else "everyone"
    return _pick([line.format(name=last, topic=topic) for line in _REACTIONS], k, rng)


def _persuadee(
    k: int, own_turns: int, rng: np.random.Generator, lean: np.random.Generator
) -> list[str]:
    generosity = float(lean.random())  # the same person stays about as generous
    if own_turns < 2:
        return _pick(_PERSUADEE_EARLY, k, rng)
    lines: list[str] = list(_PERSUADEE_EARLY[2:])
    for template in _PERSUADEE_YES:
        amount = _AMOUNTS[int(rng.integers(len(_AMOUNTS)))] * (0.5 + generosity)
        amount = min(2.0, round(amount * 20) / 20)
        lines.append(template.replace("{amount}", f"{amount:.2f}"))
    if generosity < 0.6:
        lines.extend(_PERSUADEE_NO)
    return _pick(lines, k, rng)


def _pick(bank: Sequence[str], k: int, rng: np.random.Generator) -> list[str]:
    order = rng.permutation(len(bank))
    return [bank[i] for i in order[: min(k, len(bank))]]


def _speakers(messages: Sequence[Message]) -> list[str]:
    """Names of the other speakers, in order of their last appearance in the transcript."""
    seen: list[str] = []
    for msg in messages:
        if msg.get("role") != "user":
            continue
        for name in _SPEAKER.findall(msg.get("content", "")):
            if name in seen:
                seen.remove(name)
            seen.append(name)
    return seen


def _topic_of(system: str, messages: Sequence[Message]) -> str:
    first = next((m["content"] for m in messages if m.get("role") == "user"), "")
    for text in (first, system):
        match = _TOPIC.search(text)
        if match:
            return match.group(1).strip().rstrip(",;:")
    return "this"
