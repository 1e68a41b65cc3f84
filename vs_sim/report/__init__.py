"""The HTML report of a run: one self-contained page rebuilt from the event log.

Sections, each present when the run has what it needs: the synthetic-text warning, the
summary, per-question shares with plots for a survey (against a reference when one is
found), the donation comparison for a persuasion run, entropy per turn, text diversity by
role or method, the conversation graph for small runs, sample transcripts, failed
conversations and the model calls. Figures are embedded as base64 PNG and the styles are
inline, so the page makes no network request. The page is rendered by a Jinja2 template
with autoescaping on: model text is untrusted and can never inject HTML.

- :mod:`.parts`: :class:`Table`, :class:`Image` (an embedded figure), :class:`Section`;
- :mod:`.sections`: each section, built from a :class:`~vs_sim.analysis.Run`;
- :mod:`.page`: :func:`report_sections`, :func:`render_report`, :func:`write_report`.
"""

from __future__ import annotations

from .page import TEMPLATE_DIR, images, render_report, report_sections, write_report
from .parts import Image, Section, Table, embed, fmt

__all__ = [
    "TEMPLATE_DIR",
    "Image",
    "Section",
    "Table",
    "embed",
    "fmt",
    "images",
    "render_report",
    "report_sections",
    "write_report",
]
