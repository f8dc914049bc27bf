"""Re-record tests/fixtures/pods from the course cluster: `make record-fixtures`.

For each scenario the script creates one Pod (two of them through a Deployment) in namespace
fixtures-record, waits until its container reports the waiting reason the tests expect, and
writes what the API server returns, as kubectl prints it (re-indented to two spaces):

    STEM.pod.json     kubectl get pod POD -o json
    STEM.events.json  kubectl get events --field-selector involvedObject.name=POD -o json

The images it needs are built with Docker and pushed under fixtures/ in the course registries.
It touches nothing but namespace fixtures-record (deleted again at the end, also after an error)
and those repositories. Needs `make registries cluster`; takes about two minutes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ckalab import cluster, diagnose, registry, settings, shell  # noqa: E402
from ckalab.cluster_actions import delete_namespaces  # noqa: E402
from ckalab.errors import CourseError  # noqa: E402
from ckalab.docker_checks import docker  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pods"
NS = "fixtures-record"
CFG = settings.load()
OPEN = CFG.open_registry                    # localhost:5001, for the host and the Pods alike
PRIVATE = CFG.private_registry              # localhost:5002, from the host
PRIVATE_IN_CLUSTER = CFG.private_registry_in_cluster   # private-registry:5000, from the Pods

APP = f"{OPEN}/fixtures/app:1"              # Debian, `sleep 3600`, no USER
ARM_ONLY = f"{OPEN}/fixtures/arm-only:1"    # an image index with a linux/arm64 manifest only
APP_DOCKERFILE = 'FROM debian:trixie-slim\nCMD ["sleep", "3600"]\n'
USERS = {"root": "0", "named": "nobody", "uid": "10001"}   # fixtures/app:TAG with USER VALUE
NON_ROOT = {"securityContext": {"runAsNonRoot": True}}


@dataclass
class Scenario:
    stem: str             # tests/fixtures/pods/STEM.*.json
    image: str
    reason: str           # the waiting reason to record (or "Running")
    event: str | None     # an Event reason that must be among the recorded events
    deployment: str | None = None   # run the Pod through a Deployment of this name
    container: dict | None = None   # more fields of the container
    drop_events: bool = False       # record the Events as expired: a real, empty List
    pod: dict | None = None         # more fields of the Pod spec


SCENARIOS = [
    Scenario("tag-not-found", f"{OPEN}/fixtures/app:nope", "ImagePullBackOff", "BackOff", deployment="web"),
    Scenario("unauthorized", f"{PRIVATE_IN_CLUSTER}/fixtures/private:1", "ErrImagePull", "Failed"),
    Scenario("registry-unreachable", "registry.invalid/fixtures/app:1", "ImagePullBackOff", "BackOff"),
    Scenario("never-pull", f"{OPEN}/fixtures/app:2", "ErrImageNeverPull", "ErrImageNeverPull",
             container={"imagePullPolicy": "Never"}),
    Scenario("invalid-name", f"{OPEN}/FIXTURES-app:1", "InvalidImageName", "InspectFailed"),
    Scenario("nonroot-root", f"{OPEN}/fixtures/app:root", "CreateContainerConfigError", "Failed",
             container=NON_ROOT),
    Scenario("nonroot-named", f"{OPEN}/fixtures/app:named", "CreateContainerConfigError", "Failed",
             container=NON_ROOT),
    Scenario("platform-missing", ARM_ONLY, "ErrImagePull", "Failed"),
    Scenario("running", f"{OPEN}/fixtures/app:uid", "Running", "Started", deployment="web-ok",
             container=NON_ROOT),
    Scenario("backoff-no-events", f"{OPEN}/fixtures/app:nope", "ImagePullBackOff", None, drop_events=True),
    # A pull Secret the namespace does not have: the kubelet pulls without it and, when that
    # fails, warns FailedToRetrieveImagePullSecret (kubelet v1.37, pkg/kubelet/kubelet.go).
    Scenario("missing-secret", f"{PRIVATE_IN_CLUSTER}/fixtures/private:1", "ErrImagePull",
             "FailedToRetrieveImagePullSecret", pod={"imagePullSecrets": [{"name": "regcred"}]}),
]


# ---------------------------------------------------------------- commands

def kubectl(*args: str, input: str | None = None) -> str:
    """kubectl against the course cluster only (ckalab.cluster.kubectl_result checks the context)."""
    result = cluster.kubectl_result(*args, input=input)
    if not result.ok:
        raise CourseError(f"`kubectl {' '.join(args)}` failed: {' '.join(result.output.split())[:300]}",
                          "run `make doctor`, then `make record-fixtures` again.")
    return result.output


def get_json(*args: str) -> dict:
    # shell.run merges stderr into stdout: a kubectl warning line would not be JSON.
    text = kubectl(*args, "-o", "json")
    try:
        return json.loads(text[text.index("{"):])
    except ValueError:
        raise CourseError(f"`kubectl {' '.join(args)} -o json` printed no JSON: {text[:200]}",
                          "run `make doctor`, then `make record-fixtures` again.") from None


def run_docker(*args: str, env: dict | None = None, input: str | None = None) -> None:
    if env is None:
        result = docker(*args, input=input, timeout=600)
    else:
        result = shell.run(["docker", *args], env=env, input=input, timeout=600)
    if not result.ok:
        raise CourseError(f"`docker {' '.join(args)}` failed: {' '.join(result.output.split())[:300]}",
                          "run `make doctor`, then `make record-fixtures` again.")


# ---------------------------------------------------------------- before anything else

def check_prerequisites() -> None:
    problem = cluster.context_problem(CFG)
    if problem:
        raise CourseError(f"No course cluster to record from: {problem.problem}", problem.fix)
    if not cluster.kubectl_result("get", "nodes", timeout=20).ok:
        raise CourseError(f"No course cluster answers on context {CFG.kube_context}.", "run `make cluster`.")
    shell.docker_client()                    # a CourseError that says how to get Docker running
    for which in ("open", "private"):
        try:
            registry.api(which, CFG).ping()
        except requests.RequestException:
            raise CourseError(f"The course's {which} registry does not answer.", "run `make registries`.") from None


def node_versions() -> str:
    info = get_json("get", "nodes")["items"][0]["status"]["nodeInfo"]
    return f"Kubernetes {info['kubeletVersion']}, {info['containerRuntimeVersion']}"


# ---------------------------------------------------------------- images

def build_images() -> None:
    run_docker("build", "-q", "-t", APP, "-", input=APP_DOCKERFILE)
    run_docker("push", "-q", APP)
    for tag, user in USERS.items():
        image = f"{OPEN}/fixtures/app:{tag}"
        run_docker("build", "-q", "-t", image, "-", input=f"FROM {APP}\nUSER {user}\n")
        run_docker("push", "-q", image)
    push_private(APP, f"{PRIVATE}/fixtures/private:1")
    build_arm_only()


def push_private(source: str, target: str) -> None:
    """Push with a throw-away Docker login: the course's own config (.ckalab/docker) is shared with
    notebooks that log out on purpose, so this script never logs in there."""
    creds = registry.credentials(CFG)
    run_docker("tag", source, target)
    with tempfile.TemporaryDirectory() as config_dir:
        env = shell.course_env(CFG) | {"DOCKER_CONFIG": config_dir}
        run_docker("login", PRIVATE, "--username", creds.username, "--password-stdin",
                   env=env, input=creds.password)
        run_docker("push", "-q", target, env=env)


def build_arm_only() -> None:
    """workloads/anatomy/multiarch (FROM scratch + COPY: no emulator needed) for linux/arm64 only,
    then an index that lists just that manifest, so containerd finds no linux/amd64 entry."""
    single = f"{ARM_ONLY}-arm64"
    run_docker("buildx", "build", "-q", "--platform", "linux/arm64", "--provenance=false",
               "-t", single, "--push", str(ROOT / "workloads" / "anatomy" / "multiarch"))
    run_docker("buildx", "imagetools", "create", "-t", ARM_ONLY, single)
    repo, tag = ARM_ONLY.split("/", 1)[1].rsplit(":", 1)
    manifest = registry.api("open", CFG).manifest(repo, tag)
    platforms = [f"{m['platform']['os']}/{m['platform']['architecture']}"
                 for m in manifest.body.get("manifests", [])]
    if not manifest.is_index or platforms != ["linux/arm64"]:
        raise CourseError(f"{ARM_ONLY} is a {manifest.media_type} for {platforms or 'one platform'}, "
                          "not an index for linux/arm64 only.", "check `docker buildx imagetools inspect "
                          f"{ARM_ONLY}`, then run `make record-fixtures` again.")


# ---------------------------------------------------------------- Pods

def manifest(s: Scenario) -> dict:
    container = {"name": "app", "image": s.image, **(s.container or {})}
    if s.deployment is None:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": s.stem, "namespace": NS, "labels": {"run": s.stem}},
                "spec": {"restartPolicy": "Never", "containers": [container], **(s.pod or {})}}
    labels = {"app": s.deployment}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": s.deployment, "namespace": NS, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container], **(s.pod or {})}}}}


def pod_name(s: Scenario, timeout: float = 30) -> str:
    if s.deployment is None:
        return s.stem
    deadline = time.monotonic() + timeout
    while True:
        try:
            return diagnose.first_pod(f"app={s.deployment}", NS)
        except CourseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def state_of(pod: dict) -> str:
    return diagnose.explain_pod(pod).reason or ""


def record(s: Scenario, attempts: int = 5) -> None:
    # `kubectl create`, not `apply`: no last-applied-configuration annotation in the fixture.
    kubectl("create", "-f", "-", input=json.dumps(manifest(s)))
    name = pod_name(s)
    for _ in range(attempts):
        diagnose.wait_for_reason(name, NS, reasons={s.reason}, timeout=120)
        if s.drop_events:
            # Events expire after an hour (kube-apiserver --event-ttl); deleting them is the
            # same, sooner. The kubelet may add a new one at any moment: then try again.
            kubectl("delete", "events", "-n", NS, "--field-selector", f"involvedObject.name={name}")
        pod = get_json("get", "pod", name, "-n", NS)
        events = get_json("get", "events", "-n", NS, "--field-selector", f"involvedObject.name={name}")
        reasons = {e.get("reason") for e in events["items"]}
        if state_of(pod) == s.reason and (events["items"] == [] if s.drop_events else s.event in reasons):
            break
        time.sleep(2)
    else:
        raise CourseError(f"Pod {NS}/{name} did not show {s.reason} with a matching set of Events "
                          f"{attempts} times in a row (last seen: {state_of(pod)}, events {sorted(reasons)}).",
                          f"look at `kubectl describe pod {name} -n {NS}` while it runs.")
    for kind, data in (("pod", pod), ("events", events)):
        (FIXTURES / f"{s.stem}.{kind}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"{s.stem:22} {name:28} {s.reason:28} {len(events['items'])} events")
    kind, obj = ("deployment", s.deployment) if s.deployment else ("pod", name)
    kubectl("delete", kind, obj, "-n", NS, "--wait=false")   # a handful of Pods at a time, at most


def main(stems: list[str]) -> int:
    """Record every scenario, or only those whose stems are given (`make record-fixtures
    FIXTURES="missing-secret"`)."""
    unknown = sorted(set(stems) - {s.stem for s in SCENARIOS})
    if unknown:
        print(f"record_pod_fixtures: no scenario {', '.join(unknown)}; the scenarios are "
              f"{', '.join(s.stem for s in SCENARIOS)}.", file=sys.stderr)
        return 2
    chosen = [s for s in SCENARIOS if not stems or s.stem in stems]
    try:
        check_prerequisites()
        build_images()
        delete_namespaces(NS)                # left over from an interrupted run
        kubectl("create", "namespace", NS)
        try:
            for s in chosen:
                record(s)
        finally:
            delete_namespaces(NS)
        print(f"Recorded {len(chosen)} scenarios into {FIXTURES.relative_to(ROOT)} with {node_versions()}; "
              "if that changed, update the docstring of tests/test_diagnose.py.")
    except CourseError as exc:
        print(f"record_pod_fixtures: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
