"""Run folder → pandas DataFrames, shares by persona attribute, the graph and the summary.

    >>> from vs_sim.analysis import open_run
    >>> run = open_run("runs/quickstart")            # doctest: +SKIP
    >>> run.answer_shares("climate_worry", by="party")  # doctest: +SKIP

- :mod:`.run`: :func:`open_run` and :class:`Run` (tables as DataFrames, summary, graph);
- :mod:`.rows`: each table as plain rows (lists of dicts);
- :mod:`.stream`: the rules, applied to a log streamed past: every table in one pass, each
  row handed on once final, only the units still at work held (so memory stays flat);
- :mod:`.sinks`: where rows go (a CSV file written as they come, a list);
- :mod:`.run_counts`, :mod:`.digest`: the summary's counts and what reports show;
- :mod:`.shares`: sampled and soft answer shares per question, option and group;
- :mod:`.survey_tally`: per-question summaries and the reference comparison, tallied.

pandas is imported only when a table is first built (``pip install "vs_sim[analysis]"``).
Plots are in :mod:`vs_sim.plots`, the HTML report in :mod:`vs_sim.report`.
"""

from __future__ import annotations

from .run import Run, open_run, require_pandas
from .shares import UNMATCHED

__all__ = ["UNMATCHED", "Run", "open_run", "require_pandas"]
