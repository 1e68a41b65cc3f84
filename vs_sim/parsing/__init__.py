"""Read a model's raw answer into candidates, recording every repair.

Real models break the answer format often: code fences, prose around the JSON,
trailing commas, Python literals, truncated output, percentages, missing numbers,
XML blocks, plain lists. :func:`parse_response` reads all of these and never loses a
response silently: every change it makes is a :class:`~vs_sim.distribution.Repair`,
and when nothing usable is found it raises :class:`~vs_sim.errors.ParseError` carrying
the complete raw text. See ``docs/parsing.md`` for the formats and the repair kinds.
"""

from __future__ import annotations

from .response import ParseResult, parse_response
from .text import strip_code_fences, strip_reasoning

__all__ = ["ParseResult", "parse_response", "strip_code_fences", "strip_reasoning"]
