"""Persuasion runs read back: simulated donations against each other and against people.

:func:`persuasion_report` reads a run's event log and gives, per dialogue, the donation drawn
from the final question (``donation``), the one the persuadee stated in the chat
(``donation_text``) and the real person's donation (joined by dialogue id); then

- each simulated sample beside the 982 human donations in the task's $0–$2 range: n, mean,
  median, standard deviation, share at $0, the two-sample KS statistic and p-value
  (:func:`vs_sim.metrics.ks_two_sample`) and the L1 distance between $0.10-bin histograms
  (:func:`vs_sim.metrics.l1_binned`);
- disagreements: dialogues where both donations exist and differ by more than $0.05;
- paired with the same people's real donations: mean absolute difference and correlation.

:func:`vs_sim.reference.load_p4g_persuadee_turns` reads the human persuadees' turns, e.g. to
compare their diversity with the simulated ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import Answer, ConversationEnded, ConversationStarted, Event, read_events
from ..reference import donation_summary, load_p4g_donations, load_p4g_donations_by_dialogue
from .persuasion import DONATION, DONATION_TEXT, PERSUADEE, TASK

DISAGREEMENT = 0.05
"""Dollars by which the two simulated donations of a dialogue must differ to disagree."""

FloatArray = npt.NDArray[np.float64]


# -- the report --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DialogueDonation:
    """One dialogue's donations.

    Attributes:
        dialogue_id: The conversation id.
        persona_id: The persuadee's persona id (the PersuasionForGood dialogue id).
        status: ``completed`` or ``failed`` (``None`` if the log has no end for it).
        turns: Utterances in the dialogue.
        donation: The amount drawn from the final question (``None``: unreadable or missing).
        out_of_range: That amount lies outside $0 to the payment.
        expected: The mean of the verbalized distribution over readable in-range amounts.
        stated: The amount the persuadee stated in the chat (``None``: never said).
        stated_rule: The extraction rule that read it.
        stated_text: The sentence it was read from.
        real: The real person's donation, when known.
    """

    dialogue_id: str
    persona_id: str | None
    status: str | None
    turns: int
    donation: float | None
    out_of_range: bool
    expected: float | None
    stated: float | None
    stated_rule: str | None
    stated_text: str | None
    real: float | None

    @property
    def disagrees(self) -> bool | None:
        """Whether both donations exist and differ by more than :data:`DISAGREEMENT`."""
        if self.donation is None or self.stated is None or self.out_of_range:
            return None
        return abs(self.donation - self.stated) > DISAGREEMENT + 1e-9


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def compare_donations(
    simulated: npt.ArrayLike, human: npt.ArrayLike, *, payment: float = 2.0
) -> dict[str, Any]:
    """Simulated beside human donations: each side's summary, KS and binned L1.

    Returns ``{"simulated": summary, "human": summary, "ks_statistic", "ks_pvalue",
    "l1_binned"}`` (summaries from :func:`vs_sim.reference.donation_summary`; the L1 over
    $0.10 bins from $0 to ``payment``); ``None`` for the tests when ``simulated`` is empty.
    """
    from ..metrics import ks_two_sample, l1_binned

    sim = np.asarray(simulated, dtype=np.float64)
    hum = np.asarray(human, dtype=np.float64)
    out: dict[str, Any] = {
        "simulated": _summary(sim),
        "human": _summary(hum),
        "ks_statistic": None,
        "ks_pvalue": None,
        "l1_binned": None,
    }
    if sim.size and hum.size:
        ks = ks_two_sample(sim, hum)
        out["ks_statistic"], out["ks_pvalue"] = _clean(ks.statistic), _clean(ks.pvalue)
        out["l1_binned"] = l1_binned(sim, hum, 0.10, 0.0, payment)
    return out


def _summary(x: FloatArray) -> dict[str, Any] | None:
    if x.size == 0:
        return None
    s = donation_summary(x)
    return {
        "n": s["n"],
        "mean": s["mean"],
        "median": s["median"],
        "std": s["std"],
        "share_zero": s["share_zero"],
        "top_amounts": [[a, c] for a, c in s["top_amounts"]],
    }


def paired_comparison(pairs: Sequence[tuple[float, float]]) -> dict[str, Any] | None:
    """Simulated against the same people's real donations: ``n``, the mean absolute
    difference, the mean difference (simulated − real) and Pearson's correlation (``None``
    with fewer than 3 pairs or a constant side). ``None`` without pairs."""
    if not pairs:
        return None
    a = np.asarray(pairs, dtype=np.float64)
    sim, real = a[:, 0], a[:, 1]
    corr: float | None = None
    if len(a) >= 3 and sim.std() > 0 and real.std() > 0:
        corr = _clean(float(np.corrcoef(sim, real)[0, 1]))
    return {
        "n": len(a),
        "mean_abs_diff": float(np.mean(np.abs(sim - real))),
        "mean_diff": float(np.mean(sim - real)),
        "correlation": corr,
    }


@dataclass(frozen=True)
class PersuasionReport:
    """Donations of a persuasion run (see the module docstring).

    Attributes:
        dialogues: One record per dialogue, in log order.
        human: The human donations compared against.
        payment: The task payment (the top of the range).
    """

    dialogues: list[DialogueDonation]
    human: FloatArray
    payment: float = 2.0

    @property
    def donations(self) -> FloatArray:
        """The donations drawn from the final question, in range, in dialogue order."""
        return np.asarray(
            [d.donation for d in self.dialogues if d.donation is not None and not d.out_of_range],
            dtype=np.float64,
        )

    @property
    def stated_donations(self) -> FloatArray:
        """The donations read from the persuadees' utterances (where they stated one)."""
        return np.asarray(
            [d.stated for d in self.dialogues if d.stated is not None], dtype=np.float64
        )

    def disagreements(self) -> dict[str, Any]:
        """``both`` (dialogues with both donations), ``differ`` (by more than $0.05), ``share``."""
        flags = [d.disagrees for d in self.dialogues if d.disagrees is not None]
        differ = sum(flags)
        return {
            "threshold": DISAGREEMENT,
            "both": len(flags),
            "differ": differ,
            "share": differ / len(flags) if flags else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-safe (this goes into ``summary.json["persuasion"]``)."""
        ds = self.dialogues
        expected = [d.expected for d in ds if d.expected is not None]
        out: dict[str, Any] = {
            "dialogues": len(ds),
            "completed": sum(d.status == "completed" for d in ds),
            "failed": sum(d.status == "failed" for d in ds),
            "answered": sum(d.donation is not None for d in ds),
            "out_of_range": sum(d.out_of_range for d in ds),
            "unreadable": sum(d.donation is None for d in ds),
            "stated_in_text": sum(d.stated is not None for d in ds),
            "stated_rules": _count(d.stated_rule for d in ds if d.stated_rule),
            "expected_mean": float(np.mean(expected)) if expected else None,
            "question": compare_donations(self.donations, self.human, payment=self.payment),
            "text": compare_donations(self.stated_donations, self.human, payment=self.payment),
            "disagreements": self.disagreements(),
            "paired_question": paired_comparison(
                [
                    (d.donation, d.real)
                    for d in ds
                    if d.donation is not None and not d.out_of_range and d.real is not None
                ]
            ),
            "paired_text": paired_comparison(
                [(d.stated, d.real) for d in ds if d.stated is not None and d.real is not None]
            ),
            "per_dialogue": [
                {
                    "dialogue_id": d.dialogue_id,
                    "persona_id": d.persona_id,
                    "status": d.status,
                    "turns": d.turns,
                    "donation": d.donation,
                    "out_of_range": d.out_of_range,
                    "expected": d.expected,
                    "stated": d.stated,
                    "stated_rule": d.stated_rule,
                    "stated_text": d.stated_text,
                    "real": d.real,
                    "disagrees": d.disagrees,
                }
                for d in ds
            ],
        }
        return out

    def to_markdown(self, *, max_rows: int = 20) -> str:
        """A report section: the comparison table, disagreements, pairs and dialogues."""
        return _markdown(self.to_dict(), max_rows=max_rows)


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _events(source: Iterable[Event] | str | os.PathLike[str]) -> Iterable[Event]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return read_events(path / "events.jsonl" if path.is_dir() else path)
    return source


def _expected(soft: Mapping[str, float], payment: float) -> float | None:
    total = value = 0.0
    for key, p in soft.items():
        try:
            amount = float(key)
        except ValueError:
            continue
        if 0 <= amount <= payment + 1e-9 and p > 0:
            total += p
            value += p * amount
    return value / total if total > 0 else None


def _base_id(persona_id: str) -> str:
    """A persona id without the ``#2`` a population adds to a row drawn twice."""
    return persona_id.split("#", 1)[0]


def persuasion_report(
    events: Iterable[Event] | str | os.PathLike[str],
    *,
    human: npt.ArrayLike | None = None,
    real: Mapping[str, float] | None = None,
    payment: float | None = None,
) -> PersuasionReport:
    """Read a persuasion run's donations from its events (or log file, or run folder).

    Args:
        events: The events, an ``events.jsonl`` path, or a run folder holding one.
        human: The human donations (default: the 982 PersuasionForGood ones in range).
        real: Dialogue id → real donation for the paired comparison (default: from the
            PersuasionForGood file; pass ``{}`` to skip).
        payment: The task payment (default: from the dialogues' meta, else $2).
    """
    started: dict[str, ConversationStarted] = {}
    ended: dict[str, ConversationEnded] = {}
    answers: dict[tuple[str, str], Answer] = {}
    turns: dict[str, int] = {}
    for e in _events(events):
        if isinstance(e, ConversationStarted):
            started.setdefault(e.conversation_id, e)
        elif isinstance(e, ConversationEnded):
            ended[e.conversation_id] = e
        elif isinstance(e, Answer) and e.question_id in (DONATION, DONATION_TEXT):
            answers[(e.conversation_id, e.question_id)] = e
        if e.kind == "utterance":
            turns[e.conversation_id] = turns.get(e.conversation_id, 0) + 1
    ids = [
        cid
        for cid, s in started.items()
        if s.meta.get("task") == TASK or (cid, DONATION) in answers
    ]
    pay = payment
    if pay is None:
        metas = [started[c].meta.get("payment") for c in ids]
        pay = float(next((m for m in metas if isinstance(m, int | float)), 2.0))
    human_values = load_p4g_donations() if human is None else np.asarray(human, dtype=float)
    real_values = load_p4g_donations_by_dialogue() if real is None else dict(real)
    rows: list[DialogueDonation] = []
    for cid in ids:
        who = next((p for p in started[cid].participants if p.role == PERSUADEE), None)
        persona_id = who.persona_id if who is not None else None
        q = answers.get((cid, DONATION))
        t = answers.get((cid, DONATION_TEXT))
        value = q.value if q is not None and q.matched and _is_number(q.value) else None
        stated = t.value if t is not None and t.matched and _is_number(t.value) else None
        end = ended.get(cid)
        rows.append(
            DialogueDonation(
                dialogue_id=cid,
                persona_id=persona_id,
                status=end.status if end else None,
                turns=turns.get(cid, 0),
                donation=float(value) if value is not None else None,
                out_of_range=bool(q is not None and q.out_of_range),
                expected=_expected(q.soft, pay) if q is not None else None,
                stated=float(stated) if stated is not None else None,
                stated_rule=t.matched_by if t is not None else None,
                stated_text=t.raw if t is not None else None,
                real=real_values.get(_base_id(persona_id or cid)),
            )
        )
    return PersuasionReport(rows, np.asarray(human_values, dtype=np.float64), pay)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- markdown ----------------------------------------------------------------------------------
def _money(x: float | None) -> str:
    return "—" if x is None else f"${x:.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _markdown(d: Mapping[str, Any], *, max_rows: int) -> str:
    sides = [d["question"], d["text"]]
    human = d["question"]["human"] or d["text"]["human"]
    rules = ", ".join(f"{k} {v}" for k, v in d["stated_rules"].items()) or "none"
    lines = [
        "## Persuasion: donations",
        "",
        f"{d['dialogues']} dialogues ({d['completed']} completed, {d['failed']} failed). "
        f"Final question: {d['answered'] - d['out_of_range']} answered in range, "
        f"{d['out_of_range']} out of range, {d['unreadable']} unreadable. "
        f"Stated in the chat: {d['stated_in_text']} of {d['dialogues']} (rules: {rules}).",
        "",
        "| | Final question | Stated in the chat | Human (PersuasionForGood) |",
        "|---|---:|---:|---:|",
    ]

    def row(label: str, key: str, fmt: Any) -> str:
        cells = [fmt(s["simulated"][key]) if s["simulated"] else "—" for s in sides]
        cells.append(fmt(human[key]) if human else "—")
        return f"| {label} | " + " | ".join(cells) + " |"

    lines += [
        row("n", "n", lambda x: str(x)),
        row("Mean", "mean", _money),
        row("Median", "median", _money),
        row("Standard deviation", "std", _money),
        row("Share at $0", "share_zero", _pct),
    ]
    for label, key in (
        ("KS statistic vs human", "ks_statistic"),
        ("KS p-value", "ks_pvalue"),
        ("L1 over $0.10 bins", "l1_binned"),
    ):
        lines.append(f"| {label} | " + " | ".join(_num(s[key]) for s in sides) + " | — |")
    dis = d["disagreements"]
    lines += [
        "",
        f"Both donations exist in {dis['both']} dialogues; they differ by more than "
        f"${dis['threshold']:.2f} in {dis['differ']} ({_pct(dis['share'])}).",
    ]
    for label, key in (("final question", "paired_question"), ("stated", "paired_text")):
        pair = d[key]
        if pair:
            sign = "+" if pair["mean_diff"] >= 0 else "−"
            lines += [
                "",
                f"Paired with the same people's real donations ({label}): n = {pair['n']}, "
                f"mean absolute difference {_money(pair['mean_abs_diff'])}, mean difference "
                f"{sign}{_money(abs(pair['mean_diff']))}, "
                f"correlation {_num(pair['correlation'], 2)}.",
            ]
    per = d["per_dialogue"]
    if per:
        lines += [
            "",
            "| Dialogue | Final question | Expected | Stated | Rule | Real |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for r in per[:max_rows]:
            drawn = _money(r["donation"]) + (" (out of range)" if r["out_of_range"] else "")
            lines.append(
                f"| {r['dialogue_id']} | {drawn} | {_money(r['expected'])} | "
                f"{_money(r['stated'])} | {r['stated_rule'] or '—'} | {_money(r['real'])} |"
            )
        if len(per) > max_rows:
            lines.append(f"\n({len(per) - max_rows} more dialogues in summary.json.)")
    return "\n".join(lines) + "\n"
