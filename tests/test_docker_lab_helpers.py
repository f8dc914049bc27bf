"""The Docker-level labs' helpers (labs 01-06: labs/NN-name/lab.py and ckalab.docker_checks), and
two of their Checks against real Docker and the real registries. Their full non-vacuity cycles
(setup -> first failure -> every wrong attempt -> solution -> teardown) are test_lab_cycles.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckalab import docker_checks, labs

PODMAN_LAB = "lab15-podman-build-run-push"      # a docker-level lab too; tests/test_podman_lab.py tests it
DOCKER_LABS = [lab for lab in labs.all_labs() if lab.level == "docker" and lab.id != PODMAN_LAB]


def test_every_docker_level_lab_folder_is_registered_at_that_level():
    """Every lab folder whose lab.py declares level="docker" is a registered Docker-level lab (no
    table of ids here: a new Docker lab is found from its folder)."""
    declared = sorted("lab" + path.parent.name for path in labs.labs_root().glob("[0-9]*/lab.py")
                      if 'level="docker"' in path.read_text())
    assert declared and [lab.id for lab in labs.all_labs() if lab.level == "docker"] == declared
    assert PODMAN_LAB in declared and len(DOCKER_LABS) == len(declared) - 1
    assert all(lab.level == "docker" for lab in DOCKER_LABS)


# ---------------------------------------------------------------- pure helpers

def test_dockerfile_instructions_join_continuations_and_skip_comments():
    text = "# c\nFROM python:3.13-slim AS build\nRUN a \\\n  && b\n\n# x\nCOPY --from=build /a /b\n"
    assert docker_checks.dockerfile_instructions(text) == [
        (2, "FROM", "python:3.13-slim AS build"), (3, "RUN", "a && b"), (7, "COPY", "--from=build /a /b")]


def test_shell_form_is_recognised_from_the_image_config():
    assert docker_checks.is_shell_form(["/bin/sh", "-c", "python app.py"])
    assert docker_checks.is_shell_form(["sh", "-c", "python app.py --port 8080"])
    assert not docker_checks.is_shell_form(["python", "app.py"])
    assert not docker_checks.is_shell_form(None)


def test_layer_steps_skip_empty_layers():
    config = {"rootfs": {"diff_ids": ["sha256:a", "sha256:b", "sha256:c"]},
              "history": [{"created_by": "base"}, {"created_by": "ENV X=1", "empty_layer": True},
                          {"created_by": "WORKDIR /app"}, {"created_by": "RUN pip install -r r.txt"}]}
    assert labs.module("lab03-cache-order").layer_steps(config) == [
        ("sha256:a", "base"), ("sha256:b", "WORKDIR /app"), ("sha256:c", "RUN pip install -r r.txt")]


def test_server_host_ignores_scheme_and_path():
    assert labs.module("lab05-pull-secret-manifest")._server_host("private-registry:5000") == "private-registry:5000"
    assert labs.module("lab05-pull-secret-manifest")._server_host("http://private-registry:5000/v2/") == "private-registry:5000"
    assert labs.module("lab05-pull-secret-manifest")._server_host("localhost:5002") == "localhost:5002"


# ---------------------------------------------------------------- against real Docker

@pytest.mark.docker
def test_lab02_budget_is_the_base_image_plus_the_margin_and_the_fat_image_exceeds_it(lab_env):
    lab = labs.get("lab02-shrink-image")
    try:
        lab.reset()
        lab02 = labs.module("lab02-shrink-image")
        budget = lab02.size_budget()
        base = docker_checks.inspect_image("python:3.13-slim")["Size"]
        assert budget == base + lab02.MARGIN_MB * 1_000_000
        assert docker_checks.inspect_image(lab.names["fat"])["Size"] > budget + 100_000_000
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
