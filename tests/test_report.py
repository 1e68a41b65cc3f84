"""vs_sim.report and ``vs-sim report``: a self-contained page with every figure, text escaped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_analysis_logs import (
    SCRIPT,
    write_dialogue_log,
    write_persuasion_log,
    write_survey_log,
)

from vs_sim.cli import main
from vs_sim.events import EventLog, RunStarted, Utterance
from vs_sim.metrics import ks_two_sample, l1_binned
from vs_sim.reference import load_p4g_donations
from vs_sim.report import render_report, write_report

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")


REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _run_dir(tmp_path: Path, name: str, build: object) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    build(folder / "events.jsonl")  # type: ignore[operator]
    return folder


def _images(page: str) -> int:
    return len(re.findall(r"<img\b", page)) + len(re.findall(r"<svg\b", page))


def _assert_self_contained(page: str) -> None:
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page, re.I)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    for src in re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', page):
        assert src.startswith("data:image/png;base64,")


def test_dialogue_report_escapes_model_text(tmp_path: Path) -> None:
    page = render_report(_run_dir(tmp_path, "talk", write_dialogue_log))
    _assert_self_contained(page)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert _images(page) == 3  # entropy per turn, text diversity, the graph
    for section in ("Entropy per turn", "Text diversity", "Conversation graph", "Model calls"):
        assert f">{section}" in page
    assert "Conversations that did not complete" in page
    assert "ModelTimeout: too slow" in page
    assert "Synthetic text" not in page  # the dialogue log did not use the offline model


def test_survey_report_has_a_figure_per_question_and_group(tmp_path: Path) -> None:
    folder = _run_dir(tmp_path, "survey", write_survey_log)
    page = render_report(folder)
    _assert_self_contained(page)
    assert "Synthetic text: this run used the offline model." in page
    assert _images(page) == 2  # worry, pick
    assert "How worried are you?" in page
    assert "66.7%" in page  # High's sampled share
    assert "(unmatched)" in page
    grouped = render_report(folder, by=["party"])
    assert _images(grouped) == 4
    (folder / "ref.csv").write_text(
        "question_id,group_attribute,group_value,option,share\n"
        "worry,,,Low,0.5\nworry,,,Mid,0.3\nworry,,,High,0.2\n"
        "worry,party,dem,Low,0.1\nworry,party,dem,Mid,0.1\nworry,party,dem,High,0.8\n",
        encoding="utf-8",
    )
    with_ref = render_report(folder, reference=folder / "ref.csv")
    assert "Human reference" in with_ref
    assert "Repr. (sampled)" in with_ref  # the comparison metrics table
    assert _images(with_ref) == 4  # the reference has groups by party: drawn by default


def test_persuasion_report_compares_donations(tmp_path: Path) -> None:
    page = render_report(_run_dir(tmp_path, "p4g", write_persuasion_log))
    _assert_self_contained(page)
    assert "Donations vs PersuasionForGood" in page
    assert "1 simulated donation(s) outside $0–$2" in page
    human = load_p4g_donations()
    inside = np.array([0.0, 0.5, 2.0])
    ks = ks_two_sample(inside, human)
    assert f'<td class="num">{ks.statistic:.4g}</td>' in page
    assert f'<td class="num">{l1_binned(inside, human):.4g}</td>' in page
    assert "$0.3520" in page  # the human mean, $0.352
    assert "48.1%" in page  # the human share at $0
    assert _images(page) == 4  # donations, entropy, diversity, graph


def test_unfinished_run_is_flagged(tmp_path: Path) -> None:
    with EventLog(tmp_path / "events.jsonl") as log:
        log.write(RunStarted(run_id="half", seed=0))
        log.write(Utterance(conversation_id="c", turn=0, speaker="a", text="hi", entropy=1.0))
    page = render_report(tmp_path)
    assert "This run did not finish." in page
    _assert_self_contained(page)


def test_write_report_and_its_plots(tmp_path: Path) -> None:
    folder = _run_dir(tmp_path, "talk", write_dialogue_log)
    path = write_report(folder, plots_dir=folder / "plots")
    assert path == folder / "report.html"
    pngs = sorted(p.name for p in (folder / "plots").glob("*.png"))
    assert len(pngs) == _images(path.read_text(encoding="utf-8")) == 3
    assert all((folder / "plots" / n).read_bytes().startswith(b"\x89PNG") for n in pngs)


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run_dir(tmp_path, "talk", write_dialogue_log)
    out = tmp_path / "elsewhere" / "page.html"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert SCRIPT not in out.read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no run folder or event log here" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_screenshot_every_image_loads(tmp_path: Path) -> None:
    folder = _run_dir(tmp_path, "talk", write_dialogue_log)
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "screenshot_report.py"), str(folder),
         "--out", str(shot), "--height", "2000"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "images: 3" in done.stdout and "loaded: 3" in done.stdout
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_focus_group_report_shows_stance_changes_not_one_panel_per_participant(
    tmp_path: Path,
) -> None:
    import vs_sim

    run = vs_sim.run_scenario("focus_group", out=tmp_path / "fg", progress=False)
    html = (run.folder / "report.html").read_text()
    assert "Focus group: stance changes" in html
    assert "Expected before" in html
    assert "purchase_intent.pre." not in html  # stance answers are not survey questions


def test_cli_report_refuses_a_file_that_is_not_an_event_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = REPO / "scenarios" / "quickstart.yaml"
    out = tmp_path / "page.html"
    assert main(["report", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an event log" in err[0] and f"{scenario}:" in err[0], err
    assert not out.exists()


def test_cli_report_leaves_out_reference_rows_of_questions_not_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vs_sim.scenario_run import run_scenario
    from vs_sim.scenario_schema import OutputsSpec
    from vs_sim.scenarios import load_scenario

    scenario = load_scenario(REPO / "scenarios" / "quickstart.yaml")
    scenario = scenario.model_copy(update={"outputs": OutputsSpec(report="markdown")})
    run_scenario(scenario, n=3, out=tmp_path / "q", progress=False)
    reference = REPO / "scenarios" / "data" / "opinion_reference.csv"
    out = tmp_path / "page.html"
    assert (
        main(["report", str(tmp_path / "q"), "--reference", str(reference), "--out", str(out)]) == 0
    )
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    assert "did not ask" in captured.err and "life_satisfaction" in captured.err
    assert "climate_worry" not in captured.err.split("did not ask")[1]
    assert "climate_worry" in out.read_text(encoding="utf-8")
