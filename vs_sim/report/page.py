"""The report page: every section rendered by the Jinja2 template, written to a file."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis import Run, open_run
from ..errors import ConfigError
from .parts import Image, Section
from .sections import (
    calls_section,
    dialogue_sections,
    donation_section,
    failed_section,
    focus_group_section,
    summary_section,
    survey_section,
)

if TYPE_CHECKING:
    from ..tasks.survey_reference import Reference

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
"""Where ``report.html.j2`` lives (``vs_sim/templates``)."""


def report_sections(
    run: Run, *, reference: Reference | None = None, by: Sequence[str] = ()
) -> list[Section]:
    """Every section the run has data for, in page order (figures already embedded)."""
    groups = list(by) or (reference.group_attributes if reference is not None else [])
    sections = [summary_section(run, run.summary())]
    for part in (
        survey_section(run, reference, groups),
        donation_section(run),
        focus_group_section(run),
        *dialogue_sections(run),
        failed_section(run),
        calls_section(run),
    ):
        if part is not None:
            sections.append(part)
    return sections


def images(sections: Sequence[Section]) -> list[Image]:
    """Every figure in ``sections``, subsections included, in page order."""
    out: list[Image] = []
    for section in sections:
        out.extend(section.images)
        out.extend(images(section.subsections))
    return out


def render_report(
    run: Run | str | os.PathLike[str],
    *,
    reference: Reference | str | os.PathLike[str] | None = None,
    by: Sequence[str] = (),
    sections: Sequence[Section] | None = None,
) -> str:
    """The report of a run as one self-contained HTML page.

    Args:
        run: A :class:`~vs_sim.analysis.Run`, a run folder or an event log.
        reference: Human shares for a survey (a loaded reference or a file); default the
            file the scenario names (see :meth:`~vs_sim.analysis.Run.reference`).
        by: Persona attributes to draw survey shares by (default: the reference's group
            attributes).
        sections: Already built by :func:`report_sections` (then ``reference`` and ``by``
            are not used).
    """
    import jinja2

    run = run if isinstance(run, Run) else open_run(run)
    if sections is None:
        if reference is None or isinstance(reference, str | os.PathLike):
            reference = run.reference(reference)
        sections = report_sections(run, reference=reference, by=by)
    summary = run.summary()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(
        title=f"vs_sim report: {summary.get('run_id') or run.folder.name}",
        task=summary.get("task"),
        synthetic=bool(summary.get("synthetic")),
        unfinished=summary.get("status") != "completed",
        generated=time.strftime("%Y-%m-%d %H:%M", time.localtime()),
        source=str(run.folder),
        sections=sections,
    )


def write_report(
    run: Run | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    reference: Reference | str | os.PathLike[str] | None = None,
    by: Sequence[str] = (),
    plots_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the report to ``out`` (default ``report.html`` in the run folder).

    Args:
        plots_dir: Also save every figure there as a PNG file (e.g. ``RUN_DIR/plots``).

    Returns:
        The report's path.
    """
    run = run if isinstance(run, Run) else open_run(run)
    if reference is None or isinstance(reference, str | os.PathLike):
        reference = run.reference(reference)
    sections = report_sections(run, reference=reference, by=by)
    page = render_report(run, sections=sections)
    path = Path(out) if out is not None else run.folder / "report.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        if plots_dir is not None:
            folder = Path(plots_dir)
            folder.mkdir(parents=True, exist_ok=True)
            used: set[str] = set()
            for image in images(sections):
                name, n = image.filename, 1
                while name in used:
                    n += 1
                    name = f"{image.filename[:-4]}_{n}.png"
                used.add(name)
                (folder / name).write_bytes(image.png)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report: {exc.strerror}", where=str(exc.filename or path)
        ) from None
    return path
