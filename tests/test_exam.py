"""ckalab.exam: seeded names, scoring as sub-check tallies, time per task, skills, saving the attempt;
that every task's check is its lab's own; and (with Docker) every Docker-level task as the lab's
full cycle under the exam's names. The cluster-level tasks' cycles are in test_lab_cycles."""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

import pytest
from cycles import non_vacuity_cycle

from ckalab import exam as E
from ckalab import exam_tasks as T
from ckalab import labs, progress
from ckalab.checks import CheckResult

ROOT = Path(__file__).resolve().parent.parent


def names_of(seed):
    return [(t.key, t.names) for t in T.draw(seed)]


# ---------------------------------------------------------------- randomisation

def test_same_seed_same_exam():
    assert names_of(123) == names_of(123)
    assert [t.statement() for t in T.draw(7)] == [t.statement() for t in T.draw(7)]


def test_different_seeds_differ():
    drawn = {json.dumps(names_of(seed), sort_keys=True) for seed in range(20)}
    assert len(drawn) == 20
    # Not only the order: the names themselves change (namespace, Deployment, repository, tag).
    for key in ("ns", "deploy", "repo", "tag"):
        values = {t.names.get(key) for seed in range(20) for t in T.draw(seed)} - {None}
        assert len(values) > 5, key


CLUSTER_KEYS = {"rollout", "rollback", "pull-secret", "serviceaccount-pull-secret", "image-pull-error",
                "image-archive", "wrong-platform", "daemonset-ondelete"}


def test_draw_mixes_levels_and_never_repeats_a_name():
    for seed in range(50):
        tasks = T.draw(seed)
        assert [t.number for t in tasks] == list(range(1, len(tasks) + 1))
        assert sum(t.level == "docker" for t in tasks) == T.DOCKER_TASKS
        cluster = {t.key for t in tasks if t.level == "cluster"}
        assert len(cluster) == T.CLUSTER_TASKS and cluster <= CLUSTER_KEYS
        repos = [T.split_image(T.images_of(t)[-1])[1] for t in tasks]
        assert len(set(repos)) == len(repos), repos
        namespaces = [t.names["ns"] for t in tasks if "ns" in t.names]
        assert len(set(namespaces)) == len(namespaces)


def test_names_are_valid_kubernetes_and_docker_names():
    for seed in range(200):
        for task in T.draw(seed):
            names = T.names_in(task)
            for dns in names["dns"]:
                assert T.DNS_LABEL.match(dns) and len(dns) <= 63, (seed, dns)
            assert all(task.names[k].startswith("exam-") for k in ("ns",) if k in task.names), task.names
            for container in names["container"]:
                assert T.CONTAINER_NAME.match(container) and container.startswith("exam-"), (seed, container)
            for ref in names["image"]:
                host, repo, tag = T.split_image(ref)
                assert all(T.REPO_COMPONENT.match(c) for c in repo.split("/")), (seed, ref)
                assert T.TAG.match(tag), (seed, ref)
                assert repo.startswith("exam-"), (seed, ref)
                assert host in (None, "localhost:5001", "localhost:5002", "private-registry:5000"), (seed, ref)
                assert host is None or task.key != "image-archive", (seed, ref)   # that image is in no registry


def test_name_rules_reject_bad_names():
    assert not T.DNS_LABEL.match("Payments-Prod")
    assert not T.DNS_LABEL.match("payments-")
    assert not T.REPO_COMPONENT.match("Exam-Team")
    assert not T.TAG.match(".1.0")
    assert T.split_image("localhost:5001/exam-a/b:1.2.3") == ("localhost:5001", "exam-a/b", "1.2.3")
    assert T.split_image("exam-b:ci-x") == (None, "exam-b", "ci-x")


def test_troubleshooting_tag_is_a_real_slip():
    for seed in range(100):
        for task in T.draw(seed):
            if task.key == "image-pull-error":
                good, bad = task.names["tag"], task.names["bad_tag"]
                assert good != bad and (good in bad or bad in good)
            if task.key == "rollout":
                old = tuple(map(int, task.names["tag"].split(".")))
                new = tuple(map(int, task.names["new_tag"].split(".")))
                assert old < new


def test_solve_mode_is_fixed_and_short():
    exam = E.new(solve=True, minutes=20)
    assert exam.seed == E.SOLVE_SEED and exam.minutes == E.SOLVE_MINUTES and exam.mode == "solve"
    assert {t.key for t in exam.tasks if t.level == "docker"} == {"dockerfile", "podman", "publish-private"}
    assert E.new(seed=99).seed == 99


def test_statements_hold_no_hints_or_solutions():
    for task in T.draw(E.SOLVE_SEED):
        text = task.markdown().lower()
        assert "hint" not in text
        assert "kubectl set image" not in text and "docker push" not in text and "docker login" not in text


# ---------------------------------------------------------------- scoring

def fake_task(key="fake", skill="rollouts", checks=("a", "b", "c"), check_fn=None, level="docker",
              names=None) -> T.Task:
    noop = lambda lab: None  # noqa: E731
    lab = labs.Lab(id="lab99-fake", title=f"Fake {key}", level=level, checks=list(checks), first_failure=checks[0],
                   hints=["1", "2", "3"], setup_fn=noop, check_fn=check_fn or (lambda lab, r: None),
                   solve_fn=noop, teardown_fn=noop)
    template = T.Template(key, skill, lab.id, f"Fake {key}", lambda rng, pick: {}, lambda task: "do it")
    return T.Task(1, template, names or {}, _lab=lab)


def test_check_reports_exactly_the_declared_subchecks_in_order():
    def partial(task, r):
        r.add("b", True, "fine")
        r.add("a", False, "no")
    result = fake_task(check_fn=partial).check()
    assert [(s.name, s.passed) for s in result.subchecks] == [("a", False), ("b", True), ("c", False)]
    assert result.get("c").reason == T.NOT_CHECKED


def test_check_survives_a_checker_bug_and_a_missing_level():
    def broken(task, r):
        r.add("a", True, "fine")
        raise RuntimeError("boom")
    result = fake_task(check_fn=broken).check()
    assert [s.passed for s in result.subchecks] == [True, False, False]
    assert "boom" in result.get("b").reason
    skipped = fake_task(check_fn=broken).check("needs a kind cluster")
    assert [s.passed for s in skipped.subchecks] == [False] * 3
    assert all(s.reason.startswith("skipped:") for s in skipped.subchecks)


def test_the_exam_and_the_lab_share_one_guard(monkeypatch):
    """One guard policy: a task's Check and its lab's run behind labs.guarded_check, and a checker
    that stops gives the same reason in both."""
    calls = []
    real = labs.guarded_check
    monkeypatch.setattr(labs, "guarded_check", lambda lab, title, problem: calls.append(title) or
                        real(lab, title, problem))
    monkeypatch.setattr(labs, "unavailable", lambda level: None)

    def wrong_context(task, r):
        raise E.CourseError("The kubeconfig's context is prod-eu.", "run `make cluster`.")
    task = fake_task(check_fn=wrong_context)
    in_exam, in_lab = task.check(), task.lab.check(record=False)
    assert calls == ["Task 1: Fake fake", "lab99-fake"]
    assert in_lab.get("checker").reason in in_exam.get("a").reason


def test_a_task_runs_its_labs_setup_solve_and_teardown(monkeypatch):
    """The exam calls the lab's methods (with their level probe and their cleanup), not its raw functions."""
    called = []
    for method in ("setup", "solve", "teardown"):
        monkeypatch.setattr(labs.Lab, method, lambda self, method=method, **kw: called.append((method, self.id)))
    task = fake_task()
    task.setup()
    task.solve()
    task.teardown()
    assert called == [("teardown", "lab99-fake"), ("setup", "lab99-fake"), ("solve", "lab99-fake"),
                      ("teardown", "lab99-fake")]


def test_a_tasks_setup_and_teardown_never_name_its_lab(monkeypatch, capsys, tmp_path):
    """The lab's setup and teardown print "<id> is ready: <title>" and "<id>: cleaned up"; in the
    mock exam that would say which lab a task is, so a task's own calls stay silent."""
    monkeypatch.setattr(labs.Lab, "_available", lambda self, what: True)
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    task = fake_task()
    task.lab._work_dir = tmp_path / "task"
    task.setup()
    task.teardown()
    printed = capsys.readouterr().out
    assert "lab99" not in printed and task.lab.title not in printed, printed
    task.lab.setup()
    assert "lab99-fake is ready" in capsys.readouterr().out      # the lab itself still says so


def test_check_rejects_undeclared_subchecks():
    def extra(task, r):
        r.add("zzz", True, "?")
    with pytest.raises(ValueError, match="zzz"):
        fake_task(check_fn=extra).check()


def result_of(passes: list[bool], name="t") -> CheckResult:
    r = CheckResult(name)
    for i, ok in enumerate(passes):
        r.add(f"c{i}", ok, "")
    return r


def test_score_is_the_tally_of_subchecks_and_skills_add_up():
    tasks = [E.TaskResult(1, "dockerfile", "D", "Dockerfile", "docker", result_of([True] * 6), 100, True, False),
             E.TaskResult(2, "publish-open", "P", "registries", "docker", result_of([True, False, False]), 50, False, False),
             E.TaskResult(3, "crash", "C", "troubleshooting", "docker", result_of([True, True, False]), 30, False, False),
             E.TaskResult(4, "pull", "I", "troubleshooting", "cluster", result_of([False] * 3), 0, False, True)]
    res = E.ExamResult(1, 20, 1500, "exam", tasks)
    assert (res.score, res.total, res.percent) == (9, 15, 60.0)
    assert [t.score for t in tasks] == [6, 1, 2, 0]
    assert res.skills() == {"Dockerfile": {"score": 6, "total": 6, "tasks": 1, "seconds": 100},
                            "registries": {"score": 1, "total": 3, "tasks": 1, "seconds": 50},
                            "troubleshooting": {"score": 2, "total": 6, "tasks": 2, "seconds": 30}}
    assert list(res.skills()) == [s for s in E.SKILLS if s in res.skills()]
    assert res.overtime  # 1500 s > 20 min
    record = res.record()
    assert record["tasks"][1]["subchecks"][0] == {"name": "c0", "passed": True, "reason": ""}
    assert "By skill: Dockerfile 6/6, registries 1/3, troubleshooting 2/6" in str(res)
    assert "9 / 15" in res._repr_html_()


def test_an_untouched_task_scores_nothing_for_the_checks_that_passed_at_the_start():
    def task(passes, baseline):
        return E.TaskResult(1, "rollout", "R", "rollouts", "cluster", result_of(passes), 5, False, False,
                            baseline=None if baseline is None else frozenset(baseline))
    guards_only = task([True, False, True], {"c0", "c2"})           # as set up: the guards pass
    assert guards_only.untouched and guards_only.score == 0 and guards_only.total == 3
    assert "unchanged from the start" in str(E.ExamResult(1, 20, 60, "exam", [guards_only]))
    progressed = task([True, True, False], {"c0", "c2"})            # the work done, one guard broken
    assert not progressed.untouched and progressed.score == 2
    assert task([True, False, True], None).score == 2                # no setup here: a plain tally
    assert task([False] * 3, set()).score == 0 and task([False] * 3, set()).record()["untouched"] is True


def test_time_is_booked_to_the_task_being_worked_on(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(E.time, "monotonic", lambda: clock[0])
    exam = E.Exam(5, 20)
    exam.start(thread=False)
    clock[0] += 5              # before any task is picked: booked to none
    exam.task(2)
    clock[0] += 30
    exam.task(1)
    clock[0] += 12
    exam.task(2)
    clock[0] += 8
    exam.stop()
    clock[0] += 100            # after the end: nothing more
    assert [round(t.seconds) for t in exam.tasks[:3]] == [12, 38, 0]
    assert exam.elapsed() == 55
    assert exam.remaining() == 20 * 60 - 55


def test_countdown_widget_and_clock_thread():
    exam = E.Exam(5, 1)
    widget = exam.start()
    assert "left" in widget.clock.value and exam._thread.is_alive()
    widget.selector.value = 3           # the learner clicks "Task 3"
    assert exam.current == 3
    exam.task(4)
    assert widget.selector.value == 4
    exam.stop()
    assert not exam._thread.is_alive()
    assert "Finished after" in widget.clock.value
    with pytest.raises(E.CourseError):
        exam.task(99)


def test_finish_saves_the_attempt(tmp_path, monkeypatch):
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setattr("ckalab.labs.unavailable", lambda level: None if level == "docker" else "no cluster")

    def half(task, r):
        r.add("a", True, "ok")
        r.add("b", False, "no")
    exam = E.Exam(11, 20)
    two = fake_task("two", "rollouts", ("p", "q"), level="cluster")
    two.number = 2
    exam.tasks = [fake_task("one", "Dockerfile", check_fn=half, names={"x": 1}), two]
    exam.start(thread=False)
    exam.task(1)
    result = exam.finish()
    assert (result.score, result.total) == (1, 5)
    assert result.tasks[1].skipped and not result.tasks[0].skipped
    saved = json.loads((tmp_path / "progress.json").read_text())["exams"]
    assert len(saved) == 1
    assert (saved[0]["seed"], saved[0]["score"], saved[0]["total"]) == (11, 1, 5)
    assert saved[0]["skills"] == {"Dockerfile": {"score": 1, "total": 3, "tasks": 1, "seconds": saved[0]["skills"]["Dockerfile"]["seconds"]},
                                  "rollouts": {"score": 0, "total": 2, "tasks": 1, "seconds": 0.0}}
    assert saved[0]["names"]["1"] == {"x": 1}
    assert saved[0]["tasks"][0]["seconds"] >= 0 and "time" in saved[0]
    assert progress.load()["exams"][0]["percent"] == 20.0


# ---------------------------------------------------------------- the checks are the labs'

def test_every_exam_check_is_its_labs_check():
    """The exam has no check logic of its own: a task runs its lab's check_fn, under the task's names,
    and the only sub-checks exam.py adds itself are the ones a failed or skipped check did not reach."""
    for seed in range(30):
        for task in T.draw(seed):
            lab = labs.get(task.template.lab)
            assert task.lab.check_fn is lab.check_fn and task.checks == lab.checks
            assert task.lab.names == {**lab.names, **task.names} and task.lab.work_dir == task.work_dir
    tree = ast.Module(body=[*ast.parse(Path(E.__file__).read_text()).body,
                            *ast.parse(Path(T.__file__).read_text()).body], type_ignores=[])
    adders = {fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
              for call in ast.walk(fn) if isinstance(call, ast.Call)
              and isinstance(call.func, ast.Attribute) and call.func.attr == "add"
              and ast.unparse(call.func.value) != "self.used"}      # the Picker's set of drawn names
    assert adders == {"_ordered"}, adders
    assert not any(isinstance(node, ast.Attribute) and node.attr == "subchecks" and isinstance(node.ctx, ast.Store)
                   for node in ast.walk(tree))


# ---------------------------------------------------------------- Docker-level tasks for real

DOCKER_KEYS = [t.key for t in T.TEMPLATES if T._level(t) == "docker"]


def task_for(key: str, seed: int = 4711) -> T.Task:
    rng = random.Random(seed)
    template = next(t for t in T.TEMPLATES if t.key == key)
    return T.Task(1, template, template.names(rng, T.Picker(rng)))


@pytest.fixture
def exam_docker_env(registries, tmp_path, monkeypatch):
    """Real Docker and registries; $HOME (lab04 reads ~/.docker) and progress in a temp dir."""
    from ckalab import cells, shell
    if not shell.which("podman") and cells.required_level() in ("docker", "cluster"):
        pytest.fail("CKALAB_REQUIRE needs Docker, and the exam's Podman task needs Podman too, which is not installed")
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return registries


@pytest.mark.cycle
@pytest.mark.parametrize("key", DOCKER_KEYS)
def test_docker_task_is_its_labs_full_cycle_under_the_exams_names(key, exam_docker_env):
    """setup -> fails on the lab's first_failure -> every wrong attempt fails -> solve -> full marks,
    all through the exam's Task, in the task's own folder, with none of the lab's own names."""
    from ckalab import shell
    task = task_for(key)
    if key == "podman" and not shell.which("podman"):
        pytest.skip("needs Podman")
    lab = task.lab
    scored = []

    def check(lab):
        result = task.check()
        scored.append(sum(s.passed for s in result.subchecks))
        assert [s.name for s in result.subchecks] == task.checks
        assert not any(str(v) in s.reason for s in result.subchecks for k, v in lab.defaults.items()
                       if isinstance(v, str) and "/" in v), result
        return result
    try:
        non_vacuity_cycle(lab, check)
        assert scored[-1] == len(task.checks) and scored[0] < len(task.checks)
        assert task.work_dir.is_dir() and lab.work_dir == task.work_dir != labs.get(lab.id).work_dir
    finally:
        task.teardown()
    assert not task.work_dir.exists()


def test_publish_task_does_not_count_an_earlier_attempts_push(exam_docker_env):
    task = task_for("publish-private", seed=8080)
    try:
        task.setup()
        task.solve()
        assert task.check().passed
        # A new attempt with the same seed: the tag is still in the registry, but it is another build.
        task.setup()
        assert task.check().get("pushed to the private registry").passed is False
    finally:
        task.teardown()


def test_every_task_varies_a_registered_lab():
    from ckalab import labs
    ids = {lab.id for lab in labs.all_labs()}
    for template in T.TEMPLATES:
        assert template.lab in ids, template.key
        assert (ROOT / "labs" / template.lab[3:] / f"{template.lab[3:]}.ipynb").exists(), template.lab


def test_result_points_unfinished_tasks_to_their_lab():
    done = E.TaskResult(1, "dockerfile", "D", "Dockerfile", "docker", result_of([True] * 6), 10, True, False,
                        "lab01-fix-dockerfile")
    open_ = E.TaskResult(2, "image-pull-error", "I", "troubleshooting", "cluster", result_of([False] * 3), 0,
                         False, True, "lab09-wrong-tag")
    text = str(E.ExamResult(1, 20, 60, "exam", [done, open_]))
    assert "practise: labs/09-wrong-tag/09-wrong-tag.ipynb" in text
    assert "labs/01-fix-dockerfile/01-fix-dockerfile.ipynb" not in text
