"""Method comparison: every prompting method on the same prompts, at the paper's call budget.

For ``n`` samples per prompt and ``k`` candidates per list call (the Verbalized Sampling
paper's setup), each method spends:

============================  ==========================================  =====================
method                        calls per prompt                            texts scored
============================  ==========================================  =====================
direct, cot                   ``n`` independent calls                     each call's answer
sequence, vs_standard, vs_cot ``⌈n/k⌉`` calls of ``k`` (last: the rest)   every listed candidate
multi_turn                    one chat of ``n`` turns                     each turn's answer
vs_multi                      ``⌈n/k⌉`` chats of ``k`` over turns of ``m``  every listed candidate
============================  ==========================================  =====================

Texts are read from each call's raw answer with the method's own parser, *before* duplicates
are merged, so a model repeating itself is counted as repeating itself; a list longer than
asked is cut to the size asked. With ``vs_samples="draws"`` the VS methods instead draw as
many samples from each call's verbalized distribution as it was asked candidates (seeded by
``(seed, method, prompt, call)``). Each call has its own ``repeat`` index (``seed · 2⁴⁰ + i``),
so calls are distinct samples and distinct cache entries, and another seed means fresh samples.

Modules: :mod:`.prompts` (the prompts file), :mod:`.plan` (the call budget and the texts
each call gives), :mod:`.run` (running and bounding calls), :mod:`.scoring` (the metrics of
one set of samples), :mod:`.result` (rows, JSON, CSV, DataFrames).
"""

from __future__ import annotations

from .plan import plan_units, planned_calls, texts_from_calls
from .prompts import ComparePrompt, read_prompts, read_valid
from .result import (
    CSV_COLUMNS,
    DIVERSITY_METRICS,
    ComparisonResult,
    MethodSummary,
    PromptResult,
    SampleSource,
)
from .run import DEFAULT_METHODS, acompare_methods, compare_methods
from .scoring import answer_key, default_embedder, match_answers, score_texts

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_METHODS",
    "DIVERSITY_METRICS",
    "ComparePrompt",
    "ComparisonResult",
    "MethodSummary",
    "PromptResult",
    "SampleSource",
    "acompare_methods",
    "answer_key",
    "compare_methods",
    "default_embedder",
    "match_answers",
    "plan_units",
    "planned_calls",
    "read_prompts",
    "read_valid",
    "score_texts",
    "texts_from_calls",
]
