"""The full non-vacuity cycle of a lab, and the pool of workers that runs the cluster labs' cycles
side by side. A helper module of the tests (tests/test_lab_cycles.py and the `real_cycles`
fixture in conftest.py use it), not a test file.

The cycle is setup -> Check fails on `first_failure` -> each known-wrong attempt fails on its own
sub-check -> the reference solution passes -> teardown. A cluster lab's cycle runs on the kind
cluster, in a worker process with a deadline of its own; labs that set `Lab.disrupts` (they restart
the kubelet or the API server) run alone, before the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import signal
import time
from pathlib import Path

from ckalab import cluster_actions, exam_tasks, labs

# ---------------------------------------------------------------- the cycle, for any lab


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


# ---------------------------------------------------------------- a cluster lab's cycle


def settled_check(lab, *, quiet: float = 4, timeout: float = 90):
    """The Check once the cluster has settled: two runs `quiet` s apart fail the same sub-checks.

    A wrong attempt starts a rollout or a pull; what it must fail is what a learner sees after
    waiting, not a state in between."""
    deadline = time.monotonic() + timeout
    previous = lab.check(record=False)
    while True:
        time.sleep(quiet)
        result = lab.check(record=False)
        if [s.name for s in result.failed()] == [s.name for s in previous.failed()] \
                or time.monotonic() > deadline:
            return result
        previous = result


def ready(lab) -> None:
    """setup() returns None: it prints "<id> is ready" once the starting state exists, or one
    Skipped line (and nothing else) when the cluster is not usable."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        lab.setup()
    printed = printed.getvalue()
    print(printed, end="")
    assert f"{lab.id} is ready" in printed and "Skipped:" not in printed, printed


# The mock exam's cluster tasks are these labs under other names: their cycles run too, under the
# names of one drawn exam, so a name a lab still keeps as a constant breaks here.
EXAM_SEED = 4711


def exam_cycle_ids() -> list[str]:
    return [f"exam:{t.key}" for t in exam_tasks.TEMPLATES if exam_tasks._level(t) == "cluster"]


def exam_task(key: str) -> exam_tasks.Task:
    drawn = exam_tasks.draw(EXAM_SEED, docker_tasks=0, cluster_tasks=len(exam_cycle_ids()))
    return next(t for t in drawn if t.key == key)


def full_cycle(lab_id: str) -> None:
    """setup -> Check fails on first_failure -> every known-wrong attempt fails on its sub-check ->
    solve -> Check passes -> teardown, on the kind cluster. Raises AssertionError on a breach.
    `exam:KEY`: the same, for the lab of the exam's task KEY under that task's names."""
    lab = exam_task(lab_id[5:]).lab if lab_id.startswith("exam:") else labs.get(lab_id)
    if lab_id.startswith("exam:"):
        assert all(lab.names[k] != v for k, v in lab.defaults.items() if k in ("ns", "deploy", "repo")), lab.names
    lab.teardown()
    try:
        ready(lab)
        result = lab.check(record=False)
        # Every sub-check ran against the cluster (no "needs a kind cluster", no checker error), and
        # the first one to fail is the lab's first_failure, failed for a reason of its own.
        assert [s.name for s in result.subchecks] == lab.checks, str(result)
        assert result.failed() and result.failed()[0].name == lab.first_failure, str(result)
        assert "not checked" not in result.get(lab.first_failure).reason, str(result)
        fresh = True                         # the state is the starting state, untouched
        for attempt in lab.wrong_attempts:
            if attempt.needs_reset and not fresh:
                lab.teardown()
                ready(lab)
            attempt(lab)
            fresh = False
            result = settled_check(lab)
            assert not result.passed, f"wrong attempt '{attempt.name}' passed on the cluster:\n{result}"
            assert not result.get(attempt.fails).passed, \
                f"'{attempt.name}' should fail '{attempt.fails}' on the cluster:\n{result}"
        if not fresh:
            lab.teardown()
            ready(lab)
        lab.solve()
        result = cluster_actions.wait_until_passes(lab, 180)
        assert result.passed, str(result)
    finally:
        lab.teardown()


# ---------------------------------------------------------------- the pool of workers

# A cycle takes one to three minutes here, lab 19 about six. One that hangs fails alone, named and
# with its output, instead of running the whole pool into the test's timeout.
CYCLE_DEADLINE = 900
TEARDOWN_GRACE = 180
# Each lab lives in namespaces of its own, and labs 13/14 touch only their own images on the node,
# so the cycles run side by side: one after the other they take about four times as long.
CYCLE_WORKERS = 4
# Every cluster cycle runs inside the first cycle test's time: about 13-15 min on 2 cores. Each
# cycle has its own deadline, so this only stops a pool that hangs as a whole.
CYCLES_TIMEOUT = 2700
# The tests whose cluster cycles the pool runs (by their lab_id / cycle_id parameter).
CYCLE_TESTS = ("test_full_cycle", "test_exam_task_cycle")


class CycleDeadline(BaseException):
    """SIGALRM in a worker. A BaseException, so that a checker's `except Exception` cannot swallow it."""


def cycle_in_worker(lab_id: str, run=None, deadline: int = CYCLE_DEADLINE) -> tuple[float, str | None]:
    """One lab's full cycle in a worker process: (seconds, None) or (seconds, what broke + its output).
    `run` and `deadline` are for the test of the deadline itself."""
    def past_deadline(signum, frame):
        signal.alarm(TEARDOWN_GRACE)    # the cycle's own teardown (full_cycle's finally) gets this long
        raise CycleDeadline(f"the cycle did not finish within {deadline} s")

    output = io.StringIO()
    started = time.monotonic()
    signal.signal(signal.SIGALRM, past_deadline)
    signal.alarm(deadline)
    try:
        with contextlib.redirect_stdout(output):
            (run or full_cycle)(lab_id)
        return time.monotonic() - started, None
    except (Exception, CycleDeadline) as exc:  # noqa: BLE001 - the parent test reports it, with the lab's output
        what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else str(exc)
        return time.monotonic() - started, f"{what}\n--- the lab's output (last 4000 characters)\n" \
                                           f"{output.getvalue()[-4000:]}"
    finally:
        signal.alarm(0)


def cycle_order(selected: set[str]) -> tuple[list[str], list[str]]:
    """(cycles to run side by side, cycles to run alone before them), of the selected cycle ids.

    The cluster labs come from the registry, and the exam's cycles with them; the longest go first
    (expected_work). A lab that sets `disrupts` runs alone."""
    cluster = [lab for lab in labs.all_labs() if lab.level == "cluster" and lab.id in selected]
    exam = [i for i in exam_cycle_ids() if i in selected] if any(i.startswith("exam:") for i in selected) else []
    together = [lab.id for lab in cluster if not lab.disrupts] + exam
    alone = sorted(lab.id for lab in cluster if lab.disrupts)
    return sorted(together, key=lambda cycle_id: -expected_work(cycle_id)), alone


def expected_work(cycle_id: str) -> int:
    """How long a cycle takes, roughly: a settled Check per wrong attempt, and a setup per reset.
    The longest start first, so that none starts last; an exam cycle costs what its lab's does."""
    if cycle_id.startswith("exam:"):
        cycle_id = next(t.lab for t in exam_tasks.TEMPLATES if t.key == cycle_id[5:])
    lab = labs.get(cycle_id)
    return len(lab.wrong_attempts) + sum(a.needs_reset for a in lab.wrong_attempts)


def run_cycles(selected: set[str]) -> dict[str, tuple[float, str | None]]:
    """Every selected cluster cycle, in workers: {cycle id: (seconds, None or what broke)}."""
    together, alone = cycle_order(selected)
    spawn = multiprocessing.get_context("spawn")
    # A node lab restarts the node's kubelet, and lab 19 the API server: either would stall the
    # other labs' rollouts, so they run alone, first, while make test's Docker-level cycles, which
    # never reach the cluster, run beside them (ckalab.testrun). In a worker too: in this process,
    # SIGALRM is pytest-timeout's.
    with spawn.Pool(1) as pool:
        cycles = {lab_id: pool.apply(cycle_in_worker, (lab_id,)) for lab_id in alone}
    with spawn.Pool(CYCLE_WORKERS) as pool:
        cycles.update(zip(together, pool.map(cycle_in_worker, together, chunksize=1)))
    return cycles
