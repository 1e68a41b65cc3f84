"""Run folder → pandas DataFrames, shares by persona attribute, the graph and the summary.

    >>> from vs_sim.analysis import open_run
    >>> run = open_run("runs/quickstart")            # doctest: +SKIP
    >>> run.answer_shares("climate_worry", by="party")  # doctest: +SKIP

- :mod:`.run`: :func:`open_run` and :class:`Run` (tables as DataFrames, summary, graph);
- :mod:`.rows`: how each table is read from the event log (plain Python);
- :mod:`.shares`: sampled and soft answer shares per question, option and group.

pandas is imported only when a table is first built (``pip install "vs_sim[analysis]"``).
Plots are in :mod:`vs_sim.plots`, the HTML report in :mod:`vs_sim.report`.
"""

from __future__ import annotations

from .run import Run, open_run, require_pandas
from .shares import UNMATCHED

__all__ = ["UNMATCHED", "Run", "open_run", "require_pandas"]
