"""Shared pieces of every vs_sim figure: an Agg-backed figure, colours, axis helpers."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependency

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SERIES: dict[str, tuple[str, str]] = {
    "sampled": ("Sampled (drawn answers)", "#3b6ea8"),
    "soft": ("Verbalized (mean soft answer)", "#8fb8de"),
    "reference": ("Human reference", "#d9822b"),
}
"""Share columns a shares table may have: legend label and colour of each."""

SPEAKER_COLOURS = (
    "#3b6ea8", "#d9822b", "#4f9a55", "#b5475a", "#7d5fa8", "#8c6d46", "#c267a8", "#5f8f99",
)  # fmt: skip


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` × ``height`` inches on an Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependency("matplotlib", extra="analysis", feature="vs_sim.plots") from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def wrap(label: Any, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(str(label), width)) or str(label)


def tidy(ax: Axes) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def dollars(text: str) -> str:
    """``$`` escaped, so matplotlib does not read "$0–$2" as mathematics."""
    return text.replace("$", r"\$")


def integer_ticks(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def percent_axis(axis: Any) -> None:
    """Ticks at round percentages (1, 2, 5 or 10 steps), labelled without decimals."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
