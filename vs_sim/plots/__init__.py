"""Figures of a run: answer shares, donations, diversity, entropy per turn, the graph.

Every function returns a :class:`matplotlib.figure.Figure` drawn on an Agg canvas (no
pyplot, no window, no global state): save it with ``fig.savefig(path)``, or let a notebook
show it. Nothing here calls ``show``. matplotlib and pandas are imported when a function
runs (``pip install "vs_sim[analysis]"``), so importing this package is cheap.

- :mod:`.figure`: :func:`new_figure`, the colours, axis helpers;
- :mod:`.answers`: :func:`plot_answer_shares`, :func:`plot_numeric_shares`,
  :func:`plot_donations`;
- :mod:`.dialogue`: :func:`plot_diversity`, :func:`plot_entropy_per_turn`, :func:`plot_graph`.
"""

from __future__ import annotations

from .answers import plot_answer_shares, plot_donations, plot_numeric_shares
from .dialogue import plot_diversity, plot_entropy_per_turn, plot_graph
from .figure import SERIES, SPEAKER_COLOURS, new_figure

__all__ = [
    "SERIES",
    "SPEAKER_COLOURS",
    "new_figure",
    "plot_answer_shares",
    "plot_diversity",
    "plot_donations",
    "plot_entropy_per_turn",
    "plot_graph",
    "plot_numeric_shares",
]
