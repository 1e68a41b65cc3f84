"""Human reference data: the PersuasionForGood persuadee donations.

The data (Wang et al., ACL 2019, Apache-2.0; see ``data/persuasionforgood/README.md``)
ship with vs_sim (:func:`vs_sim.resources.builtin_dir`) as
``data/persuasionforgood/persuadee_donations.csv``: one row per dialogue, with the
persuadee's actual donation after a chat in which a persuader asked them to give part of
their $0–$2 task payment to Save the Children; and ``data/persuasionforgood/full_dialog.csv``,
the dialogues themselves.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from .errors import ConfigError
from .resources import builtin_dir

P4G_DONATIONS_CSV = builtin_dir("data") / "persuasionforgood" / "persuadee_donations.csv"
"""The donations file: ``data/`` in a source checkout, else the copy installed with vs_sim."""
P4G_DIALOG_CSV = P4G_DONATIONS_CSV.parent / "full_dialog.csv"
"""The human dialogues, one row per utterance (``Unit``, ``Turn``, role ``B4``, dialogue ``B2``)."""

_DONATION = "persuadee_donation"
_IN_RANGE = "in_task_range_0_2"


def load_p4g_donations(path: str | Path | None = None) -> npt.NDArray[np.float64]:
    """The 982 persuadee donations that lie in the task's range, $0 to $2.

    Reads column ``persuadee_donation`` of the rows where ``in_task_range_0_2 == 1``.
    Of the 1,017 dialogues, 35 record a donation outside $0–$2 (values from 3 to 700:
    data-entry errors); they are excluded.

    Args:
        path: The CSV file; default :data:`P4G_DONATIONS_CSV` (shipped with vs_sim).

    Returns:
        The donations in dollars, in file order.

    Raises:
        ConfigError: The file is missing, lacks a column, or has a value that is not a
            number (the error names ``file:line``).
    """
    file = Path(path) if path is not None else P4G_DONATIONS_CSV
    if not file.is_file():
        raise ConfigError(
            "PersuasionForGood donations file not found; pass its path (it ships with vs_sim "
            "as data/persuasionforgood/persuadee_donations.csv)",
            where=str(file),
        )
    values: list[float] = []
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {_DONATION, _IN_RANGE} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"missing column(s) {sorted(missing)}", where=f"{file}:1")
        for row in reader:
            where = f"{file}:{reader.line_num}"
            try:
                in_range = int(float(row[_IN_RANGE]))
                if in_range != 1:
                    continue
                value = float(row[_DONATION])
            except (TypeError, ValueError):
                raise ConfigError(
                    f"not a number: {_IN_RANGE}={row[_IN_RANGE]!r}, {_DONATION}={row[_DONATION]!r}",
                    where=where,
                ) from None
            if not (math.isfinite(value) and 0.0 <= value <= 2.0):
                raise ConfigError(f"donation {value} is marked in range but is not", where=where)
            values.append(value)
    return np.asarray(values, dtype=np.float64)


class DonationSummary(TypedDict):
    """Summary numbers of a donation sample (dollars; shares in [0, 1])."""

    n: int
    mean: float
    std: float
    median: float
    q25: float
    q75: float
    min: float
    max: float
    share_zero: float
    top_amounts: list[tuple[float, int]]


def donation_summary(x: npt.ArrayLike, top: int = 6) -> DonationSummary:
    """Summary numbers of a donation sample, for comparing simulated with human donations.

    Count, mean, sample standard deviation (``ddof=1``), median and quartiles (numpy's
    linear interpolation), range, the share at exactly $0, and the ``top`` most common
    amounts with their counts (amounts rounded to cents; ties broken by amount).

    Raises:
        ConfigError: An empty or non-finite sample.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ConfigError(f"expected a non-empty 1-D sample, got shape {a.shape}", where="x")
    if not np.all(np.isfinite(a)):
        raise ConfigError("sample has non-finite values", where="x")
    amounts, counts = np.unique(np.round(a, 2), return_counts=True)
    order = sorted(range(len(amounts)), key=lambda i: (-int(counts[i]), float(amounts[i])))
    return DonationSummary(
        n=int(a.size),
        mean=float(a.mean()),
        std=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        median=float(np.median(a)),
        q25=float(np.quantile(a, 0.25)),
        q75=float(np.quantile(a, 0.75)),
        min=float(a.min()),
        max=float(a.max()),
        share_zero=float(np.mean(a == 0)),
        top_amounts=[(float(amounts[i]), int(counts[i])) for i in order[:top]],
    )


# -- the dialogues --------------------------------------------------------------------------------
def load_p4g_dialogues(
    path: str | os.PathLike[str] | None = None,
) -> dict[str, list[tuple[int, str, str]]]:
    """The human dialogues: dialogue id → ``(turn, speaker, text)`` in order.

    ``speaker`` is ``persuader`` (``B4 == 0``) or ``persuadee`` (``B4 == 1``). The shipped
    file has one row per utterance; consecutive rows of one speaker in one turn, should a
    file split an utterance, are joined with a space.

    Raises:
        ConfigError: The file is missing or lacks a column (names ``file:line``).
    """
    file = Path(path) if path is not None else P4G_DIALOG_CSV
    if not file.is_file():
        raise ConfigError("PersuasionForGood dialogue file not found", where=str(file))
    out: dict[str, list[tuple[int, str, str]]] = {}
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"Unit", "Turn", "B4", "B2"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"missing column(s) {sorted(missing)}", where=f"{file}:1")
        for row in reader:
            try:
                turn, role = int(row["Turn"]), int(row["B4"])
            except ValueError:
                raise ConfigError(
                    f"Turn {row['Turn']!r} or B4 {row['B4']!r} is not a whole number",
                    where=f"{file}:{reader.line_num}",
                ) from None
            speaker = "persuadee" if role == 1 else "persuader"
            text = (row["Unit"] or "").strip()
            turns = out.setdefault(row["B2"], [])
            if turns and turns[-1][0] == turn and turns[-1][1] == speaker:
                turns[-1] = (turn, speaker, f"{turns[-1][2]} {text}".strip())
            else:
                turns.append((turn, speaker, text))
    return out


def load_p4g_persuadee_turns(
    path: str | os.PathLike[str] | None = None, *, dialogues: Iterable[str] | None = None
) -> list[str]:
    """The human persuadees' utterances (``B4 == 1``), one per turn, in file order.

    Args:
        path: ``full_dialog.csv`` (default: the copy in the repository).
        dialogues: Only these dialogue ids (e.g. the personas a run simulated).
    """
    wanted = None if dialogues is None else set(dialogues)
    return [
        text
        for dialogue, turns in load_p4g_dialogues(path).items()
        if wanted is None or dialogue in wanted
        for _, speaker, text in turns
        if speaker == "persuadee" and text
    ]


def load_p4g_donations_by_dialogue(path: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """Dialogue id → the persuadee's real donation, for the 982 dialogues in the $0–$2 range."""
    file = Path(path) if path is not None else P4G_DONATIONS_CSV
    values = load_p4g_donations(file)  # validates the file and the values
    with file.open(newline="", encoding="utf-8") as fh:
        ids = [
            row.get("dialogue_id") or ""
            for row in csv.DictReader(fh)
            if int(float(row["in_task_range_0_2"])) == 1
        ]
    if "" in ids:
        raise ConfigError("a row in range has no dialogue_id", where=str(file))
    return dict(zip(ids, values.tolist(), strict=True))
