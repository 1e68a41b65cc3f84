"""Answer shares (grouped bars, numeric histograms) and donations against the human data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .figure import SERIES, dollars, new_figure, percent_axis, present, tidy, wrap

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def plot_answer_shares(
    shares: pd.DataFrame,
    question_id: str | None = None,
    *,
    by: str | None = None,
    title: str | None = None,
) -> Figure:
    """Grouped horizontal bars per option: sampled vs verbalized vs human shares.

    Args:
        shares: A table from :meth:`vs_sim.analysis.Run.shares` (columns ``question_id``,
            ``option`` and any of ``sampled``, ``soft``, ``reference``).
        question_id: The question to draw (optional when the table has only one).
        by: The group column (a persona attribute): one panel per group value.
        title: Default: the question id.

    Raises:
        ConfigError: No such question or group column, or several questions and none chosen.
    """
    frame = _one_question(shares, question_id)
    qid = str(frame["question_id"].iloc[0])
    series = [s for s in SERIES if s in frame.columns and frame[s].notna().any()]
    if by is not None and by not in frame.columns:
        raise ConfigError(f"no column {by!r} in the shares table", where="by")
    groups: list[Any] = list(dict.fromkeys(frame[by])) if by else [None]
    options = list(dict.fromkeys(frame["option"]))
    cols = min(len(groups), 3)
    rows = math.ceil(len(groups) / cols)
    height = max(2.0, (0.2 if by is None else 0.14) * len(options) * len(series) + 1.0)
    fig = new_figure(min(10.0, 2.9 * cols + 2.0) if by else 9.0, height * rows + 0.4)
    bar = 0.8 / max(len(series), 1)
    y = np.arange(len(options))
    for g, group in enumerate(groups):
        ax = fig.add_subplot(rows, cols, g + 1)
        part = frame if by is None else frame[frame[by] == group]
        values = part.set_index("option")
        for s, name in enumerate(series):
            label, colour = SERIES[name]
            shares_of = [
                float(values.at[o, name])
                if o in values.index and present(values.at[o, name])
                else 0.0
                for o in options
            ]
            ax.barh(
                y + (s - (len(series) - 1) / 2) * bar,
                shares_of,
                height=bar,
                color=colour,
                label=label,
            )
        ax.set_yticks(y, [wrap(o) for o in options] if g % cols == 0 else [""] * len(options))
        ax.invert_yaxis()
        ax.set_xlim(0, max(1e-9, min(1.0, _max_share(frame, series) * 1.15)))
        percent_axis(ax.xaxis)
        ax.set_xlabel("Share of respondents")
        if by is not None:
            n = int(part["asked"].max()) if "asked" in part and len(part) else 0
            ax.set_title(f"{by} = {group} (n={n})", fontsize=10)
        tidy(ax)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=len(series), fontsize=8, frameon=False
    )
    n_all = int(frame["asked"].max()) if "asked" in frame and by is None else None
    suffix = f" (n={n_all})" if n_all else ""
    fig.suptitle(title or f"{qid}{suffix}", fontsize=12)
    return fig


def _one_question(shares: pd.DataFrame, question_id: str | None) -> pd.DataFrame:
    if "question_id" not in shares.columns or "option" not in shares.columns:
        raise ConfigError("a shares table needs 'question_id' and 'option' columns", where="shares")
    ids = list(dict.fromkeys(shares["question_id"]))
    if question_id is None:
        if len(ids) != 1:
            raise ConfigError(
                f"the table has {len(ids)} questions; choose one of: {', '.join(map(str, ids))}",
                where="question_id",
            )
        question_id = str(ids[0])
    frame = shares[shares["question_id"] == question_id]
    if frame.empty:
        raise ConfigError(
            f"no question {question_id!r}; known: {', '.join(map(str, ids)) or 'none'}",
            where="question_id",
        )
    return frame


def _max_share(frame: pd.DataFrame, series: Sequence[str]) -> float:
    best = 0.0
    for name in series:
        column = frame[name].dropna()
        if len(column):
            best = max(best, float(column.max()))
    return best or 1.0


def plot_numeric_shares(
    shares: pd.DataFrame, question_id: str | None = None, *, title: str | None = None
) -> Figure:
    """Vertical bars at each numeric answer: sampled vs verbalized shares (a histogram).

    Args:
        shares: A table from :meth:`vs_sim.analysis.Run.shares` whose options are numbers
            (non-numeric options such as ``(unmatched)`` are left out and counted in the title).
        question_id: The question to draw (optional when the table has only one).

    Raises:
        ConfigError: No such question, or no numeric option.
    """
    frame = _one_question(shares, question_id)
    qid = str(frame["question_id"].iloc[0])
    numbers: list[tuple[float, Any]] = []
    for _, row in frame.iterrows():
        try:
            numbers.append((float(row["option"]), row))
        except (TypeError, ValueError):
            continue
    if not numbers:
        raise ConfigError(f"question {qid!r} has no numeric answers", where="shares")
    numbers.sort(key=lambda item: item[0])
    xs = np.array([x for x, _ in numbers])
    gaps = np.diff(np.unique(xs))
    width = 0.4 * (float(gaps.min()) if gaps.size else 1.0)
    series = [s for s in ("sampled", "soft") if s in frame.columns]
    fig = new_figure(9.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    for i, name in enumerate(series):
        label, colour = SERIES[name]
        values = [float(row[name]) if present(row[name]) else 0.0 for _, row in numbers]
        ax.bar(
            xs + (i - (len(series) - 1) / 2) * width, values, width=width, color=colour, label=label
        )
    ax.set_xlabel("Answer")
    ax.set_ylabel("Share of respondents")
    percent_axis(ax.yaxis)
    ax.legend(fontsize=8, frameon=False)
    n = int(frame["asked"].max()) if "asked" in frame else 0
    ax.set_title(title or f"{qid} (n={n})", fontsize=12)
    tidy(ax)
    return fig


# -- donations -------------------------------------------------------------------------------------
def plot_donations(
    simulated: npt.ArrayLike,
    human: npt.ArrayLike | None = None,
    *,
    bin_width: float = 0.10,
    lo: float = 0.0,
    hi: float = 2.0,
    label: str = "Simulated",
    human_label: str = "Human (PersuasionForGood)",
    title: str | None = None,
) -> Figure:
    """Side-by-side histograms of simulated and human donations over ``$bin_width`` bins.

    Bars are shares of each sample per bin ``[lo + i·w, lo + (i+1)·w)`` (the last bin
    includes ``hi``); dashed lines mark the means. Values outside ``[lo, hi]`` are left out
    and counted in the legend.

    Args:
        simulated: Simulated donations in dollars (may be empty).
        human: Human donations; default :func:`vs_sim.reference.load_p4g_donations`.
    """
    from ..metrics import binned_histogram

    if human is None:
        from ..reference import load_p4g_donations

        human = load_p4g_donations()
    fig = new_figure(9.0, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    n_bins = round((hi - lo) / bin_width)
    edges = lo + bin_width * np.arange(n_bins)
    width = bin_width * 0.42
    for shift, values, name, colour in (
        (-width / 2, simulated, label, SERIES["sampled"][1]),
        (width / 2, human, human_label, SERIES["reference"][1]),
    ):
        x = np.asarray(values, dtype=float).ravel()
        inside = x[(x >= lo) & (x <= hi)]
        left_out = int(x.size - inside.size)
        if inside.size == 0:
            continue
        shares = binned_histogram(inside, bin_width, lo, hi)
        extra = f", {left_out} outside ${lo:g}–${hi:g} left out" if left_out else ""
        ax.bar(
            edges + bin_width / 2 + shift,
            shares,
            width=width,
            color=colour,
            label=dollars(f"{name} (n={inside.size}{extra})"),
        )
        ax.axvline(
            float(inside.mean()),
            color=colour,
            linestyle="--",
            linewidth=1.2,
            label=dollars(f"{name} mean ${inside.mean():.2f}"),
        )
    ax.set_xlim(lo, hi)
    ax.set_xlabel(dollars(f"Donation ($, bins of ${bin_width:.2f})"))
    ax.set_ylabel("Share of persuadees")
    percent_axis(ax.yaxis)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(dollars(title or "Donations: simulated vs human"), fontsize=12)
    tidy(ax)
    return fig
