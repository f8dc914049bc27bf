"""ckalab.exam: seeded names, scoring as sub-check tallies, time per task, skills, saving the attempt,
and (with Docker) every Docker-level task: its starting state scores zero, its reference solution
scores full marks, a half-done answer scores in between."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ckalab import exam as E
from ckalab import progress
from ckalab.checks import CheckResult

ROOT = Path(__file__).resolve().parent.parent


def names_of(seed):
    return [(t.key, t.names) for t in E.draw(seed)]


# ---------------------------------------------------------------- randomisation

def test_same_seed_same_exam():
    assert names_of(123) == names_of(123)
    assert [t.statement() for t in E.draw(7)] == [t.statement() for t in E.draw(7)]


def test_different_seeds_differ():
    drawn = {json.dumps(names_of(seed), sort_keys=True) for seed in range(20)}
    assert len(drawn) == 20
    # Not only the order: the names themselves change (namespace, Deployment, repository, tag).
    for key in ("ns", "deploy", "repo", "tag"):
        values = {t.names.get(key) for seed in range(20) for t in E.draw(seed)} - {None}
        assert len(values) > 5, key


def test_draw_mixes_levels_and_never_repeats_a_name():
    for seed in range(50):
        tasks = E.draw(seed)
        assert [t.number for t in tasks] == list(range(1, len(tasks) + 1))
        assert sum(t.level == "docker" for t in tasks) == E.DOCKER_TASKS
        assert {t.key for t in tasks if t.level == "cluster"} == {"rollout", "pull-secret", "image-pull-error"}
        repos = [t.names["app"] for t in tasks]
        assert len(set(repos)) == len(repos)
        namespaces = [t.names["ns"] for t in tasks if "ns" in t.names]
        assert len(set(namespaces)) == len(namespaces)


def test_names_are_valid_kubernetes_and_docker_names():
    for seed in range(200):
        for task in E.draw(seed):
            names = E.names_in(task)
            for dns in names["dns"]:
                assert E.DNS_LABEL.match(dns) and len(dns) <= 63, (seed, dns)
            for container in names["container"]:
                assert E.CONTAINER_NAME.match(container) and container.startswith("exam-"), (seed, container)
            for ref in names["image"]:
                host, repo, tag = E.split_image(ref)
                assert all(E.REPO_COMPONENT.match(c) for c in repo.split("/")), (seed, ref)
                assert E.TAG.match(tag), (seed, ref)
                assert repo.startswith("exam-"), (seed, ref)
                assert host in (None, "localhost:5001", "localhost:5002", "private-registry:5000"), (seed, ref)


def test_name_rules_reject_bad_names():
    assert not E.DNS_LABEL.match("Payments-Prod")
    assert not E.DNS_LABEL.match("payments-")
    assert not E.REPO_COMPONENT.match("Exam-Team")
    assert not E.TAG.match(".1.0")
    assert E.split_image("localhost:5001/exam-a/b:1.2.3") == ("localhost:5001", "exam-a/b", "1.2.3")
    assert E.split_image("exam-b:ci-x") == (None, "exam-b", "ci-x")


def test_troubleshooting_tag_is_a_real_slip():
    for seed in range(100):
        for task in E.draw(seed):
            if task.key == "image-pull-error":
                good, bad = task.names["good"], task.names["bad"]
                assert good != bad and good.rsplit(":", 1)[0] == bad.rsplit(":", 1)[0]
            if task.key == "rollout":
                old = tuple(map(int, task.names["old"].rsplit(":", 1)[1].split(".")))
                new = tuple(map(int, task.names["new"].rsplit(":", 1)[1].split(".")))
                assert old < new


def test_solve_mode_is_fixed_and_short():
    exam = E.new(solve=True, minutes=20)
    assert exam.seed == E.SOLVE_SEED and exam.minutes == E.SOLVE_MINUTES and exam.mode == "solve"
    assert {t.key for t in exam.tasks if t.level == "docker"} == {"dockerfile", "crashing-container",
                                                                  "publish-private"}
    assert E.new(seed=99).seed == 99


def test_statements_hold_no_hints_or_solutions():
    for task in E.draw(E.SOLVE_SEED):
        text = task.markdown().lower()
        assert "hint" not in text
        assert "kubectl set image" not in text and "docker push" not in text and "docker login" not in text


# ---------------------------------------------------------------- scoring

def fake_template(key="fake", skill="rollouts", checks=("a", "b", "c"), check_fn=None, level="docker"):
    noop = lambda task: None  # noqa: E731
    return E.Template(key, skill, level, "test", f"Fake {key}", list(checks), lambda rng, pick: {},
                      lambda n: "do it", noop, check_fn or (lambda task, r: None), noop, noop)


def test_check_reports_exactly_the_declared_subchecks_in_order():
    def partial(task, r):
        r.add("b", True, "fine")
        r.add("a", False, "no")
    result = E.Task(1, fake_template(check_fn=partial), {}).check()
    assert [(s.name, s.passed) for s in result.subchecks] == [("a", False), ("b", True), ("c", False)]
    assert result.get("c").reason == E.NOT_CHECKED


def test_check_survives_a_checker_bug_and_a_missing_level():
    def broken(task, r):
        r.add("a", True, "fine")
        raise RuntimeError("boom")
    result = E.Task(1, fake_template(check_fn=broken), {}).check()
    assert [s.passed for s in result.subchecks] == [True, False, False]
    assert "boom" in result.get("b").reason
    skipped = E.Task(1, fake_template(check_fn=broken), {}).check("needs a kind cluster")
    assert [s.passed for s in skipped.subchecks] == [False] * 3
    assert all(s.reason.startswith("skipped:") for s in skipped.subchecks)


def test_check_rejects_undeclared_subchecks():
    def extra(task, r):
        r.add("zzz", True, "?")
    with pytest.raises(ValueError, match="zzz"):
        E.Task(1, fake_template(check_fn=extra), {}).check()


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
    exam.tasks = [E.Task(1, fake_template("one", "Dockerfile", check_fn=half), {"x": 1}),
                  E.Task(2, fake_template("two", "rollouts", ("p", "q"), level="cluster"), {})]
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


# ---------------------------------------------------------------- Docker-level tasks for real

DOCKER_KEYS = [t.key for t in E.TEMPLATES if t.level == "docker"]


def task_for(key: str, seed: int = 4711) -> E.Task:
    rng = E.random.Random(seed)
    template = next(t for t in E.TEMPLATES if t.key == key)
    return E.Task(1, template, template.names(rng, E.Picker(rng)))


@pytest.mark.parametrize("key", DOCKER_KEYS)
def test_docker_task_scores_zero_then_full(key, registries):
    task = task_for(key)
    try:
        task.template.teardown_fn(task)
        task.template.setup_fn(task)
        start = task.check()
        assert [s.passed for s in start.subchecks] == [False] * len(task.checks), start
        task.template.solve_fn(task)
        solved = task.check()
        assert solved.passed and len(solved.subchecks) == len(task.checks), solved
    finally:
        task.template.teardown_fn(task)


def test_dockerfile_task_half_done_scores_in_between(registries):
    task = task_for("dockerfile")
    try:
        task.template.teardown_fn(task)
        task.template.setup_fn(task)
        # Built as asked, but nothing fixed: shell form, ADD, root.
        assert E._build(task.work_dir, E._dockerfile_image(task.names)).ok
        result = task.check()
        assert {s.name: s.passed for s in result.subchecks} == {
            "image built": True, "COPY for local files": False, "non-root user": False, "exec form": False,
            "answers HTTP": True, "stops on SIGTERM": False}, result
    finally:
        task.template.teardown_fn(task)


def test_publish_task_does_not_count_an_earlier_attempts_push(registries):
    task = task_for("publish-open", seed=8080)
    try:
        task.template.setup_fn(task)
        task.template.solve_fn(task)
        assert task.check().passed
        # A new attempt with the same seed: the tag is still in the registry, but it is another image.
        task.template.teardown_fn(task)
        task.template.setup_fn(task)
        assert task.check().get("tagged").passed is False
        E._docker("tag", task.names["local"], E._publish_target(task.names))
        result = task.check()
        assert [s.passed for s in result.subchecks] == [True, True, False], result
    finally:
        task.template.teardown_fn(task)


def test_every_task_varies_a_registered_lab():
    from ckalab import labs
    ids = {lab.id for lab in labs.all_labs()}
    for template in E.TEMPLATES:
        assert template.lab in ids, template.key
        assert (ROOT / "labs" / f"{template.lab[3:]}.ipynb").exists(), template.lab


def test_result_points_unfinished_tasks_to_their_lab():
    done = E.TaskResult(1, "dockerfile", "D", "Dockerfile", "docker", result_of([True] * 6), 10, True, False,
                        "lab01-fix-dockerfile")
    open_ = E.TaskResult(2, "image-pull-error", "I", "troubleshooting", "cluster", result_of([False] * 3), 0,
                         False, True, "lab09-wrong-tag")
    text = str(E.ExamResult(1, 20, 60, "exam", [done, open_]))
    assert "practise: labs/09-wrong-tag.ipynb" in text
    assert "labs/01-fix-dockerfile.ipynb" not in text
