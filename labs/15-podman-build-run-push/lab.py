"""The Podman lab (lab15): build, run, log and push an image with Podman only, no Docker.

Like the Docker labs it needs Docker (the course's registries run there) and no cluster, plus the
`podman` command. The learner's files live in `.ckalab/work/lab15/` (see ckalab.labs): the app
folder `image/` (copied from `files/`) and the file `logs` they
write. The Check reads real state: Podman's own image store and container (`podman image
inspect`, `podman container inspect`, `podman logs`), the published port, and the private
registry's HTTP API. Names the lab creates: the container `lab15-sun-cipher` on host port 18150,
the image `localhost:5002/lab15/sun-cipher:v1-podman` (in Podman's store, and pushed)."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import requests

from ckalab import registry
from ckalab import settings as settings_module
from ckalab import shell
from ckalab.checks import CheckResult
from ckalab.docker_checks import (container_state, docker, inspect_image, pushed_config_digest,
                                  remove_containers, remove_images, wait_http)
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

NAMES = {"repo": "lab15/sun-cipher", "tag": "v1-podman", "container": "lab15-sun-cipher", "port": 18150}
PORT_PUBLISHED = "port published on 127.0.0.1"
# Set by the lab's Dockerfile, so the Check knows the image was built from the lab's folder.
LABEL = ("io.ckalab.lab", "lab15-podman-build-run-push")
# Buildah (inside `podman build` too) writes this label into every image it builds; Docker does not.
BUILDAH_LABEL = "io.buildah.version"
# The app's first line names its container: the hostname, which Podman sets to the container ID's start.
STARTUP = re.compile(r"^sun-cipher \S+ listening on :8080 in container (\S+)$")
# `podman logs -t` puts an RFC 3339 time before each line.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) ")
NO_PODMAN = ("Podman is not installed here (no `podman` command): install it (Debian/Ubuntu: "
             "`sudo apt install podman`; others: https://podman.io/docs/installation), then run lab.reset()")


# ---------------------------------------------------------------- helpers

def podman(*args: str, timeout: float = 120, input: str | None = None) -> shell.Result:
    """podman with the course's environment (REGISTRY_AUTH_FILE: the course's own login file)."""
    return shell.run(["podman", *args], env=shell.course_env(), timeout=timeout, input=input)


def _json(result: shell.Result):
    """The JSON a podman command printed; None if it failed. Warnings (stderr, merged) are skipped."""
    if not result.ok:
        return None
    lines = result.output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("[", "{"))), None)
    if start is None:
        return None
    try:
        return json.loads("\n".join(lines[start:]))
    except ValueError:
        return None


def podman_image(reference: str) -> dict | None:
    """`podman image inspect` of an image in Podman's own store; None if it is not there."""
    found = _json(podman("image", "inspect", reference, timeout=30))
    return found[0] if found else None


def podman_container(name: str) -> dict | None:
    """`podman container inspect` of a Podman container, running or not; None if there is none."""
    found = _json(podman("container", "inspect", name, timeout=30))
    return found[0] if found else None


def log_lines(text: str) -> list[str]:
    """The non-blank lines of a log, without trailing spaces or `podman logs -t` timestamps."""
    return [TIMESTAMP.sub("", line.rstrip()) for line in text.splitlines() if line.strip()]


def _image(lab: Lab, cfg=None) -> str:
    cfg = cfg or settings_module.load()
    return f"{cfg.private_registry}/{lab.names['repo']}:{lab.names['tag']}"


def _app_dir(lab: Lab) -> Path:
    return lab.work_dir / "image"


def _logs_file(lab: Lab) -> Path:
    return lab.work_dir / "logs"


def _shown(path: Path) -> str:
    """A path as the notebooks write it: from the course root when it is inside."""
    root = settings_module.load().root
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _must(result: shell.Result, what: str) -> shell.Result:
    if not result.ok:
        raise CourseError(f"`{what}` failed: {' '.join(result.output.split())[-300:]}",
                          "run `make doctor`, then lab.reset().")
    return result


def _describe_ports(bindings: dict) -> str:
    shown = [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')} -> {port}"
             for port, entries in sorted(bindings.items()) for b in entries or []]
    return ", ".join(shown) or "no port"


def _setup(lab: Lab) -> None:
    for name in ("app.py", "Dockerfile"):
        lab.place(name, f"image/{name}")
    if not shell.which("podman"):
        print(NO_PODMAN + ".")
    print(f"The app and its Dockerfile are in {_shown(_app_dir(lab))}/; "
          f"write the container's logs to {_shown(_logs_file(lab))}.")


def _check(lab: Lab, r: CheckResult) -> None:
    cfg = settings_module.load()
    image, name, app_dir = _image(lab, cfg), lab.names["container"], _shown(_app_dir(lab))
    if not shell.which("podman"):
        r.add("built with Podman", False, NO_PODMAN)
        return
    lab.say("Reading Podman's image store and containers ...")
    local = podman_image(image)
    if local is None:
        unqualified = f"localhost/{lab.names['repo']}:{lab.names['tag']}"
        r.add("built with Podman", False,
              f"{image} is not in Podman's image store" +
              (": it is in Docker's, which Podman does not see; build it with `podman build`"
               if inspect_image(image) is not None else
               f"; Podman named your build {unqualified} (a name without a registry gets `localhost/`): "
               f"`podman tag {unqualified} {image}`" if podman_image(unqualified) is not None else
               f" (`podman images` does not list it): `podman build -t {image} {app_dir}`"))
        return
    image_id = local["Id"]
    labels = local.get("Labels") or (local.get("Config") or {}).get("Labels") or {}
    if labels.get(LABEL[0]) != LABEL[1]:
        r.add("built with Podman", False,
              f"{image} in Podman's store was not built from the lab's Dockerfile "
              f"(no label {LABEL[0]}={LABEL[1]}): build {app_dir} with `podman build`")
    elif BUILDAH_LABEL not in labels:
        r.add("built with Podman", False,
              f"{image} is in Podman's store but Podman did not build it (no {BUILDAH_LABEL} label, which "
              "`podman build` writes; copied from Docker?): build it with `podman build`")
    else:
        r.add("built with Podman", True,
              f"{image} is in Podman's store, built by Buildah {labels[BUILDAH_LABEL]} "
              f"(image ID {image_id[:12]})")

    container = podman_container(name)
    if container is None:
        in_docker = container_state(name) != "gone"
        r.add("container running", False,
              f"Podman has no container named {name}" +
              ("; Docker has one, and Podman does not see Docker's containers" if in_docker else "") +
              f": `podman run -d --name {name} -p 127.0.0.1:{lab.names['port']}:8080 {image}`")
        for check in ("runs that image", PORT_PUBLISHED, "logs saved to the file"):
            r.add(check, False, f"not checked: Podman has no container named {name}")
    else:
        _check_container(lab, r, container, image, image_id)

    lab.say(f"Asking the private registry {cfg.private_registry} for {lab.names['repo']}:{lab.names['tag']} ...")
    try:
        pushed = pushed_config_digest(registry.api("private", cfg), lab.names["repo"], lab.names["tag"])
        in_open = pushed_config_digest(registry.api("open", cfg), lab.names["repo"], lab.names["tag"])
    except requests.RequestException as exc:
        r.add("pushed to the private registry", False,
              f"the course's registries do not answer ({type(exc).__name__}): run `make registries`")
        return
    built = f"sha256:{image_id}"
    if pushed == built:
        r.add("pushed to the private registry", True,
              f"the registry serves {image} with config {pushed[:19]}..., the image ID of your Podman build")
        return
    problem = (f"{image} is not in the private registry" if pushed is None else
               f"{image} in the private registry is another image (config {pushed[7:19]}), not the one in "
               f"Podman's store (image ID {image_id[:12]})")
    r.add("pushed to the private registry", False, problem + (
        f"; this build went to the open registry {cfg.open_registry}, which anyone can pull from without "
        f"a login: push it to {cfg.private_registry}" if in_open == built else
        f": `podman login --tls-verify=false {cfg.private_registry}`, then "
        f"`podman push --tls-verify=false {image}`" if pushed is None else
        ": push again after your last build"))


def _check_container(lab: Lab, r: CheckResult, container: dict, image: str, image_id: str) -> None:
    name = container.get("Name") or lab.names["container"]
    state = container.get("State") or {}
    running = bool(state.get("Running"))
    r.add("container running", running,
          f"{name} is running (started {str(state.get('StartedAt', '?'))[:19]})" if running else
          f"{name} is {state.get('Status', '?')} (exit code {state.get('ExitCode', '?')}): it must keep running "
          f"in the background; `podman start {name}` starts it again")
    same = container.get("Image") == image_id
    r.add("runs that image", same,
          f"{name} runs {image} ({image_id[:12]})" if same else
          f"{name} runs {container.get('ImageName', '?')} ({str(container.get('Image', '?'))[:12]}), not "
          f"the {image} in Podman's store now ({image_id[:12]}): `podman rm -f {name}` and run it again")
    bindings = ((container.get("HostConfig") or {}).get("PortBindings")
                or (container.get("NetworkSettings") or {}).get("Ports") or {})
    port, host_port = PORT_PUBLISHED, lab.names["port"]
    published = any(b.get("HostIp") == "127.0.0.1" and str(b.get("HostPort")) == str(host_port)
                    for b in bindings.get("8080/tcp") or [])
    if not published:
        r.add(port, False,
              f"{name} publishes {_describe_ports(bindings)}, not 127.0.0.1:{host_port} -> 8080/tcp; ports "
              f"are fixed when a container is created: `podman rm -f {name}`, then `podman run` with "
              f"`-p 127.0.0.1:{host_port}:8080`")
    elif not running:
        r.add(port, False, f"127.0.0.1:{host_port} -> 8080/tcp is set, but {name} is not running")
    else:
        lab.say(f"Asking http://127.0.0.1:{host_port}/ ...")
        response = wait_http(f"http://127.0.0.1:{host_port}/?text=check", seconds=5)
        answered = response is not None and response.ok and "sun-cipher" in response.text
        r.add(port, answered,
              f"http://127.0.0.1:{host_port}/ answers: {response.text.strip()[:100]}" if answered else
              f"127.0.0.1:{host_port} -> 8080/tcp is set, but nothing answered there within 5 s "
              f"(`podman logs {name}` shows what the app printed)" if response is None else
              f"http://127.0.0.1:{host_port}/ answers HTTP {response.status_code}, but not as sun-cipher: "
              f"{' '.join(response.text.split())[:80]}")
    _check_logs(lab, r, container)


def _check_logs(lab: Lab, r: CheckResult, container: dict) -> None:
    name, path, check = lab.names["container"], _logs_file(lab), "logs saved to the file"
    shown = _shown(path)
    try:
        saved = log_lines(path.read_text())
    except FileNotFoundError:
        r.add(check, False, f"{shown} does not exist: `podman logs {name} > {shown}`")
        return
    except (IsADirectoryError, UnicodeDecodeError):
        r.add(check, False, f"{shown} is not a text file: write `podman logs {name}` into it")
        return
    if not saved:
        r.add(check, False, f"{shown} is empty: write it when `podman logs {name}` shows the app's startup "
                            "line (`podman logs` writes its own errors to stderr, not into the file)")
        return
    current = set(log_lines(podman("logs", name, timeout=30).output))
    hostname = (container.get("Config") or {}).get("Hostname") or str(container.get("Id", ""))[:12]
    others = [m.group(1) for m in map(STARTUP.match, saved) if m and m.group(1) != hostname]
    foreign = [line for line in saved if line not in current]
    if others or foreign:
        r.add(check, False,
              f"{shown} holds the logs of another container ({others[0]}), not of {name} ({hostname}): "
              f"write them again from this container" if others else
              f"{len(foreign)} of the {len(saved)} lines in {shown} are not in `podman logs {name}`, "
              f"e.g. `{foreign[0][:80]}`: write the file from that command's output")
    elif not any(STARTUP.match(line) for line in saved):
        r.add(check, False, f"{shown} lacks the app's startup line (`sun-cipher v1 listening on :8080 ...`): "
                            f"save all of `podman logs {name}`")
    else:
        r.add(check, True, f"{shown}: {len(saved)} line(s), all from `podman logs {name}`, "
                           "with the app's startup line")


# ---------------------------------------------------------------- the reference solution

def _build_and_run(lab: Lab) -> None:
    image = _image(lab)
    _must(podman("build", "-t", image, str(_app_dir(lab)), timeout=600), f"podman build -t {image}")
    _must(podman("run", "-d", "--name", lab.names["container"], "-p", f"127.0.0.1:{lab.names['port']}:8080", image),
          "podman run -d")
    # A learner tries it once with curl, which also waits until the app listens.
    if wait_http(f"http://127.0.0.1:{lab.names['port']}/?text=hello", seconds=15) is None:
        raise CourseError(f"{lab.names['container']} did not answer on port {lab.names['port']} within 15 s: "
                          f"{podman('logs', lab.names['container']).output.strip()[-200:]}", "run lab.reset().")


def _save_logs(lab: Lab) -> None:
    _must(shell.run(f"podman logs {lab.names['container']} > {shlex.quote(str(_logs_file(lab)))}",
                    env=shell.course_env(), timeout=30), "podman logs")


def _login(cfg) -> None:
    creds = registry.credentials(cfg)
    _must(podman("login", "--tls-verify=false", "-u", creds.username, "--password-stdin", cfg.private_registry,
                 input=creds.password + "\n", timeout=60), f"podman login {cfg.private_registry}")


def _solve(lab: Lab) -> None:
    cfg = settings_module.load()
    _build_and_run(lab)
    _save_logs(lab)
    _login(cfg)
    _must(podman("push", "--tls-verify=false", _image(lab, cfg), timeout=300), "podman push")


def _teardown(lab: Lab) -> None:
    cfg = settings_module.load()
    ref = f"{lab.names['repo']}:{lab.names['tag']}"
    names = [f"{host}/{ref}" for host in (cfg.private_registry, cfg.open_registry, "localhost")]
    if shell.which("podman"):
        podman("rm", "-f", "--ignore", "-t", "3", lab.names["container"], timeout=60)
        podman("rmi", "--ignore", *names, timeout=60)       # not -f: no other container goes with it
    # What the Docker attempt made: the same names, in Docker's store.
    remove_containers(lab.names["container"])
    remove_images(*names)


# ---------------------------------------------------------------- known-wrong attempts

def _with_docker(lab: Lab) -> None:
    """Every step with Docker, the habit: the image lands in Docker's store, not Podman's."""
    cfg = settings_module.load()
    image = _image(lab, cfg)
    docker("build", "-q", "-t", image, str(_app_dir(lab)), timeout=600)
    docker("run", "-d", "--name", lab.names["container"], "-p", f"127.0.0.1:{lab.names['port']}:8080", image)
    wait_http(f"http://127.0.0.1:{lab.names['port']}/", seconds=15)
    shell.run(f"docker logs {lab.names['container']} > {shlex.quote(str(_logs_file(lab)))}", env=shell.course_env())
    registry.login(cfg)
    docker("push", image, timeout=300)


def _push_open(lab: Lab) -> None:
    cfg = settings_module.load()
    _build_and_run(lab)
    _save_logs(lab)
    target = f"{cfg.open_registry}/{lab.names['repo']}:{lab.names['tag']}"
    podman("tag", _image(lab, cfg), target)
    _must(podman("push", "--tls-verify=false", target, timeout=300), "podman push (open registry)")


def _logs_of_first_run(lab: Lab) -> None:
    """Logs saved from a first container run without -p; then removed and run again, right."""
    cfg = settings_module.load()
    image = _image(lab, cfg)
    _must(podman("build", "-t", image, str(_app_dir(lab)), timeout=600), f"podman build -t {image}")
    _must(podman("run", "-d", "--name", lab.names["container"], image), "podman run -d")
    deadline = time.monotonic() + 15
    while not any(map(STARTUP.match, log_lines(podman("logs", lab.names["container"]).output))):
        if time.monotonic() > deadline:
            raise CourseError(f"{lab.names['container']} printed no startup line within 15 s.", "run lab.reset().")
        time.sleep(0.2)
    _save_logs(lab)
    podman("rm", "-f", "-t", "3", lab.names["container"])
    _build_and_run(lab)
    _login(cfg)
    _must(podman("push", "--tls-verify=false", image, timeout=300), "podman push")


def _stopped(lab: Lab) -> None:
    _solve(lab)
    podman("stop", lab.names["container"], timeout=60)


register(Lab(
    id="lab15-podman-build-run-push",
    title="Build, run and push with Podman",
    level="docker",
    checks=["built with Podman", "container running", "runs that image", PORT_PUBLISHED,
            "logs saved to the file", "pushed to the private registry"],
    first_failure="built with Podman",
    hints=[
        "Podman keeps images and containers of its own: `podman images` and `podman ps -a` do not list "
        "Docker's, and Docker does not see Podman's. Its commands are named like Docker's: "
        "`podman build`, `podman run`, `podman logs`, `podman push`.",
        "`podman build -t NAME DIR` builds DIR's Dockerfile; `podman run -d --name NAME -p "
        "127.0.0.1:18150:8080 IMAGE` runs it in the background. Podman uses HTTPS for every registry "
        "unless told otherwise, and localhost:5002 speaks plain HTTP: `podman login` and `podman push` "
        "need `--tls-verify=false`.",
        "`podman build -t localhost:5002/lab15/sun-cipher:v1-podman .ckalab/work/lab15/image`, "
        "`podman run -d --name lab15-sun-cipher -p 127.0.0.1:18150:8080 "
        "localhost:5002/lab15/sun-cipher:v1-podman`, `podman logs lab15-sun-cipher > "
        ".ckalab/work/lab15/logs`, `podman login --tls-verify=false -u student --password-stdin "
        "localhost:5002` (paste the password), `podman push --tls-verify=false "
        "localhost:5002/lab15/sun-cipher:v1-podman`.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("built, run and pushed with Docker", _with_docker, fails="built with Podman"),
        WrongAttempt("pushed to the open registry", _push_open, fails="pushed to the private registry"),
        WrongAttempt("logs saved from an earlier container", _logs_of_first_run,
                     fails="logs saved to the file"),
        WrongAttempt("container stopped after the logs were saved", _stopped, fails="container running"),
    ],
    check_note="Checking: this reads Podman's images and containers, asks the container and the "
               "private registry (a few seconds) ...",
    names=NAMES,
))
