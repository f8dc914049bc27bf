"""ckalab.multiplatform: the course's builder, what a registry reference offers, and emulation.

The registry reads run against a stub with the two shapes BuildKit pushes (an index with
attestation manifests, recorded from a real push here, and a single image); the builder and
emulation calls against a stubbed `docker`; making and removing a builder on the real engine. The
real builds, pushes and runs are in lesson 13 and lab 20, executed in CI on the real engine and cluster.
"""

from __future__ import annotations

import json
import shutil

import pytest

from ckalab import cells, multiplatform, settings, shell
from ckalab.__main__ import main
from ckalab.errors import CourseError
from ckalab.registry import Manifest

INDEX_DIGEST = "sha256:44adbc502b8ece9c6ad70143cc60fe70263247b868795d5ce550e159123e5727"
AMD64 = "sha256:" + "1" * 64
ARM64 = "sha256:" + "2" * 64
# The index `docker buildx build --platform linux/amd64,linux/arm64 --push` wrote (BuildKit v0.34.2):
# one image per platform, and one provenance attestation manifest per image.
INDEX = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": AMD64, "size": 1234,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ARM64, "size": 1234,
     "platform": {"architecture": "arm64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "3" * 64, "size": 566,
     "annotations": {"vnd.docker.reference.digest": AMD64, "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "4" * 64, "size": 566,
     "annotations": {"vnd.docker.reference.digest": ARM64, "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}}]}


class StubRegistry:
    def __init__(self, manifests: dict, blobs: dict):
        self.manifests, self.blobs = manifests, blobs

    def manifest(self, repository, reference):
        media_type, digest, body = self.manifests[(repository, reference)]
        return Manifest(reference=reference, digest=digest, media_type=media_type, body=body)

    def blob_json(self, repository, digest):
        return self.blobs[digest]


def test_an_index_offers_its_platforms_and_keeps_attestations_apart():
    api = StubRegistry({("nb13/hello", "1.0"): ("application/vnd.oci.image.index.v1+json", INDEX_DIGEST, INDEX)}, {})
    offers = multiplatform.offers("localhost:5001/nb13/hello:1.0", api=api)
    assert offers.is_index and offers.digest == INDEX_DIGEST
    assert offers.platforms == ["linux/amd64", "linux/arm64"]
    assert [e.attestation_for for e in offers.entries if e.is_attestation] == [AMD64, ARM64]
    assert offers.serves("linux/amd64") and offers.serves("linux/arm64/v8") and not offers.serves("linux/s390x")
    assert offers.describe() == ("localhost:5001/nb13/hello:1.0 is an index of linux/amd64, linux/arm64 "
                                 "(+2 attestation manifests)")


def test_a_single_image_offers_the_platform_in_its_config():
    config = "sha256:" + "5" * 64
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 9},
                "layers": []}
    api = StubRegistry({("metrics-agent", "3.2"): ("application/vnd.oci.image.manifest.v1+json", ARM64, manifest),
                        ("metrics-agent", ARM64): ("application/vnd.oci.image.manifest.v1+json", ARM64, manifest)},
                       {config: {"os": "linux", "architecture": "arm64", "variant": "v8"}})
    offers = multiplatform.offers("localhost:5001/metrics-agent:3.2", api=api)
    assert not offers.is_index and offers.platforms == ["linux/arm64/v8"]
    assert offers.serves("linux/arm64") and not offers.serves("linux/amd64")
    assert offers.describe() == "localhost:5001/metrics-agent:3.2 is a single image for linux/arm64/v8"
    # A Pod's imageID names the digest it runs: it reads the same way.
    assert multiplatform.offers(f"localhost:5001/metrics-agent@{ARM64}", api=api).platforms == ["linux/arm64/v8"]


def test_the_other_platform_is_the_other_of_amd64_and_arm64():
    assert multiplatform.other_platform("linux/amd64") == "linux/arm64"
    assert multiplatform.other_platform("linux/arm64") == "linux/amd64"


def test_the_learners_builder_is_ckalab_and_a_test_state_gets_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("CKALAB_STATE_DIR", raising=False)
    assert settings.load().builder_name == "ckalab"
    monkeypatch.setenv("CKALAB_STATE_DIR", str(tmp_path / "a"))
    first = settings.load().builder_name
    monkeypatch.setenv("CKALAB_STATE_DIR", str(tmp_path / "b"))
    assert first.startswith("ckalab-") and first != settings.load().builder_name


def test_the_builder_gets_a_buildkitd_config_only_when_one_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("CKALAB_BUILDKITD_CONFIG", raising=False)
    assert "--buildkitd-config" not in multiplatform.create_command()
    assert "--driver docker-container --driver-opt network=host" in multiplatform.create_command()
    monkeypatch.setenv("CKALAB_BUILDKITD_CONFIG", str(tmp_path / "buildkitd.toml"))
    assert f"--buildkitd-config {tmp_path / 'buildkitd.toml'}" in multiplatform.create_command()
    assert multiplatform.ensure_command().startswith(f"docker buildx inspect {multiplatform.builder()} >/dev/null 2>&1 || ")


def test_a_single_platform_without_provenance_pushes_no_index():
    args = multiplatform.build_command("ctx", "localhost:5001/a:1", ["linux/arm64"], provenance=False,
                                       build_args={"APP_VERSION": "1"})
    assert args[:4] == ["docker", "buildx", "build", "--builder"]
    assert ["--platform", "linux/arm64", "--provenance=false", "--build-arg", "APP_VERSION=1"] == args[5:10]
    assert args[-3:] == ["localhost:5001/a:1", "--push", "ctx"]


def test_explain_run_tells_exec_format_error_from_other_failures(capsys):
    multiplatform.explain_run(shell.Result("docker", 1, "exec /usr/local/bin/python3: exec format error\n"), "linux/arm64")
    said = capsys.readouterr().out
    assert "no emulator is registered" in said and "exit status 1" in said
    multiplatform.explain_run(shell.Result("docker", 0, "running on aarch64\n"), "linux/arm64")
    assert "it ran" in capsys.readouterr().out
    with pytest.raises(CourseError, match="another reason"):
        multiplatform.explain_run(shell.Result("docker", 125, "Unable to find image\n"), "linux/arm64")
    multiplatform.explain_run(None, "linux/arm64")     # a skipped cell: nothing to say


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setenv("CKALAB_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setattr(cells._run, "notebook", "13-multi-platform-images")
    monkeypatch.setattr(cells._run, "require", "none")
    return lambda: cells.read_report("13-multi-platform-images", tmp_path / "reports")


def test_a_change_to_the_machine_is_skipped_visibly_unless_allowed(reports, capsys):
    assert cells.permitted(False, "emulation", "registering QEMU", "set EMULATION = True") is False
    assert "skipped" in capsys.readouterr().out.lower()
    assert reports()["emulation"] == {"executed": 0, "skipped": 1}
    assert cells.permitted(True, "emulation", "registering QEMU", "set EMULATION = True") is True
    assert reports()["emulation"] == {"executed": 1, "skipped": 0}     # the same cell, run again


def test_a_run_that_requires_a_level_fails_instead_of_skipping_a_change(reports, monkeypatch):
    monkeypatch.setattr(cells._run, "require", "cluster")
    with pytest.raises(CourseError, match="EMULATION"):
        cells.permitted(False, "emulation", "registering QEMU", "set EMULATION = True")


class FakeBinfmt:
    """`docker run --privileged --rm tonistiigi/binfmt [--install A | --uninstall N]` on a kernel
    that starts with `emulators` registered."""

    def __init__(self, monkeypatch, emulators=()):
        self.emulators = set(emulators)
        self.calls = []
        monkeypatch.setattr(multiplatform.shell, "run", self.run)

    def run(self, args, **kwargs):
        self.calls.append(args)
        if "--install" in args:
            self.emulators.add("qemu-aarch64")
        if "--uninstall" in args:
            self.emulators -= set(args[-1].split(","))
        supported = ["linux/amd64"] + (["linux/arm64"] if "qemu-aarch64" in self.emulators else [])
        return shell.Result("docker", 0, json.dumps({"supported": supported, "emulators": sorted(self.emulators)}))


def test_the_course_removes_only_the_emulator_it_installed(isolated_state, monkeypatch, capsys):
    fake = FakeBinfmt(monkeypatch)
    assert multiplatform.remove_emulation() == "the course installed no emulator here; binfmt_misc is left as it is"
    assert "installed qemu-aarch64" in multiplatform.install_emulation("arm64")
    assert "--install" in capsys.readouterr().out
    assert "removed qemu-aarch64" in multiplatform.remove_emulation()
    assert fake.emulators == set()
    assert not any("--uninstall" in c for c in fake.calls[:-2] if c[-1] != "qemu-aarch64")


def test_an_emulator_that_was_there_before_stays(isolated_state, monkeypatch):
    fake = FakeBinfmt(monkeypatch, emulators={"qemu-aarch64"})
    assert "already runs here" in multiplatform.install_emulation("arm64")
    assert "installed no emulator" in multiplatform.remove_emulation()
    assert fake.emulators == {"qemu-aarch64"} and not any("--uninstall" in c for c in fake.calls)


def test_a_status_that_is_not_json_names_the_fix(isolated_state, monkeypatch):
    monkeypatch.setattr(multiplatform.shell, "run", lambda args, **kw: shell.Result(
        "docker", 125, "docker: Error response from daemon: privileged mode is incompatible with user namespaces."))
    with pytest.raises(CourseError, match="rootless"):
        multiplatform.emulation()


def test_an_engine_that_cannot_run_the_installer_gets_a_skip_that_names_why(isolated_state, reports, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(cells, "requires", lambda level, what: True)
    monkeypatch.setattr(multiplatform.shell, "run", lambda args, **kw: shell.Result(
        "docker", 125, "docker: Error response from daemon: privileged mode is incompatible with user namespaces."))
    assert multiplatform.may_change(True, "registering QEMU") is False
    out = capsys.readouterr().out
    assert "did not print its status" in out and "rootless" in out
    assert reports()["emulation"] == {"executed": 0, "skipped": 1}


def test_removing_the_builder_also_finds_a_container_buildx_forgot(isolated_state, monkeypatch):
    calls = []

    def run(args, **kwargs):
        calls.append(args)
        forgot = args[:3] == ["docker", "buildx", "rm"]  # a fresh state directory: no record
        return shell.Result("docker", 1 if forgot else 0, "ERROR: no builder found" if forgot else "")

    monkeypatch.setattr(multiplatform.shell, "run", run)
    name = multiplatform.builder(isolated_state)
    assert multiplatform.remove_builder(isolated_state) is True
    assert calls == [["docker", "buildx", "rm", "--keep-state", name],
                     ["docker", "container", "inspect", f"buildx_buildkit_{name}0"],
                     ["docker", "rm", "--force", f"buildx_buildkit_{name}0"]]
    # Neither a record nor a container: `docker rm --force` would exit 0 all the same.
    monkeypatch.setattr(multiplatform.shell, "run", lambda args, **kw: shell.Result(
        "docker", 0 if args[1] == "rm" else 1, ""))
    assert multiplatform.remove_builder(isolated_state) is False


def _docker_has(kind: str, name: str) -> bool:
    return shell.run(["docker", kind, "inspect", name], timeout=30).ok


def test_a_removed_builder_leaves_no_container_and_keeps_its_cache(docker_env, isolated_state, capsys):
    """Real engine: a builder of this test's own is made, removed (its cache volume stays), and
    removed again after buildx forgot it, as at the start of the next `make test`."""
    container = multiplatform.builder_container(isolated_state)
    try:
        multiplatform.ensure_builder(isolated_state)
        assert _docker_has("container", container)
        assert main(["builder-delete"]) == 0
        assert "its build cache stays in the volume" in capsys.readouterr().out
        assert not _docker_has("container", container) and _docker_has("volume", f"{container}_state")
        assert main(["builder-delete"]) == 0 and "No builder" in capsys.readouterr().out

        multiplatform.ensure_builder(isolated_state)
        shutil.rmtree(isolated_state.docker_config_dir / "buildx")
        assert multiplatform.remove_builder(isolated_state) and not _docker_has("container", container)
    finally:
        shell.run(["docker", "rm", "--force", container], timeout=60)
        shell.run(["docker", "volume", "rm", "--force", f"{container}_state"], timeout=60)
