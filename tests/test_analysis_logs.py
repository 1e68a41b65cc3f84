"""Small hand-written event logs shared by the analysis, plot and report tests.

Each builder writes a log with :class:`~vs_sim.events.EventLog` and known contents, so the
tests can check tables against numbers worked out by hand (in the comments below). The
tests at the bottom check the logs themselves read back strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vs_sim.events import (
    Answer,
    CandidateRecord,
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    EventLog,
    ModelCall,
    Participant,
    RunEnded,
    RunStarted,
    Utterance,
    read_events,
)

QUESTIONNAIRE: dict[str, Any] = {
    "name": "tiny",
    "questions": [
        {
            "id": "worry",
            "text": "How worried are you?",
            "type": "scale",
            "options": ["Low", "Mid", "High"],
        },
        {"id": "pick", "text": "A or B?", "type": "single_choice", "options": ["A", "B"]},
    ],
}

# Respondent → (attributes, {question: (value, matched, soft, unmatched mass)}).
# worry: drawn High, Low, High → sampled Low 1/3, Mid 0, High 2/3;
#        soft Low (.1+.6+0)/3, Mid (.2+.3+.5)/3, High (.7+.1+.5)/3.
# pick:  drawn A, B, unmatched → sampled A 1/3, B 1/3, (unmatched) 1/3;
#        soft A (.8+.1+.5)/3, B (.2+.9+.3)/3, (unmatched) .2/3.
RESPONDENTS: dict[str, tuple[dict[str, Any], dict[str, tuple[Any, bool, dict[str, float], float]]]]
RESPONDENTS = {
    "r1": (
        {"party": "dem", "age": 30, "name": "Ann"},
        {
            "worry": ("High", True, {"Low": 0.1, "Mid": 0.2, "High": 0.7}, 0.0),
            "pick": ("A", True, {"A": 0.8, "B": 0.2}, 0.0),
        },
    ),
    "r2": (
        {"party": "rep", "age": 50, "name": "Bob"},
        {
            "worry": ("Low", True, {"Low": 0.6, "Mid": 0.3, "High": 0.1}, 0.0),
            "pick": ("B", True, {"A": 0.1, "B": 0.9}, 0.0),
        },
    ),
    "r3": (
        {"party": "dem", "age": 41, "name": "Cy"},
        {
            "worry": ("High", True, {"Low": 0.0, "Mid": 0.5, "High": 0.5}, 0.0),
            "pick": (None, False, {"A": 0.5, "B": 0.3}, 0.2),
        },
    ),
}


def _dist_and_choice(
    log: EventLog,
    conv: str,
    turn: int,
    speaker: str,
    purpose: str,
    texts: list[str],
    probs: list[float],
    chosen: int,
    method: str = "vs_standard",
) -> None:
    log.write(
        DistributionRecorded(
            conversation_id=conv,
            turn=turn,
            speaker=speaker,
            purpose=purpose,
            method=method,
            model="offline/demo",
            candidates=[
                CandidateRecord(text=t, stated=p, weight=p, probability=p)
                for t, p in zip(texts, probs)
            ],
            entropy=-sum(p * __import__("math").log2(p) for p in probs if p > 0),
        )
    )
    log.write(
        Choice(
            conversation_id=conv,
            turn=turn,
            speaker=speaker,
            purpose=purpose,
            index=chosen,
            rank=sorted(probs, reverse=True).index(probs[chosen]) + 1,
            probability=probs[chosen],
            rng_key=[conv, turn],
        )
    )


def write_survey_log(path: Path) -> Path:
    """3 respondents × 2 questions (see RESPONDENTS); 6 calls, 2 cached, 10 tokens each."""
    with EventLog(path) as log:
        log.write(
            RunStarted(
                run_id="survey-run",
                seed=7,
                synthetic=True,
                config={"task": "survey", "questionnaire": QUESTIONNAIRE},
            )
        )
        for rid, (attrs, answers) in RESPONDENTS.items():
            log.write(
                ConversationStarted(
                    conversation_id=rid,
                    meta={"task": "survey"},
                    participants=[
                        Participant(
                            agent_id=rid,
                            name=rid,
                            persona_id=rid,
                            template="survey_respondent",
                            attributes=attrs,
                            role="respondent",
                        )
                    ],
                )
            )
            for turn, (qid, (value, matched, soft, unmatched)) in enumerate(answers.items()):
                log.write(
                    ModelCall(
                        conversation_id=rid,
                        turn=turn,
                        purpose=qid,
                        model="offline/demo",
                        prompt_tokens=7,
                        completion_tokens=3,
                        cost=0.0,
                        cached=rid == "r2",
                        latency=0.01,
                        synthetic=True,
                    )
                )
                texts = [*soft] + (["no idea"] if unmatched else [])
                probs = [*soft.values()] + ([unmatched] if unmatched else [])
                chosen = texts.index(value) if matched else len(texts) - 1
                _dist_and_choice(log, rid, turn, rid, qid, texts, probs, chosen)
                log.write(
                    Answer(
                        conversation_id=rid,
                        question_id=qid,
                        value=value,
                        matched=matched,
                        raw=texts[chosen],
                        soft=soft,
                        matched_by="exact" if matched else None,
                        unmatched=[
                            CandidateRecord(text="no idea", weight=unmatched, probability=unmatched)
                        ]
                        if unmatched
                        else [],
                    )
                )
            log.write(ConversationEnded(conversation_id=rid, reason="answered"))
        log.write(RunEnded(run_id="survey-run"))
    return path


SCRIPT = "<script>alert('x')</script> & <b>bold</b>"

# c1: alice, bob, alice (3 turns, 3 candidates each, all chosen at index 0 except turn 1 → 2).
# c2: bob, alice then failed. Entropies: every distribution is (0.5, 0.3, 0.2) → 1.4855 bits.
DIALOGUE = {
    "c1": [("alice", "Hello there, Bob."), ("bob", SCRIPT), ("alice", "Shall we start?")],
    "c2": [("bob", "Morning."), ("alice", "Hi Bob, nice to see you.")],
}
PROBS = [0.5, 0.3, 0.2]


def write_dialogue_log(path: Path) -> Path:
    """Two conversations (see DIALOGUE); 5 calls: one cached, one failed with an error."""
    with EventLog(path) as log:
        log.write(RunStarted(run_id="talk-run", seed=1, config={"task": "dialogue"}))
        for conv, turns in DIALOGUE.items():
            log.write(
                ConversationStarted(
                    conversation_id=conv,
                    meta={"task": "dialogue"},
                    participants=[
                        Participant(
                            agent_id="alice",
                            name="Alice",
                            role="host",
                            attributes={"age": 33, "home": {"state": "OH"}},
                        ),
                        Participant(
                            agent_id="bob",
                            name="Bob",
                            role="guest",
                            attributes={"age": 61, "home": {"state": "TX"}},
                        ),
                    ],
                )
            )
            for turn, (speaker, text) in enumerate(turns):
                chosen = 2 if (conv, turn) == ("c1", 1) else 0
                texts = [f"{conv}-{turn} option {i}" for i in range(3)]
                texts[chosen] = text
                log.write(
                    ModelCall(
                        conversation_id=conv,
                        turn=turn,
                        model="offline/demo",
                        prompt_tokens=20,
                        completion_tokens=10,
                        cost=0.001,
                        cached=(conv, turn) == ("c1", 2),
                        latency=0.5,
                    )
                )
                _dist_and_choice(log, conv, turn, speaker, "utterance", texts, PROBS, chosen)
                log.write(
                    Utterance(
                        conversation_id=conv,
                        turn=turn,
                        speaker=speaker,
                        text=text,
                        probability=PROBS[chosen],
                        rank=chosen + 1,
                        reply_to=turn - 1 if turn else None,
                    )
                )
            if conv == "c2":
                log.write(
                    ModelCall(
                        conversation_id=conv,
                        turn=2,
                        model="offline/demo",
                        retries=3,
                        error="ModelTimeout: too slow",
                    )
                )
                log.write(
                    ConversationEnded(
                        conversation_id=conv,
                        reason="error",
                        status="failed",
                        error="ModelTimeout: too slow",
                    )
                )
            else:
                log.write(ConversationEnded(conversation_id=conv, reason="max_turns", turns=3))
        log.write(RunEnded(run_id="talk-run"))
    return path


DONATIONS = {"p1": 0.0, "p2": 0.5, "p3": 2.0, "p4": 5.0}
"""Persuadee → drawn donation; p4's $5 lies outside the $0–$2 task range."""


def write_persuasion_log(path: Path) -> Path:
    """Four persuader/persuadee dialogues of one turn each, ending in a donation answer."""
    with EventLog(path) as log:
        log.write(
            RunStarted(run_id="p4g-run", seed=3, synthetic=True, config={"task": "persuasion"})
        )
        for i, (conv, amount) in enumerate(DONATIONS.items()):
            log.write(
                ConversationStarted(
                    conversation_id=conv,
                    meta={"task": "persuasion"},
                    participants=[
                        Participant(
                            agent_id="er",
                            name="Persuader",
                            role="persuader",
                            attributes={"style": "warm"},
                        ),
                        Participant(
                            agent_id="ee",
                            name="Persuadee",
                            role="persuadee",
                            attributes={"income": "low" if i % 2 else "high"},
                        ),
                    ],
                )
            )
            log.write(
                Utterance(
                    conversation_id=conv,
                    turn=0,
                    speaker="er",
                    text="Would you give to Save the Children?",
                    entropy=1.0,
                )
            )
            log.write(
                Utterance(
                    conversation_id=conv,
                    turn=1,
                    speaker="ee",
                    text=f"I could give ${amount:.2f}.",
                    entropy=0.5 + 0.1 * i,
                )
            )
            log.write(
                Answer(
                    conversation_id=conv,
                    question_id="donation",
                    value=amount,
                    matched=True,
                    out_of_range=amount > 2,
                    soft={"0": 0.5, "0.5": 0.3, "2": 0.2},
                )
            )
            log.write(ConversationEnded(conversation_id=conv, reason="max_turns", turns=2))
        log.write(RunEnded(run_id="p4g-run"))
    return path


def test_logs_read_back_strictly(tmp_path: Path) -> None:
    kinds = {}
    for name, build in (
        ("s", write_survey_log),
        ("d", write_dialogue_log),
        ("p", write_persuasion_log),
    ):
        events = list(read_events(build(tmp_path / f"{name}.jsonl"), strict=True))
        kinds[name] = sum(e.kind == "conversation_started" for e in events)
    assert kinds == {"s": 3, "d": 2, "p": 4}
