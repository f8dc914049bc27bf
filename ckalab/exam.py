"""The timed mock exam (notebooks/10-mock-exam.ipynb): tasks drawn from the labs, new names each attempt.

    exam = ck.exam.new(seed=None, minutes=20)   # draws the tasks; the seed makes an attempt repeatable
    exam.setup()                                # starting state of every task (Skipped line per level missing)
    exam.start()                                # the countdown and the "working on" selector (ipywidgets)
    exam.task(1)                                # shows task 1 and books the time from now on to it
    result = exam.finish()                      # stops the clock, scores every sub-check, saves the attempt
    exam.cleanup()                              # removes what the exam made (containers, images, namespaces)

Each task is one of the lab situations (a Dockerfile to fix, an image to publish, a rollout, a
pull Secret, a broken Pod) with names drawn from the seed: namespace, Deployment, registry
path, repository and tag. Its Check reads the real state and returns a CheckResult
(ckalab.checks) whose sub-checks are always exactly the task's `checks`, in order, so the score
is a plain tally. Tasks show no theory and no hints. Names the exam creates: containers and
local images `exam-*`, repositories `exam-<team>/<app>`, host ports 1810x, namespaces labelled
`app.kubernetes.io/managed-by=ckalab-exam` (only those are deleted).

The clock runs in a daemon thread that only updates widgets, so it never blocks a cell
(JupyterLab) and never holds up a papermill run.
"""

from __future__ import annotations

import html
import json
import random
import re
import secrets
import shutil
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests
import yaml

from . import progress
from . import settings as settings_module
from .checks import CheckResult
from .errors import CourseError

SKILLS = ("Dockerfile", "registries", "rollouts", "pull secrets", "troubleshooting")
SOLVE_SEED = 23              # SOLVE=True (CI): the same exam every run
SOLVE_MINUTES = 1            # ... with a short clock
DOCKER_TASKS = 3             # drawn from the Docker-level templates
HOST_PORTS = (18101, 18102)  # notebook 10's host ports
MANAGED_BY = "ckalab-exam"
NOT_CHECKED = "not checked: an earlier check of this task failed"

TEAMS = {
    "payments": ["ledger-api", "invoice-worker", "billing-web"],
    "checkout": ["cart-api", "checkout-web", "pricing-svc"],
    "search": ["query-api", "indexer", "suggest-web"],
    "shipping": ["tracker-api", "label-worker", "eta-svc"],
    "identity": ["auth-api", "profile-web", "session-svc"],
    "catalog": ["product-api", "image-resizer", "catalog-web"],
}
ENVIRONMENTS = ("dev", "qa", "staging", "prod")
CONTAINER_PORTS = (8080, 8000, 5000, 9090)

# Name rules the tests check every drawn name against.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

APP_SOURCE = '''\
"""A small HTTP service for the mock exam: answers every GET with its name and version."""
import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (json.dumps({"service": os.environ.get("APP_NAME", "app"),
                            "version": os.environ.get("APP_VERSION", "dev")}) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8080)
port = parser.parse_args().port
server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"listening on port {port}", flush=True)
server.serve_forever()
'''


# ================================================================ tasks

@dataclass
class Template:
    """A kind of exam task. `names(rng, pick)` draws its names; the functions take the Task."""
    key: str
    skill: str
    level: str
    lab: str                       # id of the lab whose situation it varies (practise there)
    title: str
    checks: list[str]
    names: Callable[[random.Random, "Picker"], dict]
    statement: Callable[[dict], str]
    setup_fn: Callable[["Task"], None]
    check_fn: Callable[["Task", CheckResult], None]
    solve_fn: Callable[["Task"], None]
    teardown_fn: Callable[["Task"], None]


@dataclass
class Task:
    number: int
    template: Template
    names: dict
    seconds: float = 0.0
    solved: bool = False
    state: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def skill(self) -> str:
        return self.template.skill

    @property
    def level(self) -> str:
        return self.template.level

    @property
    def title(self) -> str:
        return self.template.title

    @property
    def checks(self) -> list[str]:
        return list(self.template.checks)

    @property
    def work_dir(self) -> Path:
        return settings_module.load().state_dir / "work" / "exam" / f"task{self.number}-{self.key}"

    def statement(self) -> str:
        return self.template.statement(self.names)

    def markdown(self) -> str:
        need = "Docker" if self.level == "docker" else "the kind cluster"
        return (f"### Task {self.number} · {self.title}\n\n*Skill: {self.skill} · needs {need} · "
                f"{len(self.checks)} points*\n\n{self.statement()}")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.markdown()

    def check(self, problem: str | None = None) -> CheckResult:
        """Every sub-check, in the order of `checks`; never raises. `problem`: level missing."""
        raw = CheckResult(f"Task {self.number}: {self.title}")
        if problem:
            return _ordered(self, raw, f"skipped: {problem}")
        try:
            self.template.check_fn(self, raw)
        except CourseError as exc:
            return _ordered(self, raw, f"the check could not finish: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a checker bug must not lose the whole exam
            return _ordered(self, raw, f"the check could not finish ({type(exc).__name__}: {exc})")
        return _ordered(self, raw, NOT_CHECKED)


def _ordered(task: Task, raw: CheckResult, missing_reason: str) -> CheckResult:
    done = {s.name: s for s in raw.subchecks}
    unknown = set(done) - set(task.checks)
    if unknown:
        raise ValueError(f"task {task.key} added sub-checks it does not declare: {sorted(unknown)}")
    result = CheckResult(raw.lab)
    for name in task.checks:
        if name in done:
            result.subchecks.append(done[name])
        else:
            result.add(name, False, missing_reason)
    return result


class Picker:
    """Draws names without repeats inside one exam (two tasks never share a Deployment or repo)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set = set()

    def team_app(self) -> tuple[str, str]:
        choices = sorted((t, a) for t, apps in TEAMS.items() for a in apps if (t, a) not in self.used)
        team, app = self.rng.choice(choices)
        self.used.add((team, app))
        return team, app

    def namespace(self, team: str) -> str:
        choices = [f"{team}-{e}" for e in ENVIRONMENTS if f"{team}-{e}" not in self.used]
        ns = self.rng.choice(choices)
        self.used.add(ns)
        return ns

    def version(self) -> str:
        while True:
            v = f"{self.rng.randint(1, 4)}.{self.rng.randint(0, 12)}.{self.rng.randint(0, 9)}"
            if v not in self.used:
                self.used.add(v)
                return v

    def suffix(self) -> str:
        return "".join(self.rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(4))


def _cfg():
    return settings_module.load()


def _docker(*args: str, timeout: float = 300, input: str | None = None):
    from .labs import docker
    return docker(*args, timeout=timeout, input=input)


def _must(result, what: str):
    if not result.ok:
        tail = (result.output.strip().splitlines() or ["no output"])[-1][:200]
        raise CourseError(f"The exam could not {what}: {tail}", "run `make doctor`, then run the cell again.")
    return result


def _image_id(ref: str) -> str | None:
    result = _docker("image", "inspect", "-f", "{{.Id}}", ref, timeout=30)
    return result.output.strip() if result.ok else None


def _image_config(ref: str) -> dict | None:
    result = _docker("image", "inspect", ref, timeout=30)
    if not result.ok:
        return None
    return json.loads(result.output)[0]


def _is_shell_form(command) -> bool:
    return bool(command) and len(command) >= 2 and Path(command[0]).name in ("sh", "bash", "dash") \
        and command[1] == "-c"


def _http_ok(url: str, seconds: float = 8) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2).ok
        except requests.RequestException:
            time.sleep(0.25)
    return False


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _build(context: Path, tag: str, *extra: str):
    return _docker("build", "-q", "-t", tag, *extra, str(context), timeout=600)


def _remove_work(task: Task) -> None:
    if task.work_dir.exists():
        shutil.rmtree(task.work_dir)


def _manifest_digests(api, repo: str, tag: str) -> set[str]:
    """Digests that identify repo:tag in a registry: the manifest's, its config's, its children's."""
    manifest = api.manifest(repo, tag)
    found = {manifest.digest}
    if manifest.is_index:
        for child in manifest.body.get("manifests", []):
            found.add(child.get("digest"))
            try:
                found.add(api.manifest(repo, child["digest"]).body.get("config", {}).get("digest"))
            except (CourseError, KeyError):
                pass
    else:
        found.add(manifest.body.get("config", {}).get("digest"))
    return {d for d in found if d}


def _local_digests(ref: str) -> set[str]:
    info = _image_config(ref) or {}
    found = {info.get("Id")}
    found |= {d.split("@", 1)[1] for d in info.get("RepoDigests") or [] if "@" in d}
    return {d for d in found if d}


# ---------------------------------------------------------------- Dockerfile: fix and build

def _dockerfile_names(rng, pick):
    team, app = pick.team_app()
    return {"team": team, "app": app, "repo": f"exam-{team}/{app}", "tag": pick.version(),
            "port": rng.choice(CONTAINER_PORTS), "container": f"exam-{app}-check",
            "host_port": HOST_PORTS[0], "registry": _cfg().open_registry}


def _dockerfile_image(n) -> str:
    return f"{n['registry']}/{n['repo']}:{n['tag']}"


def _dockerfile_statement(n) -> str:
    return textwrap.dedent(f"""\
        The Dockerfile in `.ckalab/work/exam/<this task>/` (the exact path is printed by the setup
        cell) builds **{n['app']}** but fails review. Fix it so that:

        * local files are copied with `COPY`, not `ADD`;
        * the container runs as the unprivileged user ID `10001`;
        * the app is started in exec (JSON) form, so it is PID 1 and receives SIGTERM;

        then build it as **`{_dockerfile_image(n)}`** (no push needed). The app listens on
        container port **{n['port']}**, and the image must keep starting it there.""")


def _dockerfile_broken(n) -> str:
    return textwrap.dedent(f"""\
        # {n['app']} (team {n['team']})
        FROM python:3.13-slim
        WORKDIR /srv/app
        ADD app.py .
        ENV APP_NAME={n['app']}
        EXPOSE {n['port']}
        CMD python app.py --port {n['port']}
        """)


def _dockerfile_fixed(n) -> str:
    return textwrap.dedent(f"""\
        # {n['app']} (team {n['team']})
        FROM python:3.13-slim
        WORKDIR /srv/app
        COPY app.py .
        ENV APP_NAME={n['app']}
        USER 10001
        EXPOSE {n['port']}
        CMD ["python", "app.py", "--port", "{n['port']}"]
        """)


def _dockerfile_setup(task: Task) -> None:
    n = task.names
    _docker("rm", "-f", n["container"], timeout=60)
    _docker("image", "rm", "-f", _dockerfile_image(n), timeout=60)
    _write(task.work_dir / "app.py", APP_SOURCE)
    dockerfile = task.work_dir / "Dockerfile"
    if not dockerfile.exists():
        _write(dockerfile, _dockerfile_broken(n))
    print(f"Task {task.number}: your files are in {task.work_dir.relative_to(_cfg().root)}/")


def _dockerfile_check(task: Task, r: CheckResult) -> None:
    n = task.names
    image = _dockerfile_image(n)
    info = _image_config(image)
    if not r.add("image built", info is not None,
                 f"{image} exists" if info else f"there is no image {image}: build it with `docker build -t {image} ...`"):
        return
    text = (task.work_dir / "Dockerfile").read_text() if (task.work_dir / "Dockerfile").exists() else ""
    adds = [l.strip() for l in text.splitlines() if l.strip().upper().startswith("ADD ")]
    r.add("COPY for local files", bool(text) and not adds,
          "the Dockerfile uses COPY" if text and not adds else
          f"`{adds[0]}` copies a local file with ADD: use COPY" if adds else "the Dockerfile is missing")
    config = info.get("Config") or {}
    user = (config.get("User") or "").split(":")[0]
    r.add("non-root user", user == "10001",
          "the image runs as user 10001" if user == "10001" else
          f"the image runs as {user or 'root (no USER)'}, not 10001")
    entrypoint, cmd = config.get("Entrypoint"), config.get("Cmd")
    shell = _is_shell_form(entrypoint) or _is_shell_form(cmd)
    r.add("exec form", not shell,
          f"the image starts {json.dumps((entrypoint or []) + (cmd or []))} with no shell in between"
          if not shell else f"the image starts {json.dumps((entrypoint or []) + (cmd or []))}: "
                            "a shell is PID 1; use the JSON form")
    try:
        run = _docker("run", "-d", "--name", n["container"], "-p",
                      f"127.0.0.1:{n['host_port']}:{n['port']}", image, timeout=60)
        answers = run.ok and _http_ok(f"http://127.0.0.1:{n['host_port']}/")
        if not r.add("answers HTTP", answers,
                     f"the container answers on port {n['port']}" if answers else
                     f"nothing answered on container port {n['port']}"):
            return
        started = time.monotonic()
        _docker("stop", "-t", "5", n["container"], timeout=30)
        took = time.monotonic() - started
        r.add("stops on SIGTERM", took < 3, f"`docker stop` took {took:.1f} s"
              + ("" if took < 3 else ": SIGTERM did not reach the app (a shell as PID 1?)"))
    finally:
        _docker("rm", "-f", n["container"], timeout=60)


def _dockerfile_solve(task: Task) -> None:
    _write(task.work_dir / "Dockerfile", _dockerfile_fixed(task.names))
    _must(_build(task.work_dir, _dockerfile_image(task.names)), "build the reference Dockerfile")


def _dockerfile_teardown(task: Task) -> None:
    _docker("rm", "-f", task.names["container"], timeout=60)
    _docker("image", "rm", "-f", _dockerfile_image(task.names), timeout=60)
    _remove_work(task)


# ---------------------------------------------------------------- publish an image (open / private)

def _publish_names(which: str):
    def names(rng, pick):
        team, app = pick.team_app()
        cfg = _cfg()
        return {"team": team, "app": app, "which": which,
                "registry": cfg.open_registry if which == "open" else cfg.private_registry,
                "repo": f"exam-{team}/{app}", "tag": pick.version(),
                "local": f"exam-{app}:ci-{pick.suffix()}"}
    return names


def _publish_target(n) -> str:
    return f"{n['registry']}/{n['repo']}:{n['tag']}"


def _publish_statement(n) -> str:
    login = ("" if n["which"] == "open" else
             "\n\nThis registry requires a login: the lab user and password are in "
             "`ck.registry.credentials()`.")
    return textwrap.dedent(f"""\
        The CI job built the image **`{n['local']}`** on this machine. Publish exactly that image
        to the {n['which']} registry as **`{_publish_target(n)}`**: tag it and push it.""") + login


def _publish_setup(task: Task) -> None:
    n = task.names
    _docker("image", "rm", "-f", _publish_target(n), timeout=60)
    # A fresh file each attempt: a tag pushed by an earlier attempt is a different image.
    _write(task.work_dir / "build-id.txt", f"{n['local']} {secrets.token_hex(8)}\n")
    _write(task.work_dir / "Dockerfile", "FROM scratch\nCOPY build-id.txt /\n")
    _must(_build(task.work_dir, n["local"]), f"build {n['local']}")
    task.state["local_id"] = _image_id(n["local"])


def _publish_check(task: Task, r: CheckResult) -> None:
    from . import registry
    n = task.names
    target = _publish_target(n)
    local_id, target_id = _image_id(n["local"]), _image_id(target)
    tagged = target_id is not None and target_id == local_id
    if not r.add("tagged", tagged,
                 f"{target} is the image {n['local']}" if tagged else
                 f"there is no local tag {target}" if target_id is None else
                 f"{target} is a different image than {n['local']}"):
        return
    api = registry.api(n["which"])
    try:
        tags = api.tags(n["repo"])
    except CourseError:
        tags = []
    if not r.add("pushed", n["tag"] in tags,
                 f"the registry has {n['repo']}:{n['tag']}" if n["tag"] in tags else
                 f"the registry has no {n['repo']}:{n['tag']} (tags: {', '.join(tags) or 'none'})"):
        return
    same = bool(_manifest_digests(api, n["repo"], n["tag"]) & _local_digests(n["local"]))
    r.add("same image", same, "the pushed tag is the CI image" if same else
          f"{n['repo']}:{n['tag']} in the registry is another image: push again")


def _publish_solve(task: Task) -> None:
    from . import registry
    n = task.names
    if n["which"] == "private":
        registry.login()
    _must(_docker("tag", n["local"], _publish_target(n), timeout=60), "tag the image")
    _must(_docker("push", _publish_target(n), timeout=300), "push the image")


def _publish_teardown(task: Task) -> None:
    _docker("image", "rm", "-f", _publish_target(task.names), task.names["local"], timeout=60)
    _remove_work(task)


# ---------------------------------------------------------------- a container that exits at once

def _crash_names(rng, pick):
    team, app = pick.team_app()
    return {"team": team, "app": app, "image": f"exam-{app}:{pick.version()}",
            "container": f"exam-{app}", "port": rng.choice(CONTAINER_PORTS),
            "host_port": HOST_PORTS[1]}


def _crash_statement(n) -> str:
    return textwrap.dedent(f"""\
        The container **`{n['container']}`** (image `{n['image']}`) stops right after it starts.
        Find out why, fix the Dockerfile in `.ckalab/work/exam/<this task>/` (path printed by the
        setup cell), rebuild the image **under the same name**, and run it again as a container
        named **`{n['container']}`** that publishes container port {n['port']} on
        **127.0.0.1:{n['host_port']}**. It must keep running.""")


def _crash_dockerfile(n, script: str) -> str:
    return textwrap.dedent(f"""\
        FROM python:3.13-slim
        WORKDIR /srv/app
        COPY app.py .
        ENV APP_NAME={n['app']}
        USER 10001
        EXPOSE {n['port']}
        CMD ["python", "{script}", "--port", "{n['port']}"]
        """)


def _crash_run(n):
    _docker("rm", "-f", n["container"], timeout=60)
    return _docker("run", "-d", "--name", n["container"], "-p",
                   f"127.0.0.1:{n['host_port']}:{n['port']}", n["image"], timeout=60)


def _crash_setup(task: Task) -> None:
    n = task.names
    _write(task.work_dir / "app.py", APP_SOURCE)
    _write(task.work_dir / "Dockerfile", _crash_dockerfile(n, "main.py"))
    _must(_build(task.work_dir, n["image"]), f"build {n['image']}")
    task.state["broken_id"] = _image_id(n["image"])
    _must(_crash_run(n), f"start {n['container']}")
    # The starting state is a container that has already stopped (not one still starting up).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _docker("inspect", "-f", "{{.State.Running}}", n["container"],
                                                  timeout=20).output.strip() == "true":
        time.sleep(0.2)
    print(f"Task {task.number}: your files are in {task.work_dir.relative_to(_cfg().root)}/")


def _crash_check(task: Task, r: CheckResult) -> None:
    n = task.names
    state = _docker("inspect", "-f", "{{.State.Status}}|{{.Image}}", n["container"], timeout=20)
    status, _, image_id = state.output.strip().partition("|") if state.ok else ("gone", "", "")
    if not r.add("container running", status == "running",
                 f"{n['container']} is running" if status == "running" else
                 f"{n['container']} is {status}" + (f"; last log line: {_last_log(n['container'])}"
                                                    if status != "gone" else "")):
        return
    current = _image_id(n["image"])
    rebuilt = image_id == current and current != task.state.get("broken_id")
    if not r.add("runs the rebuilt image", rebuilt,
                 f"it runs the rebuilt {n['image']}" if rebuilt else
                 f"it does not run a rebuilt {n['image']} (rebuild it under the same name, then run it)"):
        return
    answers = _http_ok(f"http://127.0.0.1:{n['host_port']}/")
    r.add("answers HTTP", answers, f"127.0.0.1:{n['host_port']} answers" if answers else
          f"nothing answered on 127.0.0.1:{n['host_port']} (publish container port {n['port']})")


def _last_log(container: str) -> str:
    lines = [l for l in _docker("logs", "--tail", "3", container, timeout=20).output.splitlines() if l.strip()]
    return lines[-1][:140] if lines else "(no output)"


def _crash_solve(task: Task) -> None:
    n = task.names
    _write(task.work_dir / "Dockerfile", _crash_dockerfile(n, "app.py"))
    _must(_build(task.work_dir, n["image"]), f"rebuild {n['image']}")
    _must(_crash_run(n), f"start {n['container']}")


def _crash_teardown(task: Task) -> None:
    _docker("rm", "-f", task.names["container"], timeout=60)
    _docker("image", "rm", "-f", task.names["image"], timeout=60)
    _remove_work(task)


# ---------------------------------------------------------------- cluster helpers

def _kubectl(*args: str, input: str | None = None, timeout: float = 180):
    from .cluster import kubectl
    return kubectl(*args, input=input, timeout=timeout)


def _kget(kind: str, name: str, ns: str) -> dict | None:
    result = _kubectl("get", kind, name, "-n", ns, "-o", "json", timeout=30)
    return json.loads(result.output) if result.ok else None


def _namespace(ns: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}}
    _must(_kubectl("apply", "-f", "-", input=json.dumps(manifest)), f"create namespace {ns}")


def _delete_namespace(ns: str) -> None:
    current = _kget("namespace", ns, "default")
    if current and current["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == MANAGED_BY:
        _kubectl("delete", "namespace", ns, "--wait=false", timeout=60)


def _deployment(n: dict, image: str, pull_secret: str | None = None) -> dict:
    spec = {"containers": [{
        "name": n["container"], "image": image, "args": ["--port", "8080"],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2},
    }]}
    if pull_secret:
        spec["imagePullSecrets"] = [{"name": pull_secret}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": n["deploy"], "namespace": n["ns"], "labels": {"app": n["deploy"]}},
            "spec": {"replicas": n["replicas"], "selector": {"matchLabels": {"app": n["deploy"]}},
                     "template": {"metadata": {"labels": {"app": n["deploy"]}}, "spec": spec}}}


def _push_app_image(host_ref: str, version: str, *, login: bool = False) -> None:
    """Build the exam's small app image with APP_VERSION baked in, and push it."""
    from . import registry
    context = _cfg().state_dir / "work" / "exam" / "cluster-image"
    _write(context / "app.py", APP_SOURCE)
    _write(context / "Dockerfile", "FROM python:3.13-slim\nARG APP_VERSION=dev\nENV APP_VERSION=${APP_VERSION}\n"
                                   "WORKDIR /srv/app\nCOPY app.py .\nUSER 10001\n"
                                   'ENTRYPOINT ["python", "app.py"]\n')
    _must(_build(context, host_ref, "--build-arg", f"APP_VERSION={version}"), f"build {host_ref}")
    if login:
        registry.login()
    _must(_docker("push", host_ref, timeout=300), f"push {host_ref}")


def _template_image(deploy: dict | None, container: str) -> str | None:
    if not deploy:
        return None
    for c in deploy["spec"]["template"]["spec"].get("containers", []):
        if c["name"] == container:
            return c.get("image")
    return None


def _rolled_out(deploy: dict) -> tuple[bool, str]:
    spec, status = deploy["spec"], deploy.get("status", {})
    want = spec.get("replicas", 1)
    fresh = status.get("observedGeneration", 0) >= deploy["metadata"].get("generation", 0)
    ok = fresh and status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want \
        and status.get("replicas", 0) == want
    return ok, (f"{want}/{want} replicas updated and available" if ok else
                f"updated {status.get('updatedReplicas', 0)}, available {status.get('availableReplicas', 0)} "
                f"of {want} (`kubectl rollout status deployment/{deploy['metadata']['name']}`)")


def _pods_ready(n: dict, image: str) -> tuple[bool, str]:
    result = _kubectl("get", "pods", "-n", n["ns"], "-l", f"app={n['deploy']}", "-o", "json", timeout=30)
    pods = [p for p in json.loads(result.output)["items"] if not p["metadata"].get("deletionTimestamp")] \
        if result.ok else []
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in p.get("status", {}).get("conditions", []))
             and _template_image({"spec": {"template": p}}, n["container"]) == image]
    ok = len(pods) == n["replicas"] and len(ready) == n["replicas"]
    return ok, (f"{len(ready)} Pods Ready with {image}" if ok else
                f"{len(ready)} of {len(pods)} Pods Ready with {image} (want {n['replicas']})")


def _cluster_names(rng, pick, **extra):
    team, app = pick.team_app()
    return {"team": team, "app": app, "ns": pick.namespace(team), "deploy": app,
            "container": app.split("-")[0], "repo": f"exam-{team}/{app}", "replicas": 2, **extra}


# ---------------------------------------------------------------- rollouts: update the image

def _rollout_names(rng, pick):
    n = _cluster_names(rng, pick)
    reg = _cfg().open_registry
    old, new = sorted([pick.version(), pick.version()], key=lambda v: tuple(map(int, v.split("."))))
    n["old"], n["new"] = f"{reg}/{n['repo']}:{old}", f"{reg}/{n['repo']}:{new}"
    return n


def _rollout_statement(n) -> str:
    return textwrap.dedent(f"""\
        In namespace **`{n['ns']}`**, Deployment **`{n['deploy']}`** runs `{n['old']}`. Update its
        container **`{n['container']}`** to **`{n['new']}`** without changing anything else, and make
        sure the rollout completes with all {n['replicas']} replicas.""")


def _rollout_setup(task: Task) -> None:
    n = task.names
    for ref in (n["old"], n["new"]):
        _push_app_image(ref, ref.rsplit(":", 1)[1])
    _namespace(n["ns"])
    _must(_kubectl("apply", "-f", "-", input=json.dumps(_deployment(n, n["old"]))), f"create {n['deploy']}")
    _must(_kubectl("rollout", "status", f"deployment/{n['deploy']}", "-n", n["ns"], "--timeout=180s",
                   timeout=200), f"start {n['deploy']}")


def _rollout_check(task: Task, r: CheckResult) -> None:
    n = task.names
    deploy = _kget("deployment", n["deploy"], n["ns"])
    image = _template_image(deploy, n["container"])
    if not r.add("image updated", image == n["new"],
                 f"container {n['container']} is set to {n['new']}" if image == n["new"] else
                 f"container {n['container']} is set to {image or 'nothing (Deployment missing?)'}"):
        return
    ok, why = _rolled_out(deploy)
    if not r.add("rollout complete", ok, why):
        return
    ok, why = _pods_ready(n, n["new"])
    r.add("Pods run the new image", ok, why)


def _set_image_and_wait(n: dict, image: str) -> None:
    _must(_kubectl("set", "image", f"deployment/{n['deploy']}", f"{n['container']}={image}", "-n", n["ns"]),
          "set the image")
    _must(_kubectl("rollout", "status", f"deployment/{n['deploy']}", "-n", n["ns"], "--timeout=180s",
                   timeout=200), "finish the rollout")


def _rollout_solve(task: Task) -> None:
    _set_image_and_wait(task.names, task.names["new"])


def _cluster_teardown(task: Task) -> None:
    _delete_namespace(task.names["ns"])
    _remove_work(task)


# ---------------------------------------------------------------- pull secrets

def _secret_names(rng, pick):
    n = _cluster_names(rng, pick)
    n["secret"] = rng.choice(["regcred", "registry-creds", "pull-secret"]) + f"-{n['team']}"
    n["server"] = _cfg().private_registry_in_cluster
    tag = pick.version()
    n["image"] = f"{n['server']}/{n['repo']}:{tag}"
    n["push"] = f"{_cfg().private_registry}/{n['repo']}:{tag}"
    return n


def _secret_statement(n) -> str:
    return textwrap.dedent(f"""\
        Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** cannot pull
        `{n['image']}` from the private registry. Create a Secret of type
        `kubernetes.io/dockerconfigjson` named **`{n['secret']}`** in `{n['ns']}` with the lab
        credentials (`ck.registry.credentials()`) for the server **`{n['server']}`**, make the
        Deployment's Pods use it, and make sure all {n['replicas']} replicas are Ready.""")


def _secret_setup(task: Task) -> None:
    n = task.names
    _push_app_image(n["push"], n["push"].rsplit(":", 1)[1], login=True)
    _namespace(n["ns"])
    _kubectl("delete", "secret", n["secret"], "-n", n["ns"], "--ignore-not-found", timeout=60)
    _must(_kubectl("apply", "-f", "-", input=json.dumps(_deployment(n, n["image"]))), f"create {n['deploy']}")


def _secret_check(task: Task, r: CheckResult) -> None:
    from . import pullsecrets
    n = task.names
    secret = _kget("secret", n["secret"], n["ns"])
    typed = bool(secret) and secret.get("type") == pullsecrets.SECRET_TYPE
    if not r.add("Secret exists", typed,
                 f"{n['secret']} is a {pullsecrets.SECRET_TYPE} Secret" if typed else
                 f"no Secret {n['secret']} in {n['ns']}" if not secret else
                 f"{n['secret']} has type {secret.get('type')}, not {pullsecrets.SECRET_TYPE}"):
        return
    cfg = _cfg()
    try:
        works = pullsecrets.authenticates(secret, f"http://{cfg.private_registry}", server=n["server"])
        why = "its credentials log in to the registry" if works else "the registry refuses its credentials (401)"
    except CourseError as exc:
        works, why = False, exc.message
    if not r.add("credentials work", works, why):
        return
    deploy = _kget("deployment", n["deploy"], n["ns"]) or {"spec": {"template": {"spec": {}}}}
    refs = [s.get("name") for s in deploy["spec"]["template"]["spec"].get("imagePullSecrets") or []]
    if not r.add("Deployment uses it", n["secret"] in refs,
                 f"the Pod template lists {n['secret']}" if n["secret"] in refs else
                 f"the Pod template's imagePullSecrets are {refs or 'empty'}"):
        return
    ok, why = _pods_ready(n, n["image"])
    r.add("replicas Ready", ok, why)


def _secret_solve(task: Task) -> None:
    from . import registry
    n = task.names
    creds = registry.credentials()
    _must(_kubectl("create", "secret", "docker-registry", n["secret"], "-n", n["ns"],
                   f"--docker-server={n['server']}", f"--docker-username={creds.username}",
                   f"--docker-password={creds.password}"), "create the pull Secret")
    patch = {"spec": {"template": {"spec": {"imagePullSecrets": [{"name": n["secret"]}]}}}}
    _must(_kubectl("patch", "deployment", n["deploy"], "-n", n["ns"], "-p", json.dumps(patch)),
          "add the Secret to the Deployment")
    _must(_kubectl("rollout", "status", f"deployment/{n['deploy']}", "-n", n["ns"], "--timeout=180s",
                   timeout=200), "finish the rollout")


# ---------------------------------------------------------------- troubleshooting: a Pod that cannot pull

def _typo(tag: str, rng: random.Random) -> str:
    """A tag one slip away from `tag` that no attempt ever pushes (pushed tags are always X.Y.Z, Z < 10)."""
    major, minor, patch = tag.split(".")
    return rng.choice([f"v{tag}", f"{major}.{minor}", f"{major}.{minor}.{patch}0"])


def _pull_names(rng, pick):
    n = _cluster_names(rng, pick)
    reg = _cfg().open_registry
    tag = pick.version()
    n["good"] = f"{reg}/{n['repo']}:{tag}"
    n["bad"] = f"{reg}/{n['repo']}:{_typo(tag, rng)}"
    return n


def _pull_statement(n) -> str:
    return textwrap.dedent(f"""\
        The Pods of Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** never start. Find
        the cause and fix the Deployment so that all {n['replicas']} replicas are Ready. The registry
        already holds the image the team released: do not build or push anything.""")


def _pull_setup(task: Task) -> None:
    n = task.names
    _push_app_image(n["good"], n["good"].rsplit(":", 1)[1])
    _namespace(n["ns"])
    _must(_kubectl("apply", "-f", "-", input=json.dumps(_deployment(n, n["bad"]))), f"create {n['deploy']}")


def _pull_check(task: Task, r: CheckResult) -> None:
    n = task.names
    deploy = _kget("deployment", n["deploy"], n["ns"])
    image = _template_image(deploy, n["container"])
    if not r.add("image exists", image == n["good"],
                 f"the Deployment now pulls {image}, which the registry has" if image == n["good"] else
                 f"the Deployment pulls {image or 'nothing (Deployment missing?)'}: "
                 "does the registry have that tag?"):
        return
    ok, why = _rolled_out(deploy)
    if not r.add("rollout complete", ok, why):
        return
    ok, why = _pods_ready(n, n["good"])
    r.add("replicas Ready", ok, why)


def _pull_solve(task: Task) -> None:
    _set_image_and_wait(task.names, task.names["good"])


# ---------------------------------------------------------------- the pool

TEMPLATES: list[Template] = [
    Template("dockerfile", "Dockerfile", "docker", "lab01-fix-dockerfile", "Fix and build a Dockerfile",
             ["image built", "COPY for local files", "non-root user", "exec form", "answers HTTP",
              "stops on SIGTERM"],
             _dockerfile_names, _dockerfile_statement, _dockerfile_setup, _dockerfile_check,
             _dockerfile_solve, _dockerfile_teardown),
    Template("publish-open", "registries", "docker", "lab04-push-private",
             "Publish an image to a registry", ["tagged", "pushed", "same image"],
             _publish_names("open"), _publish_statement, _publish_setup, _publish_check,
             _publish_solve, _publish_teardown),
    Template("publish-private", "registries", "docker", "lab04-push-private",
             "Publish an image to a private registry", ["tagged", "pushed", "same image"],
             _publish_names("private"), _publish_statement, _publish_setup, _publish_check,
             _publish_solve, _publish_teardown),
    Template("crashing-container", "troubleshooting", "docker", "lab01-fix-dockerfile",
             "Repair a container that exits at once",
             ["container running", "runs the rebuilt image", "answers HTTP"],
             _crash_names, _crash_statement, _crash_setup, _crash_check, _crash_solve, _crash_teardown),
    Template("rollout", "rollouts", "cluster", "lab07-update-image-record-cause",
             "Roll out a new image", ["image updated", "rollout complete", "Pods run the new image"],
             _rollout_names, _rollout_statement, _rollout_setup, _rollout_check, _rollout_solve,
             _cluster_teardown),
    Template("pull-secret", "pull secrets", "cluster", "lab10-missing-pull-secret",
             "Pull from a private registry",
             ["Secret exists", "credentials work", "Deployment uses it", "replicas Ready"],
             _secret_names, _secret_statement, _secret_setup, _secret_check, _secret_solve,
             _cluster_teardown),
    Template("image-pull-error", "troubleshooting", "cluster", "lab09-wrong-tag",
             "Fix Pods that cannot pull their image", ["image exists", "rollout complete", "replicas Ready"],
             _pull_names, _pull_statement, _pull_setup, _pull_check, _pull_solve, _cluster_teardown),
]


def draw(seed: int, *, docker_tasks: int = DOCKER_TASKS) -> list[Task]:
    """The tasks of the exam for `seed`: some Docker-level templates and every cluster one,
    in a seed-dependent order, each with its own names. Same seed, same exam."""
    rng = random.Random(seed)
    pick = Picker(rng)
    docker = [t for t in TEMPLATES if t.level == "docker"]
    chosen = rng.sample(docker, min(docker_tasks, len(docker))) + [t for t in TEMPLATES if t.level == "cluster"]
    rng.shuffle(chosen)
    return [Task(i, t, t.names(rng, pick)) for i, t in enumerate(chosen, 1)]


def images_of(task: Task) -> list[str]:
    """Every image reference the task uses (host/repository:tag)."""
    n = task.names
    refs = [n[k] for k in ("image", "old", "new", "good", "bad", "push", "local") if k in n]
    if task.key == "dockerfile":
        refs.append(_dockerfile_image(n))
    if task.key.startswith("publish"):
        refs.append(_publish_target(n))
    return refs


def split_image(ref: str) -> tuple[str | None, str, str]:
    """(registry host or None, repository path, tag) of `host:port/path:tag`."""
    name, _, tag = ref.rpartition(":")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return None, name, tag


def names_in(task: Task) -> dict[str, list[str]]:
    """The task's names by the rule they must follow: Kubernetes object names (DNS labels),
    Docker container names, and image references."""
    n = task.names
    dns = [n[k] for k in ("ns", "deploy", "secret") if k in n]
    containers = []
    if "container" in n:
        (dns if task.level == "cluster" else containers).append(n["container"])
    return {"dns": dns, "container": containers, "image": images_of(task)}


# ================================================================ the exam

@dataclass
class TaskResult:
    number: int
    key: str
    title: str
    skill: str
    level: str
    result: CheckResult
    seconds: float
    solved: bool
    skipped: bool
    lab: str = ""

    @property
    def score(self) -> int:
        return sum(1 for s in self.result.subchecks if s.passed)

    @property
    def practise(self) -> str:
        """The lab notebook that drills this task's skill (labs/NN-name.ipynb for lab id labNN-name)."""
        return f"labs/{self.lab[3:]}.ipynb" if self.lab.startswith("lab") else ""

    @property
    def total(self) -> int:
        return len(self.result.subchecks)

    def record(self) -> dict:
        return {"number": self.number, "key": self.key, "title": self.title, "skill": self.skill,
                "level": self.level, "score": self.score, "total": self.total,
                "seconds": round(self.seconds, 1), "solved": self.solved, "skipped": self.skipped,
                "subchecks": [{"name": s.name, "passed": s.passed, "reason": s.reason}
                              for s in self.result.subchecks]}


@dataclass(repr=False)
class ExamResult:
    seed: int
    minutes: float
    elapsed: float
    mode: str
    tasks: list[TaskResult]

    @property
    def score(self) -> int:
        return sum(t.score for t in self.tasks)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tasks)

    @property
    def percent(self) -> float:
        return round(100 * self.score / self.total, 1) if self.total else 0.0

    @property
    def overtime(self) -> bool:
        return self.elapsed > self.minutes * 60

    def skills(self) -> dict[str, dict]:
        """Points per skill: {"Dockerfile": {"score": 4, "total": 6, "tasks": 1}, ...}, in SKILLS order."""
        out: dict[str, dict] = {}
        for skill in SKILLS:
            mine = [t for t in self.tasks if t.skill == skill]
            if mine:
                out[skill] = {"score": sum(t.score for t in mine), "total": sum(t.total for t in mine),
                              "tasks": len(mine), "seconds": round(sum(t.seconds for t in mine), 1)}
        return out

    def record(self) -> dict:
        return {"seed": self.seed, "mode": self.mode, "minutes": self.minutes,
                "elapsed": round(self.elapsed, 1), "overtime": self.overtime,
                "score": self.score, "total": self.total, "percent": self.percent,
                "skills": self.skills(), "tasks": [t.record() for t in self.tasks]}

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        lines = [f"Mock exam (seed {self.seed}): {self.score}/{self.total} points ({self.percent}%) in "
                 f"{_clock(self.elapsed)} of {_clock(self.minutes * 60)}" + (" - over time" if self.overtime else "")]
        for t in self.tasks:
            note = " (skipped)" if t.skipped else ""
            if t.score < t.total and t.practise:
                note += f" - practise: {t.practise}"
            lines.append(f"  Task {t.number} [{t.skill}] {t.title}: {t.score}/{t.total} in {_clock(t.seconds)}{note}")
        lines.append("By skill: " + ", ".join(f"{k} {v['score']}/{v['total']}" for k, v in self.skills().items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{t.number}</td><td>{html.escape(t.title)}</td><td>{html.escape(t.skill)}</td>"
            f"<td>{t.score} / {t.total}</td><td>{_clock(t.seconds)}</td>"
            f"<td>{'skipped' if t.skipped else ''}</td></tr>" for t in self.tasks)
        skills = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['score']} / {v['total']}</td>"
                         f"<td>{_bar(v['score'], v['total'])}</td></tr>" for k, v in self.skills().items())
        details = "".join(f"<details><summary>Task {t.number}: sub-checks</summary>{t.result._repr_html_()}</details>"
                          for t in self.tasks)
        over = " <b style='color:#b00'>(over time)</b>" if self.overtime else ""
        tables = (f"<table><tr><th>#</th><th>task</th><th>skill</th><th>points</th><th>time</th><th></th></tr>"
                  f"{rows}</table><h4>By skill</h4><table>{skills}</table>")
        # JupyterLab right-aligns table cells; text columns read better left-aligned.
        tables = tables.replace("<td>", "<td style='text-align:left'>").replace("<th>", "<th style='text-align:left'>")
        return (f"<h3>Score: {self.score} / {self.total} ({self.percent}%)</h3>"
                f"<p>Seed {self.seed}; time used {_clock(self.elapsed)} of {_clock(self.minutes * 60)}{over}.</p>"
                f"{tables}{details}")


def _bar(score: int, total: int) -> str:
    width = int(120 * score / total) if total else 0
    return (f"<div style='width:120px;background:#eee'><div style='width:{width}px;height:10px;"
            f"background:#2a7'></div></div>")


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class Exam:
    """One attempt: the drawn tasks, the clock, the time booked per task, and the score."""

    def __init__(self, seed: int, minutes: float, *, mode: str = "exam", docker_tasks: int = DOCKER_TASKS):
        self.seed, self.minutes, self.mode = seed, minutes, mode
        self.tasks = draw(seed, docker_tasks=docker_tasks)
        self.started: float | None = None
        self.ended: float | None = None
        self.current: int | None = None
        self._since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.widget = None
        self.result: ExamResult | None = None

    # ------------------------------------------------------------ clock

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def remaining(self) -> float:
        return self.minutes * 60 - self.elapsed()

    def switch(self, number: int | None) -> None:
        """Book the time since the last switch to the current task; then work on `number`."""
        with self._lock:
            now = time.monotonic()
            if self.current is not None and self.started is not None:
                self.tasks[self.current - 1].seconds += now - self._since
            self.current, self._since = number, now
        if self.widget is not None and number is not None and self.widget.selector.value != number:
            self.widget.selector.value = number

    def start(self, *, thread: bool = True) -> "Countdown | None":
        """Start the clock (once) and return the countdown widget (also under papermill)."""
        if self.started is None:
            self.started = time.monotonic()
            self._since = self.started
        try:
            self.widget = self.widget or Countdown(self)
        except ImportError:  # no ipywidgets: the clock still runs, finish() still scores
            return None
        if thread and (self._thread is None or not self._thread.is_alive()):
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, name="ckalab-exam-clock", daemon=True)
            self._thread.start()
        return self.widget

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.widget.refresh()
            except Exception:  # noqa: BLE001 - a closed frontend must not kill the clock thread loudly
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self.started is not None and self.ended is None:
            self.switch(None)
            self.ended = time.monotonic()
        if self.widget is not None:
            self.widget.refresh()

    # ------------------------------------------------------------ tasks

    def _get(self, number: int) -> Task:
        if not 1 <= number <= len(self.tasks):
            raise CourseError(f"This exam has tasks 1 to {len(self.tasks)}, not {number}.",
                              f"use exam.task(1) ... exam.task({len(self.tasks)}).")
        return self.tasks[number - 1]

    def task(self, number: int) -> Task:
        """Show task `number` and book the time from now on to it (starts the clock if needed)."""
        task = self._get(number)
        if self.started is None:
            self.start(thread=False)
        self.switch(number)
        return task

    def setup(self) -> None:
        """The starting state of every task; a Skipped line for each level this machine lacks."""
        from .cells import requires
        for task in self.tasks:
            if requires(task.level, f"setting up exam task {task.number} ({task.title})"):
                task.template.teardown_fn(task)
                task.template.setup_fn(task)
        print(f"The exam is ready: {len(self.tasks)} tasks, {sum(len(t.checks) for t in self.tasks)} points, "
              f"{_clock(self.minutes * 60)} minutes.")

    def solve(self, number: int) -> bool:
        """Apply task `number`'s reference solution (CI, SOLVE=True); False if its level is missing."""
        from .cells import requires
        task = self._get(number)
        if not requires(task.level, f"the reference solution of exam task {number}"):
            return False
        self.task(number)
        task.template.solve_fn(task)
        task.solved = True
        return True

    def solve_available(self) -> list[int]:
        """Reference solutions for every task this machine can run; the numbers solved."""
        return [t.number for t in self.tasks if self.solve(t.number)]

    # ------------------------------------------------------------ scoring

    def finish(self, *, record: bool = True) -> ExamResult:
        """Stop the clock, run every task's Check, save the attempt (progress.record_exam)."""
        from .labs import unavailable
        self.stop()
        problems: dict[str, str | None] = {}
        results = []
        for task in self.tasks:
            if task.level not in problems:
                problems[task.level] = unavailable(task.level)
            problem = problems[task.level]
            short = None
            if problem:
                short = "needs a kind cluster (`make cluster`)" if task.level == "cluster" else \
                    "needs Docker (`make doctor`)"
            results.append(TaskResult(task.number, task.key, task.title, task.skill, task.level,
                                      task.check(short), task.seconds, task.solved, bool(problem),
                                      task.template.lab))
        self.result = ExamResult(self.seed, self.minutes, self.elapsed(), self.mode, results)
        if record:
            saved = self.result.record()
            saved["names"] = {str(t.number): t.names for t in self.tasks}
            progress.record_exam(saved)
        return self.result

    def cleanup(self) -> None:
        """Remove what the exam made: containers, local images, work files, its namespaces."""
        from .labs import unavailable
        self.stop()
        for task in self.tasks:
            if unavailable(task.level) is None:
                task.template.teardown_fn(task)
            else:
                _remove_work(task)
        shutil.rmtree(_cfg().state_dir / "work" / "exam", ignore_errors=True)
        print("Exam cleaned up. Pushed tags stay in the local registries (they do not allow deletes).")

    def __repr__(self) -> str:
        return self._repr_markdown_().replace("**", "").replace("`", "")

    def _repr_markdown_(self) -> str:
        return (f"**Mock exam**, seed `{self.seed}` ({self.mode}): {len(self.tasks)} tasks, "
                f"{sum(len(t.checks) for t in self.tasks)} points, {self.minutes:g} minutes.")


class Countdown:
    """The visible clock: time left, a progress bar, and the task you are working on."""

    def __init__(self, exam: Exam):
        import ipywidgets as w
        self.exam = exam
        self.clock = w.HTML()
        self.bar = w.FloatProgress(min=0, max=1, value=1, layout=w.Layout(width="320px"))
        self.selector = w.ToggleButtons(options=[(f"Task {t.number}", t.number) for t in exam.tasks],
                                        value=exam.current, description="Working on:",
                                        style={"button_width": "70px"})
        self.selector.observe(self._picked, names="value")
        self.widget = w.VBox([w.HBox([self.clock, self.bar]), self.selector])
        self.refresh()

    def _picked(self, change) -> None:
        if change["new"] is not None and change["new"] != self.exam.current:
            self.exam.switch(change["new"])

    def refresh(self) -> None:
        left = self.exam.remaining()
        total = self.exam.minutes * 60
        if self.exam.ended is not None:
            text, colour = f"Finished after {_clock(self.exam.elapsed())}", "#555"
            self.selector.disabled = True
        elif left <= 0:
            text, colour = f"Time is up ({_clock(-left)} over): run the Score cell", "#b00"
        else:
            text, colour = f"{_clock(left)} left", "#b00" if left < 300 else "#000"
        self.clock.value = f"<span style='font-size:1.4em;font-weight:bold;color:{colour}'>{html.escape(text)}</span>"
        self.bar.value = max(0.0, min(1.0, left / total)) if total else 0.0

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def new(seed: int | None = None, minutes: float = 20, *, solve: bool = False) -> Exam:
    """A new attempt. seed None: a random one (printed, so the attempt can be repeated).
    solve=True (CI): the fixed SOLVE_SEED unless a seed is given, and a SOLVE_MINUTES clock."""
    if solve:
        seed = SOLVE_SEED if seed is None else seed
        minutes = min(minutes, SOLVE_MINUTES)
    elif seed is None:
        seed = secrets.randbelow(900_000) + 100_000
    if minutes <= 0:
        raise CourseError(f"DURATION_MINUTES is {minutes}.", "give the exam a positive number of minutes.")
    exam = Exam(int(seed), minutes, mode="solve" if solve else "exam")
    print(f"Seed {exam.seed}: run again with SEED = {exam.seed} to get the same tasks and names.")
    return exam


__all__ = ["SKILLS", "TEMPLATES", "Exam", "ExamResult", "TaskResult", "Task", "Countdown", "draw", "new",
           "names_in", "images_of", "split_image"]
