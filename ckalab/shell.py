"""Run external commands (docker, kubectl, kind) with the course's own config dirs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import settings as settings_module
from .errors import CourseError
from .settings import Settings


@dataclass
class Result:
    command: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:
        return self.output

    def _ipython_display_(self) -> None:
        # The output was already streamed into the cell; showing it again as the cell's
        # value would repeat it. Only a non-zero exit status is worth a line.
        if not self.ok:
            print(f"(exit status {self.returncode})")


def prepare_docker_config(cfg: Settings, config_dir: Path | None = None) -> Path:
    """Create the course's Docker config dir (or `config_dir`, another of the course's). Docker CLI
    plugins (buildx) stay usable through a link to the learner's plugin folder; their config.json
    is never touched."""
    config_dir = config_dir or cfg.docker_config_dir
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "config.json"
    if not config_file.exists():
        config_file.write_text("{}\n")
    learner_plugins = Path.home() / ".docker" / "cli-plugins"
    link = config_dir / "cli-plugins"
    if learner_plugins.is_dir() and not link.exists():
        link.symlink_to(learner_plugins)
    return config_dir


def prepare_containers_auth(cfg: Settings) -> Path:
    """Create the course's Podman/Buildah/skopeo login file: with REGISTRY_AUTH_FILE naming a
    file that does not exist, `podman push` stops with `stat ...: no such file or directory`."""
    auth_file = cfg.containers_auth_file
    if not auth_file.exists():
        auth_file.parent.mkdir(parents=True, exist_ok=True)
        auth_file.write_text('{"auths": {}}\n')
        auth_file.chmod(0o600)                  # it will hold base64 passwords, as Docker's does
    return auth_file


INSTALL_DOCKER = "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop"

# Sockets tried when neither DOCKER_HOST nor a Docker context names the engine.
DEFAULT_SOCKETS = ("/var/run/docker.sock", "~/.docker/desktop/docker.sock", "~/.docker/run/docker.sock")


@dataclass(frozen=True)
class DockerEndpoint:
    """The engine the course talks to, and why (what `make doctor` reports)."""
    host: str | None               # unix:///..., tcp://...; None: nothing found
    source: str                    # "DOCKER_HOST", "docker context NAME", "default socket", "none found"
    context: str | None = None     # the learner's current Docker context, when not "default"
    context_host: str | None = None  # that context's endpoint, also when the course does not follow it
    note: str = ""                 # why that context is not followed


def is_course_docker_config(path: str | Path) -> bool:
    """True for a course's own DOCKER_CONFIG (<checkout>/.ckalab/docker), which holds no contexts."""
    path = Path(path).expanduser()
    return path.name == "docker" and path.parent.name == ".ckalab"


def learner_docker_config_dir() -> Path:
    """The learner's Docker config dir: DOCKER_CONFIG, unless that is the course's own, else ~/.docker.

    Only read (for the current context), never written."""
    value = os.environ.get("DOCKER_CONFIG")
    if value and not is_course_docker_config(value):
        return Path(value).expanduser()
    return Path.home() / ".docker"


def current_docker_context(config_dir: Path | None = None) -> str | None:
    """DOCKER_CONTEXT, else "currentContext" of the learner's config.json (nothing else is read)."""
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    config_dir = config_dir or learner_docker_config_dir()
    try:
        data = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = data.get("currentContext") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _context_meta_host(path: Path, name: str) -> str | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("Name") != name:
        return None
    host = ((data.get("Endpoints") or {}).get("docker") or {}).get("Host")
    return host if isinstance(host, str) and host else None


def docker_context_host(name: str, config_dir: Path | None = None) -> str | None:
    """The Docker endpoint of context `name`, from contexts/meta/<sha256 of name>/meta.json (read only)."""
    meta = (config_dir or learner_docker_config_dir()) / "contexts" / "meta"
    host = _context_meta_host(meta / hashlib.sha256(name.encode()).hexdigest() / "meta.json", name)
    if host:
        return host
    try:
        others = sorted(meta.glob("*/meta.json"))
    except OSError:
        return None
    return next((h for h in (_context_meta_host(p, name) for p in others) if h), None)


def docker_endpoint() -> DockerEndpoint:
    """The engine endpoint, found the way the docker CLI finds it: DOCKER_HOST, else the learner's
    current Docker context (a unix:// socket; e.g. Colima, rootless Docker, Docker Desktop),
    else the default socket, else Docker Desktop's.

    The course runs docker with its own DOCKER_CONFIG, where the learner's contexts do not exist,
    so it passes the endpoint found here as DOCKER_HOST. Contexts on tcp:// or ssh:// (which may
    need TLS material or an SSH agent) are reported by the doctor, not followed.
    """
    if os.environ.get("DOCKER_HOST"):
        return DockerEndpoint(os.environ["DOCKER_HOST"], "DOCKER_HOST")
    config_dir = learner_docker_config_dir()
    context = current_docker_context(config_dir)
    context_host, note = None, ""
    if context and context != "default":
        context_host = docker_context_host(context, config_dir)
        if context_host is None:
            note = f"it has no metadata under {config_dir / 'contexts' / 'meta'}"
        elif context_host.startswith("unix://"):
            return DockerEndpoint(context_host, f"docker context {context}", context, context_host)
        else:
            note = "the course follows only unix:// socket contexts"
    else:
        context = None
    for candidate in DEFAULT_SOCKETS:
        path = Path(candidate).expanduser()
        if path.exists():
            return DockerEndpoint(f"unix://{path}", "default socket", context, context_host, note)
    return DockerEndpoint(None, "none found", context, context_host, note)


def socket_path(host: str | None) -> str | None:
    return host[len("unix://"):] if host and host.startswith("unix://") else None


def is_rootless_socket(host: str | None) -> bool:
    """Rootless Docker listens on $XDG_RUNTIME_DIR/docker.sock (/run/user/UID/docker.sock)."""
    path = socket_path(host)
    if not path:
        return False
    candidates = {f"/run/user/{os.getuid()}/docker.sock"} if hasattr(os, "getuid") else set()
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.add(str(Path(os.environ["XDG_RUNTIME_DIR"]) / "docker.sock"))
    return os.path.normpath(path) in {os.path.normpath(c) for c in candidates}


def is_colima_socket(host: str | None) -> bool:
    """Colima's sockets: ~/.colima/<profile>/docker.sock (or under $COLIMA_HOME / ~/.config/colima)."""
    path = socket_path(host)
    return bool(path) and re.search(r"(^|/)\.?colima/([^/]+/)?docker\.sock$", path) is not None


def start_engine_hint(host: str | None) -> str:
    if is_colima_socket(host):
        return "start it (`colima start`)"
    if is_rootless_socket(host):
        return "start it (`systemctl --user start docker`)"
    return "start it (`sudo systemctl start docker`, or open Docker Desktop)"


def docker_host() -> str | None:
    """The engine endpoint the course uses (see `docker_endpoint`)."""
    return docker_endpoint().host


def docker_client(timeout: int = 10):
    """A docker SDK client, or a CourseError that says how to get Docker running."""
    if not shutil.which("docker"):
        raise CourseError("Docker is not installed on this machine (no `docker` command).",
                          f"{INSTALL_DOCKER}, then run `make doctor`.")
    import docker
    host = docker_host()
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
                          f"{start_engine_hint(host)}, then run `make doctor`.") from None


def course_env(cfg: Settings | None = None) -> dict[str, str]:
    """The environment for course commands: own Docker config, own kubeconfig, own Podman logins."""
    cfg = cfg or settings_module.load()
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = str(prepare_docker_config(cfg))
    env["KUBECONFIG"] = str(cfg.kubeconfig)
    env["REGISTRY_AUTH_FILE"] = str(prepare_containers_auth(cfg))
    # Tools installed into the course's virtualenv (hadolint) are found like system ones.
    venv_bin = os.path.dirname(sys.executable)
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    host = docker_host()
    if host:
        env["DOCKER_HOST"] = host
    env.setdefault("DOCKER_CLI_HINTS", "false")
    return env


def which(program: str) -> str | None:
    return shutil.which(program)


def run(args: list[str] | str, *, env: dict | None = None, input: str | None = None,
        timeout: float = 600, stream=None, cwd: str | Path | None = None) -> Result:
    """Run a command; merge stderr into stdout. `stream` gets each line as it comes."""
    shell = isinstance(args, str)
    command = args if shell else " ".join(args)
    env = env if env is not None else course_env()
    if stream is None:
        try:
            proc = subprocess.run(
                args, shell=shell, executable="/bin/bash" if shell else None,
                env=env, input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
            )
        except FileNotFoundError as exc:
            return Result(command, 127, f"{exc.filename}: command not found\n")
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"")
            out = out.decode() if isinstance(out, bytes) else out
            return Result(command, 124, out + f"\n(timed out after {timeout:.0f} s)\n")
        return Result(command, proc.returncode, proc.stdout + proc.stderr)
    try:
        proc = subprocess.Popen(
            args, shell=shell, executable="/bin/bash" if shell else None, env=env, cwd=cwd,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
    except FileNotFoundError as exc:
        return Result(command, 127, f"{exc.filename}: command not found\n")
    if input is not None:
        proc.stdin.write(input)
        proc.stdin.close()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        stream(line)
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        returncode = 124
    return Result(command, returncode, "".join(lines))
