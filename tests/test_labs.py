"""The lab framework (ckalab.labs): registry, never-raising checks, Check/Hint widgets, lab notebooks."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from ckalab import cells, doctor, labs, progress
from ckalab.checks import CheckResult
from ckalab.errors import CourseError

ROOT = Path(__file__).resolve().parent.parent
LAB_NOTEBOOKS = sorted((ROOT / "labs").glob("[0-9]*/*.ipynb"))


@pytest.fixture
def temp_progress(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("CKALAB_PROGRESS", str(path))
    return path


@pytest.fixture
def level(monkeypatch):
    """Pretend the machine is at a given level (for requires(), which the widgets use)."""
    def set_level(name: str):
        env = doctor.Environment(docker=name in ("docker", "cluster"), cluster=name == "cluster")
        monkeypatch.setattr(cells._run, "environment", env)
        monkeypatch.setattr(cells._run, "require", "none")
    return set_level


def make_lab(check_fn=None, **kw) -> labs.Lab:
    def default_check(lab, r):
        r.add("file exists", True, "found it")
        r.add("content right", False, "it says 'no'")
    args = dict(id="lab99-fake", title="A fake lab", level="docker", checks=["file exists", "content right", "third"],
                first_failure="content right", hints=["look", "closer", "answer"],
                setup_fn=lambda lab: None, check_fn=check_fn or default_check,
                solve_fn=lambda lab: None, teardown_fn=lambda lab: None)
    args.update(kw)
    return labs.Lab(**args)


# ---------------------------------------------------------------- definitions and registry

def test_a_lab_needs_three_hints_and_known_check_names():
    with pytest.raises(ValueError, match="3 stepped hints"):
        make_lab(hints=["only one"])
    with pytest.raises(ValueError, match="not one of its checks"):
        make_lab(first_failure="no such check")
    with pytest.raises(ValueError, match="not one of its checks"):
        make_lab(wrong_attempts=[labs.WrongAttempt("w", lambda lab: None, fails="nope")])
    with pytest.raises(ValueError, match="level"):
        make_lab(level="kubernetes")
    with pytest.raises(ValueError, match="disrupts must be one of"):
        make_lab(disrupts="kubelet")
    assert make_lab(disrupts="node").disrupts == "node" and make_lab().disrupts is None


def test_registering_the_same_id_from_two_modules_fails(monkeypatch):
    monkeypatch.setattr(labs, "_REGISTRY", {})
    first = make_lab()
    labs.register(first)
    other = make_lab(check_fn=lambda lab, r: None)
    other.check_fn.__module__ = "somewhere_else"
    with pytest.raises(ValueError, match="registered twice"):
        labs.register(other)


def test_every_registered_lab_is_well_formed():
    found = labs.all_labs()
    assert found, "no labs registered"
    for lab in found:
        assert re.fullmatch(r"lab\d\d-[a-z0-9-]+", lab.id), lab.id
        assert lab.level in ("docker", "cluster")
        assert lab.wrong_attempts, f"{lab.id} has no known-wrong attempts to prove its Check fails"
        assert all(h.strip() for h in lab.hints)


def test_get_unknown_lab_names_the_known_ones():
    with pytest.raises(CourseError, match="lab01-fix-dockerfile"):
        labs.get("lab00-nothing")


def test_every_lab_notebook_is_a_registered_lab_and_vice_versa():
    registered = {lab.id for lab in labs.all_labs()}
    notebooks = {"lab" + p.stem for p in LAB_NOTEBOOKS}
    assert notebooks == registered, (f"notebooks without a lab: {sorted(notebooks - registered)}; "
                                     f"labs without a notebook: {sorted(registered - notebooks)}")


SOLUTION_FIRST_LINES = ("**Solution**: expand it after you have tried the hints.",
                        "# The reference solution, as commands for a terminal (this cell only prints them).")


@pytest.mark.parametrize("path", LAB_NOTEBOOKS, ids=lambda p: p.stem)
def test_lab_notebook_follows_the_lab_format(path):
    lab_id = "lab" + path.stem
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "REQUIRE = None" in params[0].source and "SOLVE = False" in params[0].source
    # ck.start names the run report: the lab id keeps it apart from the lesson with the same number.
    assert any(f'ck.start("{lab_id}", require=REQUIRE)' in c.source for c in code[:3])
    assert any(f'ck.labs.get("{lab_id}")' in c.source and "lab.setup()" in c.source for c in code)
    assert any(c.source.strip() == "lab.panel()" for c in code)
    hidden = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert hidden and all(c.metadata.get("jupyter", {}).get("source_hidden") for c in hidden), \
        "the solution cell must be hidden"
    # JupyterLab previews a collapsed cell's first line: it must give nothing away.
    assert all(c.source.splitlines()[0] in SOLUTION_FIRST_LINES for c in hidden), hidden[0].source.splitlines()[0]
    run = [c for c in code if "solution-run" in c.metadata.get("tags", [])]
    # Exactly the lab's solve: papermill and nbval run labs with SOLVE=False, because each lab's
    # full cycle (tests/test_lab_cycles.py) already runs this same lab.solve() and its Check.
    assert len(run) == 1 and run[0].source.strip() == "if SOLVE:\n    lab.solve()", run and run[0].source
    final = [c for c in code if "lab.check()" in c.source]
    assert final and "assert result.passed" in final[-1].source
    assert nb.cells[0].source.startswith("# Lab ") and "**Exam:**" in nb.cells[0].source


# ---------------------------------------------------------------- check never raises

def test_check_reports_missing_subchecks_and_checker_errors(monkeypatch, temp_progress):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    result = make_lab().check()
    assert not result.passed
    assert result.get("third").reason == "not checked: an earlier check failed"

    def course_error(lab, r):
        raise CourseError("The registry is down.", "run `make registries`.")
    result = make_lab(check_fn=course_error).check()
    assert result.get("checker").reason == "The registry is down. Fix: run `make registries`."

    def bug(lab, r):
        r.add("file exists", True, "ok")
        raise KeyError("spec")
    result = make_lab(check_fn=bug).check()
    assert "KeyError" in result.get("checker").reason and result.get("file exists").passed
    assert [s.name for s in result.subchecks] == ["file exists", "checker", "content right", "third"]


def test_check_records_progress(monkeypatch, temp_progress):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    lab = make_lab()
    lab.check()
    entry = progress.load()["labs"]["lab99-fake"]
    assert entry["checks"] == 1 and entry["passed"] is False and entry["last_failed"] == ["content right", "third"]
    lab = make_lab(checks=["file exists"], first_failure="file exists",
                   check_fn=lambda lab, r: r.add("file exists", True, "yes"))
    assert lab.check().passed
    assert progress.load()["labs"]["lab99-fake"]["passed"] is True


def test_every_check_fails_in_one_line_without_docker(monkeypatch, temp_progress, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    for lab in labs.all_labs():
        result = lab.check()
        assert isinstance(result, CheckResult) and not result.passed
        assert len(result.subchecks) == 1, (lab.id, str(result))
        only = result.subchecks[0]
        assert only.name.startswith("needs ") and "\n" not in only.reason and "Docker" in only.reason


def test_unavailable_is_none_for_docker_when_the_engine_answers(docker_env):
    assert labs.unavailable("docker") is None


# ---------------------------------------------------------------- widgets

def test_check_button_shows_every_subcheck_and_records_progress(monkeypatch, level, temp_progress):
    level("docker")
    monkeypatch.setattr(labs, "unavailable", lambda lvl: None)
    panel = make_lab(check_note="This builds things ...").panel()
    assert isinstance(panel, labs.LabPanel)
    panel.check_button.click()
    shown = panel.result.value
    for name in ("file exists", "content right", "third"):
        assert name in shown
    assert "it says &#x27;no&#x27;" in shown or "it says 'no'" in shown
    assert "2 check(s) still failing" in shown
    assert re.match(r"<i>Checked at \d\d:\d\d:\d\d in \d+\.\d s\.</i>", panel.status.value), panel.status.value
    assert not panel.check_button.disabled
    assert progress.load()["labs"]["lab99-fake"]["checks"] == 1


def test_check_progress_messages_reach_the_status_line(monkeypatch, level, temp_progress):
    level("docker")
    monkeypatch.setattr(labs, "unavailable", lambda lvl: None)
    seen = []

    def slow_check(lab, r):
        lab.say("building step 1 ...")
        seen.append(panel.status.value)
        r.add("only", True, "done")
    panel = make_lab(check_fn=slow_check, checks=["only"], first_failure="only").panel()
    panel.check_button.click()
    assert seen == ["<i>building step 1 ...</i>"]
    assert "All checks passed" in panel.result.value


def test_hint_button_reveals_hints_one_step_at_a_time(level, temp_progress):
    level("docker")
    panel = make_lab().panel()
    assert panel.hints_shown.value == "" and panel.hint_button.description == "Hint 1 of 3"
    panel.hint_button.click()
    assert "look" in panel.hints_shown.value and "closer" not in panel.hints_shown.value
    assert progress.load()["labs"]["lab99-fake"]["hints_used"] == 1
    panel.hint_button.click()
    assert "closer" in panel.hints_shown.value and "answer" not in panel.hints_shown.value
    panel.hint_button.click()
    assert "answer" in panel.hints_shown.value
    assert panel.hint_button.disabled and panel.hint_button.description == "No more hints"
    assert progress.load()["labs"]["lab99-fake"]["hints_used"] == 3
    assert panel.next_hint() is None
    assert progress.load()["labs"]["lab99-fake"]["hints_used"] == 3


def test_panel_shows_no_solution(level, temp_progress):
    level("docker")
    secret = "THE-REFERENCE-SOLUTION"
    panel = make_lab(solve_fn=lambda lab: print(secret)).panel()
    panel.hint_button.click()
    texts = [panel.result.value, panel.hints_shown.value, panel.status.value]
    assert all(secret not in t for t in texts)


def test_panel_and_setup_print_one_skipped_line_without_docker(level, temp_progress, capsys):
    level("none")
    calls = []
    lab = make_lab(setup_fn=lambda lab: calls.append("setup"))
    assert lab.panel() is None
    lab.setup()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("Skipped:") and "needs Docker" in line for line in lines)
    assert calls == []


def test_panel_without_docker_fails_when_the_run_requires_docker(level, monkeypatch):
    level("none")
    monkeypatch.setattr(cells._run, "require", "docker")
    with pytest.raises(CourseError, match="requires 'docker'"):
        make_lab().panel()


def test_work_dir_and_place_keep_the_learners_file(isolated_state):
    lab = make_lab(_folder=isolated_state.root / "labs" / "99-fake")
    assert lab.work_dir == isolated_state.root / ".ckalab" / "work" / "lab99"
    assert lab.files == isolated_state.root / "labs" / "99-fake" / "files"
    lab.files.mkdir(parents=True)
    (lab.files / "Dockerfile.broken").write_text("FROM scratch\n")
    target = lab.place("Dockerfile.broken")
    assert target.name == "Dockerfile" and target.read_text() == "FROM scratch\n"
    target.write_text("FROM scratch\n# my edit\n")
    lab.place("Dockerfile.broken")
    assert "my edit" in target.read_text()
    lab.place("Dockerfile.broken", overwrite=True)
    assert "my edit" not in target.read_text()
    lab.remove_work()
    assert not lab.work_dir.exists()


def test_check_results_show_status_words_not_emoji():
    from ckalab.checks import CheckResult
    result = CheckResult("lab09-wrong-tag")
    result.add("deployment exists", True, "deployment/inventory-api in lab09-inventory")
    result.add("image tag exists in the registry", False, "tag `1.01` is not in the registry")
    page = result._repr_html_()
    assert ">PASS</span>" in page and ">FAIL</span>" in page and "<code>1.01</code>" in page
    assert not any(ord(ch) > 0x2000 for ch in page)


def test_a_variant_takes_only_names_its_lab_has():
    lab = labs.get("lab09-wrong-tag")
    with pytest.raises(ValueError, match="namespace"):
        lab.variant({"namespace": "x"}, work_dir=Path("/tmp/x"))
    variant = lab.variant({"ns": "team-qa"}, work_dir=Path("/tmp/x"))
    assert variant.names["ns"] == "team-qa" and variant.defaults["ns"] == "lab09-inventory"
    assert lab.names["ns"] == "lab09-inventory" and labs.get(lab.id) is lab


NEW_LAB = '''"""Lab 99: a lab added as nothing but a folder (the CONTRIBUTING "Add a lab" recipe, followed)."""

from ckalab.labs import Lab, WrongAttempt, register


def _answer(lab):
    return lab.work_dir / "answer.txt"


def _setup(lab):
    lab.place("answer.txt.broken")


def _check(lab, r):
    text = _answer(lab).read_text().strip() if _answer(lab).exists() else ""
    r.add("answer file", bool(text), "found it" if text else "write answer.txt")
    r.add("greets", text == "hello", f"it says {text!r}; the task asks for 'hello'")


def _solve(lab):
    _answer(lab).write_text("hello\\n")


register(Lab(id="lab99-greet", title="Greet", level="docker", checks=["answer file", "greets"],
             first_failure="greets", hints=["read it", "the task says hello", "echo hello > answer.txt"],
             setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=lambda lab: None,
             wrong_attempts=[WrongAttempt("typo", lambda lab: _answer(lab).write_text("hullo\\n"), fails="greets")]))
'''


def test_a_new_lab_is_one_folder_and_nothing_else(isolated_state, monkeypatch, temp_progress, level):
    """Drop labs/99-greet/ (notebook, lab.py, files/) into a course: it is discovered, has its
    folder's files, and its full non-vacuity cycle holds, with no other file touched."""
    level("docker")          # the lab reads only its files: setup() need not find a Docker Engine
    from cycles import non_vacuity_cycle
    folder = isolated_state.root / "labs" / "99-greet"
    (folder / "files").mkdir(parents=True)
    (folder / "lab.py").write_text(NEW_LAB)
    (folder / "files" / "answer.txt.broken").write_text("helo\n")
    nbformat.write(nbformat.v4.new_notebook(), folder / "99-greet.ipynb")
    monkeypatch.setattr(labs, "labs_root", lambda: isolated_state.root / "labs")
    monkeypatch.setattr(labs, "_REGISTRY", {})
    monkeypatch.setattr(labs, "_loaded", False)
    monkeypatch.setattr(labs, "unavailable", lambda level: None)     # the lab reads only its files
    monkeypatch.delitem(__import__("sys").modules, labs.module_name(folder), raising=False)
    lab = labs.get("lab99-greet")
    assert [l.id for l in labs.all_labs()] == ["lab99-greet"] and lab.folder == folder.resolve()
    non_vacuity_cycle(lab, lambda lab: lab.check(record=False))
    lab.teardown()
    assert not lab.work_dir.exists()


def test_a_lab_folder_must_be_named_after_its_id(isolated_state, monkeypatch):
    folder = isolated_state.root / "labs" / "98-wrong-name"
    folder.mkdir(parents=True)
    (folder / "lab.py").write_text(NEW_LAB)
    monkeypatch.setattr(labs, "labs_root", lambda: isolated_state.root / "labs")
    monkeypatch.setattr(labs, "_REGISTRY", {})
    monkeypatch.setattr(labs, "_loaded", False)
    monkeypatch.delitem(__import__("sys").modules, labs.module_name(folder), raising=False)
    with pytest.raises(ValueError, match="rename the folder to labs/99-greet/"):
        labs.all_labs()


NODE_WIDE_LABS = {"lab17-kubelet-parallel-pulls", "lab18-crictl-container-report", "lab19-always-pull-images"}


def test_every_lab_but_the_node_wide_ones_takes_names():
    """What a learner types (namespace, Deployment, repository, tag, ports) comes from lab.names,
    so the mock exam can draw the lab under other names (CONTRIBUTING: "Labs take names")."""
    for lab in labs.all_labs():
        assert bool(lab.names) == (lab.id not in NODE_WIDE_LABS), lab.id


def test_hints_name_the_configured_cluster(monkeypatch, temp_progress):
    """CKALAB_CLUSTER=other: no hint says cka-images; the node is other-control-plane, and kind
    loads into --name other."""
    monkeypatch.setenv("CKALAB_CLUSTER", "other")
    for lab in labs.all_labs():
        texts = [*lab.shown_hints, lab.title, lab.check_note, *(w.name for w in lab.wrong_attempts)]
        assert not [t for t in texts if "cka-images" in t], lab.id
        assert not [h for h in lab.shown_hints if re.search(r"\{(cluster|node|context)\}", h)], lab.id
    shown = [h for lab in labs.all_labs() for h in lab.shown_hints]
    assert any("docker exec other-control-plane " in h for h in shown)
    assert any("--name other" in h for h in shown)
    assert "/api/v1/nodes/other-control-plane/proxy/configz" in labs.get("lab17-kubelet-parallel-pulls").hint(2)
    monkeypatch.delenv("CKALAB_CLUSTER")
    assert "docker exec cka-images-control-plane " in labs.get("lab17-kubelet-parallel-pulls").hint(3)
