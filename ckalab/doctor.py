"""The environment doctor: what this machine can run, and the exact fix for what is missing.

`diagnose()` returns an `Environment`; notebooks use its `level` to decide which
cells can run ("none", "docker" or "cluster"), and print it as a status table.

It is over 400 lines because it holds one concept, the diagnosis: one function per thing
the course needs, each returning a Check with its fix.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import settings as settings_module
from . import shell
from .errors import CourseError
from .settings import Settings
from .checks import badge, inline_code
from .shell import INSTALL_DOCKER, docker_client  # noqa: F401  (docker_client: kept importable from here)

LEFT = "style='text-align:left'"  # JupyterLab right-aligns table cells

INSTALL_KIND = "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
INSTALL_KUBECTL = "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
KIND_ROOTLESS_DOCS = "https://kind.sigs.k8s.io/docs/user/rootless/"
INSTALL_PODMAN = ("optional, for lesson 12: install Podman, Buildah and skopeo (Debian/Ubuntu: "
                  "`sudo apt install podman buildah skopeo`; others: https://podman.io/docs/installation)")
INSTALL_BUILDX = ("install Docker's buildx plugin (Debian: `docker-buildx`; Docker's own packages: "
                  "`docker-buildx-plugin`), then run `make doctor`")

# kind releases before v0.32 write a kubeadm v1beta3 config, which kubeadm v1.37 rejects.
KIND_MINIMUM = (0, 32)
# The memory the course asks of a VM that runs the engine (Colima): a kind node, two registries
# and the labs' Pods all run in it.
VM_MEMORY_RECOMMENDED = 4 * 1024 ** 3


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False
    warning: bool = False  # works for now, but something will break (ok stays True; a fix is shown)

    @property
    def mark(self) -> str:
        if self.warning:
            return "warn"
        return "ok" if self.ok else ("--" if self.optional else "NO")

    @property
    def shows_fix(self) -> bool:
        return bool(self.fix) and (self.warning or not self.ok)


@dataclass
class Environment:
    checks: list[Check] = field(default_factory=list)
    docker: bool = False
    cluster: bool = False
    internet: bool | None = None

    @property
    def level(self) -> str:
        if self.docker and self.cluster:
            return "cluster"
        return "docker" if self.docker else "none"

    def has(self, level: str) -> bool:
        return settings_module.LEVELS.index(self.level) >= settings_module.LEVELS.index(level)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def missing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and not c.optional]

    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.warning]

    def summary(self) -> str:
        what = {"cluster": "everything runs (Docker + kind cluster)",
                "docker": "Docker cells run; cluster cells will say they were skipped",
                "none": "theory, quizzes and validation run; Docker and cluster cells will say they were skipped"}
        return f"Level: {self.level} - {what[self.level]}."

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks) if self.checks else 10
        marks = max(len(c.mark) for c in self.checks) if self.checks else 2
        lines = []
        for c in self.checks:
            lines.append(f"{c.mark.ljust(marks)}  {c.name.ljust(width)}  {c.detail}")
            if c.shows_fix:
                lines.append(f"{''.ljust(marks)}  {''.ljust(width)}  fix: {c.fix}")
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for c in self.checks:
            mark = badge({"warn": "WARN", "ok": "OK", "--": "N/A", "NO": "NO"}[c.mark])
            fix = inline_code(c.fix) if c.shows_fix else ""
            rows.append(f"<tr><td>{mark}</td><td {LEFT}>{html.escape(c.name)}</td>"
                        f"<td {LEFT}>{html.escape(c.detail)}</td><td {LEFT}>{fix}</td></tr>")
        return (f"<table><tr><th></th><th {LEFT}>check</th><th {LEFT}>status</th><th {LEFT}>fix</th></tr>"
                + "".join(rows) + f"</table><p><b>{html.escape(self.summary())}</b></p>")


# ---------------------------------------------------------------- Docker

def check_docker() -> tuple[Check, object | None]:
    try:
        client = docker_client(timeout=5)
    except CourseError as exc:
        return Check("docker engine", False, exc.problem, exc.fix), None
    version = client.version()
    return Check("docker engine", True,
                 f"Docker Engine {version.get('Version')} (API {version.get('ApiVersion')}), "
                 f"{version.get('Os')}/{version.get('Arch')}"), client


def engine_info(client) -> dict:
    """`docker info` of the engine, asked once per diagnosis ({} without an engine)."""
    if client is None:
        return {}
    try:
        return client.info() or {}
    except Exception:
        return {}


def check_architecture(client, info: dict | None = None) -> Check:
    host = platform.machine()
    info = engine_info(client) if info is None else info
    engine = info.get("Architecture", "?") if info else "?"
    return Check("architecture", True,
                 f"host {host}, engine {engine}: images you build here are for this architecture")


def is_rootless_engine(endpoint: shell.DockerEndpoint, info: dict | None) -> bool:
    """Rootless Docker: its socket under $XDG_RUNTIME_DIR, or the engine says so in `docker info`."""
    options = (info or {}).get("SecurityOptions") or []
    return shell.is_rootless_socket(endpoint.host) or any("name=rootless" in str(o) for o in options)


def delegated_controllers(cgroup_root: str | Path = "/sys/fs/cgroup", uid: int | None = None) -> set[str] | None:
    """cgroup v2 controllers systemd delegates to this user's services (None: cannot tell)."""
    uid = os.getuid() if uid is None else uid
    path = Path(cgroup_root) / "user.slice" / f"user-{uid}.slice" / f"user@{uid}.service" / "cgroup.controllers"
    try:
        return set(path.read_text().split())
    except OSError:
        return None


def check_docker_endpoint(endpoint: shell.DockerEndpoint | None = None, info: dict | None = None, *,
                          cgroup_root: str | Path = "/sys/fs/cgroup") -> Check:
    """Which engine the course talks to and why; what rootless Docker or Colima means for kind.

    Reads the learner's Docker context (never writes anything under ~/.docker)."""
    endpoint = endpoint or shell.docker_endpoint()
    name = "docker endpoint"
    if endpoint.host is None and not endpoint.note:
        return Check(name, False, "no Docker socket found (no DOCKER_HOST, no docker context, no "
                                  "/var/run/docker.sock or Docker Desktop socket)",
                     "start Docker, or set DOCKER_HOST to your engine's socket, then run `make doctor`",
                     optional=True)
    where = f"{endpoint.host} ({endpoint.source})" if endpoint.host else "no Docker socket found"
    if endpoint.context and endpoint.note:
        target = f" ({endpoint.context_host})" if endpoint.context_host else ""
        return Check(name, True, f"{where}; your docker context '{endpoint.context}'{target} is not "
                                 f"followed: {endpoint.note}",
                     (f"export DOCKER_HOST={endpoint.context_host} (plus DOCKER_TLS_VERIFY=1 and "
                      "DOCKER_CERT_PATH if that engine uses TLS), then run `make doctor`"
                      if endpoint.context_host else
                      "`docker context ls` shows the contexts that exist; `docker context use NAME` picks one"),
                     warning=True)
    if is_rootless_engine(endpoint, info):
        detail = (f"{where}: rootless Docker. kind needs cgroup v2 with the cpu controller delegated "
                  f"to your user's services ({KIND_ROOTLESS_DOCS})")
        controllers = delegated_controllers(cgroup_root)
        fix = ("delegate the controllers: create /etc/systemd/system/user@.service.d/delegate.conf with "
               "`[Service]` and `Delegate=yes`, run `sudo systemctl daemon-reload` and "
               f"`systemctl --user restart docker` ({KIND_ROOTLESS_DOCS})")
        if controllers is not None and "cpu" in controllers:
            return Check(name, True, f"{detail}; delegated: {' '.join(sorted(controllers))}")
        if controllers is None:
            return Check(name, True, f"{detail}; could not read which controllers are delegated", fix,
                         warning=True)
        return Check(name, True, f"{detail}; delegated: {' '.join(sorted(controllers)) or 'none'} (no cpu)",
                     fix, warning=True)
    if shell.is_colima_socket(endpoint.host):
        memory, cpus = (info or {}).get("MemTotal"), (info or {}).get("NCPU")
        size = (f"{cpus} CPUs, {memory / 1024 ** 3:.1f} GiB memory" if memory and cpus else "its size unknown")
        detail = f"{where}: Colima. kind's node, the registries and the labs' Pods run inside the Colima VM ({size})"
        if memory and memory < VM_MEMORY_RECOMMENDED:
            return Check(name, True, f"{detail}, less than the {VM_MEMORY_RECOMMENDED // 1024 ** 3} GiB "
                                     "the course asks for", "`colima stop`, then `colima start --cpu 4 --memory 8`",
                         warning=True)
        return Check(name, True, detail)
    return Check(name, True, where)


def cgroup_fs_type(path: str | Path = "/sys/fs/cgroup", mounts: str | Path = "/proc/self/mounts") -> str | None:
    """The filesystem type mounted at `path`, named as `stat -f` names it: "cgroup2fs" (cgroup v2),
    "tmpfs" (v1 or hybrid), "cgroup" (v1); None when nothing is mounted there (e.g. macOS)."""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:
        return None
    fstype = None
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[1] == str(path):
            fstype = fields[2]  # the last mount on a path hides the ones before it
    return {"cgroup2": "cgroup2fs"}.get(fstype, fstype)


def check_cgroups(info: dict | None = None, *, path: str | Path = "/sys/fs/cgroup",
                  mounts: str | Path = "/proc/self/mounts") -> Check:
    """cgroup v1 hosts: kubelet v1.35+ refuses them by default, so kind's nodes do not start.

    The engine's own report (`docker info`, CgroupVersion) decides when there is one: kind's
    nodes run where the engine runs, which is a VM for Docker Desktop and Colima."""
    name = "cgroup v2"
    fstype = cgroup_fs_type(path, mounts)
    engine = str((info or {}).get("CgroupVersion") or "")
    local = f"{path} is {fstype}" if fstype else f"no cgroup filesystem at {path}"
    v1 = engine == "1" or (engine != "2" and fstype in ("tmpfs", "cgroup"))
    if v1:
        said = "; Docker reports cgroup v1" if engine == "1" else ""
        return Check(name, True,
                     f"cgroup v1 or hybrid ({local}{said}): kubelet v1.35+ refuses cgroup v1 unless its config sets "
                     "failCgroupV1: false, so kind clusters will not start",
                     "use a cgroup v2 host: boot with systemd.unified_cgroup_hierarchy=1 (add it to "
                     "GRUB_CMDLINE_LINUX in /etc/default/grub, run `sudo update-grub`, reboot), or a current "
                     "Docker Desktop or OS release", warning=True)
    if engine == "2":
        return Check(name, True, f"cgroup v2 (Docker reports cgroup v2; {local})")
    if fstype == "cgroup2fs":
        return Check(name, True, f"cgroup v2 ({local})")
    return Check(name, True, f"cgroup version unknown ({local}, and Docker did not say)", optional=True)


# `docker info` DriverStatus names this snapshotter when the engine keeps images in containerd
# (Docker Engine 29's default; before it, daemon.json `"features": {"containerd-snapshotter": true}`).
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
# `docker info` Architecture (uname -m) -> the OCI platform that `docker save --platform` takes.
OCI_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm/v7", "armv6l": "arm/v6", "i686": "386", "i386": "386"}


def uses_containerd_image_store(info: dict | None) -> bool:
    """The engine keeps its images in containerd: DriverStatus has ["driver-type", CONTAINERD_SNAPSHOTTER]."""
    for pair in (info or {}).get("DriverStatus") or []:
        if isinstance(pair, (list, tuple)) and list(pair) == ["driver-type", CONTAINERD_SNAPSHOTTER]:
            return True
    return False


def engine_platform(info: dict | None) -> str:
    """`linux/amd64` for an engine whose `docker info` says OSType linux, Architecture x86_64."""
    info = info or {}
    arch = str(info.get("Architecture") or "x86_64")
    return f"{info.get('OSType') or 'linux'}/{OCI_ARCH.get(arch, arch)}"


def check_image_store(info: dict | None, cfg: Settings) -> Check:
    """The containerd image store breaks `kind load docker-image` for images pulled from a registry.

    Measured with Docker Engine 28.5 (containerd-snapshotter on) and kind v0.33.0: `docker save` of a
    pulled image writes its whole index, whose other platforms and attestation manifests were never
    downloaded, and the node's `ctr images import --all-platforms` stops at the first one missing.
    Images built on the engine (attestations included) and every image of the classic store load fine."""
    name = "docker image store"
    driver = (info or {}).get("Driver") or "?"
    if not uses_containerd_image_store(info):
        return Check(name, True,
                     f"classic (storage driver {driver}): `kind load docker-image` loads pulled and built images")
    return Check(name, True,
                 f"containerd image store (driver {driver}, {CONTAINERD_SNAPSHOTTER}): `kind load docker-image` "
                 "of an image pulled from a registry fails with `ctr: content digest sha256:...: not found`; "
                 "images built here load fine",
                 f"`docker save --platform {engine_platform(info)} -o image.tar IMAGE`, then "
                 f"`kind load image-archive image.tar --name {cfg.cluster_name}`; or `docker tag IMAGE "
                 f"{cfg.open_registry}/IMAGE`, `docker push {cfg.open_registry}/IMAGE` and use that name",
                 warning=True)


def check_base_images(client, cfg: Settings) -> Check:
    wanted = ["python:3.13-slim", "python:3.13", "debian:trixie-slim", cfg.registry_image]
    missing = []
    for image in wanted:
        try:
            client.images.get(image)
        except Exception:
            missing.append(image)
    if not missing:
        return Check("base images", True, ", ".join(wanted) + " present", optional=True)
    return Check("base images", False, "not pulled yet: " + ", ".join(missing),
                 "they are pulled on first use; without Docker Hub access run `make base-images`",
                 optional=True)


# ---------------------------------------------------------------- registries

def check_registry(url: str, name: str, expect_auth: bool) -> Check:
    try:
        resp = requests.get(url, timeout=3)
    except requests.RequestException:
        return Check(name, False, f"not answering at {url}", "run `make registries`")
    if expect_auth:
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("basic"):
            return Check(name, True, f"{url} answers 401 + Basic auth, as it should")
        return Check(name, False, f"{url} answered {resp.status_code} without asking for a login",
                     "run `make registries-reset` to recreate it with auth")
    if resp.status_code == 200:
        return Check(name, True, f"{url} answers 200")
    return Check(name, False, f"{url} answered {resp.status_code}", "run `make registries-reset`")


# ---------------------------------------------------------------- kind / kubectl / cluster

def check_tool(name: str, version_args: list[str], fix: str) -> Check:
    if not shutil.which(name):
        return Check(name, False, "not installed", fix)
    result = shell.run([name, *version_args], timeout=15)
    text = result.output.strip().splitlines()[0] if result.output.strip() else "?"
    if name == "kubectl":
        try:
            version = json.loads(result.output)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError):
            return Check(name, True, text)
        skew = kubectl_skew_note(version)
        if skew:
            return Check(name, True, f"kubectl {version}: {skew}", warning=True,
                         fix=f"install kubectl v1.{_course_minor() - 1} to v1.{_course_minor() + 1} "
                             "(https://kubernetes.io/docs/tasks/tools/), then run `make doctor`")
        return Check(name, True, f"kubectl {version}")
    if name == "kind":
        return check_kind_version(text)
    return Check(name, True, text)


def check_builder(docker_ok: bool) -> Check:
    """`docker build` uses BuildKit through the buildx plugin; without it Docker falls back to the
    deprecated legacy builder, which knows no cache or secret mounts."""
    name = "docker builder"
    if not docker_ok:
        return Check(name, False, "needs Docker first", "fix the Docker line above", optional=True)
    if os.environ.get("DOCKER_BUILDKIT", "").strip() == "0":
        return Check(name, True, "legacy builder: DOCKER_BUILDKIT=0 is set", warning=True,
                     fix="unset DOCKER_BUILDKIT, then run `make doctor`")
    result = shell.run(["docker", "buildx", "version"], timeout=15)
    if not result.ok:
        return Check(name, True, "legacy builder: the buildx plugin is missing, so `docker build` "
                                 "prints a deprecation notice and cannot use BuildKit features",
                     warning=True, fix=INSTALL_BUILDX)
    return Check(name, True, f"BuildKit ({result.output.strip().splitlines()[0]})")


def check_multiplatform_builder(docker_ok: bool, cfg: Settings) -> Check:
    """Lesson 13 and lab 20 build for two platforms on the course's own docker-container builder
    (Docker's default builder cannot, on the classic image store)."""
    name = "multi-platform builder"
    if not docker_ok:
        return Check(name, False, "needs Docker first", "fix the Docker line above", optional=True)
    result = shell.run(["docker", "buildx", "inspect", cfg.builder_name], env=shell.course_env(cfg), timeout=15)
    if not result.ok:
        return Check(name, False, f"{cfg.builder_name} not made yet (lesson 13 makes it; it runs moby/buildkit)",
                     f"docker buildx create --name {cfg.builder_name} --driver docker-container "
                     "--driver-opt network=host --bootstrap", optional=True)
    fields = dict(re.findall(r"^(Driver|Status|BuildKit version):\s*(.+)$", result.output, re.M))
    return Check(name, True, f"{cfg.builder_name}: {fields.get('Driver', '?')}, "
                             f"{fields.get('Status', 'not started yet')}"
                             + (f", BuildKit {fields['BuildKit version']}" if "BuildKit version" in fields else ""),
                 optional=True)


def parse_kind_version(text: str) -> tuple[int, int, int] | None:
    """(0, 33, 0) from `kind version` output such as `kind v0.33.0 go1.27.2 linux/amd64`."""
    match = re.search(r"\bv(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


def check_kind_version(text: str) -> Check:
    version = parse_kind_version(text)
    if version is None:
        return Check("kind", True, f"{text} (version not recognised; the course uses kind "
                                   f"{settings_module.KIND_VERSION})")
    if version[:2] < KIND_MINIMUM:
        return Check("kind", False,
                     f"kind v{'.'.join(map(str, version))} is older than v{KIND_MINIMUM[0]}.{KIND_MINIMUM[1]}: "
                     "kubeadm v1.37 rejects the v1beta3 config older kind writes",
                     f"install kind {settings_module.KIND_VERSION} "
                     "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation), then run `make doctor`")
    return Check("kind", True, text)


def _course_minor() -> int:
    return int(settings_module.KUBERNETES_VERSION.split(".")[1])


def kubectl_skew_note(version: str) -> str:
    """kubectl is supported within one minor version of the API server (Kubernetes' skew policy)."""
    match = re.match(r"v?1\.(\d+)", version)
    if not match or abs(int(match.group(1)) - _course_minor()) <= 1:
        return ""
    return (f"outside the supported version skew (one minor version) of the course's Kubernetes "
            f"{settings_module.KUBERNETES_VERSION}; some commands may fail or behave differently")


def check_cluster(cfg: Settings, docker_ok: bool, kind_ok: bool, kubectl_ok: bool) -> Check:
    """`kind_ok`: kind is installed (a kind too old to create the cluster can still list it)."""
    name = f"cluster {cfg.cluster_name}"
    missing = [tool for tool, ok in (("Docker", docker_ok), ("kind", kind_ok), ("kubectl", kubectl_ok)) if not ok]
    if missing:
        return Check(name, False, f"needs {' and '.join(missing)} first",
                     "fix the lines above, then `make cluster`")
    clusters = shell.run(["kind", "get", "clusters"], timeout=20)
    if cfg.cluster_name not in clusters.output.split():
        return Check(name, False, "not created", "run `make cluster`")
    from .cluster import context_problem
    problem = context_problem(cfg)
    if problem:
        return Check(name, False, problem.problem, problem.fix)
    ready = shell.run(["kubectl", "--kubeconfig", str(cfg.kubeconfig), "--context", cfg.kube_context,
                       "get", "--raw", "/readyz", "--request-timeout=5s"], timeout=15)
    if not ready.ok:
        return Check(name, False, f"API server not ready: {ready.output.strip()[:120]}",
                     "wait a minute, or `make cluster-delete cluster`")
    where = cfg.kubeconfig.relative_to(cfg.root) if cfg.kubeconfig.is_relative_to(cfg.root) else cfg.kubeconfig
    return Check(name, True, f"context {cfg.kube_context} ready (kubeconfig {where})")


def diagnose(cfg: Settings | None = None) -> Environment:
    """Check everything the course uses. Never raises for a missing piece."""
    cfg = cfg or settings_module.load()
    env = Environment()
    docker_check, client = check_docker()
    env.checks.append(docker_check)
    env.docker = docker_check.ok
    info = engine_info(client)
    env.checks.append(check_docker_endpoint(shell.docker_endpoint(), info))
    env.checks.append(check_architecture(client, info))
    env.checks.append(check_cgroups(info))
    if client is not None:
        env.checks.append(check_builder(env.docker))
        env.checks.append(check_multiplatform_builder(env.docker, cfg))
        env.checks.append(check_image_store(info, cfg))
        env.checks.append(check_base_images(client, cfg))
        env.checks.append(check_registry(f"http://{cfg.open_registry}/v2/",
                                         f"open registry {cfg.open_registry}", expect_auth=False))
        env.checks.append(check_registry(f"http://{cfg.private_registry}/v2/",
                                         f"private registry {cfg.private_registry}", expect_auth=True))
    kind = check_tool("kind", ["version"], INSTALL_KIND)
    kubectl = check_tool("kubectl", ["version", "--client", "-o", "json"], INSTALL_KUBECTL)
    env.checks += [kind, kubectl]
    cluster = check_cluster(cfg, env.docker, shutil.which("kind") is not None, kubectl.ok)
    env.checks.append(cluster)
    env.cluster = cluster.ok
    for tool in ("podman", "buildah", "skopeo"):
        daemonless = check_tool(tool, ["--version"], INSTALL_PODMAN)
        daemonless.optional = True            # lesson 12 says so in each cell; the level does not change
        env.checks.append(daemonless)
    if not env.docker:
        # Without Docker the rest is not a fault to fix for Binder users: mark it optional.
        for c in env.checks[1:]:
            c.optional = True
    return env
