"""Dialogue figures: diversity by method, entropy per turn, the conversation graph."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .figure import SPEAKER_COLOURS, integer_ticks, new_figure, tidy

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..graph import ConversationGraph


# -- diversity by method -------------------------------------------------------------------------
def _diversity_table(
    data: Mapping[str, float] | Mapping[str, Mapping[str, float]] | pd.DataFrame, metric: str
) -> dict[str, dict[str, float]]:
    """metric → method → value, from any accepted input shape."""
    if hasattr(data, "columns"):
        frame: Any = data
        if {"method", "metric", "value"} <= set(frame.columns):
            out: dict[str, dict[str, float]] = {}
            for row in frame.to_dict("records"):
                out.setdefault(str(row["metric"]), {})[str(row["method"])] = float(row["value"])
            return out
        if "method" in frame.columns:
            frame = frame.set_index("method")
        numeric = frame.select_dtypes("number")
        return {
            str(col): {str(m): float(v) for m, v in numeric[col].items()} for col in numeric.columns
        }
    out = {}
    for method, value in data.items():
        if isinstance(value, Mapping):
            for name, v in value.items():
                out.setdefault(str(name), {})[str(method)] = float(v)
        else:
            out.setdefault(metric, {})[str(method)] = float(value)
    return out


def plot_diversity(
    data: Mapping[str, float] | Mapping[str, Mapping[str, float]] | pd.DataFrame,
    *,
    metric: str = "diversity",
    title: str | None = None,
) -> Figure:
    """Bars of a diversity metric per method; one panel per metric when there are several.

    Args:
        data: ``{method: value}``, ``{method: {metric: value}}``, a DataFrame with one row
            per method (index or ``method`` column) and a column per metric, or a long
            DataFrame with ``method``, ``metric`` and ``value`` columns.
        metric: The metric's name for a plain ``{method: value}``.

    Raises:
        ConfigError: Nothing to draw.
    """
    table = _diversity_table(data, metric)
    if not table or not any(table.values()):
        raise ConfigError("no diversity values to plot", where="data")
    metrics = list(table)
    methods = list(dict.fromkeys(m for values in table.values() for m in values))
    cols = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / cols)
    fig = new_figure(max(5.0, min(14.0, 0.65 * len(methods) * cols + 1.5)), 3.3 * rows + 0.4)
    colours = [SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i in range(len(methods))]
    for i, name in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        have = [i for i, m in enumerate(methods) if m in table[name]]
        bars = ax.bar(
            have, [table[name][methods[i]] for i in have], color=[colours[i] for i in have]
        )
        ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
        tidy(ax)
    fig.suptitle(title or "Diversity by method", fontsize=12)
    return fig


# -- entropy per turn ------------------------------------------------------------------------------
def plot_entropy_per_turn(
    utterances: pd.DataFrame,
    *,
    mode: str = "auto",
    max_lines: int = 10,
    title: str | None = None,
) -> Figure:
    """Entropy (bits) of each turn's verbalized distribution against the turn number.

    Args:
        utterances: :meth:`vs_sim.analysis.Run.utterances` (``conversation_id``, ``turn``,
            ``entropy``).
        mode: ``lines`` (one line per conversation), ``band`` (the mean with a ±1 standard
            deviation band), or ``auto``: lines for up to ``max_lines`` conversations.

    Raises:
        ConfigError: An unknown mode, or no utterance with an entropy.
    """
    if mode not in ("auto", "lines", "band"):
        raise ConfigError(f"mode must be auto, lines or band, got {mode!r}", where="mode")
    frame = utterances.dropna(subset=["entropy"])
    if frame.empty:
        raise ConfigError("no utterance has an entropy to plot", where="utterances")
    convs = list(dict.fromkeys(frame["conversation_id"]))
    if mode == "auto":
        mode = "lines" if len(convs) <= max_lines else "band"
    fig = new_figure(9.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    if mode == "lines":
        for i, conv in enumerate(convs):
            part = frame[frame["conversation_id"] == conv].sort_values("turn")
            ax.plot(
                part["turn"],
                part["entropy"],
                marker="o",
                markersize=3,
                linewidth=1.3,
                color=SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)],
                label=str(conv),
            )
        if len(convs) <= 8:
            ax.legend(fontsize=7, frameon=False, title="conversation", title_fontsize=7)
    else:
        stats = frame.groupby("turn")["entropy"].agg(["mean", "std", "count"]).sort_index()
        std = stats["std"].fillna(0.0)
        ax.plot(
            stats.index,
            stats["mean"],
            color=SPEAKER_COLOURS[0],
            linewidth=1.8,
            label=f"mean over {len(convs)} conversations",
        )
        ax.fill_between(
            stats.index,
            stats["mean"] - std,
            stats["mean"] + std,
            color=SPEAKER_COLOURS[0],
            alpha=0.2,
            label="± 1 standard deviation",
        )
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel("Turn")
    integer_ticks(ax)
    ax.set_ylabel("Entropy (bits)")
    ax.set_ylim(bottom=0)
    ax.set_title(title or "Entropy of the verbalized distribution per turn", fontsize=12)
    tidy(ax)
    return fig


# -- the conversation graph ---------------------------------------------------------------
def plot_graph(
    graph: ConversationGraph,
    *,
    conversations: Sequence[str] | None = None,
    max_turns: int = 40,
    alternatives: bool = True,
    title: str | None = None,
) -> Figure:
    """The conversation graph as rows of utterances (one row per conversation, x = turn).

    Utterance nodes are coloured by speaker and numbered by turn; ``next`` edges join
    consecutive turns (a branch joins its parent where it forks), ``reply_to`` edges that
    skip back are drawn as arcs, and the candidates not taken hang faded below their turn.

    Args:
        graph: A :class:`~vs_sim.graph.ConversationGraph`.
        conversations: Which to draw (default: all, in log order).
        max_turns: Turns drawn per conversation (meant for small runs).
        alternatives: Draw the candidates not taken.
    """
    import networkx as nx

    g = graph.graph
    convs = list(conversations) if conversations is not None else graph.conversations
    utter = {
        n: d
        for n, d in g.nodes(data=True)
        if d.get("type") == "utterance"
        and d.get("conversation") in convs
        and d.get("turn", 0) < max_turns
    }
    alts = {
        n: d
        for n, d in g.nodes(data=True)
        if alternatives
        and d.get("type") == "alternative"
        and any(u in utter for u, _ in g.in_edges(n))
    }
    most_alts = max(
        (sum(1 for _, _, k in g.out_edges(n, keys=True) if k == "alternative") for n in utter),
        default=0,
    )
    step = 0.22
    row_height = 1.0 + (step * most_alts if alternatives else 0.0)
    pos: dict[str, tuple[float, float]] = {}
    for r, conv in enumerate(convs):
        for n, d in utter.items():
            if d["conversation"] == conv:
                pos[n] = (float(d["turn"]), -r * row_height)
    for n in alts:
        parent = next(u for u, _ in g.in_edges(n) if u in utter)
        siblings = sorted(v for v in g.successors(parent) if v in alts)
        px, py = pos[parent]
        pos[n] = (px, py - step * (siblings.index(n) + 1))
    speakers = list(dict.fromkeys(d["speaker"] for d in utter.values()))
    names = {
        d.get("agent_id"): d.get("name") for _, d in g.nodes(data=True) if d.get("type") == "agent"
    }
    colour = {s: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, s in enumerate(speakers)}
    turns = max((d["turn"] for d in utter.values()), default=0) + 1
    fig = new_figure(
        min(16.0, max(6.0, 0.45 * turns + 2.0)),
        min(14.0, max(2.6, row_height * 0.9 * len(convs) + 1.2)),
    )
    ax = fig.add_subplot(1, 1, 1)
    view: nx.DiGraph[str] = nx.DiGraph()
    view.add_nodes_from(pos)
    nexts = [(u, v) for u, v, k in g.edges(keys=True) if k == "next" and u in pos and v in pos]
    replies = [
        (u, v)
        for u, v, k in g.edges(keys=True)
        if k == "reply_to" and u in pos and v in pos and (u, v) not in {(b, a) for a, b in nexts}
    ]
    alt_edges = [(u, v) for u, v in g.edges() if v in alts and u in pos]
    view.add_edges_from(nexts + replies + alt_edges)
    if alt_edges:
        nx.draw_networkx_edges(
            view, pos, edgelist=alt_edges, ax=ax, edge_color="#cccccc", width=0.6, arrows=False
        )
        nx.draw_networkx_nodes(
            view,
            pos,
            nodelist=list(alts),
            ax=ax,
            node_size=28,
            node_color=[colour[alts[n]["speaker"]] for n in alts],
            alpha=0.25,
        )
    nx.draw_networkx_edges(
        view,
        pos,
        edgelist=nexts,
        ax=ax,
        edge_color="#555555",
        width=1.2,
        arrows=True,
        arrowsize=8,
        node_size=260,
    )
    if replies:
        nx.draw_networkx_edges(
            view,
            pos,
            edgelist=replies,
            ax=ax,
            edge_color="#b5475a",
            width=0.9,
            arrows=True,
            arrowsize=7,
            node_size=260,
            connectionstyle="arc3,rad=-0.35",
            style="dashed",
        )
    for s in speakers:
        nodes = [n for n, d in utter.items() if d["speaker"] == s]
        nx.draw_networkx_nodes(
            view,
            pos,
            nodelist=nodes,
            ax=ax,
            node_size=260,
            node_color=colour[s],
            label=str(names.get(s) or s),
        )
    nx.draw_networkx_labels(
        view,
        pos,
        labels={n: str(d["turn"]) for n, d in utter.items()},
        ax=ax,
        font_size=7,
        font_color="white",
    )
    ax.set_yticks([-r * row_height for r in range(len(convs))], [str(c) for c in convs], fontsize=8)
    ax.tick_params(left=False, bottom=True, labelleft=True, labelbottom=True)
    ax.set_xlabel("Turn")
    integer_ticks(ax)
    ax.set_xlim(-0.7, turns - 0.3)
    ax.set_ylim(-(len(convs) - 1) * row_height - (row_height - 1.0) - 0.5, 0.6)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if speakers:
        ax.legend(
            fontsize=8,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            title="speaker",
            title_fontsize=8,
            markerscale=0.6,
        )
    note = ", faded dots: candidates not taken" if alt_edges else ""
    ax.set_title(title or f"Conversation graph (numbers: turns{note})", fontsize=11)
    return fig
