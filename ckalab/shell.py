"""Run external commands (docker, kubectl, kind) with the course's own config dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import settings as settings_module
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


def prepare_docker_config(cfg: Settings) -> Path:
    """Create the course's Docker config dir. Docker CLI plugins (buildx) stay usable
    through a link to the learner's plugin folder; their config.json is never touched."""
    config_dir = cfg.docker_config_dir
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "config.json"
    if not config_file.exists():
        config_file.write_text("{}\n")
    learner_plugins = Path.home() / ".docker" / "cli-plugins"
    link = config_dir / "cli-plugins"
    if learner_plugins.is_dir() and not link.exists():
        link.symlink_to(learner_plugins)
    return config_dir


def docker_host() -> str | None:
    """The engine endpoint: DOCKER_HOST, else the default socket, else Docker Desktop's.

    The course runs docker with its own DOCKER_CONFIG, so the learner's docker
    context (kept in ~/.docker/config.json, which the course never reads) is not
    followed; looking for the known socket files finds the same engine instead.
    """
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    for path in ("/var/run/docker.sock", Path.home() / ".docker/desktop/docker.sock",
                 Path.home() / ".docker/run/docker.sock"):
        if Path(path).exists():
            return f"unix://{path}"
    return None


def course_env(cfg: Settings | None = None) -> dict[str, str]:
    """The environment for course commands: own Docker config, own kubeconfig."""
    cfg = cfg or settings_module.load()
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = str(prepare_docker_config(cfg))
    env["KUBECONFIG"] = str(cfg.kubeconfig)
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
