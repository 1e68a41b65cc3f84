"""A regular install works: the wheel carries the built-in folders and vs_sim finds them.

The fast tests pin the rules (checkout first, built-in scenario names, every package listed in
``pyproject.toml``); the slow one builds a wheel, installs it apart from the repository and runs
the quickstart from there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from vs_sim.errors import ConfigError, ScenarioError
from vs_sim.resources import BUILTIN_FOLDERS, _checkout_of, builtin_dir, checkout_root
from vs_sim.scenarios import builtin_scenarios, find_scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
_SKIP = {"__pycache__"}


def _files(root: Path) -> list[Path]:
    """Every file under ``root`` a build would see (no caches, no hidden files)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part in _SKIP or part.startswith(".") for part in p.relative_to(root).parts)
    )


def _folders(root: Path) -> list[Path]:
    """``root`` and every folder under it, without caches or hidden folders."""
    found = [root]
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if p.is_dir() and not any(part in _SKIP or part.startswith(".") for part in rel):
            found.append(p)
    return found


# -- where the built-in folders are ---------------------------------------------------------


def test_a_checkout_uses_its_own_folders() -> None:
    assert checkout_root() == REPO
    for name in BUILTIN_FOLDERS:
        assert builtin_dir(name) == REPO / name


def test_an_unknown_folder_name_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"'templates'.*data, personas, scenarios"):
        builtin_dir("templates")


def test_only_vs_sims_own_pyproject_marks_a_checkout(tmp_path: Path) -> None:
    # An installed copy may sit beside someone else's project (pip install --target).
    package = tmp_path / "vs_sim"
    package.mkdir()
    (tmp_path / "personas").mkdir()
    assert _checkout_of(package) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my_study"\n', encoding="utf-8")
    assert _checkout_of(package) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "vs_sim"\n', encoding="utf-8")
    assert _checkout_of(package) == tmp_path


# -- built-in scenarios by name ---------------------------------------------------------------


def test_a_bare_name_is_the_built_in_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "quickstart" in builtin_scenarios()
    scenario = load_scenario("quickstart", check=False)
    assert Path(scenario.file or "") == REPO / "scenarios" / "quickstart.yaml"
    assert scenario.name == "quickstart"


def test_a_file_here_wins_over_the_built_in_of_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (REPO / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8")
    local = text.replace("description: ", "description: MY COPY. ", 1)
    (tmp_path / "quickstart").write_text(local, encoding="utf-8")
    assert find_scenario("quickstart") == Path("quickstart")
    assert load_scenario("quickstart", check=False).description.startswith("MY COPY.")


def test_an_unknown_name_lists_the_built_in_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"^quickstrat: cannot read.*built-in scenarios: .*"):
        load_scenario("quickstrat")
    # A path (a folder or a .yaml suffix) is never looked up among the built-ins.
    assert find_scenario("quickstart.yaml") == Path("quickstart.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario("quickstart.yaml")
    assert "built-in" not in str(info.value)


# -- the build configuration ------------------------------------------------------------------


def test_pyproject_lists_every_package_and_maps_the_built_in_folders() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    expected = {
        ".".join(p.relative_to(REPO).parts)
        for p in _folders(REPO / "vs_sim")
        if p.name != "_builtin"
    }
    for name in BUILTIN_FOLDERS:
        root = REPO / name
        expected |= {
            ".".join(("vs_sim", "_builtin", name, *p.relative_to(root).parts))
            for p in _folders(root)
        }
    assert set(config["packages"]) == expected, "add the missing folders to pyproject.toml"
    assert config["package-dir"] == {f"vs_sim._builtin.{n}": n for n in BUILTIN_FOLDERS}


# -- a real wheel, installed apart from the repository ---------------------------------------

_RUN_FROM_THE_WHEEL = """
import json, sys
import vs_sim
from vs_sim.cli import main
from vs_sim.population import Population, find_population
from vs_sim.reference import load_p4g_donations
from vs_sim.resources import builtin_dir, checkout_root

run = vs_sim.run_scenario("quickstart", out="run", progress=False)
people = Population.from_yaml(find_population("p4g_persuadees")).sample(3, seed=1)
code = main(["validate", "quickstart", "persuasion_p4g"])
print(json.dumps({
    "package": vs_sim.__file__,
    "checkout": None if checkout_root() is None else str(checkout_root()),
    "folders": [str(builtin_dir(n)) for n in ("data", "personas", "scenarios")],
    "scenario": run.scenario.file,
    "run": str(run.folder.resolve()),
    "synthetic": run.synthetic,
    "donations": int(load_p4g_donations().size),
    "people": len(people),
    "validate": code,
    "path": sys.path,
}))
"""


def _copy_sources(dest: Path) -> None:
    """What a build reads, copied so the build writes nothing into the working tree."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for name in ("vs_sim", *BUILTIN_FOLDERS):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)


def _pip(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
def test_the_wheel_ships_the_built_in_folders_and_runs_the_quickstart(tmp_path: Path) -> None:
    src, dist, target, work = (tmp_path / d for d in ("src", "dist", "site", "work"))
    _copy_sources(src)
    # Build with the setuptools already here when there is one (no index needed).
    offline = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _pip("wheel", str(src), "--no-deps", *offline, "-q", "-w", str(dist), cwd=tmp_path)
    (wheel,) = dist.glob("vs_sim-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {"vs_sim/py.typed"}
    expected |= {p.relative_to(REPO).as_posix() for p in _files(REPO / "vs_sim")}
    for name in BUILTIN_FOLDERS:
        expected |= {
            f"vs_sim/_builtin/{p.relative_to(REPO).as_posix()}" for p in _files(REPO / name)
        }
    assert expected - names == set(), "files missing from the wheel"
    for needed in (
        "vs_sim/_builtin/personas/survey_respondent.j2",
        "vs_sim/_builtin/personas/populations/us_adults.yaml",
        "vs_sim/_builtin/data/persuasionforgood/persuadee_donations.csv",
        "vs_sim/_builtin/data/persuasionforgood/LICENSE",
        "vs_sim/_builtin/data/persuasionforgood/README.md",
        "vs_sim/_builtin/scenarios/quickstart.yaml",
        "vs_sim/_builtin/scenarios/data/opinion_questions.yaml",
        "vs_sim/methods/templates/vs_standard.j2",
        "vs_sim/tasks/templates/survey_question.j2",
        "vs_sim/templates/report.html.j2",
    ):
        assert needed in names
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"vs_sim", wheel.name.split("-py3")[0] + ".dist-info"}  # nothing else at top

    _pip("install", "--no-deps", "-q", "--target", str(target), str(wheel), cwd=tmp_path)
    work.mkdir()
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VS_SIM_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join([str(target), *deps])
    # -S: no site-packages .pth files, so the editable install's finder cannot bring the repo in.
    done = subprocess.run(
        [sys.executable, "-S", "-c", _RUN_FROM_THE_WHEEL],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])

    installed = target.resolve() / "vs_sim"
    assert Path(out["package"]).resolve() == installed / "__init__.py"
    assert out["checkout"] is None
    assert [Path(p).resolve() for p in out["folders"]] == [
        installed / "_builtin" / n for n in BUILTIN_FOLDERS
    ]
    assert Path(out["scenario"]).resolve() == installed / "_builtin/scenarios/quickstart.yaml"
    assert not any((work / p).resolve() == REPO for p in out["path"])  # "" is the cwd
    run = Path(out["run"])
    assert run == (work / "run").resolve() and out["synthetic"] is True
    for name in ("events.jsonl", "summary.json", "scenario.yaml", "report.html"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary, "empty summary"
    assert out["donations"] == 982
    assert out["people"] == 3
    assert out["validate"] == 0
