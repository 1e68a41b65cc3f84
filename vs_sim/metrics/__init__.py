"""Diversity and validity metrics (numpy; scipy only for the KS test).

Each function's docstring gives its exact formula, range and direction; the same is
collected in ``docs/metrics.md``.

- :mod:`.text`: distinct-n, ROUGE-L, lexical and semantic diversity of a set of texts.
- :mod:`.answers`: entropy, KL, coverage, total variation, Jensen–Shannon, Wasserstein,
  representativeness, KS and binned L1 for answer distributions and samples.
- :mod:`.calibration`: reliability table, ECE and Brier score of verbalized probabilities.
- :mod:`.population`: normalized entropy per persona attribute.
"""

from __future__ import annotations

from .answers import (
    KSResult,
    as_distribution,
    binned_histogram,
    coverage,
    entropy,
    jensen_shannon,
    kl_divergence,
    kl_to_uniform,
    ks_two_sample,
    l1_binned,
    normalized_entropy,
    representativeness,
    total_variation,
    wasserstein_ordinal,
)
from .calibration import (
    CalibrationRecords,
    ReliabilityBin,
    answer_key,
    brier_score,
    calibration_records,
    expected_calibration_error,
    reliability_table,
)
from .population import attribute_diversity
from .text import (
    distinct_n,
    lcs_length,
    lexical_diversity,
    rouge_l,
    semantic_diversity,
    semantic_diversity_of_embeddings,
    tokenize,
)

__all__ = [
    "CalibrationRecords",
    "KSResult",
    "ReliabilityBin",
    "answer_key",
    "as_distribution",
    "attribute_diversity",
    "binned_histogram",
    "brier_score",
    "calibration_records",
    "coverage",
    "distinct_n",
    "entropy",
    "expected_calibration_error",
    "jensen_shannon",
    "kl_divergence",
    "kl_to_uniform",
    "ks_two_sample",
    "l1_binned",
    "lcs_length",
    "lexical_diversity",
    "normalized_entropy",
    "reliability_table",
    "representativeness",
    "rouge_l",
    "semantic_diversity",
    "semantic_diversity_of_embeddings",
    "tokenize",
    "total_variation",
    "wasserstein_ordinal",
]
