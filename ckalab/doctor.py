"""The environment doctor: what this machine can run, and the exact fix for what is missing.

`diagnose()` returns an `Environment`; notebooks use its `level` to decide which
cells can run ("none", "docker" or "cluster"), and print it as a status table.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import shutil
from dataclasses import dataclass, field

import requests

from . import settings as settings_module
from . import shell
from .errors import CourseError
from .settings import Settings
from .checks import inline_code

LEFT = "style='text-align:left'"  # JupyterLab right-aligns table cells

INSTALL_DOCKER = "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop"
INSTALL_KIND = "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
INSTALL_KUBECTL = "install kubectl (https://kubernetes.io/docs/tasks/tools/)"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False


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

    def summary(self) -> str:
        what = {"cluster": "everything runs (Docker + kind cluster)",
                "docker": "Docker cells run; cluster cells will say they were skipped",
                "none": "theory, quizzes and validation run; Docker and cluster cells will say they were skipped"}
        return f"Level: {self.level} - {what[self.level]}."

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks) if self.checks else 10
        lines = []
        for c in self.checks:
            mark = "ok " if c.ok else ("-- " if c.optional else "NO ")
            lines.append(f"{mark} {c.name.ljust(width)}  {c.detail}")
            if not c.ok and c.fix:
                lines.append(f"    {''.ljust(width)}  fix: {c.fix}")
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for c in self.checks:
            mark = "\u2705" if c.ok else ("\u2796" if c.optional else "\u274c")
            fix = "" if c.ok else inline_code(c.fix)
            rows.append(f"<tr><td>{mark}</td><td {LEFT}>{html.escape(c.name)}</td>"
                        f"<td {LEFT}>{html.escape(c.detail)}</td><td {LEFT}>{fix}</td></tr>")
        return (f"<table><tr><th></th><th {LEFT}>check</th><th {LEFT}>status</th><th {LEFT}>fix</th></tr>"
                + "".join(rows) + f"</table><p><b>{html.escape(self.summary())}</b></p>")


# ---------------------------------------------------------------- Docker

def docker_client(timeout: int = 10):
    """A docker SDK client, or a CourseError that says how to get Docker running."""
    if not shutil.which("docker"):
        raise CourseError("Docker is not installed on this machine (no `docker` command).",
                          f"{INSTALL_DOCKER}, then run `make doctor`.")
    import docker
    host = shell.docker_host()
    try:
        client = docker.DockerClient(base_url=host, timeout=timeout) if host else docker.from_env(timeout=timeout)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        text = str(exc)
        if "Permission denied" in text:
            raise CourseError("Docker is installed but this user may not talk to the Docker Engine "
                              "(permission denied on its socket).",
                              "add yourself to the `docker` group (`sudo usermod -aG docker $USER`), "
                              "log out and in, then run `make doctor`.") from None
        raise CourseError("Docker is installed but the Docker Engine is not running "
                          f"(cannot connect to {host or 'the default socket'}).",
                          "start it (`sudo systemctl start docker`, or open Docker Desktop), "
                          "then run `make doctor`.") from None


def check_docker() -> tuple[Check, object | None]:
    try:
        client = docker_client(timeout=5)
    except CourseError as exc:
        return Check("docker engine", False, exc.problem, exc.fix), None
    version = client.version()
    return Check("docker engine", True,
                 f"Docker Engine {version.get('Version')} (API {version.get('ApiVersion')}), "
                 f"{version.get('Os')}/{version.get('Arch')}"), client


def check_architecture(client) -> Check:
    host = platform.machine()
    engine = client.info().get("Architecture", "?") if client else "?"
    return Check("architecture", True,
                 f"host {host}, engine {engine}: images you build here are for this architecture")


def check_base_images(client, cfg: Settings) -> Check:
    wanted = ["python:3.13-slim", "debian:trixie-slim", cfg.registry_image]
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
        return Check(name, True, f"kubectl {version}{kubectl_skew_note(version)}")
    return Check(name, True, text)


def kubectl_skew_note(version: str) -> str:
    """kubectl is supported within one minor version of the API server (Kubernetes' skew policy)."""
    match = re.match(r"v?1\.(\d+)", version)
    target = int(settings_module.KUBERNETES_VERSION.split(".")[1])
    if not match or abs(int(match.group(1)) - target) <= 1:
        return ""
    return (f" - outside the supported skew for the course's Kubernetes {settings_module.KUBERNETES_VERSION}: "
            f"install kubectl v1.{target - 1} to v1.{target + 1}")


def check_cluster(cfg: Settings, docker_ok: bool, kind_ok: bool, kubectl_ok: bool) -> Check:
    name = f"cluster {cfg.cluster_name}"
    if not (docker_ok and kind_ok and kubectl_ok):
        return Check(name, False, "needs Docker, kind and kubectl first", "fix the lines above, then `make cluster`")
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
    return Check(name, True, f"context {cfg.kube_context} ready (kubeconfig {cfg.kubeconfig.name} in .ckalab/)")


def diagnose(cfg: Settings | None = None) -> Environment:
    """Check everything the course uses. Never raises for a missing piece."""
    cfg = cfg or settings_module.load()
    env = Environment()
    docker_check, client = check_docker()
    env.checks.append(docker_check)
    env.docker = docker_check.ok
    env.checks.append(check_architecture(client))
    if client is not None:
        env.checks.append(check_base_images(client, cfg))
        env.checks.append(check_registry(f"http://{cfg.open_registry}/v2/",
                                         f"open registry {cfg.open_registry}", expect_auth=False))
        env.checks.append(check_registry(f"http://{cfg.private_registry}/v2/",
                                         f"private registry {cfg.private_registry}", expect_auth=True))
    kind = check_tool("kind", ["version"], INSTALL_KIND)
    kubectl = check_tool("kubectl", ["version", "--client", "-o", "json"], INSTALL_KUBECTL)
    env.checks += [kind, kubectl]
    cluster = check_cluster(cfg, env.docker, kind.ok, kubectl.ok)
    env.checks.append(cluster)
    env.cluster = cluster.ok
    if not env.docker:
        # Without Docker the rest is not a fault to fix for Binder users: mark it optional.
        for c in env.checks[1:]:
            c.optional = True
    return env
