"""The Docker/registry labs (ckalab.docker_labs), against real Docker and the real registries.

For every lab, the non-vacuity sequence: setup -> Check fails on the expected sub-check ->
each known-wrong attempt fails on its sub-check -> the reference solution passes -> teardown.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ckalab import docker_labs, labs

DOCKER_LABS = [lab for lab in labs.all_labs() if lab.check_fn.__module__ == docker_labs.__name__]


def test_the_six_docker_labs_are_registered():
    assert [lab.id for lab in DOCKER_LABS] == [
        "lab01-fix-dockerfile", "lab02-shrink-image", "lab03-cache-order", "lab04-push-private",
        "lab05-pull-secret-manifest", "lab06-pin-digest"]
    assert all(lab.level == "docker" for lab in DOCKER_LABS)


# ---------------------------------------------------------------- pure helpers

def test_dockerfile_instructions_join_continuations_and_skip_comments():
    text = "# c\nFROM python:3.13-slim AS build\nRUN a \\\n  && b\n\n# x\nCOPY --from=build /a /b\n"
    assert docker_labs.dockerfile_instructions(text) == [
        (2, "FROM", "python:3.13-slim AS build"), (3, "RUN", "a && b"), (7, "COPY", "--from=build /a /b")]


def test_shell_form_is_recognised_from_the_image_config():
    assert docker_labs.is_shell_form(["/bin/sh", "-c", "python app.py"])
    assert docker_labs.is_shell_form(["sh", "-c", "python app.py --port 8080"])
    assert not docker_labs.is_shell_form(["python", "app.py"])
    assert not docker_labs.is_shell_form(None)


def test_layer_steps_skip_empty_layers():
    config = {"rootfs": {"diff_ids": ["sha256:a", "sha256:b", "sha256:c"]},
              "history": [{"created_by": "base"}, {"created_by": "ENV X=1", "empty_layer": True},
                          {"created_by": "WORKDIR /app"}, {"created_by": "RUN pip install -r r.txt"}]}
    assert docker_labs.layer_steps(config) == [
        ("sha256:a", "base"), ("sha256:b", "WORKDIR /app"), ("sha256:c", "RUN pip install -r r.txt")]


def test_server_host_ignores_scheme_and_path():
    assert docker_labs._server_host("private-registry:5000") == "private-registry:5000"
    assert docker_labs._server_host("http://private-registry:5000/v2/") == "private-registry:5000"
    assert docker_labs._server_host("localhost:5002") == "localhost:5002"


# ---------------------------------------------------------------- against real Docker

def _snapshot(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _check(lab):
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


@pytest.mark.docker
@pytest.mark.parametrize("lab", DOCKER_LABS, ids=lambda lab: lab.id)
def test_check_fails_for_setup_and_wrong_attempts_and_passes_the_solution(lab, lab_env):
    try:
        non_vacuity_cycle(lab, _check)
    finally:
        lab.teardown()
    assert not lab.work_dir.exists()


@pytest.mark.docker
def test_lab02_budget_is_the_base_image_plus_the_margin_and_the_fat_image_exceeds_it(lab_env):
    lab = labs.get("lab02-shrink-image")
    try:
        lab.reset()
        budget = docker_labs.lab02_budget()
        base = docker_labs.inspect_image("python:3.13-slim")["Size"]
        assert budget == base + docker_labs.LAB02_MARGIN_MB * 1_000_000
        assert docker_labs.inspect_image(docker_labs.LAB02_FAT)["Size"] > budget + 100_000_000
    finally:
        lab.teardown()


@pytest.mark.docker
def test_lab04_check_notices_a_login_in_the_home_docker_config(lab_env):
    lab = labs.get("lab04-push-private")
    try:
        lab.reset()
        lab.solve()
        assert lab.check().passed
        home_config = Path.home() / ".docker" / "config.json"
        home_config.parent.mkdir(parents=True, exist_ok=True)
        home_config.write_text('{"auths": {"localhost:5002": {"auth": "eDp5"}}}')
        result = lab.check()
        assert not result.get("~/.docker/config.json not used").passed
        assert result.get("pushed to the private registry").passed
    finally:
        lab.teardown()
