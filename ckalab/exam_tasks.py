"""The mock exam's tasks (ckalab.exam): each one is a lab under names drawn from a seed.

    tasks = draw(seed)          # some Docker-level tasks and every cluster one, in a seeded order
    task.statement()            # the terse exam text, with the task's names
    task.lab                    # the lab under those names (Lab.variant), in the task's own folder
    task.setup(); task.solve(); task.check(); task.teardown()    # the lab's own, under those names

A task's setup, Check, reference solution and teardown ARE its lab's; this module holds no check
of its own, only the names, the statements and the order of sub-checks (always exactly the lab's
`checks`, so a score is a plain tally). Names the exam creates: containers and local images
`exam-*`, repositories `exam-<team>/<app>`, host ports 1810x, namespaces `exam-<team>-<environment>`.

It is over 400 lines because it holds one concept, the task pool: each template's names and
statement sit together, so a task reads in one place.
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import labs
from . import settings as settings_module
from .checks import CheckResult

SKILLS = ("Dockerfile", "registries", "rollouts", "pull secrets", "troubleshooting")
DOCKER_TASKS = 3             # drawn from the Docker-level templates
CLUSTER_TASKS = 3            # ... and from the cluster-level ones (notebook 10 has six task cells)
HOST_PORTS = (18101, 18102, 18103)  # notebook 10's host ports
NOT_CHECKED = labs.NOT_CHECKED

TEAMS = {
    "payments": ["ledger-api", "invoice-worker", "billing-web"],
    "checkout": ["cart-api", "checkout-web", "pricing-svc"],
    "search": ["query-api", "indexer", "suggest-web"],
    "shipping": ["tracker-api", "label-worker", "eta-svc"],
    "identity": ["auth-api", "profile-web", "session-svc"],
    "catalog": ["product-api", "image-resizer", "catalog-web"],
}
ENVIRONMENTS = ("dev", "qa", "staging", "prod")

# Name rules the tests check every drawn name against.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass
class Template:
    """A kind of exam task: a lab, how to draw its names, and the terse statement."""
    key: str
    skill: str
    lab: str                                           # the lab it is a variant of (practise there)
    title: str
    names: Callable[[random.Random, "Picker"], dict]   # a subset of that lab's `names`
    statement: Callable[["Task"], str]
    needs: str = ""                                    # a tool beyond the level (shown in the task)


@dataclass
class Task:
    number: int
    template: Template
    names: dict
    seconds: float = 0.0
    solved: bool = False
    baseline: frozenset | None = None      # sub-checks that passed right after setup (ckalab.exam)
    _lab: labs.Lab | None = field(default=None, repr=False)

    @property
    def lab(self) -> labs.Lab:
        """The lab under this task's names, working in the task's own folder."""
        if self._lab is None:
            self._lab = labs.get(self.template.lab).variant(self.names, work_dir=self.work_dir)
        return self._lab

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def skill(self) -> str:
        return self.template.skill

    @property
    def level(self) -> str:
        return self.lab.level

    @property
    def title(self) -> str:
        return self.template.title

    @property
    def checks(self) -> list[str]:
        return list(self.lab.checks)

    @property
    def work_dir(self) -> Path:
        return settings_module.load().state_dir / "work" / "exam" / f"task{self.number}-{self.key}"

    def statement(self) -> str:
        return self.template.statement(self)

    def markdown(self) -> str:
        need = "Docker" if self.level == "docker" else "the kind cluster"
        need += f" and {self.template.needs}" if self.template.needs else ""
        return (f"### Task {self.number} · {self.title}\n\n*Skill: {self.skill} · needs {need} · "
                f"{len(self.checks)} points*\n\n{self.statement()}")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.markdown()

    def setup(self) -> None:
        """The lab's own reset, under the task's names: its teardown, then its setup (silent: the
        exam never says which lab a task comes from)."""
        self.lab.reset(announce=False)

    def solve(self) -> None:
        self.lab.solve()

    def teardown(self) -> None:
        """The lab's own teardown, silent; it removes the task's folder too (the lab's work_dir)."""
        self.lab.teardown(announce=False)

    def check(self, problem: str | None = None) -> CheckResult:
        """The lab's Check under the task's names, behind the lab's own guard (labs.guarded_check):
        every sub-check, in order, so that a score is a tally; never raises. `problem`: the level
        is missing (the exam probes each level once)."""
        return _ordered(self, labs.guarded_check(self.lab, f"Task {self.number}: {self.title}", problem))


def _ordered(task: Task, guarded: CheckResult) -> CheckResult:
    """The lab's result as exactly its declared sub-checks: the guard's own line (the level is
    missing, or the checker stopped) becomes the reason of every sub-check it kept from running."""
    done = {s.name: s for s in guarded.subchecks}
    guard_lines = {labs.needs(task.level), labs.CHECKER}
    unknown = set(done) - set(task.checks) - guard_lines
    if unknown:
        raise ValueError(f"task {task.key} added sub-checks it does not declare: {sorted(unknown)}")
    stopped = next((s for s in guarded.subchecks if s.name in guard_lines), None)
    why = None
    if stopped is not None:
        why = (f"skipped: {stopped.reason}" if stopped.name != labs.CHECKER
               else f"the check could not finish: {stopped.reason}")
    result = CheckResult(guarded.lab)
    for name in task.checks:
        if name in done and not (why and done[name].reason == NOT_CHECKED):
            result.subchecks.append(done[name])
        else:
            result.add(name, False, why or NOT_CHECKED)
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
        # exam-: a task's teardown deletes its namespace, and must never meet one of the learner's.
        choices = [f"exam-{team}-{e}" for e in ENVIRONMENTS if f"exam-{team}-{e}" not in self.used]
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


def _folder(task: Task) -> str:
    return f"`{task.lab.shown(task.work_dir)}/`"


# ---------------------------------------------------------------- names and statements, by lab

def _dockerfile_names(rng, pick):                      # lab01
    team, app = pick.team_app()
    return {"image": f"exam-{team}/{app}:{pick.version()}", "run": f"exam-{app}-run",
            "args": f"exam-{app}-args", "port": HOST_PORTS[0], "args_port": HOST_PORTS[1]}


def _dockerfile_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        The Dockerfile in {_folder(task)} builds the team's ledger API but fails review. Fix it so that:

        * local files are copied with `COPY`, not `ADD`;
        * the program is started in exec (JSON) form: it is PID 1, and `docker stop` ends it in under 3 s;
        * `docker run IMAGE` serves on container port 8080, and arguments to `docker run IMAGE --port 9090`
          reach the app instead of replacing it.

        The Check builds the folder as **`{n['image']}`** and runs it on host ports {n['port']} and
        {n['args_port']}.""")


def _publish_names(rng, pick):                         # lab04
    team, app = pick.team_app()
    return {"local": f"exam-{app}:ci-{pick.suffix()}", "repo": f"exam-{team}/{app}", "tag": pick.version()}


def _publish_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        The CI job built the image **`{n['local']}`** on this machine. Publish exactly that image
        to the private registry as **`{_cfg().private_registry}/{n['repo']}:{n['tag']}`**, and
        nowhere else. The registry requires a login: the lab user and password are in
        `ck.registry.credentials()`. Log in with the course's Docker config (`source .ckalab/env.sh`
        sets it), not with your own `~/.docker`.""")


def _podman_names(rng, pick):                          # lab15
    team, app = pick.team_app()
    return {"repo": f"exam-{team}/{app}", "tag": f"{pick.version()}-podman", "container": f"exam-{app}",
            "port": HOST_PORTS[2]}


def _podman_statement(task: Task) -> str:
    n, lab = task.names, task.lab
    image = f"{_cfg().private_registry}/{n['repo']}:{n['tag']}"
    return textwrap.dedent(f"""\
        This machine's build host has no Docker daemon for you: use **Podman** only. Build the
        folder `{lab.shown(lab.work_dir / 'image')}/` as **`{image}`**, run it as container
        **`{n['container']}`** with container port 8080 published on `127.0.0.1:{n['port']}`, save that
        container's logs to `{lab.shown(lab.work_dir / 'logs')}`, and push the image to the private
        registry (login: `ck.registry.credentials()`). Leave the container running.""")


def _cluster_names(pick) -> dict:
    team, app = pick.team_app()
    return {"ns": pick.namespace(team), "deploy": app, "container": app.split("-")[0],
            "repo": f"exam-{team}/{app}"}


def _image(task: Task, tag_name: str = "tag", host: str | None = None) -> str:
    return f"{host or _cfg().open_registry}/{task.names['repo']}:{task.names[tag_name]}"


def _rollout_names(rng, pick):                         # lab07
    n = _cluster_names(pick)
    n["tag"], n["new_tag"] = _versions(pick, 2)
    return n


def _rollout_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        In namespace **`{n['ns']}`**, Deployment **`{n['deploy']}`** runs `{_image(task)}` in its
        container **`{n['container']}`**, beside a log-forwarder sidecar. Update that container to
        **`{_image(task, 'new_tag')}`** and leave the sidecar as it is. Record why in the
        Deployment's `kubernetes.io/change-cause` annotation, naming the new tag, so that
        `kubectl rollout history` shows it for the new revision. The rollout must complete.""")


def _rollback_names(rng, pick):                        # lab08
    n = _cluster_names(pick)
    n["good_tag"], n["bad_tag"] = _versions(pick, 2)
    return n


def _rollback_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** was just updated to
        `{_image(task, 'bad_tag')}`, and the rollout is stuck. Roll it back to the revision that
        worked, so that all its replicas are Ready and the rollback shows in its revision history.
        Do not delete or recreate the Deployment.""")


def _secret_names(rng, pick):                          # lab10
    return {**_cluster_names(pick), "tag": pick.version()}


def _secret_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** cannot pull
        `{_image(task, host=_cfg().private_registry_in_cluster)}` from the private registry. Give
        its Pods the registry credentials (the lab user, `ck.registry.credentials()`) in a Secret
        of type `kubernetes.io/dockerconfigjson`, and make sure its replicas are Ready.""")


def _account_names(rng, pick):                         # lab12
    n = _secret_names(rng, pick)
    n["sa"] = f"{n['deploy']}-runner"
    return n


def _account_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** runs as ServiceAccount
        **`{n['sa']}`** and cannot pull `{_image(task, host=_cfg().private_registry_in_cluster)}`.
        The Secret `regcred` in that namespace holds working registry credentials. Make every Pod
        that runs as `{n['sa']}` get them, without listing `imagePullSecrets` in the Deployment
        itself, and make sure its replicas are Ready.""")


def _typo(tag: str, rng: random.Random) -> str:
    """A tag one slip away from `tag` that no attempt ever pushes (pushed tags are always X.Y.Z, Z < 10)."""
    major, minor, patch = tag.split(".")
    return rng.choice([f"v{tag}", f"{major}.{minor}", f"{major}.{minor}.{patch}0"])


def _pull_names(rng, pick):                            # lab09
    n = _cluster_names(pick)
    n["tag"] = pick.version()
    n["bad_tag"] = _typo(n["tag"], rng)
    return n


def _pull_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        The Pods of Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** never start. Find
        the cause and fix the Deployment so that all its replicas are Ready. The registry
        already holds the image the team released: do not build or push anything.""")


def _versions(pick, count: int) -> list[str]:
    return sorted((pick.version() for _ in range(count)), key=lambda v: tuple(map(int, v.split("."))))


def _archive_names(rng, pick):                         # lab16
    n = _cluster_names(pick)
    n["old_tag"], n["tag"] = _versions(pick, 2)
    n["archive"] = f"{n['deploy']}-{n['tag']}.tar"
    n["export"] = f"exam-{n['deploy']}-export"
    return n


def _archive_statement(task: Task) -> str:
    n, lab = task.names, task.lab
    return textwrap.dedent(f"""\
        Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** runs **`{n['repo']}:{n['tag']}`**.
        That image exists only in this machine's Docker Engine, in no registry, so the node cannot
        pull it. Without a registry and without changing the Deployment, save the image as an image
        archive to **`{lab.shown(lab.work_dir / n['archive'])}`**, put it on the cluster's node, and
        make sure the Pod runs.""")


def _platform_names(rng, pick):                        # lab20
    n = _cluster_names(pick)
    n["tag"], n["fixed_tag"] = _versions(pick, 2)
    return n


def _platform_statement(task: Task) -> str:
    n, lab = task.names, task.lab
    return textwrap.dedent(f"""\
        The Pods of Deployment **`{n['deploy']}`** in namespace **`{n['ns']}`** exit as soon as they
        start. Their image `{_image(task)}` was built and pushed from a developer's laptop. Build the
        folder `{lab.shown(lab.work_dir)}/` so that one tag, **`{_image(task, 'fixed_tag')}`**, serves
        both `linux/amd64` and `linux/arm64` (with the builder `{_cfg().builder_name}`), and make the
        Deployment run it with all its replicas Ready.""")


def _daemonset_names(rng, pick):                       # lab22
    n = _cluster_names(pick)
    n["ds"] = n.pop("deploy")
    n["old_tag"], n["tag"] = _versions(pick, 2)
    return n


def _daemonset_statement(task: Task) -> str:
    n = task.names
    return textwrap.dedent(f"""\
        The template of DaemonSet **`{n['ds']}`** in namespace **`{n['ns']}`** was changed to
        `{_image(task)}`, but its Pods still run `{_image(task, 'old_tag')}`. Get the new image running
        on every node, with every Pod of the DaemonSet made from that template and Ready. Keep
        `{_image(task)}` in the template.""")


# ---------------------------------------------------------------- the pool

TEMPLATES: list[Template] = [
    Template("dockerfile", "Dockerfile", "lab01-fix-dockerfile", "Fix and build a Dockerfile",
             _dockerfile_names, _dockerfile_statement),
    Template("publish-private", "registries", "lab04-push-private", "Publish an image to a private registry",
             _publish_names, _publish_statement),
    Template("podman", "registries", "lab15-podman-build-run-push", "Build, run and push with Podman",
             _podman_names, _podman_statement, needs="Podman"),
    Template("rollout", "rollouts", "lab07-update-image-record-cause", "Roll out a new image and record why",
             _rollout_names, _rollout_statement),
    Template("rollback", "rollouts", "lab08-rollback-bad-update", "Roll back a stuck update",
             _rollback_names, _rollback_statement),
    Template("pull-secret", "pull secrets", "lab10-missing-pull-secret", "Pull from a private registry",
             _secret_names, _secret_statement),
    Template("serviceaccount-pull-secret", "pull secrets", "lab12-serviceaccount-pull-secret",
             "Give a ServiceAccount's Pods the registry credentials", _account_names, _account_statement),
    Template("image-pull-error", "troubleshooting", "lab09-wrong-tag", "Fix Pods that cannot pull their image",
             _pull_names, _pull_statement),
    Template("image-archive", "troubleshooting", "lab16-save-image-load-on-node",
             "Get an image onto the node without a registry", _archive_names, _archive_statement),
    Template("wrong-platform", "troubleshooting", "lab20-wrong-platform",
             "Ship one image for two platforms", _platform_names, _platform_statement, needs="docker buildx"),
    Template("daemonset-ondelete", "rollouts", "lab22-daemonset-ondelete",
             "Roll a new image out to a DaemonSet", _daemonset_names, _daemonset_statement),
]


def draw(seed: int, *, docker_tasks: int = DOCKER_TASKS, cluster_tasks: int = CLUSTER_TASKS) -> list[Task]:
    """The tasks of the exam for `seed`: some Docker-level templates and some cluster ones, in a
    seed-dependent order, each with its own names. Same seed, same exam."""
    rng = random.Random(seed)
    pick = Picker(rng)
    docker = [t for t in TEMPLATES if _level(t) == "docker"]
    cluster = [t for t in TEMPLATES if _level(t) == "cluster"]
    chosen = rng.sample(docker, min(docker_tasks, len(docker))) + \
        rng.sample(cluster, min(cluster_tasks, len(cluster)))
    rng.shuffle(chosen)
    return [Task(i, t, t.names(rng, pick)) for i, t in enumerate(chosen, 1)]


def _level(template: Template) -> str:
    return labs.get(template.lab).level


def images_of(task: Task) -> list[str]:
    """Every image reference the task names (host/repository:tag, or a local name:tag)."""
    n = task.names
    refs = [n[k] for k in ("image", "local") if k in n]
    if "repo" in n:
        host = _cfg().private_registry if task.key in ("publish-private", "podman", "pull-secret") \
            else _cfg().open_registry
        tags = [k for k in ("tag", "new_tag", "bad_tag", "old_tag", "fixed_tag") if k in n]
        refs += [f"{n['repo']}:{n[k]}" if task.key == "image-archive" else _image(task, k, host) for k in tags]
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
    dns = [n[k] for k in ("ns", "deploy") if k in n]
    containers = [n[k] for k in ("run", "args", "export") if k in n]
    if "container" in n:
        (dns if task.level == "cluster" else containers).append(n["container"])
    return {"dns": dns, "container": containers, "image": images_of(task)}


__all__ = ["SKILLS", "DOCKER_TASKS", "CLUSTER_TASKS", "TEMPLATES", "Template", "Task", "Picker", "draw",
           "names_in", "images_of", "split_image"]
