"""What the Docker-level labs share: reading Dockerfiles, building, running and inspecting images.

The labs themselves are in labs/NN-name/lab.py; checks read real state (they build the
learner's Dockerfile, run the image, ask the registries' HTTP API)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

from . import registry, shell
from .labs import Lab

URL_SOURCE = re.compile(r"^(https?://|git@)")
ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz)$")


# ---------------------------------------------------------------- helpers

def docker(*args: str, timeout: float = 300, input: str | None = None, cwd=None) -> shell.Result:
    """docker with the course's own config (DOCKER_CONFIG in .ckalab/docker)."""
    return shell.run(["docker", *args], env=shell.course_env(), timeout=timeout, input=input, cwd=cwd)


def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) for each instruction; continuations joined."""
    out, buf, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf += stripped[:-1].rstrip() + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


def read_or_none(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


def inspect_image(image: str) -> dict | None:
    result = docker("image", "inspect", image, timeout=30)
    if not result.ok:
        return None
    return json.loads(result.output)[0]


def build(lab: Lab, context: Path, tag: str, *, extra: list[str] | None = None) -> tuple[bool, str]:
    """docker build; (ok, last line of the output worth showing)."""
    lab.say(f"Building {context.name if context.name != lab.number else 'your Dockerfile'} as {tag} ...")
    result = docker("build", "-t", tag, *(extra or []), str(context), timeout=600)
    lines = [l for l in result.output.strip().splitlines()
             if l.strip() and "legacy builder" not in l.lower() and "buildx" not in l.lower()
             and not l.startswith(" ")]
    return result.ok, (lines[-1][:200] if lines else "no output")


def run_detached(name: str, image: str, port: int, container_port: int, *args: str) -> tuple[bool, str]:
    docker("rm", "-f", name, timeout=30)
    result = docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{container_port}",
                    image, *args, timeout=60)
    lines = result.output.strip().splitlines()
    errors = [l for l in lines if l.startswith(("docker:", "Error"))]
    return result.ok, ((errors or lines or [""])[0])[:240]


def wait_http(url: str, container: str | None = None, seconds: float = 5) -> requests.Response | None:
    """GET url until it answers, for at most `seconds`; gives up early if `container` stopped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:
            if container and not container_state(container).startswith("running"):
                return None
            time.sleep(0.25)
    return None


def container_state(name: str) -> str:
    """`running`, `exited with code N` (or another Docker state), or `gone`."""
    result = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, timeout=20)
    if not result.ok:
        return "gone"
    status, _, code = result.output.strip().partition(" ")
    return f"exited with code {code}" if status == "exited" else status


def last_log_line(name: str) -> str:
    lines = [l for l in docker("logs", "--tail", "5", name, timeout=20).output.splitlines() if l.strip()]
    return lines[-1][:160] if lines else "(no output)"


def remove_containers(*names: str) -> None:
    docker("rm", "-f", *names, timeout=60)


def remove_images(*images: str) -> None:
    docker("image", "rm", "-f", *images, timeout=60)


def is_shell_form(command: list | None) -> bool:
    return bool(command) and len(command) >= 2 and Path(command[0]).name in ("sh", "bash", "dash") \
        and command[1] == "-c"


def write_dockerfile(lab: Lab, text: str) -> None:
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    (lab.work_dir / "Dockerfile").write_text(text)


def reference_dockerfile(lab: Lab, name: str = "Dockerfile") -> str:
    return (lab.files / "solution" / name).read_text()


def solution_variant(old_new: list[tuple[str, str]]):
    """A wrong attempt: the lab's solution Dockerfile with some lines changed back."""
    def apply(lab: Lab) -> None:
        text = reference_dockerfile(lab)
        for old, new in old_new:
            assert old in text, old
            text = text.replace(old, new)
        write_dockerfile(lab, text)
    return apply


# ================================================================ registry helpers

def pushed_config_digest(api: registry.RegistryAPI, repository: str, tag: str) -> str | None:
    """The config digest of the image a registry serves as repository:tag (first platform of an
    index); None if the tag is not there. Podman's image ID is this digest, without `sha256:`."""
    try:
        manifest = api.manifest(repository, tag)
        body = manifest.body
        if manifest.is_index:
            entries = [m for m in body.get("manifests", [])
                       if (m.get("platform") or {}).get("os") not in (None, "unknown")]
            body = api.manifest(repository, entries[0]["digest"]).body
        return body["config"]["digest"]
    except registry.CourseError as exc:
        if "404" in exc.problem:
            return None
        raise


def pushed_config(api: registry.RegistryAPI, repository: str, tag: str) -> dict | None:
    """The image config a registry serves for repository:tag (first platform of an index); None if absent."""
    digest = pushed_config_digest(api, repository, tag)
    return None if digest is None else api.blob_json(repository, digest)
