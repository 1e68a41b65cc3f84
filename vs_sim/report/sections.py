"""The report's sections, each built from a run when it has the data for it.

Sections read the run's figures (:meth:`~vs_sim.analysis.Run.digest`, shares, the
reference comparison), never a whole table or every event, so the report of a run of any
size takes flat memory: its figures come from one streamed pass over the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..analysis import Run
from ..analysis.digest import TEXT_SAMPLE, RunDigest
from ..analysis.rows import attribute_column
from ..analysis.shares import UNMATCHED
from .parts import Section, Table, embed, fmt, make_table

if TYPE_CHECKING:
    from ..tasks.survey_reference import Reference

GRAPH_MAX_UTTERANCES = 150
"""Runs with more utterances than this get no graph drawing (it would be unreadable)."""
GRAPH_MAX_CONVERSATIONS = 6
"""At most this many conversations are drawn."""
TRANSCRIPTS = 2
"""Conversations shown as transcripts."""
TRANSCRIPT_TURNS = 30
"""Turns shown per transcript."""


def summary_section(run: Run, summary: Mapping[str, Any]) -> Section:
    """Run id, task, status, counts, calls, cache hits, tokens, cost and time."""
    rows = [
        ("Run id", summary.get("run_id")),
        ("Task", summary.get("task")),
        ("Status", summary.get("status")),
        ("Seed", summary.get("seed")),
        ("Models", ", ".join(summary.get("models") or []) or None),
        ("Conversations", summary.get("conversations")),
        (
            "… completed / failed / unfinished",
            f"{summary.get('completed')} / {summary.get('failed')} / {summary.get('unfinished')}",
        ),
        ("Utterances", summary.get("utterances")),
        ("Answers", summary.get("answers")),
        ("Model calls", summary.get("calls")),
        ("… from the cache", summary.get("cache_hits")),
        ("… failed", summary.get("call_errors")),
        (
            "Tokens (prompt + completion)",
            f"{summary.get('prompt_tokens', 0):,} + {summary.get('completion_tokens', 0):,}",
        ),
        ("Cost", fmt(summary.get("cost"), "money")),
        ("Elapsed", f"{float(summary.get('elapsed') or 0):.1f} s"),
    ]
    section = Section("Summary", "summary")
    section.tables.append(Table(["", ""], [[k, fmt(v)] for k, v in rows], [False, False]))
    section.notes.append(f"Event log: {run.log_path}")
    return section


def survey_section(run: Run, reference: Reference | None, by: Sequence[str]) -> Section | None:
    """Per question: shares table and figure (numeric: a histogram; open text: the top
    answers), by each attribute in ``by``, with reference metrics when one is given."""
    from ..plots import plot_answer_shares, plot_numeric_shares

    skip = {*run.donation_questions(), *_stance_question_ids(run)}
    questions = [q for q in run.question_ids() if q not in skip]
    if not questions:
        return None
    questionnaire = run.questionnaire()
    kinds = {q.id: (q.type, q.text) for q in questionnaire.questions} if questionnaire else {}
    section = Section("Survey answers", "survey")
    section.notes.append(
        "Sampled: share of respondents whose drawn answer is the option. Verbalized: mean "
        "probability respondents gave the option. Respondents skip logic did not ask are "
        "left out."
    )
    if reference is not None:
        section.notes.append(f"Human reference shares from {reference.path}.")
        section.tables.extend(_reference_metrics(run, reference))
    shares = run.shares(reference=reference)
    for qid in questions:
        kind, text = kinds.get(qid, (None, qid))
        sub = Section(f"{qid}: {text}" if text != qid else qid, f"q-{qid}")
        part = shares[shares["question_id"] == qid]
        numeric = kind == "numeric" or (kind is None and _all_numbers(part["option"]))
        if kind == "open_text" or (kind is None and not numeric and len(part) > 25):
            drawn = part[(part["option"] != UNMATCHED) & (part["count"] > 0)]
            top = drawn.sort_values("count", ascending=False, kind="stable")[:10]
            sub.notes.append(f"{len(drawn)} distinct answers drawn; the most frequent:")
            sub.tables.append(
                make_table(
                    ["Answer", "Count", "Sampled"],
                    top[["option", "count", "sampled"]].values.tolist(),
                    ["text", "auto", "pct"],
                )
            )
            section.subsections.append(sub)
            continue
        columns = ["Option", "Count", "Sampled", "Verbalized"]
        cols = ["option", "count", "sampled", "soft"]
        if "reference" in part and part["reference"].notna().any():
            columns.append("Human reference")
            cols.append("reference")
        asked = int(part["asked"].max()) if len(part) else 0
        sub.notes.append(f"Asked {asked} respondents.")
        sub.tables.append(
            make_table(columns, part[cols].values.tolist(), ["text", "auto", "pct", "pct", "pct"])
        )
        if numeric:
            sub.images.append(embed(plot_numeric_shares(part, qid), f"Answers to {qid}"))
            section.subsections.append(sub)
            continue
        sub.images.append(
            embed(
                plot_answer_shares(part, qid, title=f"{qid} (n={asked})"),
                f"Answer shares for {qid}",
            )
        )
        for attr in by:
            grouped = run.shares(qid, by=attr, reference=reference)
            sub.images.append(
                embed(
                    plot_answer_shares(
                        grouped, qid, by=attribute_column(attr), title=f"{qid} by {attr}"
                    ),
                    f"Answer shares for {qid} by {attr}",
                )
            )
        section.subsections.append(sub)
    return section


def _all_numbers(options: Any) -> bool:
    labels = [o for o in options if o != UNMATCHED]
    try:
        [float(o) for o in labels]
    except (TypeError, ValueError):
        return False
    return bool(labels)


def _reference_metrics(run: Run, reference: Reference) -> list[Table]:
    if run.questionnaire() is None:
        return []
    comparison = run.reference_comparison(reference)
    rows = [
        [
            c.question_id,
            f"{c.group_attribute}={c.group_value}" if c.group_attribute else "all",
            c.n,
            c.representativeness_sampled if c.ordinal else None,
            c.total_variation_sampled,
            c.jensen_shannon_sampled,
            c.representativeness_soft if c.ordinal else None,
            c.total_variation_soft,
            c.jensen_shannon_soft,
        ]
        for c in comparison.questions
    ]
    header = [
        "Question",
        "Group",
        "n",
        "Repr. (sampled)",
        "TV (sampled)",
        "JS (sampled)",
        "Repr. (verbalized)",
        "TV (verbalized)",
        "JS (verbalized)",
    ]
    return [make_table(header, rows, ["text", "text", *["auto"] * 7])]


def donation_section(run: Run) -> Section | None:
    """Each donation question against the PersuasionForGood donations: n, mean, median,
    share at $0, KS statistic and p-value, L1 over $0.10 bins, and the histograms."""
    import numpy as np

    from ..metrics import ks_two_sample, l1_binned
    from ..plots import plot_donations
    from ..reference import load_p4g_donations

    ids = run.donation_questions()
    if not ids:
        return None
    human = load_p4g_donations()
    section = Section("Donations vs PersuasionForGood", "donations")
    section.notes.append(
        f"Human data: {human.size} persuadee donations in the task's $0–$2 range "
        "(Wang et al., 2019). L1 is over $0.10 bins (range 0–2); KS is the two-sample "
        "Kolmogorov–Smirnov test."
    )
    for qid in ids:
        values = run.donations(qid)
        inside = values[(values >= 0) & (values <= 2)]
        sub = Section(f"{qid}", f"donation-{qid}")
        if values.size > inside.size:
            sub.notes.append(
                f"{values.size - inside.size} simulated donation(s) outside "
                "$0–$2 are left out of the comparison."
            )
        if inside.size == 0:
            sub.notes.append("No simulated donation in range to compare.")
            section.subsections.append(sub)
            continue
        ks = ks_two_sample(inside, human)
        rows: list[list[Any]] = [
            ["n", inside.size, human.size],
            ["Mean", fmt(float(inside.mean()), "money"), fmt(float(human.mean()), "money")],
            [
                "Median",
                fmt(float(np.median(inside)), "money"),
                fmt(float(np.median(human)), "money"),
            ],
            [
                "Share at $0",
                fmt(float(np.mean(inside == 0)), "pct"),
                fmt(float(np.mean(human == 0)), "pct"),
            ],
        ]
        sub.tables.append(make_table(["", "Simulated", "Human"], rows, ["text", "auto", "auto"]))
        sub.tables.append(
            make_table(
                ["KS statistic", "KS p-value", "L1 over $0.10 bins"],
                [[ks.statistic, ks.pvalue, l1_binned(inside, human)]],
                ["auto"] * 3,
            )
        )
        sub.images.append(
            embed(
                plot_donations(inside, human, title=f"{qid}: simulated vs human"),
                f"Donation histogram for {qid} against the human one",
            )
        )
        section.subsections.append(sub)
    return section


def _stance_question_ids(run: Run) -> set[str]:
    """Focus-group stance answers (``<stance>.<moment>.<agent>``): reported per participant in
    :func:`focus_group_section`, not as survey questions with one respondent each."""
    from ..tasks.focus_group import TASK

    return set(run.digest().named_answers.get(TASK, ()))


def focus_group_section(run: Run) -> Section | None:
    """Each focus group's participants: stance before and after, the shift of the expected
    position, who moved most, and the utterances that preceded each move."""
    if not _stance_question_ids(run):
        return None
    from ..tasks.focus_group_analysis import focus_group_report

    report = focus_group_report(run.log_path)
    data = report.to_dict()
    section = Section("Focus group: stance changes", "focus-group")
    section.notes.append(
        f"Stance question {report.question_id!r}, positions 1 ({report.options[0]}) to "
        f"{len(report.options)} ({report.options[-1]}). Expected = the mean position of the "
        f"verbalized distribution. {data['moved_up']} participant(s) moved up and "
        f"{data['moved_down']} down by at least {report.min_shift:g} points."
    )
    for group in report.groups:
        sub = Section(
            f"{group.conversation_id} ({group.turns} turns)", f"fg-{group.conversation_id}"
        )
        rows = []
        for p in group.participants:
            pre, post = p.pre, p.post
            rows.append(
                [
                    f"{p.name} ({p.agent_id})",
                    str(pre.value) if pre else "—",
                    str(post.value) if post else "—",
                    fmt(pre.expected if pre else None),
                    fmt(post.expected if post else None),
                    "—" if p.shift is None else f"{p.shift:+.2f}",
                ]
            )
        sub.tables.append(
            Table(
                ["Participant", "Before", "After", "Expected before", "Expected after", "Shift"],
                rows,
                [False, False, False, True, True, True],
            )
        )
        top = group.moved_most
        if top is not None and top.shift is not None:
            sub.notes.append(f"Moved most: {top.name} ({top.shift:+.2f}).")
        for p in group.participants:
            for move in p.moves:
                said = "; ".join(f"turn {t}, {who}: “{text}”" for t, who, text in move.preceding)
                sub.notes.append(
                    f"{p.name}, {move.before} → {move.after} ({move.shift:+.2f}) after "
                    f"{move.turn} utterances" + (f", following {said}" if said else ".")
                )
        section.subsections.append(sub)
    return section


def dialogue_sections(run: Run) -> list[Section]:
    """Entropy per turn, text diversity, the graph (small runs) and sample transcripts."""
    from ..plots import plot_diversity, plot_entropy_per_turn, plot_graph

    digest = run.digest()
    out: list[Section] = []
    if not digest.utterances:
        return out
    entropy = run.utterances(columns=["conversation_id", "turn", "entropy"])
    if entropy["entropy"].notna().any():
        section = Section("Entropy per turn", "entropy")
        section.notes.append(
            "Entropy (bits) of the verbalized distribution each utterance was "
            "drawn from: higher means the speaker's options were more even."
        )
        section.images.append(embed(plot_entropy_per_turn(entropy), "Entropy per turn"))
        out.append(section)
    del entropy
    diversity, sampled = _diversity(digest)
    if diversity:
        section = Section("Text diversity of utterances", "diversity")
        section.notes.append(
            "distinct-n: unique n-grams ÷ all n-grams over the group's "
            "utterances (higher = more varied wording)."
        )
        if sampled:
            section.notes.append(
                f"Over the first {TEXT_SAMPLE:,} utterances of each group (the run has more)."
            )
        group = next(iter(diversity.values()))
        section.tables.append(
            make_table(
                ["Group", *group],
                [[g, *v.values()] for g, v in diversity.items()],
                ["text", *["auto"] * len(group)],
            )
        )
        section.images.append(
            embed(plot_diversity(diversity, title="Text diversity"), "Text diversity by group")
        )
        out.append(section)
    section = Section("Conversation graph", "graph")
    if digest.utterances <= GRAPH_MAX_UTTERANCES:
        graph = run.graph()
        convs = graph.conversations
        shown = convs[:GRAPH_MAX_CONVERSATIONS]
        if len(convs) > len(shown):
            section.notes.append(f"The first {len(shown)} of {len(convs)} conversations.")
        section.images.append(
            embed(plot_graph(graph, conversations=shown), "The conversation graph")
        )
    else:
        section.notes.append(
            f"{digest.utterances} utterances are too many to draw; open "
            "graph.graphml in Gephi or use vs_sim.analysis.open_run(...).graph()."
        )
    out.append(section)
    section = Section("Sample transcripts", "transcripts")
    for conv, rows in list(digest.transcripts.items())[:TRANSCRIPTS]:
        part = sorted(rows, key=lambda r: r["turn"])[:TRANSCRIPT_TURNS]
        sub = Section(str(conv), f"t-{conv}")
        sub.transcript = [
            {
                "turn": str(r["turn"]),
                "speaker": str(r["name"]),
                "text": str(r["text"]),
                "p": fmt(r["probability"], "pct"),
            }
            for r in part
        ]
        section.subsections.append(sub)
    out.append(section)
    return out


def _diversity(digest: RunDigest) -> tuple[dict[str, dict[str, float]], bool]:
    """distinct-1/2/3 of the utterances per method (several methods) or per role/speaker,
    and whether a group had more utterances than were kept."""
    from ..metrics import distinct_n

    if len({m for m in digest.methods if m is not None}) > 1:
        key = "method"
    else:
        key = "role" if digest.all_roles else "name"
    out: dict[str, dict[str, float]] = {}
    sampled = False
    for group, texts in sorted(digest.texts[key].items()):
        sampled = sampled or len(texts) >= TEXT_SAMPLE
        if len(texts) >= 2:
            out[group] = {f"distinct-{n}": distinct_n(texts, n) for n in (1, 2, 3)}
    return out, sampled


def calls_section(run: Run) -> Section:
    """Calls per model: cache hits, errors, retries, tokens, cost, latency; failed calls."""
    digest = run.digest()
    section = Section("Model calls", "calls")
    if not digest.calls:
        section.notes.append("No model calls were logged.")
        return section
    rows = [
        [
            m["model"],
            m["calls"],
            m["cache_hits"],
            m["errors"],
            m["retries"],
            m["prompt_tokens"],
            m["completion_tokens"],
            m["cost"],
            m["latency"],
        ]
        for m in digest.calls
    ]
    section.tables.append(
        make_table(
            [
                "Model",
                "Calls",
                "Cache hits",
                "Errors",
                "Retries",
                "Prompt tokens",
                "Completion tokens",
                "Cost",
                "Mean latency (s)",
            ],
            rows,
            ["text", "auto", "auto", "auto", "auto", "auto", "auto", "money", "auto"],
        )
    )
    if digest.call_errors:
        section.tables.append(
            make_table(
                ["Conversation", "Turn", "Purpose", "Error"],
                [
                    [r["conversation_id"], r["turn"], r["purpose"], r["error"]]
                    for r in digest.call_errors[:20]
                ],
                ["text"] * 4,
            )
        )
    return section


def failed_section(run: Run) -> Section | None:
    """Conversations that failed or never ended, with their errors."""
    bad = run.digest().incomplete
    if not bad:
        return None
    section = Section("Conversations that did not complete", "failed")
    section.tables.append(
        make_table(
            ["Conversation", "Status", "Reason", "Error"],
            [[r["conversation_id"], r["status"], r["reason"], r["error"]] for r in bad[:50]],
            ["text"] * 4,
        )
    )
    return section
