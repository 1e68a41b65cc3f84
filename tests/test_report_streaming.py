"""The HTML report of a run of any size reads its figures, never every event or a whole table
(so building it takes flat memory); what it shows is the same as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vs_sim.analysis import Run
from vs_sim.report import write_report
from vs_sim.scenario_run import run_scenario
from vs_sim.scenario_schema import OutputsSpec
from vs_sim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["quickstart", "conversation_roundtable", "persuasion_p4g", "focus_group"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_report_reads_figures_not_every_event(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    scenario = scenario.model_copy(update={"outputs": OutputsSpec(report="none")})
    run = run_scenario(scenario, n=3 if scenario.task == "survey" else 1, out=tmp_path / "r")
    assert run.folder is not None

    def refuse(what: str) -> Any:
        def fail(self: Run, *args: Any, columns: Any = None, **kwargs: Any) -> Any:
            if columns is None:
                pytest.fail(f"the report asked for {what}")
            return original[what](self, *args, columns=columns, **kwargs)

        return fail

    original = {t: getattr(Run, t) for t in ("answers", "calls", "conversations", "utterances")}
    monkeypatch.setattr(Run, "events", property(lambda self: pytest.fail("every event")))
    for table in original:
        monkeypatch.setattr(Run, table, refuse(table))
    page = write_report(run.folder).read_text(encoding="utf-8")
    assert "Model calls" in page and "synthetic" in page.lower()
