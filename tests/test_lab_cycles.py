"""Every lab's full non-vacuity cycle: one test, parametrised over the labs the course discovers.

The cycle is setup -> Check fails on `first_failure` -> each known-wrong attempt, from a fresh
setup, fails on its own sub-check -> the reference solution passes -> teardown. A Docker-level lab
runs here against the real Docker Engine and registries (lab 15 with Podman too); a cluster lab
runs on the kind cluster, in test_cluster_labs' worker pool (`real_cycles`), side by side with the
others. Each mock-exam cluster task runs the same cycle under the exam's names.

    .venv/bin/python -m pytest -q tests/test_lab_cycles.py -k lab07     # one lab
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from ckalab import labs
from test_cluster_labs import CYCLES_TIMEOUT, EXAM_CYCLES, real_cluster, real_cycles  # noqa: F401 - fixtures used here
from test_podman_labs import podman_cycle, podman_lab_env  # noqa: F401 - Podman's own store, a bystander image

PODMAN_LAB = "lab15-podman-build-run-push"
CYCLE_TESTS = ("test_full_cycle", "test_exam_task_cycle")   # whose cluster cycles real_cycles runs
# The first of these tests to run pays for every cluster cycle (the real_cycles fixture).
PAYS_FOR_THE_CYCLES = pytest.mark.timeout(CYCLES_TIMEOUT)


def _snapshot(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def checked_read_only(lab):
    """Check, and prove it left the learner's files alone."""
    before = _snapshot(lab.work_dir)
    result = lab.check()
    assert _snapshot(lab.work_dir) == before, f"{lab.id}: the Check changed the learner's files"
    return result


@pytest.fixture
def lab_env(registries, tmp_path, monkeypatch):
    """Real Docker and registries; progress and $HOME (~/.docker) in a temp dir."""
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return registries


def non_vacuity_cycle(lab, check, *, after_setup=None, after_attempt=None) -> None:
    """setup -> Check fails on first_failure -> each wrong attempt, from a fresh setup, fails on its
    own sub-check -> solve -> Check passes. `check(lab)` runs one Check with the caller's own
    assertions; `after_setup()` and `after_attempt(attempt, result)` may assert more."""
    lab.reset()
    if after_setup:
        after_setup()
    result = check(lab)
    assert not result.passed
    assert not result.get(lab.first_failure).passed, str(result)
    for attempt in lab.wrong_attempts:
        lab.reset()
        attempt(lab)
        result = check(lab)
        assert not result.passed, f"wrong attempt '{attempt.name}' passed:\n{result}"
        assert not result.get(attempt.fails).passed, f"'{attempt.name}' should fail '{attempt.fails}':\n{result}"
        if after_attempt:
            after_attempt(attempt, result)
    lab.reset()
    lab.solve()
    result = check(lab)
    assert result.passed, str(result)


def test_the_cycle_rejects_a_check_that_cannot_fail_and_a_solution_that_does_not_pass():
    from types import SimpleNamespace
    from ckalab.checks import CheckResult
    from ckalab.labs import WrongAttempt

    def result(passed):
        r = CheckResult("fake")
        r.add("x", passed, "")
        return r
    lab = SimpleNamespace(first_failure="x", reset=lambda: None, solve=lambda: None,
                          wrong_attempts=[WrongAttempt("does nothing", lambda lab: None, fails="x")])
    with pytest.raises(AssertionError):
        non_vacuity_cycle(lab, lambda lab: result(True))       # the setup state already passes
    with pytest.raises(AssertionError):
        non_vacuity_cycle(lab, lambda lab: result(False))      # the solution never passes


def test_every_lab_folder_is_a_lab():
    """One folder per lab: its notebook and lab.py side by side, and the id the folder's name."""
    folders = sorted(p for p in labs.labs_root().iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [f.name for f in folders] == [lab.folder.name for lab in labs.all_labs()]
    for lab in labs.all_labs():
        assert (lab.folder / "lab.py").is_file() and (lab.folder / f"{lab.folder.name}.ipynb").is_file(), lab.id
        # lab.py is loaded from its file, outside the package: `from . import x` cannot work there.
        relative = [n.lineno for n in ast.walk(ast.parse((lab.folder / "lab.py").read_text()))
                    if isinstance(n, ast.ImportFrom) and n.level]
        assert not relative, f"{lab.id}: lab.py lines {relative} import relatively; write `from ckalab import ...`"


def _report(cycles: dict, cycle_id: str) -> None:
    seconds, failure = cycles[cycle_id]
    print(f"{cycle_id}: full cycle in {seconds:.0f} s")
    if failure:
        pytest.fail(failure, pytrace=False)


@pytest.mark.docker
@pytest.mark.cycle
@pytest.mark.parametrize("lab_id", [pytest.param(lab.id, marks=PAYS_FOR_THE_CYCLES) if lab.level == "cluster"
                                    else lab.id for lab in labs.all_labs()])
def test_full_cycle(lab_id, request):
    lab = labs.get(lab_id)
    if lab.level == "cluster":
        _report(request.getfixturevalue("real_cycles"), lab_id)
        return
    if lab_id == PODMAN_LAB:
        request.getfixturevalue("podman_lab_env")
        podman_cycle(lab)
        return
    request.getfixturevalue("lab_env")
    try:
        non_vacuity_cycle(lab, checked_read_only)
    finally:
        lab.teardown()
    assert not lab.work_dir.exists()


@pytest.mark.docker
@pytest.mark.cycle
@pytest.mark.parametrize("cycle_id", EXAM_CYCLES)
@PAYS_FOR_THE_CYCLES
def test_exam_task_cycle(real_cycles, cycle_id):   # noqa: F811 - the fixture imported above
    """A mock-exam cluster task: its lab's full cycle under the exam's names (test_exam: Docker tasks)."""
    _report(real_cycles, cycle_id)
