"""Execute every notebook and lab with papermill (parameters injected), side by side.

Twice: at the level of this machine (CKALAB_REQUIRE=cluster in CI), the copies landing in
build/executed/, which `make test`'s nbval phase executes again and compares where a cell is
marked NBVAL_CHECK_OUTPUT; and without Docker (Binder), into build/executed-without-docker/.

Most of a notebook's time is spent waiting for the cluster, the registries and builds, so the
runs go NOTEBOOK_WORKERS at a time; each lesson and lab has namespaces, images and a work folder
of its own; those that share something else (ckalab.testrun.shares: the course's Docker login) run
one after another. A notebook that needs the machine to itself (ckalab.testrun.runs_alone: a lab that
restarts the kubelet or the API server, lesson 13's QEMU) runs alone afterwards, while the
Binder runs, which use no Docker and no cluster, go on beside it.

    .venv/bin/python -m pytest -q tests/test_notebooks.py -k 03-      # one notebook, both runs
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from ckalab import testrun

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("[0-9]*/*.ipynb"))
OUT = ROOT / "build" / "executed"
OUT_WITHOUT_DOCKER = ROOT / "build" / "executed-without-docker"
NOTEBOOK_WORKERS = 3
# Every selected run happens inside the first test's time (the `executions` fixture).
ALL_RUNS_TIMEOUT = 2700


def is_lab(path: Path) -> bool:
    return path.parent.parent == ROOT / "labs"


def parameters(path: Path, *, docker: bool) -> dict:
    """What papermill injects. A lab's reference solution runs in its full cycle on the cluster
    (tests/test_lab_cycles.py), the same `lab.solve()` its solution-run cell calls
    (tests/test_repo.py holds it to that), so here a lab runs as a learner starts it: setup,
    panel, the failing Check, teardown. A lesson's worked solutions (lessons 09 and 10) have no
    cycle of their own: they run here. EMULATION lets lesson 13 register QEMU in binfmt_misc (and
    remove it) only where the run allows it (CKALAB_ALLOW_EMULATION=1, as CI sets)."""
    if not docker:
        return {"REQUIRE": None, "SOLVE": False}
    return {"REQUIRE": os.environ.get("CKALAB_REQUIRE") or None, "SOLVE": not is_lab(path),
            "EMULATION": os.environ.get("CKALAB_ALLOW_EMULATION") == "1"}


def _execute(path: Path, docker: bool) -> tuple[float, str | None]:
    """One papermill run in a worker process: (seconds, None) or (seconds, what failed)."""
    env = {"CKALAB_REPORTS": str(ROOT / "build" / "reports" / "papermill")}
    target = OUT / path.relative_to(ROOT)
    if not docker:     # the Binder case: no Docker Engine, no level required, progress of its own
        scratch = OUT_WITHOUT_DOCKER / "state" / path.stem
        env = {"DOCKER_HOST": f"unix://{scratch}/no-docker-here.sock", "CKALAB_REPORTS": str(scratch / "reports"),
               "CKALAB_PROGRESS": str(scratch / "progress.json")}
        target = OUT_WITHOUT_DOCKER / path.relative_to(ROOT)
        shutil.rmtree(scratch, ignore_errors=True)       # its report counts this run only
        scratch.mkdir(parents=True, exist_ok=True)
    before = dict(os.environ)
    os.environ.update(env)
    if not docker:
        os.environ.pop("CKALAB_REQUIRE", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        papermill.execute_notebook(str(path), str(target), cwd=str(ROOT), kernel_name="python3",
                                   progress_bar=False, parameters=parameters(path, docker=docker),
                                   execution_timeout=600 if docker else 300)
        return time.monotonic() - started, None
    except Exception as exc:  # noqa: BLE001 - the notebook's test reports it (papermill names the cell)
        return time.monotonic() - started, f"{type(exc).__name__}: {exc}"
    finally:            # the worker's next run starts from the environment it was given
        os.environ.clear()
        os.environ.update(before)


def _execute_in_turn(paths: list[Path], docker: bool) -> list[tuple[float, str | None]]:
    """Notebooks that share something (ckalab.testrun.shares), one after another in one worker."""
    return [_execute(path, docker) for path in paths]


def _expected_work(path: Path) -> int:
    """Longest first, so that no long notebook starts last: the live cells that reach the cluster."""
    cells = nbformat.read(path, as_version=4).cells
    return sum(("kubectl" in c.source or "cluster" in c.source) for c in cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def executions(request):
    """Every selected run, keyed (stem, docker): (seconds, failure or None)."""
    from ckalab import book, doctor
    selected = {(item.callspec.params["path"], item.originalname == "test_notebook_executes")
                for item in request.session.items
                if getattr(item, "originalname", None) in ("test_notebook_executes", "test_notebook_runs_without_docker")}
    with_docker = sorted((p for p, docker in selected if docker), key=lambda p: -_expected_work(p))
    if with_docker:
        book.write_provenance(OUT, ROOT, doctor.diagnose().level)   # for the static book (`make book`)
    together = [p for p in with_docker if not testrun.runs_alone(p)]
    alone = [p for p in with_docker if testrun.runs_alone(p)]
    without_docker = sorted(p for p, docker in selected if not docker)
    runs: dict = {}
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(NOTEBOOK_WORKERS) as pool:
        together_runs = [(group, pool.apply_async(_execute_in_turn, (group, True))) for group in testrun.in_turns(together, _expected_work)]
        runs.update({(p.stem, True): run for group, r in together_runs for p, run in zip(group, r.get())})
        beside = {p: pool.apply_async(_execute, (p, False)) for p in without_docker}
        with spawn.Pool(1) as alone_pool:
            runs.update({(p.stem, True): alone_pool.apply(_execute, (p, True)) for p in alone})
        runs.update({(p.stem, False): r.get() for p, r in beside.items()})
    request.config.notebook_seconds = {f"{stem}{'' if docker else ' (no Docker)'}": seconds
                                       for (stem, docker), (seconds, _) in runs.items()}
    return runs


def _report(runs: dict, path: Path, docker: bool) -> None:
    seconds, failure = runs[(path.stem, docker)]
    print(f"{path.stem}: executed in {seconds:.0f} s")
    if failure:
        pytest.fail(failure, pytrace=False)


@pytest.mark.timeout(ALL_RUNS_TIMEOUT)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, executions):
    _report(executions, path, docker=True)


def _has_docker_cells(path: Path) -> bool:
    from ckalab import cells
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and ("ck.requires(\"docker\"" in cell.source or any(
                cells.needs_of(cmd) == "docker" for cmd in re.findall(r'ck\.sh\(\s*f?"([^"]+)"', cell.source))):
            return True
    return False


@pytest.mark.timeout(ALL_RUNS_TIMEOUT)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_docker(path, executions):
    """The Binder case: no Docker Engine. Every notebook still runs to the end, and each cell
    that needs Docker says it was skipped instead of failing."""
    _report(executions, path, docker=False)
    counts = {}
    for report in (OUT_WITHOUT_DOCKER / "state" / path.stem / "reports").glob("*.jsonl"):
        for line in report.read_text().splitlines():
            entry = json.loads(line)
            counts.setdefault((entry["level"], entry["status"]), 0)
            counts[(entry["level"], entry["status"])] += 1
    assert counts.get(("docker", "executed"), 0) == 0 and counts.get(("cluster", "executed"), 0) == 0
    if _has_docker_cells(path):
        assert counts.get(("docker", "skipped"), 0) > 0, "Docker cells should say they were skipped"


def test_labs_run_as_a_learner_starts_them_and_lessons_with_their_worked_solutions(monkeypatch):
    monkeypatch.setenv("CKALAB_REQUIRE", "cluster")
    lab = ROOT / "labs" / "09-wrong-tag" / "09-wrong-tag.ipynb"
    lesson = ROOT / "notebooks" / "09-exam-practice.ipynb"
    assert parameters(lab, docker=True)["SOLVE"] is False and parameters(lab, docker=True)["REQUIRE"] == "cluster"
    assert parameters(lesson, docker=True)["SOLVE"] is True
    assert parameters(lesson, docker=False) == {"REQUIRE": None, "SOLVE": False}
