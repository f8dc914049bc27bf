"""What the cluster labs' setups and solutions share: build and push, kubectl, manifests, the node.

These change the cluster (cluster_checks only reads it). A lab's manifest is renamed for a
variant by `manifest_text` (see ckalab.labs, "Names")."""

from __future__ import annotations

import json
import time

import yaml

from . import pullsecrets
from . import registry as registry_module
from . import shell
from .checks import CheckResult
from .cluster_checks import PULL_SECRET, api_client, course_hosts, course_settings, private_host, short
from .errors import CourseError
from .docker_checks import docker
from .labs import Lab

# ====================================================================== images, registry, node

def build_push(lab: Lab, push_as: str, version: str, labels: dict | None = None, *,
               build_args: dict | None = None, dockerfile: str = "Dockerfile") -> None:
    """docker build the lab's `dockerfile` as `push_as` (with image `labels` and more `build_args`)
    and push it."""
    app = push_as.rsplit("/", 1)[-1].split(":", 1)[0]
    label_args = [arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")]
    more_args = [arg for key, value in (build_args or {}).items() for arg in ("--build-arg", f"{key}={value}")]
    result = docker("build", "-q", "-f", str(lab.files / dockerfile), "--build-arg", f"APP_NAME={app}",
                    "--build-arg", f"APP_VERSION={version}", *more_args, *label_args, "-t", push_as,
                    str(lab.files), timeout=600)
    if not result.ok:
        raise CourseError(f"Building {push_as} failed: {short(result.output, 300)}", "run `make doctor`.")
    cfg = course_settings()
    if "/" in push_as and push_as.split("/", 1)[0] in (cfg.open_registry, cfg.private_registry):
        result = registry_module.setup_push(push_as, cfg, timeout=600)
        if not result.ok:
            raise CourseError(f"Pushing {push_as} failed: {short(result.output, 300)}",
                              "run `make registries`, then lab.reset().")


def kubectl(*args: str, input: str | None = None, timeout: float = 180):
    """kubectl against the course's cluster; raises a CourseError when it fails (for its Result
    whatever happens: cluster.kubectl_result)."""
    from . import cluster
    result = cluster.kubectl_result(*args, input=input, timeout=timeout)
    if not result.ok:
        raise CourseError(f"`kubectl {' '.join(args)[:120]}` failed: {short(result.output, 300)}",
                          "run `make doctor`, then lab.reset().")
    return result


def _renames(lab: Lab, *, image_part: bool) -> dict[str, str]:
    """{default: new} for the names a variant changed. `*repo` and `*tag` names rename only the
    parts of image references; the others rename whole values (namespace, Deployment, label)."""
    return {str(lab.defaults[key]): str(value) for key, value in lab.names.items()
            if value != lab.defaults[key] and key.endswith(("repo", "tag")) == image_part}


def _renamed(node, plain: dict, parts: dict, key: str | None = None):
    if isinstance(node, dict):
        return {k: _renamed(v, plain, parts, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, plain, parts) for v in node]
    if key == "image" and isinstance(node, str):
        name, _, tag = node.rpartition(":")
        # The manifests' images all name a registry host; the path after it may hold a slash.
        host, _, path = name.partition("/") if "/" in name else ("", "", name)
        return f"{host + '/' if host else ''}{parts.get(path, path)}:{parts.get(tag, tag)}"
    return plain.get(node, node) if isinstance(node, str) else node


def manifest_text(lab: Lab, filename: str) -> str:
    """The lab's manifest with the course's registry hosts and, in a variant, the variant's names."""
    text = course_hosts((lab.files / filename).read_text())
    plain, parts = _renames(lab, image_part=False), _renames(lab, image_part=True)
    if not plain and not parts:
        return text
    return yaml.safe_dump_all([_renamed(doc, plain, parts) for doc in yaml.safe_load_all(text) if doc],
                              sort_keys=False)


def apply_manifest(lab: Lab, filename: str) -> None:
    text = manifest_text(lab, filename)
    # A teardown does not wait for its namespaces to go; applying into one that is still being
    # deleted fails ("is being terminated"), so wait here, only when it is needed.
    for doc in yaml.safe_load_all(text):
        if doc and doc.get("kind") == "Namespace":
            wait_until_namespace_is_not_terminating(doc["metadata"]["name"])
    kubectl("apply", "-f", "-", input=text)


def wait_until_namespace_is_not_terminating(name: str, timeout: float = 150) -> None:
    """Return once namespace `name` is not being deleted: at once if it is active or absent,
    when it is gone if it is terminating."""
    from kubernetes import client
    core = client.CoreV1Api(api_client())
    deadline = time.monotonic() + timeout
    while True:
        try:
            if core.read_namespace(name, _request_timeout=5).metadata.deletion_timestamp is None:
                return
        except Exception as exc:  # ApiException, or urllib3's errors when the API server is away
            status = getattr(exc, "status", None)
            if status == 404:
                return
            # A refusal (4xx) will not change; a read timeout or a 5xx from a busy API server may.
            if (status is not None and status < 500) or time.monotonic() > deadline:
                raise CourseError(f"Reading namespace {name} failed: {short(str(getattr(exc, 'reason', exc)), 200)}",
                                  "run `make doctor`, then lab.reset().") from None
            time.sleep(1)
            continue
        if time.monotonic() > deadline:
            raise CourseError(f"Namespace {name} is still being deleted after {timeout:.0f} s.",
                              f"see what holds it with `kubectl get namespace {name} -o yaml`, "
                              "then lab.reset().")
        time.sleep(0.5)


def rollout_status(ns: str, name: str, timeout: int = 180) -> None:
    kubectl("rollout", "status", f"deployment/{name}", "-n", ns, f"--timeout={timeout}s",
            timeout=timeout + 15)


def field(ns: str, obj: str, jsonpath: str) -> str:
    """`kubectl get OBJ -n NS -o jsonpath=...` (obj is KIND/NAME), or "" when it cannot be read."""
    from . import cluster
    result = cluster.kubectl_result("get", obj, "-n", ns, "-o", f"jsonpath={jsonpath}", timeout=30)
    return result.output.strip() if result.ok else ""


def wait_for_field(ns: str, obj: str, jsonpath: str, done, what: str, timeout: float = 120) -> None:
    """Poll `field` until `done(value)`; a CourseError saying `what` did not happen after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not done(field(ns, obj, jsonpath)):
        if time.monotonic() > deadline:
            raise CourseError(f"{obj} in {ns}: {what} within {timeout:.0f} s.", "run `make doctor`, then lab.reset().")
        time.sleep(1)


def delete_namespaces(*namespaces: str, wait: bool = True) -> None:
    """Delete the lab's namespaces. wait=False returns at once (5-10 s sooner): the next
    apply_manifest() into them waits instead."""
    from . import cluster
    cluster.kubectl_result("delete", "namespace", *namespaces, "--ignore-not-found", f"--wait={str(wait).lower()}",
                           "--timeout=150s", timeout=170)


def node_container() -> str:
    return f"{course_settings().cluster_name}-control-plane"


def crictl(*args: str, timeout: float = 120) -> shell.Result:
    return docker("exec", node_container(), "crictl", *args, timeout=timeout)


def create_pull_secret(ns: str, name: str = PULL_SECRET, server: str | None = None,
                       password: str | None = None) -> None:
    creds = registry_module.credentials()
    manifest = pullsecrets.secret_manifest(name, server or private_host(), creds.username,
                                           creds.password if password is None else password,
                                           namespace=ns)
    kubectl("apply", "-f", "-", input=json.dumps(manifest))


def wait_until_passes(lab: Lab, timeout: float = 180) -> CheckResult:
    """Poll the lab's Check after a solution: rollouts and node status need a moment."""
    deadline = time.monotonic() + timeout
    while True:
        result = lab.check(record=False)
        if result.passed or time.monotonic() > deadline:
            print(result)
            return result
        time.sleep(3)


def patch_pull_secret(ns: str, dep: str, name: str = PULL_SECRET) -> None:
    kubectl("patch", f"deployment/{dep}", "-n", ns, "-p",
            json.dumps({"spec": {"template": {"spec": {"imagePullSecrets": [{"name": name}]}}}}))


def in_node(script: str, timeout: float = 120):
    """Run a shell script as root in the course's node (`docker exec NODE sh -c ...`)."""
    return docker("exec", node_container(), "sh", "-c", script, timeout=timeout)
