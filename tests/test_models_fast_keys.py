"""Request keys stay byte-identical while the way they are computed gets faster.

The key is documented as the SHA-256 of the request written by ``json.dumps(...,
sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)``. The pinned
digests below were computed with that code before orjson took over the common case; a
cache written by an older version must still answer the same requests.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import math
import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.models.base import Request, stable_json

SYSTEM = (
    "Generate 5 responses to the request, each with its probability.\n"
    'Return only a JSON object: {"responses": [{"text": "...", "probability": 0.35}]}'
)
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "verbalized_responses",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "responses": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "probability": {"type": "number"},
                        },
                        "required": ["text", "probability"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["responses"],
            "additionalProperties": False,
        },
    },
}


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int


def _user(text: str = "x") -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


CASES: dict[str, tuple[Request, str]] = {
    "a turn's request": (
        Request(
            model="openai/instant",
            messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": "Mill?"}),
            repeat=1,
        ),
        "51d730832c8da5bc612ab07bb2c4497c9df269da4118c0ed175d2e8d85395e8b",
    ),
    "the smallest request": (
        Request(model="m", messages=_user("hi")),
        "b3eb27539f09602b15660efef3973e5836de88d4d62a1a72e2d9f2bd51e918e5",
    ),
    "non-ASCII text and escapes": (
        Request(
            model="m",
            messages=(
                {
                    "role": "system",
                    "content": 'Tu es Zoë — «bonjour» 😀 \u2028 \x7f \x1f tab\tnl\n"q" \\',
                },
                {"role": "user", "content": "日本語"},
            ),
            params={"temperature": 0.7, "stop": ["ß", "\u00e9"]},
            repeat=3,
        ),
        "2e9c4089a96d54737c28ffb787b1728a815e70cea0fb378cb1767fdf64cc7478",
    ),
    "nested params": (
        Request(
            model="m",
            messages=_user(),
            params={
                "response_format": SCHEMA,
                "seed": 7,
                "max_tokens": 256,
                "temperature": 1.0,
                "top_p": None,
                "logit_bias": {"50256": -100},
                "flag": True,
            },
        ),
        "acdd06db729931a4d3d23de8377a08f584cbc59104f5d6a48a01875b08fc48be",
    ),
    "floats json writes with an exponent, an int beyond 64 bits": (
        Request(
            model="m", messages=_user(), params={"temperature": 1e-05, "big": 1e16, "n": 2**70}
        ),
        "31364675101346360847048142055b19362f0747a7db8db39831a113388705ae",
    ),
    "objects written with str()": (
        Request(
            model="m",
            messages=_user(),
            params={
                "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
                "id": uuid.UUID(int=5),
                "color": Color.RED,
                "point": Point(3),
                "path": PurePosixPath("/a/b"),
                "dec": decimal.Decimal("1.5"),
            },
        ),
        "85a4540b2928b4af107256f53084ed48f1082720160f24e493423f89867dad7d",
    ),
    "non-string dict keys": (
        Request(model="m", messages=_user(), params={"logit_bias": {50256: -100}}),
        "c791b5a4f8bfa9ae9353a72b47819c40b5d5c47e5d767d948770d7ff08507c24",
    ),
    "a tuple param and a re-asked sample": (
        Request(model="m", messages=_user(), params={"stop": ("a", "b")}, repeat=1 << 20),
        "d52085bbe7d274fa3e02cea3082c4414b3bcbd295f655e3675c7dea62f520325",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_keys_are_the_ones_older_versions_computed(case: str) -> None:
    request, expected = CASES[case]
    assert request.key == expected


def _json_reference(value: Any) -> bytes:
    """The documented form of a request key's input."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates
_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),  # around the 1e-4 switch to exponents
    st.sampled_from([1e-4, 9.999999999999999e-05, 1e-05, 1e16, 1e15, -0.0, 5e-324]),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # orjson stops at 64 bits
    _floats,
    _text,
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_text, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_stable_json_writes_what_json_dumps_writes(value: Any) -> None:
    assert stable_json(value) == _json_reference(value)


class Label(str):
    """A str subclass: json writes its text, and so must the fast path."""


@pytest.mark.parametrize(
    "value",
    [
        {"when": datetime.date(2024, 5, 1)},
        {"id": uuid.UUID(int=7)},
        {"color": Color.RED},
        {"point": Point(1)},
        {"dec": decimal.Decimal("0.1")},
        {"label": Label("x"), Label("k"): 1},
        {"nested": [{"b": 1, "a": [math.nan, math.inf, -math.inf]}]},
        {1: "int key", 2: "another"},
        {"big": 2**64, "neg": -(2**63) - 1},
        {"é": 1, "e": 2, "z": 3, "😀": 4, "\u00ff": 5},
    ],
    ids=repr,
)
def test_stable_json_falls_back_to_json_for_what_orjson_writes_otherwise(value: Any) -> None:
    assert stable_json(value) == _json_reference(value)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=8),
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant"]), "content": _text}
        ),
        min_size=1,
        max_size=3,
    ),
    st.dictionaries(_text, _json, max_size=3),
    st.integers(min_value=0, max_value=2**40),
)
def test_the_key_is_the_sha256_of_the_documented_json(
    model: str, messages: list[dict[str, str]], params: dict[str, Any], repeat: int
) -> None:
    payload = {"model": model, "messages": messages, "params": params, "repeat": repeat}
    expected = hashlib.sha256(_json_reference(payload)).hexdigest()
    request = Request(model=model, messages=tuple(messages), params=params, repeat=repeat)
    assert request.key == expected
    assert Request.trusted(model, tuple(messages), params, repeat).key == expected
