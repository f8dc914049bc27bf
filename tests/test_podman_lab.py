"""The Podman lab (labs/15-podman-build-run-push/lab.py).

Its helpers and its Check without Podman here; its full cycle, against real Podman (setup ->
Check fails on the expected sub-check -> each known-wrong attempt fails on its sub-check -> the
reference solution passes -> teardown, which leaves nothing of the lab in Podman's or Docker's
store and nothing else removed), is test_lab_cycles.py's podman_cycle.
"""

from __future__ import annotations

from ckalab import docker_checks, labs, registry, shell
from ckalab.docker_checks import dockerfile_instructions
from ckalab.errors import CourseError

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
    key, value = lab15.LABEL
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
