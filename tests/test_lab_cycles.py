"""Every lab's full non-vacuity cycle: one test, parametrised over the labs the course discovers.

The cycle is setup -> Check fails on `first_failure` -> each known-wrong attempt, from a fresh
setup, fails on its own sub-check -> the reference solution passes -> teardown. A Docker-level lab
runs here against the real Docker Engine and registries (lab 15 with Podman too); a cluster lab
runs on the kind cluster, in tests/cycles.py's pool of workers (the `real_cycles` fixture), side by
side with the others; a lab that sets `Lab.disrupts` runs alone, before them. Each mock-exam
cluster task runs the same cycle under the exam's names.

    .venv/bin/python -m pytest -q tests/test_lab_cycles.py -k lab07     # one lab
"""

from __future__ import annotations

import ast
import multiprocessing
import time

import pytest
from cycles import CYCLES_TIMEOUT, checked_read_only, cycle_in_worker, exam_cycle_ids, non_vacuity_cycle

from ckalab import labs

PODMAN_LAB = "lab15-podman-build-run-push"
# The first of these tests to run pays for every cluster cycle (the real_cycles fixture).
PAYS_FOR_THE_CYCLES = pytest.mark.timeout(CYCLES_TIMEOUT)
# make test's cycles phase runs the cluster cycles (`-m "cycle and cluster"`) beside the Docker ones.
ON_THE_CLUSTER = [PAYS_FOR_THE_CYCLES, pytest.mark.cluster]


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
@pytest.mark.parametrize("lab_id", [pytest.param(lab.id, marks=ON_THE_CLUSTER) if lab.level == "cluster"
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
@pytest.mark.parametrize("cycle_id", exam_cycle_ids())
@pytest.mark.cluster
@PAYS_FOR_THE_CYCLES
def test_exam_task_cycle(real_cycles, cycle_id):
    """A mock-exam cluster task: its lab's full cycle under the exam's names (test_exam: Docker tasks)."""
    _report(real_cycles, cycle_id)


def test_the_pool_chooses_the_cluster_labs_from_the_registry_and_runs_the_disruptive_ones_alone():
    """No table of lab ids: every cluster lab the course discovers has its cycle, and a lab that
    restarts the kubelet or the API server (Lab.disrupts) runs before the others, alone."""
    import cycles
    cluster = [lab for lab in labs.all_labs() if lab.level == "cluster"]
    everything = {lab.id for lab in labs.all_labs()} | set(exam_cycle_ids())
    together, alone = cycles.cycle_order(everything)
    assert sorted(together + alone) == sorted([lab.id for lab in cluster] + exam_cycle_ids())
    assert alone == sorted(lab.id for lab in cluster if lab.disrupts) and alone
    work = [cycles.expected_work(i) for i in together]
    assert work == sorted(work, reverse=True) and work[0] > work[-1]
    lab10 = labs.get("lab10-missing-pull-secret")
    assert cycles.expected_work("exam:pull-secret") == cycles.expected_work(lab10.id) == \
        len(lab10.wrong_attempts) + sum(a.needs_reset for a in lab10.wrong_attempts)
    one = cluster[0].id
    assert cycles.cycle_order({one}) == (([one], []) if not cluster[0].disrupts else ([], [one]))


def _hangs_in_a_checker(lab_id: str) -> None:
    print(f"{lab_id}: set up")
    try:
        while True:
            try:
                time.sleep(0.1)
            except Exception:   # noqa: BLE001 - what a checker's own catch-all looks like
                pass
    finally:
        print(f"{lab_id}: torn down")


def test_a_cycle_that_hangs_fails_by_itself_after_its_teardown_with_its_output():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds, failure = pool.apply(cycle_in_worker, ("lab99",), {"run": _hangs_in_a_checker, "deadline": 1})
    assert seconds < 30
    assert failure.startswith("CycleDeadline: the cycle did not finish within 1 s"), failure
    assert "lab99: set up\nlab99: torn down" in failure, failure


# ---------------------------------------------------------------- lab 15's cycle, with Podman

BYSTANDER = "localhost/ckalab-test/bystander:keep"
# What each wrong attempt's failing sub-check must say (it names the fix, in one line).
REASONS = {
    "built, run and pushed with Docker": "it is in Docker's, which Podman does not see",
    "pushed to the open registry": "this build went to the open registry",
    "logs saved from an earlier container": "holds the logs of another container",
    "container stopped after the logs were saved": "is exited (exit code 0)",
}


def _podman_check(lab):
    """Check, and prove it left the learner's files alone and never raised into a 'checker' line."""
    result = checked_read_only(lab)
    assert all(s.name in lab.checks for s in result.subchecks), str(result)
    assert all("\n" not in s.reason for s in result.subchecks), str(result)
    return result


def podman_cycle(lab) -> None:
    """Lab 15's full cycle, with what only Podman has: each wrong attempt's reason, a second Check,
    and a bystander image in Podman's store that teardown keeps."""
    lab15 = labs.module(PODMAN_LAB)
    image = lab15._image(lab)

    def podman_has(reference: str) -> bool:
        return lab15.podman("image", "exists", reference).ok
    # Something that is not the lab's, on the same base image: teardown must leave it.
    assert lab15.podman("tag", "docker.io/library/python:3.13-slim", BYSTANDER).ok

    def fresh_setup():
        assert (lab.work_dir / "image" / "Dockerfile").exists() and not (lab.work_dir / "logs").exists()

    def reason_names_the_mistake(attempt, result):
        assert REASONS[attempt.name] in result.get(attempt.fails).reason, str(result)

    try:
        non_vacuity_cycle(lab, _podman_check, after_setup=fresh_setup, after_attempt=reason_names_the_mistake)
        # A second Check still passes: its own request only adds a log line the file need not have.
        assert _podman_check(lab).passed
    finally:
        lab.teardown()
    assert not lab.work_dir.exists()
    assert lab15.podman_container(lab.names["container"]) is None
    assert not podman_has(image)
    assert podman_has(BYSTANDER) and podman_has("docker.io/library/python:3.13-slim")
    lab15.podman("rmi", BYSTANDER)
