"""The doctor: what it finds on this machine, levels, and its outputs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ckalab import doctor, shell
from ckalab.__main__ import main


def test_levels():
    assert doctor.Environment().level == "none"
    assert doctor.Environment(docker=True).level == "docker"
    assert doctor.Environment(docker=True, cluster=True).level == "cluster"
    assert doctor.Environment(cluster=True).level == "none"  # a cluster without Docker is unusable here
    env = doctor.Environment(docker=True)
    assert env.has("none") and env.has("docker") and not env.has("cluster")


def test_diagnose_finds_the_docker_engine(docker_env):
    check = docker_env.check("docker engine")
    assert check.ok and "Docker Engine" in check.detail
    assert docker_env.has("docker")


def test_diagnose_reports_registries(registries):
    env = doctor.diagnose(registries)
    assert env.check(f"open registry {registries.open_registry}").ok
    assert env.check(f"private registry {registries.private_registry}").ok


def test_every_failed_check_names_a_fix(docker_env):
    for check in docker_env.checks:
        assert check.ok or check.fix, check


def test_text_and_html_outputs(docker_env):
    text = str(docker_env)
    assert "docker engine" in text and "Level:" in text
    assert "<table>" in docker_env._repr_html_()


def test_cli_json(capsys, docker_env):
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["level"] in ("docker", "cluster")
    assert any(c["name"] == "docker engine" and c["ok"] for c in data["checks"])


def test_no_docker_marks_the_rest_optional(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    env = doctor.diagnose()
    assert env.level == "none"
    assert not env.check("docker engine").ok
    assert env.missing() == [env.check("docker engine")]


def test_kubectl_version_skew_is_reported():
    # Kubernetes' version skew policy: kubectl within one minor version of the API server (v1.37).
    assert doctor.kubectl_skew_note("v1.37.0") == ""
    assert doctor.kubectl_skew_note("v1.36.4") == "" and doctor.kubectl_skew_note("v1.38.1") == ""
    assert "supported version skew" in doctor.kubectl_skew_note("v1.32.4-dispatcher")


def test_an_out_of_skew_kubectl_is_a_warning_with_the_fix(monkeypatch, tmp_path):
    fake = tmp_path / "kubectl"
    fake.write_text('#!/bin/sh\necho \'{"clientVersion": {"gitVersion": "v1.32.4"}}\'\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    check = doctor.check_tool("kubectl", ["version", "--client", "-o", "json"], doctor.INSTALL_KUBECTL)
    assert check.mark == "warn" and check.shows_fix
    assert "install kubectl v1.36 to v1.38" in check.fix and "v1.32.4" in check.detail


def test_the_cluster_line_names_only_the_missing_tool(isolated_state):
    check = doctor.check_cluster(isolated_state, docker_ok=True, kind_ok=False, kubectl_ok=True)
    assert check.detail == "needs kind first"


# ---------------------------------------------------------------- output format

def test_text_rows_keep_their_format_and_warnings_show_a_fix():
    env = doctor.Environment(checks=[doctor.Check("docker engine", True, "Docker Engine 28"),
                                     doctor.Check("kind", False, "not installed", "install kind")])
    assert str(env).splitlines()[:3] == ["ok  docker engine  Docker Engine 28",
                                         "NO  kind           not installed",
                                         "                   fix: install kind"]
    env.checks.append(doctor.Check("cgroup v2", True, "cgroup v1", "use a cgroup v2 host", warning=True))
    lines = str(env).splitlines()
    assert lines[0] == "ok    docker engine  Docker Engine 28"
    assert lines[3] == "warn  cgroup v2      cgroup v1"
    assert lines[4] == "                     fix: use a cgroup v2 host"
    assert env.missing() == [env.check("kind")] and env.warnings() == [env.check("cgroup v2")]
    page = env._repr_html_()
    assert ">WARN</span>" in page and ">NO</span>" in page and "use a cgroup v2 host" in page
    # Status words, not emoji: without an emoji font those render as the same empty box.
    assert not any(ord(ch) > 0x2000 for ch in page), [ch for ch in page if ord(ch) > 0x2000]


# ---------------------------------------------------------------- kind version

def test_kind_version_is_parsed_from_kind_version_output():
    assert doctor.parse_kind_version("kind v0.33.0 go1.27.2 linux/amd64") == (0, 33, 0)
    assert doctor.parse_kind_version("kind v0.31.0-alpha+2a1b go1.25.1 darwin/arm64") == (0, 31, 0)
    assert doctor.parse_kind_version("something else") is None


@pytest.mark.parametrize("output,ok", [
    ("kind v0.33.0 go1.27.2 linux/amd64", True),
    ("kind v0.32.0 go1.26.0 linux/amd64", True),
    ("kind v0.31.0 go1.25.1 linux/amd64", False),
    ("kind v0.20.0 go1.20.4 linux/amd64", False),
])
def test_a_kind_older_than_v0_32_is_a_problem(tmp_path, monkeypatch, output, ok):
    fake = tmp_path / "kind"
    fake.write_text(f"#!/bin/sh\necho '{output}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    check = doctor.check_tool("kind", ["version"], doctor.INSTALL_KIND)
    assert check.ok is ok, check
    if ok:
        assert check.detail == output
    else:
        assert "kubeadm v1.37 rejects the v1beta3 config older kind writes" in check.detail
        assert "install kind v0.33.0" in check.fix and "\n" not in check.fix


# ---------------------------------------------------------------- cgroups

def _mounts(tmp_path, *lines):
    path = tmp_path / "mounts"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


V2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0"
HYBRID = ["tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0",
          "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0",
          "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0"]


def test_cgroup_fs_type_reads_the_mount_table(tmp_path):
    assert doctor.cgroup_fs_type(mounts=_mounts(tmp_path, "proc /proc proc rw 0 0", V2)) == "cgroup2fs"
    assert doctor.cgroup_fs_type(mounts=_mounts(tmp_path, *HYBRID)) == "tmpfs"
    assert doctor.cgroup_fs_type("/elsewhere", mounts=_mounts(tmp_path, V2)) is None
    assert doctor.cgroup_fs_type(mounts=tmp_path / "absent") is None


def test_cgroup_v2_host_is_ok(tmp_path):
    check = doctor.check_cgroups(mounts=_mounts(tmp_path, V2))
    assert check.ok and not check.warning and "cgroup2fs" in check.detail


def test_cgroup_v1_host_is_a_warning_with_the_fix(tmp_path):
    check = doctor.check_cgroups(mounts=_mounts(tmp_path, *HYBRID))
    assert check.warning and check.ok  # a warning: it does not change the level
    assert "tmpfs" in check.detail and "failCgroupV1: false" in check.detail
    assert "kind clusters will not start" in check.detail
    assert "systemd.unified_cgroup_hierarchy=1" in check.fix and "Docker Desktop" in check.fix


def test_the_engines_cgroup_version_decides(tmp_path):
    # Docker Desktop / Colima: the engine (and kind's nodes) run in a VM with cgroup v2.
    assert not doctor.check_cgroups({"CgroupVersion": "2"}, mounts=_mounts(tmp_path, *HYBRID)).warning
    assert not doctor.check_cgroups({"CgroupVersion": "2"}, mounts=tmp_path / "absent").warning
    # An engine on a cgroup v1 host is a warning even where this machine has cgroup v2.
    check = doctor.check_cgroups({"CgroupVersion": "1"}, mounts=_mounts(tmp_path, V2))
    assert check.warning and "Docker reports cgroup v1" in check.detail
    unknown = doctor.check_cgroups({}, mounts=tmp_path / "absent")
    assert unknown.ok and not unknown.warning and "unknown" in unknown.detail


# ---------------------------------------------------------------- Docker endpoint and context

def _fingerprint_tree(root: Path) -> dict:
    if not root.exists():
        return {"absent": True}
    out = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = (digest, stat.st_mode, stat.st_mtime_ns)
    out["."] = root.stat().st_mtime_ns
    return out


@pytest.fixture
def learner_home(tmp_path, monkeypatch, isolated_state):
    """$HOME in a temp dir (and a throwaway course root), with no Docker variables that would
    hide the context."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def _context(config_dir: Path, name: str, host: str, current: bool = True) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Metadata": {"Description": name}, "Endpoints": {"docker": {"Host": host}}}))
    if current:
        (config_dir / "config.json").write_text(json.dumps(
            {"auths": {"example.invalid": {"auth": "eDp5"}}, "currentContext": name}))


def test_docker_host_wins_over_the_context(learner_home, monkeypatch):
    _context(learner_home / ".docker", "colima", f"unix://{learner_home}/.colima/default/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/elsewhere.sock")
    endpoint = shell.docker_endpoint()
    assert endpoint.host == "unix:///tmp/elsewhere.sock" and endpoint.source == "DOCKER_HOST"


def test_colima_context_is_followed_and_explained(learner_home):
    sock = f"unix://{learner_home}/.colima/default/docker.sock"
    _context(learner_home / ".docker", "colima", sock)
    endpoint = shell.docker_endpoint()
    assert endpoint.host == sock and endpoint.source == "docker context colima"
    assert shell.course_env()["DOCKER_HOST"] == sock  # the course's docker commands use it too
    small = doctor.check_docker_endpoint(endpoint, {"MemTotal": 2 * 1024 ** 3, "NCPU": 2})
    assert small.warning and "Colima" in small.detail and "2 CPUs, 2.0 GiB" in small.detail
    assert "colima start --cpu 4 --memory 8" in small.fix
    big = doctor.check_docker_endpoint(endpoint, {"MemTotal": 8 * 1024 ** 3, "NCPU": 4})
    assert big.ok and not big.warning and "Colima" in big.detail


def test_the_learners_context_is_read_from_home_not_the_course_docker_config(learner_home, monkeypatch,
                                                                              isolated_state):
    _context(learner_home / ".docker", "colima", f"unix://{learner_home}/.colima/default/docker.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(isolated_state.docker_config_dir))  # set by ck.start()
    assert shell.docker_endpoint().context == "colima"
    other = learner_home / "other-docker-config"
    other.mkdir()
    _context(other, "desktop-linux", f"unix://{learner_home}/.docker/run/docker.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(other))  # the learner's own DOCKER_CONFIG is honoured
    assert shell.docker_endpoint().source == "docker context desktop-linux"


def test_a_tcp_context_is_reported_not_followed(learner_home):
    _context(learner_home / ".docker", "remote", "tcp://build-box.example:2376")
    endpoint = shell.docker_endpoint()
    assert endpoint.source != "docker context remote" and endpoint.context_host == "tcp://build-box.example:2376"
    check = doctor.check_docker_endpoint(endpoint, {})
    assert check.warning and "'remote'" in check.detail
    assert "export DOCKER_HOST=tcp://build-box.example:2376" in check.fix


def test_a_context_without_metadata_is_a_warning(learner_home):
    (learner_home / ".docker").mkdir()
    (learner_home / ".docker" / "config.json").write_text('{"currentContext": "gone"}')
    check = doctor.check_docker_endpoint(shell.docker_endpoint(), {})
    assert check.warning and "no metadata" in check.detail and "docker context ls" in check.fix


def test_rootless_docker_is_named_with_what_kind_needs(learner_home, monkeypatch, tmp_path):
    runtime = tmp_path / "run-user"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{runtime}/docker.sock")
    endpoint = shell.docker_endpoint()
    cgroup = tmp_path / "cgroup"
    service = cgroup / "user.slice" / f"user-{os.getuid()}.slice" / f"user@{os.getuid()}.service"
    service.mkdir(parents=True)
    (service / "cgroup.controllers").write_text("memory pids\n")
    check = doctor.check_docker_endpoint(endpoint, {}, cgroup_root=cgroup)
    assert check.warning and "rootless Docker" in check.detail and "cgroup v2" in check.detail
    assert "kind.sigs.k8s.io/docs/user/rootless" in check.detail and "Delegate=yes" in check.fix
    (service / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    check = doctor.check_docker_endpoint(endpoint, {}, cgroup_root=cgroup)
    assert check.ok and not check.warning and "delegated: cpu cpuset io memory pids" in check.detail
    # The engine saying so is enough, whatever its socket.
    other = shell.DockerEndpoint("unix:///var/run/docker.sock", "default socket")
    assert "rootless" in doctor.check_docker_endpoint(
        other, {"SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless"]}, cgroup_root=cgroup).detail


def test_the_doctor_never_writes_under_dot_docker(learner_home, isolated_state):
    _context(learner_home / ".docker", "colima", f"unix://{learner_home}/.colima/default/docker.sock")
    (learner_home / ".docker" / "cli-plugins").mkdir()
    before = _fingerprint_tree(learner_home / ".docker")
    shell.docker_endpoint()
    doctor.check_docker_endpoint()
    doctor.diagnose(isolated_state)
    shell.course_env(isolated_state)  # links the learner's cli-plugins from the course's own config
    assert _fingerprint_tree(learner_home / ".docker") == before
    assert (isolated_state.docker_config_dir / "cli-plugins").resolve() == learner_home / ".docker" / "cli-plugins"


def test_the_doctor_creates_no_dot_docker(learner_home, isolated_state):
    doctor.diagnose(isolated_state)
    assert not (learner_home / ".docker").exists()


def test_no_socket_anywhere_is_said_plainly(learner_home, monkeypatch, tmp_path):
    monkeypatch.setattr(shell, "DEFAULT_SOCKETS", (str(tmp_path / "no-docker.sock"),))
    endpoint = shell.docker_endpoint()
    assert endpoint.host is None and shell.docker_host() is None
    check = doctor.check_docker_endpoint(endpoint, {})
    assert not check.ok and check.optional and "DOCKER_HOST" in check.fix


# ---------------------------------------------------------------- image store and kind load

# DriverStatus as the Docker SDK's info() returns it: measured on Docker Engine 28.5 with
# {"features": {"containerd-snapshotter": true}}, and on the same engine's classic store.
CONTAINERD_STORE = {"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
                    "Architecture": "x86_64", "OSType": "linux"}
CLASSIC_STORE = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                                                        ["Using metacopy", "false"], ["Native Overlay Diff", "true"],
                                                        ["userxattr", "false"]],
                 "Architecture": "x86_64", "OSType": "linux"}


@pytest.mark.parametrize("info,containerd", [
    (CONTAINERD_STORE, True),
    ({"DriverStatus": [("driver-type", "io.containerd.snapshotter.v1")]}, True),  # tuples, no Driver
    (CLASSIC_STORE, False),
    ({"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v2"]]}, False),
    ({"DriverStatus": [["io.containerd.snapshotter.v1", "driver-type"]]}, False),  # key and value swapped
    ({"DriverStatus": [["Backing Filesystem", "io.containerd.snapshotter.v1"]]}, False),  # value under another key
    ({"Driver": "overlayfs"}, False),  # the driver name alone does not say which store
    ({"DriverStatus": None}, False), ({"DriverStatus": "driver-type"}, False), ({}, False), (None, False),
])
def test_the_containerd_image_store_is_read_from_driver_status(info, containerd):
    assert doctor.uses_containerd_image_store(info) is containerd


def test_the_containerd_image_store_is_a_warning_with_the_fix_that_worked(isolated_state):
    check = doctor.check_image_store(CONTAINERD_STORE, isolated_state)
    assert check.ok and check.warning and check.shows_fix  # a warning: the level is unchanged
    assert "containerd image store" in check.detail and "content digest sha256:...: not found" in check.detail
    assert check.fix.startswith("`docker save --platform linux/amd64 -o image.tar IMAGE`, then "
                                f"`kind load image-archive image.tar --name {isolated_state.cluster_name}`")
    assert f"`docker push {isolated_state.open_registry}/IMAGE`" in check.fix and "\n" not in check.fix
    arm = doctor.check_image_store({**CONTAINERD_STORE, "Architecture": "aarch64"}, isolated_state)
    assert "--platform linux/arm64 " in arm.fix


def test_the_classic_image_store_is_not_a_warning(isolated_state):
    check = doctor.check_image_store(CLASSIC_STORE, isolated_state)
    assert check.ok and not check.warning and not check.shows_fix and "overlay2" in check.detail


@pytest.mark.parametrize("info,platform", [
    ({"OSType": "linux", "Architecture": "x86_64"}, "linux/amd64"),
    ({"OSType": "linux", "Architecture": "aarch64"}, "linux/arm64"),
    ({"OSType": "linux", "Architecture": "armv7l"}, "linux/arm/v7"),
    ({"OSType": "linux", "Architecture": "s390x"}, "linux/s390x"),
])
def test_engine_platform_is_what_docker_save_platform_takes(info, platform):
    assert doctor.engine_platform(info) == platform


def test_diagnose_reports_the_engines_image_store(docker_env):
    info = doctor.engine_info(doctor.check_docker()[1])
    check = docker_env.check("docker image store")
    assert check.ok and check.warning is doctor.uses_containerd_image_store(info)


def _fake_docker(tmp_path, monkeypatch, buildx_ok: bool):
    """A `docker` on PATH whose `buildx version` succeeds or fails, as with or without the plugin."""
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\n" + ("echo 'github.com/docker/buildx v0.29.1 abc'\n" if buildx_ok else
                                     "echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1\n"))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_the_builder_is_buildkit_when_buildx_answers(tmp_path, monkeypatch, isolated_state):
    _fake_docker(tmp_path, monkeypatch, buildx_ok=True)
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    check = doctor.check_builder(True)
    assert check.ok and not check.warning and check.detail.startswith("BuildKit (github.com/docker/buildx v0.29.1")


def test_a_missing_buildx_plugin_is_a_warning_naming_the_package(tmp_path, monkeypatch, isolated_state):
    _fake_docker(tmp_path, monkeypatch, buildx_ok=False)
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    check = doctor.check_builder(True)
    assert check.warning and "legacy builder" in check.detail and "docker-buildx" in check.fix


def test_docker_buildkit_0_is_named_as_the_cause(monkeypatch):
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    check = doctor.check_builder(True)
    assert check.warning and "DOCKER_BUILDKIT=0" in check.detail and "unset DOCKER_BUILDKIT" in check.fix


def test_podman_buildah_and_skopeo_are_optional_and_change_no_level(monkeypatch, tmp_path, isolated_state):
    monkeypatch.setenv("PATH", str(tmp_path))               # none of them, and no Docker CLI either
    env = doctor.diagnose()
    for tool in ("podman", "buildah", "skopeo"):
        check = env.check(tool)
        assert not check.ok and check.optional and "apt install podman buildah skopeo" in check.fix
        assert check not in env.missing()
