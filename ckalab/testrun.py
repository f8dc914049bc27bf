"""`make test` in timed phases, and the table of seconds per phase of a CI run.

    python -m ckalab.testrun                 unit, papermill, cycles, nbval: each timed, all reported
    python -m ckalab.testrun times [LOG]     seconds per phase of a CI run's log (`make ci-times`)

Every phase runs even when an earlier one failed, except nbval, which re-executes what the
papermill phase wrote. Each phase's seconds and the machine's load go to build/reports/phases.tsv
and into the log, as `-- make test phase NAME: S s, passed|FAILED (load 1 5 15)`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from ckalab import labs

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "build" / "executed"
PHASES_TSV = ROOT / "build" / "reports" / "phases.tsv"
CI_LOG = Path(os.environ.get("CKALAB_CI_STATE", "/var/cache/ckalab/ci")) / "last-run.log"
# nbval re-executes the notebooks side by side, like the papermill phase (tests/test_notebooks.py):
# most of a notebook's time is spent waiting for the cluster, the registries and builds.
NBVAL_WORKERS = 3


# ---------------------------------------------------------------- which notebooks run alone

def runs_alone(path: Path) -> str | None:
    """Why this notebook needs the machine to itself, or None when it may run beside others.

    A lab that restarts the kubelet or the API server (`Lab.disrupts`) would stall every
    other notebook's rollouts; a lesson says so in its metadata (`ckalab.runs_alone`), e.g. lesson 13,
    which registers QEMU in binfmt_misc that lab 20's exec format error must not see."""
    notebook = nbformat.read(path, as_version=4)
    reason = notebook.metadata.get("ckalab", {}).get("runs_alone")
    if reason:
        return reason
    folder = path.parent.name
    lab = next((lab for lab in labs.all_labs() if lab.folder.name == folder and path.stem == folder), None)
    if lab is not None and lab.disrupts:
        return f"its lab disrupts the {lab.disrupts} (Lab.disrupts)"
    return None


def shares(path: Path) -> str | None:
    """What this notebook changes that others read too, from its metadata (`ckalab.shares`), or
    None. Notebooks that share something run one after another, beside the rest: "the course's
    Docker login" is changed by lessons 05 and 12 and lab 04 (they start logged out), by lessons 07 to 09
    (they log in) and by the mock exam (its registry-login task starts logged out)."""
    return nbformat.read(path, as_version=4).metadata.get("ckalab", {}).get("shares")


def in_turns(paths: list[Path], weight=lambda path: 1) -> list[list[Path]]:
    """The papermill phase's runs side by side: one list per notebook, and one for each group that
    shares something (run in turn), the heaviest (sum of `weight`) first."""
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(shares(path) or str(path), []).append(path)
    return sorted(groups.values(), key=lambda group: -sum(map(weight, group)))


@pytest.hookimpl(optionalhook=True)     # a pytest-xdist hook
def pytest_xdist_make_scheduler(config, log):
    """Loaded as a plugin by the nbval phase (`-p ckalab.testrun`): xdist's loadfile scheduling,
    except that the notebooks that share something (`shares`) are one unit of work, so they run on
    one worker, one after another. (`--dist loadgroup` would need a mark on every cell, and it does
    not group them on pytest 9.2 with pytest-xdist 3.8: the group never reaches the node id.)"""
    from xdist.scheduler import LoadFileScheduling

    class InTurns(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            path = config.rootpath / file
            return (shares(path) if path.suffix == ".ipynb" and path.exists() else None) or file

    return InTurns(config, log)


def source_of(executed: Path) -> Path:
    """The course notebook an executed copy in build/executed/ was made from."""
    return ROOT / executed.relative_to(EXECUTED)


# ---------------------------------------------------------------- the phases

@dataclass
class Phase:
    name: str
    commands: list[list[str]]
    needs: str | None = None        # a phase whose output this one reads
    env: dict | None = None
    # A command that runs beside the first one, in a state folder of its own (a pytest session
    # starts by clearing build/test-state), its output kept in build/reports/<phase>-beside.log.
    beside: list[str] | None = None


def phases(python: str = sys.executable) -> list[Phase]:
    pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    ignore = ["--ignore=tests/browser"]
    executed = sorted(EXECUTED.rglob("*.ipynb")) if EXECUTED.is_dir() else []
    together = [str(p) for p in executed if not runs_alone(source_of(p))]
    alone = [str(p) for p in executed if runs_alone(source_of(p))]
    nbval = [*pytest, "--nbval-lax", "--nbval-current-env"]
    return [
        Phase("unit", [[*pytest, "--durations=10", *ignore, "--ignore=tests/test_notebooks.py",
                        "-m", "not cycle", "tests"]]),
        Phase("papermill", [[*pytest, "tests/test_notebooks.py"]]),
        # The cluster cycles mostly wait on rollouts and restarts; the Docker-level ones (builds,
        # pushes, Podman) run beside them.
        Phase("cycles", [[*pytest, *ignore, "-m", "cycle and cluster", "tests"]],
              beside=[*pytest, "--durations=5", *ignore, "-m", "cycle and not cluster", "tests"]),
        Phase("nbval", [cmd for cmd in (
            [*nbval, "-p", "ckalab.testrun", "-n", str(NBVAL_WORKERS), "--dist", "loadfile", *together]
            if together else None,
            [*nbval, *alone] if alone else None) if cmd], needs="papermill",
              # `make report` shows this pass apart from the papermill pass and the learner's runs.
              env={"CKALAB_REPORTS": str(ROOT / "build" / "reports" / "nbval")}),
    ]


def _beside_log(phase: Phase) -> Path:
    return PHASES_TSV.parent / f"{phase.name}-beside.log"


def _start_beside(phase: Phase, env: dict) -> subprocess.Popen:
    state = ROOT / "build" / f"test-state-{phase.name}-beside"
    shutil.rmtree(state, ignore_errors=True)
    print(f"beside it: {' '.join(phase.beside[2:])} (its output: {_beside_log(phase).relative_to(ROOT)})", flush=True)
    with _beside_log(phase).open("w") as log:
        return subprocess.Popen(phase.beside, cwd=ROOT, env={**env, "CKALAB_STATE_DIR": str(state)},
                                stdout=log, stderr=subprocess.STDOUT)


def _finish_beside(phase: Phase, process: subprocess.Popen) -> bool:
    status = process.wait()
    print(f"\n-- beside it, {'passed' if status == 0 else 'FAILED'}: {' '.join(phase.beside[2:])}")
    print(_beside_log(phase).read_text(errors="replace"), end="", flush=True)
    return status == 0


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(selected: list[str] | None = None) -> int:
    """Run the phases (all, or those named), each timed; 0 when every one passed."""
    PHASES_TSV.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, tuple[float, bool]] = {}
    with PHASES_TSV.open("w") as tsv:
        tsv.write("phase\tseconds\tstatus\tload\n")
        for phase in phases():
            if selected and phase.name not in selected:
                continue
            # nbval's notebooks are the papermill phase's output: listed only once it has run.
            phase = next(p for p in phases() if p.name == phase.name)
            print(f"\n== make test phase {phase.name}", flush=True)
            started = time.monotonic()
            if phase.needs in results and not results[phase.needs][1]:
                print(f"not run: it re-executes what the {phase.needs} phase wrote, and that phase failed")
                passed = False
            elif not phase.commands:
                print(f"nothing to run: {EXECUTED.relative_to(ROOT)} is empty; run the papermill phase first")
                passed = False
            else:
                env = {**os.environ, **(phase.env or {})}
                beside = _start_beside(phase, env) if phase.beside else None
                passed = all([subprocess.call(cmd, cwd=ROOT, env=env) == 0 for cmd in phase.commands])
                if beside:
                    passed = _finish_beside(phase, beside) and passed
            seconds = time.monotonic() - started
            results[phase.name] = (seconds, passed)
            status = "passed" if passed else "FAILED"
            print(f"-- make test phase {phase.name}: {seconds:.0f} s, {status} (load {_load()})", flush=True)
            tsv.write(f"{phase.name}\t{seconds:.0f}\t{status}\t{_load()}\n")
            tsv.flush()
    print("\n" + "\n".join(f"{name:12} {seconds:6.0f} s  {'passed' if ok else 'FAILED'}"
                           for name, (seconds, ok) in results.items()))
    return 0 if results and all(ok for _, ok in results.values()) else 1


# ---------------------------------------------------------------- the table of a CI run

CI_PHASE = re.compile(r"^== ([^:()]+) \((\d+)s\)$")          # .ci/run's own: "== node image (811s)"
TEST_PHASE = re.compile(r"^-- make test phase (\S+): (\d+) s, (passed|FAILED) \(load ([\d. ]+)\)$")
LOAD = re.compile(r"^load: ([\d.]+) ([\d.]+) ([\d.]+)$")


def ci_table(log: str) -> list[str]:
    """Seconds per phase of one .ci/run log: its own phases, with make test's in place of "tests"."""
    starts: list[tuple[str, int]] = []
    loads: dict[int, str] = {}        # .ci/run prints the load as each phase starts
    tests: list[tuple[str, int, str, str]] = []
    for line in log.splitlines():
        if m := CI_PHASE.match(line.strip()):
            starts.append((m[1], int(m[2])))
        elif (m := LOAD.match(line.strip())) and starts and len(starts) - 1 not in loads:
            loads[len(starts) - 1] = " ".join(m.groups())
        elif m := TEST_PHASE.match(line.strip()):
            tests.append((m[1], int(m[2]), m[3], m[4]))
    if not starts:
        return ["No phases found: this is not the log of a .ci/run (its lines look like `== host (0s)`)."]
    rows = []
    for i, ((name, start), (_, end)) in enumerate(zip(starts, starts[1:] + [(None, None)])):
        if name == "done":
            break
        seconds = "" if end is None else str(end - start)
        load = f"load {loads[i + 1]} at its end" if i + 1 in loads else ""
        if name == "tests" and tests:
            rows += [(f"{test} tests" if test == "unit" else test, str(s), f"{status}, load {load} at its end")
                     for test, s, status, load in tests]
            rows.append(("(tests, in all)", seconds, load))
        else:
            rows.append((name, seconds or "(did not end)", load))
    total = next((s for n, s in starts if n == "done"), None)
    lines = [f"{'phase':26}{'seconds':>8}  note", *(f"{n:26}{s:>8}  {note}" for n, s, note in rows)]
    lines.append(f"{'total':26}{total if total is not None else '(did not end)':>8}")
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["times"]:
        log = Path(argv[1]) if len(argv) > 1 else CI_LOG
        if not log.is_file():
            print(f"No CI log at {log}: .ci/run keeps its last run's log there; "
                  f"name another with `make ci-times LOG=path`.")
            return 1
        print("\n".join(ci_table(log.read_text(errors="replace"))))
        return 0
    unknown = sorted(set(argv) - {p.name for p in phases()})
    if unknown:
        print(f"No phase {', '.join(unknown)}: the phases are {', '.join(p.name for p in phases())}.")
        return 2
    return run(argv or None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
