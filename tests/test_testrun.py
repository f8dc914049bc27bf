"""make test's phases and the CI table of seconds per phase (ckalab.testrun)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from ckalab import labs, testrun

ROOT = Path(__file__).resolve().parent.parent

LOG = """\
== host (0s)
load: 0.10 0.20 0.30
... apt output ...
== base images (35s)
load: 1.00 0.50 0.40
== node image: building etcd (355s)
== tool images (555s)
load: 2.00 1.00 0.50
== node image (811s)
load: 2.50 2.00 1.00
== registries and cluster (900s)
load: 1.50 1.40 1.30
== tests (1000s)
load: 1.20 1.10 1.00
== make test phase unit
-- make test phase unit: 150 s, passed (load 1.1 1.2 1.3)
-- make test phase papermill: 400 s, FAILED (load 3.0 2.5 2.0)
-- make test phase cycles: 800 s, passed (load 3.5 3.0 2.5)
-- make test phase nbval: 300 s, passed (load 2.0 2.0 2.0)
== browser (2700s)
load: 2.00 2.00 2.00
== done (2800s)
load: 1.00 1.00 1.00
"""


def test_the_ci_table_has_every_phase_with_make_tests_own_in_place_of_tests():
    table = testrun.ci_table(LOG)
    rows = {line[:26].strip(): line[26:].split() for line in table[1:]}
    assert list(rows) == ["host", "base images", "tool images", "node image", "registries and cluster",
                          "unit tests", "papermill", "cycles", "nbval", "(tests, in all)", "browser", "total"]
    assert rows["base images"][0] == "520" and rows["node image"][0] == "89"   # a build line is no phase
    assert rows["papermill"][:2] == ["400", "FAILED,"] and rows["(tests, in all)"][0] == "1700"
    assert rows["browser"][0] == "100" and rows["total"] == ["2800"]
    assert "load 2.50 2.00 1.00 at its end" in table[3]      # tool images ends as the node image starts


def test_a_run_that_stopped_says_so_and_a_log_without_phases_is_named():
    stopped = testrun.ci_table("== host (0s)\n== base images (35s)\n")
    assert stopped[1].split() == ["host", "35"]
    assert stopped[2].startswith("base images") and "(did not end)" in stopped[2]
    assert stopped[3].startswith("total") and "(did not end)" in stopped[3]
    assert testrun.ci_table("hello\n")[0].startswith("No phases found")


def test_times_without_a_log_names_where_it_looked(tmp_path, capsys):
    assert testrun.main(["times", str(tmp_path / "none.log")]) == 1
    assert "make ci-times LOG=path" in capsys.readouterr().out


def test_an_unknown_phase_is_refused_with_the_known_ones(capsys):
    assert testrun.main(["nbvall"]) == 2
    assert "the phases are unit, papermill, cycles, nbval" in capsys.readouterr().out


def test_what_runs_alone_is_the_labs_that_restart_the_cluster_and_what_lessons_declare():
    alone = {p.stem for p in sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("labs/*/*.ipynb"))
             if testrun.runs_alone(p)}
    disrupting = {lab.folder.name for lab in labs.all_labs() if lab.disrupts}
    assert disrupting == {"17-kubelet-parallel-pulls", "19-always-pull-images"}
    assert alone == disrupting | {"13-multi-platform-images"}
    assert "control-plane" in testrun.runs_alone(ROOT / "labs/19-always-pull-images/19-always-pull-images.ipynb")


LOGIN_PATTERN = re.compile(r"docker (login|logout)|registry\.login\(|exam\.setup\(")


def test_what_changes_the_course_docker_login_runs_in_turn():
    """Lessons 05 and 12 and lab 04 start logged out and lessons 07-09 log in: side by side, one's logout
    would land between another's login and push ("no basic auth credentials")."""
    notebooks = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("labs/*/*.ipynb"))
    sharing = {p.stem for p in notebooks if testrun.shares(p) == "the course's Docker login"}
    assert sharing == {"05-tags-digests-registries", "07-private-registries-in-kubernetes",
                       "08-troubleshooting-image-pulls", "09-exam-practice", "10-mock-exam", "12-podman-buildah-skopeo",
                       "04-push-private"}
    for path in notebooks:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        lab = path.parent / "lab.py"
        logs_out = lab.exists() and '"logout"' in lab.read_text()
        if LOGIN_PATTERN.search(code) or logs_out:
            assert path.stem in sharing, f"{path.name} logs in or out: declare ckalab.shares in its metadata"
    groups = testrun.in_turns(notebooks, weight=lambda p: 1)
    assert sorted(p.stem for p in groups[0]) == sorted(sharing)
    assert all(len(group) == 1 for group in groups[1:]) and sum(map(len, groups)) == len(notebooks)


def test_nbval_runs_the_notebooks_that_share_something_on_one_worker(tmp_path):
    """Three notebooks on three workers: without the plugin, loadfile gives each its own worker."""
    for name, shared in (("alone", None), ("first", "a login"), ("second", "a login")):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1"), nbformat.v4.new_code_cell("2 + 2")])
        if shared:
            notebook.metadata["ckalab"] = {"shares": shared}
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "--nbval-lax",
                             "--nbval-current-env", "-p", "ckalab.testrun", "-n", "3", "--dist", "loadfile",
                             "alone.ipynb", "first.ipynb", "second.ipynb"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for worker, notebook in re.findall(r"\[(gw\d+)\].*PASSED (alone|first|second)\b", result.stdout):
        workers.setdefault(notebook, set()).add(worker)
    assert set(workers) == {"alone", "first", "second"} and all(len(w) == 1 for w in workers.values())
    assert workers["first"] == workers["second"] != workers["alone"]


def test_nbval_runs_side_by_side_except_what_runs_alone(tmp_path, monkeypatch):
    executed = tmp_path / "executed"
    for rel in ("notebooks/01-first-image.ipynb", "notebooks/13-multi-platform-images.ipynb",
                "labs/19-always-pull-images/19-always-pull-images.ipynb"):
        (executed / rel).parent.mkdir(parents=True, exist_ok=True)
        (executed / rel).write_text((ROOT / rel).read_text())
    monkeypatch.setattr(testrun, "EXECUTED", executed)
    nbval = next(p for p in testrun.phases("python") if p.name == "nbval")
    together, alone = nbval.commands
    assert "-n" in together and together[-1].endswith("01-first-image.ipynb")
    assert "--dist loadfile" in " ".join(together) and "-p ckalab.testrun" in " ".join(together)
    assert "-n" not in alone and [Path(a).stem for a in alone if a.endswith(".ipynb")] == \
        ["19-always-pull-images", "13-multi-platform-images"]
    assert nbval.env["CKALAB_REPORTS"].endswith("build/reports/nbval") and nbval.needs == "papermill"


def test_the_docker_cycles_run_beside_the_cluster_cycles_in_a_state_of_their_own(tmp_path, monkeypatch, capsys):
    cycles = next(p for p in testrun.phases("python") if p.name == "cycles")
    assert cycles.commands == [[*cycles.commands[0][:-3], "-m", "cycle and cluster", "tests"]]
    assert cycles.beside[-3:] == ["-m", "cycle and not cluster", "tests"]
    monkeypatch.setattr(testrun, "PHASES_TSV", tmp_path / "phases.tsv")
    monkeypatch.setattr(testrun, "ROOT", tmp_path)
    probe = testrun.Phase("probe", [], beside=["python3", "-c", "import os; print(os.environ['CKALAB_STATE_DIR'])"])
    assert testrun._finish_beside(probe, testrun._start_beside(probe, dict(os.environ)))
    assert capsys.readouterr().out.rstrip().endswith(str(tmp_path / "build" / "test-state-probe-beside"))
