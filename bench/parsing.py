"""How long ``parse_response`` takes per answer (a 10,000-person survey parses ~50,000).

Run: ``python bench/parsing.py``. Prints microseconds per parse for a well-formed JSON
answer (the fast path) and for messy ones that go through the repair machinery.
"""

from __future__ import annotations

import json
import timeit

from vs_sim.parsing import parse_response

ITEMS = [
    ("I'd grab a coffee first, then see how I feel.", 0.32),
    ("Straight to the gym before work.", 0.24),
    ("Sleep in, honestly; it's been a long week.", 0.2),
    ("Take the dog for a long walk.", 0.14),
    ("Read the news with breakfast.", 0.1),
]

WELL_FORMED = json.dumps({"responses": [{"text": t, "probability": p} for t, p in ITEMS]})

MESSY_JSON = (
    "<think>\nThe user wants five varied answers with probabilities. Let me think about "
    "typical mornings.\n</think>\n\nSure! Here are the responses:\n```json\n{\n"
    '  "responses": [\n'
    + "".join(f"    {{'text': \"{t}\", 'probability': '{round(p * 100)}%',}},\n" for t, p in ITEMS)
    + "  ],\n}\n```\nLet me know if you want more!"
)

MESSY_XML = (
    "Here you go:\n<responses>\n"
    + "".join(
        f'  <response id="{i}"><probability>{p}</probability><text>{t.replace("&", "&amp;")}'
        f"</text></response>\n"
        for i, (t, p) in enumerate(ITEMS)
    )
    + "</responses>"
)

MESSY_LIST = "Here are five possible responses:\n\n" + "".join(
    f'{i + 1}. "{t}" (p={p})\n' for i, (t, p) in enumerate(ITEMS)
)

TRUNCATED = WELL_FORMED[: int(len(WELL_FORMED) * 0.8)]


def per_parse_us(text: str, number: int) -> float:
    """Best-of-5 microseconds per call."""
    runs = timeit.repeat(lambda: parse_response(text), number=number, repeat=5)
    return min(runs) / number * 1e6


def main() -> None:
    cases = {
        "well-formed JSON, 5 items (fast path)": WELL_FORMED,
        "messy JSON: <think>, prose, fence, Python quotes, trailing commas, %": MESSY_JSON,
        "XML blocks with prose, attributes, entities": MESSY_XML,
        "numbered list with (p=...)": MESSY_LIST,
        "JSON cut off mid-item": TRUNCATED,
    }
    for name, text in cases.items():
        result = parse_response(text)
        assert len(result.candidates) >= 3, name
        print(f"{per_parse_us(text, 2000):8.1f} µs/parse  {name}")


if __name__ == "__main__":
    main()
