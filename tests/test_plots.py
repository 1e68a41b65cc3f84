"""vs_sim.plots: each function returns a Figure with the bars and lines its data call for."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from test_analysis_logs import write_dialogue_log, write_persuasion_log, write_survey_log

from vs_sim.analysis import Run, open_run
from vs_sim.errors import ConfigError

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vs_sim.plots import (  # noqa: E402
    plot_answer_shares,
    plot_diversity,
    plot_donations,
    plot_entropy_per_turn,
    plot_graph,
    plot_numeric_shares,
)


def _bars(fig: Figure) -> list[int]:
    """Bars per axes (the rectangles a bar chart adds; the axes background is not one)."""
    return [sum(isinstance(p, Rectangle) for p in ax.patches) for ax in fig.axes]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture
def survey(tmp_path: Path) -> Run:
    return open_run(write_survey_log(tmp_path / "s.jsonl"))


@pytest.fixture
def dialogue(tmp_path: Path) -> Run:
    return open_run(write_dialogue_log(tmp_path / "d.jsonl"))


def test_answer_shares_grouped_bars(survey: Run) -> None:
    fig = plot_answer_shares(survey.shares(), "worry")
    assert isinstance(fig, Figure)
    assert _bars(fig) == [3 * 2]  # three options × (sampled, verbalized)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths[:3] == pytest.approx([1 / 3, 0.0, 2 / 3])  # sampled, in option order
    assert _png(fig).startswith(b"\x89PNG")
    shares = survey.shares("worry")
    shares["reference"] = [0.5, 0.3, 0.2]
    with_ref = plot_answer_shares(shares)
    assert _bars(with_ref) == [3 * 3]
    labels = [t.get_text() for t in with_ref.legends[0].get_texts()]
    assert labels == ["Sampled (drawn answers)", "Verbalized (mean soft answer)", "Human reference"]


def test_answer_shares_one_panel_per_group(survey: Run) -> None:
    fig = plot_answer_shares(survey.shares("pick", by="party"), "pick", by="party")
    assert len(fig.axes) == 2
    assert _bars(fig) == [3 * 2, 3 * 2]  # A, B, (unmatched) in both groups
    assert [ax.get_title() for ax in fig.axes] == ["party = dem (n=2)", "party = rep (n=1)"]


def test_answer_shares_errors(survey: Run) -> None:
    with pytest.raises(ConfigError, match="the table has 2 questions"):
        plot_answer_shares(survey.shares())
    with pytest.raises(ConfigError, match="no question 'nope'"):
        plot_answer_shares(survey.shares(), "nope")
    with pytest.raises(ConfigError, match="no column 'party'"):
        plot_answer_shares(survey.shares(), "worry", by="party")


def test_numeric_shares_and_donations(tmp_path: Path) -> None:
    run = open_run(write_persuasion_log(tmp_path / "p.jsonl"))
    fig = plot_numeric_shares(run.shares("donation"))
    assert _bars(fig) == [4 * 2]  # $0, $0.5, $2, $5 × (sampled, verbalized)
    human = np.array([0.0, 0.0, 0.05, 1.0, 2.0])
    fig = plot_donations(run.donations(), human)
    ax = fig.axes[0]
    assert _bars(fig) == [20 * 2]  # 20 bins of $0.10, simulated and human
    assert len(ax.lines) == 2  # the two means
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("n=3, 1 outside" in label for label in labels)  # the $5 is left out
    heights = [p.get_height() for p in ax.patches[:20]]
    assert heights[0] == pytest.approx(1 / 3) and heights[5] == pytest.approx(1 / 3)
    assert heights[19] == pytest.approx(1 / 3)  # $2.00 goes in the last bin


def test_donations_default_to_the_human_data() -> None:
    fig = plot_donations([0.0, 1.0])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("n=982" in label for label in labels)


def test_diversity_accepts_dicts_and_frames() -> None:
    fig = plot_diversity({"direct": 0.1, "sequence": 0.3, "vs_standard": 0.5})
    assert _bars(fig) == [3]
    nested = {
        "direct": {"semantic": 10.0, "distinct-2": 0.4},
        "vs_cot": {"semantic": 30.0, "distinct-2": 0.7},
    }
    fig = plot_diversity(nested)
    assert _bars(fig) == [2, 2]
    assert [ax.get_title() for ax in fig.axes] == ["semantic", "distinct-2"]
    wide = pd.DataFrame({"method": ["a", "b", "c"], "semantic": [1.0, 2.0, 3.0]})
    assert _bars(plot_diversity(wide)) == [3]
    long = pd.DataFrame(
        {"method": ["a", "a", "b"], "metric": ["x", "y", "x"], "value": [1.0, 2.0, 3.0]}
    )
    assert _bars(plot_diversity(long)) == [2, 1]
    with pytest.raises(ConfigError, match="no diversity values"):
        plot_diversity({})


def test_entropy_per_turn_lines_and_band(dialogue: Run) -> None:
    utt = dialogue.utterances()
    fig = plot_entropy_per_turn(utt)
    assert len(fig.axes[0].lines) == 2  # one per conversation
    band = plot_entropy_per_turn(utt, mode="band")
    ax = band.axes[0]
    assert len(ax.lines) == 1
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1
    assert plot_entropy_per_turn(utt, max_lines=1).axes[0].lines.__len__() == 1  # auto → band
    with pytest.raises(ConfigError, match="mode must be"):
        plot_entropy_per_turn(utt, mode="dots")
    with pytest.raises(ConfigError, match="no utterance has an entropy"):
        plot_entropy_per_turn(utt.assign(entropy=None))


def test_graph_drawing(dialogue: Run) -> None:
    fig = plot_graph(dialogue.graph())
    ax = fig.axes[0]
    points = {
        c.get_label(): len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)
    }
    assert points["Alice"] + points["Bob"] == 5  # the utterances, coloured by speaker
    assert points["Alice"] == 3
    assert sum(n for label, n in points.items() if label not in ("Alice", "Bob")) == 10
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c1", "c2"]
    bare = plot_graph(dialogue.graph(), conversations=["c1"], alternatives=False)
    sizes = [
        len(c.get_offsets()) for c in bare.axes[0].collections if isinstance(c, PathCollection)
    ]
    assert sorted(sizes) == [1, 2]  # Bob once, Alice twice; no faded alternatives
    assert _png(bare).startswith(b"\x89PNG")
