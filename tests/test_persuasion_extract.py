"""Reading donations from text: each extraction rule on hand-written lines, and the real data."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vs_sim.tasks.persuasion_extract import (
    extract_donation,
    find_amounts,
    read_amount,
    sentences,
    utterance_donation,
)

ASK = "How much would you like to donate to Save the Children?"

# (persuadee utterance, the persuader's line before it, expected dollars, expected rule)
STATED = [
    # amount: a donation word and a sum up to the payment
    ("I'll donate $1", None, 1.0, "amount"),
    ("I will donate $0.50.", None, 0.5, "amount"),
    ("let me donate $.30 then", None, 0.3, "amount"),
    ("I will donate 50 cents.", None, 0.5, "amount"),
    ("I'm donating 25¢", None, 0.25, "amount"),
    ("The task pays 30 cents, I would donate 10c", None, 0.1, "amount"),
    ("I can do 0.30 cents at the moment.", None, 0.3, "amount"),  # written for 30 cents
    ("I'm going to donate fifty cents", None, 0.5, "amount"),
    ("I can give a dollar", None, 1.0, "amount"),
    ("I think I'll give a dollar fifty", None, 1.5, "amount"),
    ("I'd like to donate two dollars", None, 2.0, "amount"),
    ("ok I'll contribute 1.5 dollars", None, 1.5, "amount"),
    ("I can chip in two bucks", None, 2.0, "amount"),
    ("I'll donate half a dollar", None, 0.5, "amount"),
    ("I'll donate a quarter", None, 0.25, "amount"),
    ("I'll donate 0.5", None, 0.5, "amount"),
    ("Okay I'll donate 1", None, 1.0, "amount"),
    ("I will contribute 1.50", None, 1.5, "amount"),
    ("Let's do $1.00 for now", None, 1.0, "amount"),
    ("I'll donate $1 of my $2", None, 1.0, "amount"),
    ("$0.40 is what I can give.", None, 0.4, "amount"),
    ("I will donate $1 instead of $0.50", None, 1.0, "amount"),
    ("I gave $20 to the Red Cross last year, so I'll donate $0.25", None, 0.25, "amount"),
    # share: a part of the payment
    ("I'd like to donate half of my payment", None, 1.0, "share"),
    ("I'll donate ten percent", None, 0.2, "share"),
    ("I will give 25% of it", None, 0.5, "share"),
    ("I'll donate a quarter of it", None, 0.5, "share"),
    # all: the whole payment
    ("I'll donate all of it!", None, 2.0, "all"),
    ("I'll donate the whole thing", None, 2.0, "all"),
    ("Fine, I'll give it all", None, 2.0, "all"),
    ("I'd give everything", None, 2.0, "all"),
    # none: a refusal
    ("I will donate nothing", None, 0.0, "none"),
    ("I won't donate today, sorry", None, 0.0, "none"),
    ("I don't think I will donate", None, 0.0, "none"),
    ("Not going to donate this time.", None, 0.0, "none"),
    ("I can't afford to give anything right now", None, 0.0, "none"),
    ("I'll keep it all, sorry", None, 0.0, "none"),
    # reply: a short answer to a question about donating
    ("$0.50", ASK, 0.5, "reply"),
    ("Half", ASK, 1.0, "reply"),
    ("No thanks", "Would you like to donate?", 0.0, "reply"),
    ("Nothing right now", ASK, 0.0, "reply"),
    ("1", ASK, 1.0, "reply"),
    # accept: a short yes to a question naming one amount
    ("Sure!", "Would you be willing to donate $0.50?", 0.5, "accept"),
    ("ok, I can do that", "Could you give just 10 cents?", 0.1, "accept"),
]

NOT_STATED = [
    ("I can't donate much", None),  # a partial refusal says nothing about the amount
    ("I don't mind donating", None),
    ("I can't wait to donate", None),
    ("I can not donate until 10 chat turns.", None),
    ("I'm not sure how much to donate yet", None),
    ("Would $1 help?", None),  # a question
    ("My $2 is important to me", None),  # owned, and no donation word
    ("I make $2 for this task", None),
    ("I donated $5 last week", None),  # past tense, and above the payment
    ("I'll donate my $2 payment", None),  # the payment itself, not an amount given
    ("Sure!", "Would you donate $0.50 or $1?"),  # two amounts: the yes says which? unknown
    ("Sure!", "Do you like children?"),
    ("Yes, I have.", "Have you donated $2 to a charity before?"),  # not a request
    ("That's nice to hear, I read somewhere that $1 a day can feed a child", ASK),  # long
    ("I have 1 question", ASK),  # a bare number counts as a reply only on its own
]


@pytest.mark.parametrize(("text", "previous", "amount", "rule"), STATED)
def test_each_rule_reads_its_lines(
    text: str, previous: str | None, amount: float, rule: str
) -> None:
    hit = utterance_donation(text, previous=previous)
    assert hit is not None, text
    assert hit[0] == pytest.approx(amount)
    assert hit[1] == rule
    assert hit[2] in text


@pytest.mark.parametrize(("text", "previous"), NOT_STATED)
def test_lines_that_state_no_donation(text: str, previous: str | None) -> None:
    assert utterance_donation(text, previous=previous) is None


def test_share_and_all_follow_the_payment() -> None:
    assert utterance_donation("I'll donate half", payment=1.0) == (0.5, "share", "I'll donate half")
    assert utterance_donation("I'll donate all of it", payment=0.3) == (
        0.3,
        "all",
        "I'll donate all of it",
    )
    # a sum above the payment is not a donation of this task
    assert utterance_donation("I'll donate $1", payment=0.5) is None


def test_the_last_stated_donation_wins() -> None:
    dialogue = [
        ("er", "Hi! Have you heard of Save the Children?"),
        ("ee", "Yes. Maybe I'll donate 50 cents."),
        ("er", "That's kind. Every bit helps; even $1 feeds a child for days."),
        ("ee", "Ok, you convinced me. Make it $1."),
        ("er", "Thank you so much!"),
        ("ee", "You're welcome, have a nice day"),
    ]
    found = extract_donation(dialogue, "ee")
    assert found is not None
    assert (found.amount, found.rule, found.text, found.turn) == (
        1.0,
        "amount",
        "Make it $1.",
        3,
    )


def test_turn_numbers_are_kept_and_the_persuader_is_ignored() -> None:
    dialogue = [
        (4, "persuader", "I'll donate $2 myself."),
        (5, "persuadee", "I won't donate, sorry."),
    ]
    found = extract_donation(dialogue, "persuadee")
    assert found is not None and (found.amount, found.rule, found.turn) == (0.0, "none", 5)
    assert extract_donation([(0, "persuader", "I'll donate $1")], "persuadee") is None


def test_a_reply_needs_the_question_right_before_it() -> None:
    asked = [("er", ASK), ("ee", "$0.50")]
    not_asked = [("er", ASK), ("er", "Anyway, how is your day?"), ("ee", "$0.50")]
    assert extract_donation(asked, "ee") is not None
    assert extract_donation(not_asked, "ee") is None


READ = [
    ("0.5", 0.5, "amount"),
    ("$1.00", 1.0, "amount"),
    ("1", 1.0, "amount"),
    ("50 cents", 0.5, "amount"),
    ("$0.25 (a quarter)", 0.25, "amount"),
    ("I'd donate $0.25 of my $2", 0.25, "amount"),
    ("nothing", 0.0, "none"),
    ("I won't donate.", 0.0, "none"),
    ("all of it", 2.0, "all"),
    ("I'll give half", 1.0, "share"),
    ("Zero dollars", 0.0, "amount"),
    ("3", 3.0, "amount"),  # kept: the caller flags it out of range
]


@pytest.mark.parametrize(("text", "amount", "rule"), READ)
def test_read_amount(text: str, amount: float, rule: str) -> None:
    found = read_amount(text)
    assert found is not None and found[0] == pytest.approx(amount) and found[1] == rule


def test_read_amount_without_an_amount() -> None:
    assert read_amount("I'm not sure yet") is None


@given(st.integers(min_value=0, max_value=200))
def test_read_amount_round_trips_dollars_and_cents(cents: int) -> None:
    dollars = cents / 100
    assert read_amount(f"${dollars:.2f}") == (dollars, "amount")
    assert read_amount(f"I will donate {cents} cents") == (dollars, "amount")
    assert utterance_donation(f"I will donate {cents} cents") == (
        dollars,
        "amount",
        f"I will donate {cents} cents",
    )


def test_find_amounts_does_not_overlap() -> None:
    found = find_amounts("a dollar fifty or 2 dollars, half, all of it")
    assert [(a.value, a.kind) for a in found] == [
        (1.5, "amount"),
        (2.0, "amount"),
        (0.5, "share"),
        (1.0, "all"),
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_sentences_keep_decimal_amounts() -> None:
    assert sentences("I'll give $0.50. Thanks!\nBye") == ["I'll give $0.50.", "Thanks!", "Bye"]


def test_on_the_human_dialogues_the_rules_mostly_match_real_donations() -> None:
    """The rules read a donation in over half the PersuasionForGood dialogues, and the amount
    read equals the person's real donation in over half of those (people also change their
    mind after the chat, so a perfect match is not expected)."""
    from vs_sim.reference import load_p4g_dialogues, load_p4g_donations_by_dialogue

    dialogues = load_p4g_dialogues()
    real = load_p4g_donations_by_dialogue()
    found = agree = 0
    for dialogue_id, turns in dialogues.items():
        if dialogue_id not in real:
            continue
        stated = extract_donation(turns, "persuadee")
        if stated is None:
            continue
        found += 1
        agree += abs(stated.amount - real[dialogue_id]) <= 0.05
    assert found / len(real) > 0.5
    assert agree / found > 0.5
