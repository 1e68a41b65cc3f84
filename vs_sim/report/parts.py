"""The pieces a report page is made of: tables, embedded figures, sections, cell text."""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Table:
    """A table ready for the template: header, rows of text, numeric columns flagged."""

    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)


@dataclass
class Image:
    """An embedded figure: a ``data:`` URI and its alternative text."""

    src: str
    alt: str
    width: int
    height: int
    png: bytes = field(default=b"", repr=False)

    @property
    def filename(self) -> str:
        """A file name made from the alternative text (for ``plots/*.png``)."""
        return re.sub(r"[^a-z0-9]+", "_", self.alt.lower()).strip("_")[:80] + ".png"


@dataclass
class Section:
    """One titled part of the report: notes, tables and figures in that order."""

    title: str
    anchor: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    transcript: list[dict[str, str]] = field(default_factory=list)


def fmt(value: Any, kind: str = "auto") -> str:
    """A cell's text: ``pct`` as a percentage, ``money`` in dollars, floats to 4 figures."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "pct":
        return f"{100 * float(value):.1f}%"
    if kind == "money":
        return f"${float(value):.4f}" if float(value) < 1 else f"${float(value):,.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def make_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], kinds: Sequence[str]
) -> Table:
    numeric = [k != "text" for k in kinds]
    return Table(
        list(columns),
        [[fmt(v, k if k in ("pct", "money") else "auto") for v, k in zip(r, kinds)] for r in rows],
        numeric,
    )


def embed(fig: Figure, alt: str) -> Image:
    """The figure as a base64 PNG ``data:`` URI (the figure is not kept)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    width, height = (int(v) for v in fig.get_size_inches() * 100)
    fig.clear()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Image(f"data:image/png;base64,{data}", alt, width, height, buffer.getvalue())
