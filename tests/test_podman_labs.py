"""The Podman lab (labs/15-podman-build-run-push/lab.py), against real Podman, Docker and the real registries.

The non-vacuity sequence, as for the Docker labs: setup -> Check fails on the expected sub-check ->
each known-wrong attempt fails on its sub-check -> the reference solution passes -> teardown,
which leaves nothing of the lab in Podman's or Docker's store and nothing else removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckalab import cells, labs, registry, shell
from ckalab import docker_checks
from ckalab.docker_checks import dockerfile_instructions
from ckalab.errors import CourseError

ROOT = Path(__file__).resolve().parent.parent
LAB_ID = "lab15-podman-build-run-push"
lab15 = labs.module(LAB_ID)
PODMAN_LABS = [lab for lab in labs.all_labs() if lab.check_fn.__module__ == lab15.__name__]


def test_the_podman_lab_is_registered():
    assert [lab.id for lab in PODMAN_LABS] == [LAB_ID]
    lab = PODMAN_LABS[0]
    assert lab.level == "docker" and lab.first_failure == "built with Podman"
    assert lab.work_dir.name == "lab15"


# ---------------------------------------------------------------- pure helpers

def test_the_startup_line_names_the_container():
    match = lab15.STARTUP.match("sun-cipher v1 listening on :8080 in container f791080721fe")
    assert match and match.group(1) == "f791080721fe"
    assert not lab15.STARTUP.match("sun-cipher: GET / from 10.88.0.1")


def test_log_lines_drop_blank_lines_and_podman_timestamps():
    text = ("2026-12-01T15:14:12.446287548Z sun-cipher v1 listening on :8080 in container abc\n\n"
            "sun-cipher: GET / from 10.88.0.1  \n")
    assert lab15.log_lines(text) == ["sun-cipher v1 listening on :8080 in container abc",
                                           "sun-cipher: GET / from 10.88.0.1"]


def test_json_skips_warning_lines_and_failed_commands():
    warned = shell.Result("podman image inspect x", 0, 'WARN[0000] something odd\n[{"Id": "abc"}]\n')
    assert lab15._json(warned) == [{"Id": "abc"}]
    assert lab15._json(shell.Result("podman image inspect x", 125, "[]\nError: x: image not known\n")) is None
    assert lab15._json(shell.Result("podman", 0, "no json here\n")) is None


class FakeAPI:
    def __init__(self, manifests: dict):
        self.manifests = manifests

    def manifest(self, repository, reference):
        if reference not in self.manifests:
            raise CourseError("The registry x has nothing to read (404 Not Found).", "push it.")
        media, body = self.manifests[reference]
        return registry.Manifest(reference, f"sha256:{reference}", media, body)


def test_pushed_config_digest_reads_the_config_of_a_manifest_or_of_an_index():
    oci = "application/vnd.oci.image.manifest.v1+json"
    plain = FakeAPI({"v1": (oci, {"config": {"digest": "sha256:c1"}})})
    assert docker_checks.pushed_config_digest(plain, "lab15/sun-cipher", "v1") == "sha256:c1"
    assert docker_checks.pushed_config_digest(plain, "lab15/sun-cipher", "v2") is None
    index = FakeAPI({
        "v1": ("application/vnd.oci.image.index.v1+json", {"manifests": [
            {"digest": "att", "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": "amd64", "platform": {"os": "linux", "architecture": "amd64"}}]}),
        "amd64": (oci, {"config": {"digest": "sha256:c2"}})})
    assert docker_checks.pushed_config_digest(index, "lab15/sun-cipher", "v1") == "sha256:c2"


def test_the_lab_dockerfile_sets_the_label_the_check_reads_and_runs_the_app_as_pid_1():
    folder = labs.get(LAB_ID).files
    steps = dockerfile_instructions((folder / "Dockerfile").read_text())
    key, value = lab15.LAB15_LABEL
    assert ("LABEL", f'{key}="{value}"') in [(ins, args) for _, ins, args in steps]
    assert ("CMD", '["python", "/app/app.py"]') in [(ins, args) for _, ins, args in steps]
    app = (folder / "app.py").read_text()
    assert "signal.SIGTERM" in app and "flush=True" in app


def test_check_without_podman_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    real_which = shell.which
    monkeypatch.setattr(shell, "which", lambda program: None if program == "podman" else real_which(program))
    result = labs.get(LAB_ID).check()
    first = result.subchecks[0]
    assert first.name == "built with Podman" and not first.passed
    assert "Podman is not installed" in first.reason and "\n" not in first.reason
    assert [s.name for s in result.subchecks] == labs.get(LAB_ID).checks


# ---------------------------------------------------------------- against real Podman and registries

def _check(lab):
    """Check, and prove it left the learner's files alone and never raised into a 'checker' line."""
    from test_lab_cycles import checked_read_only   # not at the top: test_lab_cycles imports this module
    result = checked_read_only(lab)
    assert all(s.name in lab.checks for s in result.subchecks), str(result)
    assert all("\n" not in s.reason for s in result.subchecks), str(result)
    return result


@pytest.fixture
def podman_lab_env(registries, tmp_path, monkeypatch):
    """Real Docker, registries and Podman; progress and $HOME in a temp dir."""
    if not shell.which("podman"):
        if cells.required_level() in ("docker", "cluster"):
            pytest.fail("CKALAB_REQUIRE needs Docker, and lab15 needs Podman too, which is not installed")
        pytest.skip("needs Podman")
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return registries


BYSTANDER = "localhost/ckalab-test/bystander:keep"
# What each wrong attempt's failing sub-check must say (it names the fix, in one line).
REASONS = {
    "built, run and pushed with Docker": "it is in Docker's, which Podman does not see",
    "pushed to the open registry": "this build went to the open registry",
    "logs saved from an earlier container": "holds the logs of another container",
    "container stopped after the logs were saved": "is exited (exit code 0)",
}


def _podman_has(reference: str) -> bool:
    return lab15.podman("image", "exists", reference).ok


def podman_cycle(lab) -> None:
    """Lab 15's full cycle (tests/test_lab_cycles.py runs it), with what only Podman has: each wrong
    attempt's reason, a second Check, and a bystander image in Podman's store that teardown keeps."""
    from test_lab_cycles import non_vacuity_cycle
    image = lab15._image(lab)
    # Something that is not the lab's, on the same base image: teardown must leave it.
    assert lab15.podman("tag", "docker.io/library/python:3.13-slim", BYSTANDER).ok

    def fresh_setup():
        assert (lab.work_dir / "image" / "Dockerfile").exists() and not (lab.work_dir / "logs").exists()

    def reason_names_the_mistake(attempt, result):
        assert REASONS[attempt.name] in result.get(attempt.fails).reason, str(result)

    try:
        non_vacuity_cycle(lab, _check, after_setup=fresh_setup, after_attempt=reason_names_the_mistake)
        # A second Check still passes: its own request only adds a log line the file need not have.
        assert _check(lab).passed
    finally:
        lab.teardown()
    assert not lab.work_dir.exists()
    assert lab15.podman_container(lab.names["container"]) is None
    assert not _podman_has(image)
    assert _podman_has(BYSTANDER) and _podman_has("docker.io/library/python:3.13-slim")
    lab15.podman("rmi", BYSTANDER)
