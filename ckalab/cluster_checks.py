"""What the cluster labs' Checks share: read-only access to the course's cluster, and sub-checks.

It is over 400 lines because it holds one concept, what a Check may read and how it words what
it found: the API client (and the tests' injection), the time budget, and the sub-checks more
than one lab runs (Deployment, rollout, Pods, pull Secret, images on the node).

A Check only READS the cluster, through the official `kubernetes` Python client (kubeconfig
.ckalab/kubeconfig, context kind-cka-images), within about 3 s.

Tests point the checkers at another API server (kmock) with `using(api_client=...)`:

    with cluster_checks.using(api_client=client, registry=RegistryAPI(...), private_registry_url=...):
        result = ck.labs.get("lab09-wrong-tag").check(record=False)"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

from . import pullsecrets
from . import references
from . import registry as registry_module
from . import settings as settings_module
from .checks import CheckResult
from .errors import CourseError

CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                "RegistryUnavailable", "SignatureValidationFailed"}
CHECK_BUDGET = 3.0          # seconds one Check may spend reading the cluster
CHECK_NOTE = "Reading the cluster (a few seconds at most) ..."
PULL_SECRET = "regcred"

# Hosts as written in the lab manifests; replaced when the course runs on other ports/names.
OPEN_HOST = "localhost:5001"
PRIVATE_HOST = "private-registry:5000"

_injected: dict = {}


# ====================================================================== injection (tests)

@contextlib.contextmanager
def using(*, api_client=None, registry=None, private_registry_url: str | None = None,
          budget: float | None = None):
    """Point the checkers at another API server / registry (tests, or a second cluster).

    api_client: a kubernetes.client.ApiClient; registry: a RegistryAPI for the open registry
    (tag look-ups); private_registry_url: base URL where pull-Secret credentials are tried.
    """
    saved = dict(_injected)
    _injected.update({k: v for k, v in {"api_client": api_client, "registry": registry,
                                          "private_registry_url": private_registry_url,
                                          "budget": budget}.items() if v is not None})
    try:
        yield
    finally:
        _injected.clear()
        _injected.update(saved)


def api_client():
    """An ApiClient for the course's cluster (or the injected one). Raises CourseError if unsafe."""
    if "api_client" in _injected:
        return _injected["api_client"]
    from .cluster import context_problem
    cfg = settings_module.load()
    problem = context_problem(cfg)
    if problem:
        raise problem
    from kubernetes import client, config
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=str(cfg.kubeconfig), context=cfg.kube_context,
                                client_configuration=configuration, persist_config=False)
    except Exception as exc:  # config.ConfigException and YAML errors
        raise CourseError(f"The course's kubeconfig cannot be used ({exc}).",
                          "run `make cluster-delete cluster` to recreate it.") from None
    configuration.retries = 0     # a Check answers now or says why; it never retries for long
    return client.ApiClient(configuration)


# ====================================================================== reading the cluster

class Kube:
    """Read-only access to the API server, all calls sharing one time budget."""

    def __init__(self, client_=None, budget: float | None = None):
        from kubernetes import client
        self.api = client_ or api_client()
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.deadline = time.monotonic() + (budget or _injected.get("budget") or CHECK_BUDGET)

    def _call(self, fn, *args, passthrough: tuple[int, ...] = (), **kwargs):
        from kubernetes.client.exceptions import ApiException
        import urllib3
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.05:
            raise CourseError("The cluster answered too slowly for the Check (more than 3 s).",
                              "run `make doctor`, then press Check again.")
        try:
            return fn(*args, _request_timeout=min(remaining, 2.0), **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in passthrough:
                raise
            if exc.status in (401, 403):
                raise CourseError(f"The cluster refused to show what the Check needs ({exc.status} "
                                  f"{exc.reason}).", "run `make cluster` to refresh the course's kubeconfig.") from None
            raise CourseError(f"The cluster answered {exc.status} {exc.reason} to a read.",
                              "run `make doctor` and press Check again.") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise CourseError(f"The course's cluster did not answer ({type(exc).__name__}).",
                              "start it with `make cluster` (`make doctor` shows what is missing).") from None

    def deployment(self, ns: str, name: str):
        return self._call(self.apps.read_namespaced_deployment, name, ns)

    def statefulset(self, ns: str, name: str):
        return self._call(self.apps.read_namespaced_stateful_set, name, ns)

    def daemonset(self, ns: str, name: str):
        return self._call(self.apps.read_namespaced_daemon_set, name, ns)

    def controller_revisions(self, ns: str, selector: str) -> list:
        """The ControllerRevisions (a DaemonSet's or StatefulSet's template history) matching `selector`."""
        result = self._call(self.apps.list_namespaced_controller_revision, ns, label_selector=selector)
        return list(result.items) if result else []

    def pods(self, ns: str, selector: str) -> list:
        result = self._call(self.core.list_namespaced_pod, ns, label_selector=selector)
        return [p for p in (result.items if result else []) if not p.metadata.deletion_timestamp]

    def replicasets(self, ns: str, selector: str) -> list:
        result = self._call(self.apps.list_namespaced_replica_set, ns, label_selector=selector)
        return list(result.items) if result else []

    def secret(self, ns: str, name: str):
        return self._call(self.core.read_namespaced_secret, name, ns)

    def secrets_named(self, name: str) -> list:
        result = self._call(self.core.list_secret_for_all_namespaces,
                            field_selector=f"metadata.name={name}")
        return list(result.items) if result else []

    def service_account(self, ns: str, name: str):
        return self._call(self.core.read_namespaced_service_account, name, ns)

    def nodes(self) -> list:
        result = self._call(self.core.list_node)
        return list(result.items) if result else []

    def log_tail(self, ns: str, pod: str, container: str, *, previous: bool = False, lines: int = 3) -> str:
        """The last lines a container printed (`kubectl logs --tail`), or "" when there are none."""
        from kubernetes.client.exceptions import ApiException
        try:
            text = self._call(self.core.read_namespaced_pod_log, pod, ns, container=container,
                              previous=previous, tail_lines=lines, passthrough=(400,))
        except ApiException:      # 400: no previous run, or the container has not started
            return ""
        return text if isinstance(text, str) else ""

    def kubelet_config(self, node: str) -> tuple[dict | None, str]:
        """The node's live KubeletConfiguration (GET /api/v1/nodes/NODE/proxy/configz, its
        "kubeletconfig"), or None and what the API server said: 503 while the kubelet is down."""
        from kubernetes.client.exceptions import ApiException
        try:
            resp = self._call(self.core.connect_get_node_proxy_with_path, node, "configz",
                              _preload_content=False, passthrough=(500, 502, 503))
        except ApiException as exc:
            return None, f"{exc.status} {exc.reason}: {_api_message(exc)}"
        if resp is None:
            return None, f"404: there is no node {node}"
        try:
            return json.loads(resp.data)["kubeletconfig"], ""
        except (ValueError, KeyError, TypeError):
            return None, f"the kubelet answered something that is not its configuration: {resp.data[:80]!r}"

    def pull_events(self, ns: str, pod: str) -> list:
        result = self._call(self.core.list_namespaced_event, ns,
                            field_selector=f"involvedObject.name={pod}")
        return list(result.items) if result else []


def _api_message(exc) -> str:
    """The message of a Status the API server sent with an error, else its raw body."""
    try:
        return json.loads(exc.body).get("message") or str(exc.body)
    except (TypeError, ValueError, AttributeError):
        return str(exc.body or "")


def selector_of(deployment) -> str:
    labels = (deployment.spec.selector.match_labels or {}) if deployment.spec.selector else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def container(pod_spec, name: str, *, init: bool = False):
    """The container (or, with init=True, the init container) called `name`, or None."""
    listed = pod_spec.init_containers if init else pod_spec.containers
    return next((c for c in (listed or []) if c.name == name), None)


def normalized(image: str) -> str:
    """The full name the runtime stores: docker.io/library/x:latest for `x`."""
    try:
        ref = references.parse(image)
    except CourseError:
        return image
    tag = ref.tag or (None if ref.digest else "latest")
    return str(references.Reference(ref.registry, ref.repository, tag, ref.digest))


def short(text: str | None, limit: int = 170) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def course_settings():
    return settings_module.load()


def open_host() -> str:
    return course_settings().open_registry


def private_host() -> str:
    return course_settings().private_registry_in_cluster


def tag_exists(image: str) -> tuple[bool, str]:
    """Is the image's tag (or digest) in the course's open registry? (ok, reason)"""
    try:
        ref = references.parse(image)
    except CourseError as exc:
        return False, exc.problem
    if ref.registry != open_host():
        return False, f"{image} is not in the course's registry {open_host()}"
    api = _injected.get("registry") or registry_module.RegistryAPI(open_host(), timeout=1.5)
    try:
        if ref.digest:
            api.manifest(ref.repository, ref.digest)
            return True, f"{ref.digest[:19]}... exists in {ref.repository}"
        tags = api.tags(ref.repository)
    except CourseError as exc:
        return False, f"{exc.problem}"
    except Exception as exc:  # requests errors
        return False, f"the registry {open_host()} did not answer ({type(exc).__name__}); run `make registries`"
    tag = ref.tag or "latest"
    if tag in tags:
        return True, f"tag {tag} exists in {open_host()}/{ref.repository} (tags: {', '.join(tags)})"
    return False, (f"{open_host()}/{ref.repository} has no tag {tag}; it has: {', '.join(tags) or 'no tags'}")


def course_hosts(text: str) -> str:
    """Manifest text with the course's actual registry hosts."""
    return text.replace(OPEN_HOST, open_host()).replace(PRIVATE_HOST, private_host())


# ====================================================================== shared sub-checks

def check_deployment(kube: Kube, r: CheckResult, ns: str, name: str):
    dep = kube.deployment(ns, name)
    if dep is None:
        r.add("deployment exists", False,
              f"there is no Deployment {name} in namespace {ns}; run lab.reset() to create it again")
        return None
    r.add("deployment exists", True, f"deployment/{name} in {ns}")
    return dep


def rollout_problem(dep) -> str | None:
    """What `kubectl rollout status` would still wait for, or None when the rollout is complete."""
    status = dep.status
    generation = dep.metadata.generation or 0
    if generation > (status.observed_generation or 0):
        return "the Deployment controller has not seen the latest change yet"
    for cond in status.conditions or []:
        if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
            return f"the rollout exceeded its progress deadline ({short(cond.message, 120)})"
    want = dep.spec.replicas if dep.spec.replicas is not None else 1
    updated = status.updated_replicas or 0
    if updated < want:
        return f"{updated} of {want} new replicas have been updated"
    if (status.replicas or 0) > updated:
        return f"{(status.replicas or 0) - updated} old replica(s) are pending termination"
    if (status.available_replicas or 0) < updated:
        return f"{status.available_replicas or 0} of {updated} updated replicas are available"
    return None


def check_rollout(r: CheckResult, dep) -> bool:
    problem = rollout_problem(dep)
    return r.add("rollout complete", problem is None,
                 problem or f"{dep.status.updated_replicas}/{dep.spec.replicas} updated and available "
                            f"(observedGeneration {dep.status.observed_generation})")


def waiting_problems(pod) -> list[tuple[str, str, str]]:
    """(container, reason, message) of every container that waits."""
    found = []
    statuses = list(pod.status.init_container_statuses or []) + list(pod.status.container_statuses or [])
    for cs in statuses:
        waiting = cs.state.waiting if cs.state else None
        if waiting and waiting.reason:
            found.append((cs.name, waiting.reason, waiting.message or ""))
    return found


def pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def check_pods(r: CheckResult, name: str, pods: list, want: int, *, label: str = "pods ready",
               waiting_detail=None) -> bool:
    """Every live Pod of the Deployment is Running and Ready, with no container waiting.
    `waiting_detail(pod, container)` may add what explains a wait (a log line)."""
    for pod in pods:
        problems = waiting_problems(pod)
        if problems:
            cname, reason, message = problems[0]
            detail = waiting_detail(pod, cname) if waiting_detail else ""
            init = cname in {c.name for c in pod.spec.init_containers or []}
            return r.add(label, False, f"pod {pod.metadata.name}: {'init container' if init else 'container'} "
                                       f"{cname} waits with {reason}"
                                       + (f" ({short(message, 150)})" if message else "")
                                       + (f"; {detail}" if detail else ""))
        if pod.status.phase != "Running" or not pod_ready(pod):
            return r.add(label, False, f"pod {pod.metadata.name} is {pod.status.phase}, not yet Ready")
    if len(pods) < want:
        return r.add(label, False, f"{len(pods)} of {want} Pods exist; wait a few seconds and check again")
    return r.add(label, True, f"{len(pods)} Pod(s) Running and Ready, none waiting")


def revision(obj) -> int:
    try:
        return int((obj.metadata.annotations or {}).get(REVISION, "0"))
    except ValueError:
        return 0


# ---------------------------------------------------------------------- pull secrets

def registry_host_of(server_key: str) -> str:
    """A dockerconfigjson server key as the kubelet matches it: no scheme, no path."""
    key = re.sub(r"^[a-z]+://", "", server_key.strip())
    return key.split("/", 1)[0]


def secret_dict(secret) -> dict:
    return {"kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": secret.metadata.name, "namespace": secret.metadata.namespace},
            "type": secret.type, "data": dict(secret.data or {})}


def authenticate(secret: dict, server: str) -> bool:
    url = _injected.get("private_registry_url") or f"http://{course_settings().private_registry}"
    return pullsecrets.authenticates(secret, url, server=server, timeout=1.5)


SECRET_CHECKS = ["secret in the pods' namespace", "secret type", "server matches the image host",
                 "credentials authenticate"]


def not_checked(r: CheckResult, names: list[str], why: str = "not checked: an earlier check failed") -> None:
    """Report the remaining sub-checks in their place (so the list keeps the lab's order)."""
    done = {s.name for s in r.subchecks}
    for name in names:
        if name not in done:
            r.add(name, False, why)


def check_secret(kube: Kube, r: CheckResult, ns: str, name: str, image_host: str) -> bool:
    """Checks a pull Secret the way the kubelet uses it: same namespace, type, server, credentials."""
    ok = _check_secret(kube, r, ns, name, image_host)
    not_checked(r, SECRET_CHECKS)
    return ok


def _check_secret(kube: Kube, r: CheckResult, ns: str, name: str, image_host: str, *,
                  label_prefix: str = "") -> bool:
    secret = kube.secret(ns, name)
    if secret is None:
        elsewhere = [s.metadata.namespace for s in kube.secrets_named(name)]
        hint = (f"; a Secret {name} exists in {', '.join(sorted(elsewhere))}, but a Pod can only use "
                f"Secrets of its own namespace") if elsewhere else ""
        return r.add(f"{label_prefix}secret in the pods' namespace", False,
                     f"no Secret {name} in namespace {ns}{hint}")
    r.add(f"{label_prefix}secret in the pods' namespace", True, f"secret/{name} is in {ns}")
    if secret.type != pullsecrets.SECRET_TYPE:
        return r.add(f"{label_prefix}secret type", False,
                     f"secret/{name} has type {secret.type or 'Opaque'}; the kubelet only reads "
                     f"{pullsecrets.SECRET_TYPE} (use `kubectl create secret docker-registry`)")
    as_dict = secret_dict(secret)
    try:
        auths = pullsecrets.decode(as_dict)["auths"]
    except CourseError as exc:
        return r.add(f"{label_prefix}secret type", False, exc.problem)
    r.add(f"{label_prefix}secret type", True, f"{pullsecrets.SECRET_TYPE} with a .dockerconfigjson")
    matching = [k for k in auths if registry_host_of(k) == image_host]
    if not matching:
        written = ", ".join(auths) or "none"
        why = ""
        if any(registry_host_of(k) == course_settings().private_registry for k in auths):
            why = (f": {course_settings().private_registry} is where YOU push; the nodes pull {image_host}, and "
                   "the kubelet picks credentials by the host written in the image name")
        elif any("index.docker.io" in k for k in auths):
            why = ": that is kubectl's default --docker-server (Docker Hub); pass --docker-server"
        return r.add(f"{label_prefix}server matches the image host", False,
                     f"secret/{name} has credentials for {written}, not {image_host}{why}")
    r.add(f"{label_prefix}server matches the image host", True, f"credentials for {matching[0]}")
    try:
        ok = authenticate(as_dict, matching[0])
    except CourseError as exc:
        return r.add(f"{label_prefix}credentials authenticate", False, exc.problem)
    return r.add(f"{label_prefix}credentials authenticate", ok,
                 "the registry accepts them (GET /v2/ answered 200)" if ok else
                 "the registry refused them (401): wrong username or password; "
                 "`python -m ckalab credentials` prints the lab login")


# ====================================================================== lab10/11 pull secrets

PULL_SECRET_CHECKS = ["deployment exists", "pull secret referenced", "secret in the pods' namespace",
                      "secret type", "server matches the image host", "credentials authenticate",
                      "pods ready"]


def check_private_deployment(kube: Kube, r: CheckResult, ns: str, name: str, cname: str) -> None:
    dep = check_deployment(kube, r, ns, name)
    if dep is None:
        return
    spec = dep.spec.template.spec
    refs = [s.name for s in spec.image_pull_secrets or [] if s.name]
    if not refs:
        r.add("pull secret referenced", False,
              f"the Pod template of {name} lists no imagePullSecrets, so the kubelet pulls without credentials")
        not_checked(r, SECRET_CHECKS, "not checked: no Secret is referenced yet")
    else:
        r.add("pull secret referenced", True, f"imagePullSecrets: {', '.join(refs)}")
        c = container(spec, cname)
        host = references.parse(c.image).registry if c else private_host()
        # The kubelet tries every listed Secret; one that works is enough. Report the best one.
        best = None
        for ref in refs:
            trial = CheckResult(r.lab)
            check_secret(kube, trial, ns, ref, host)
            if best is None or sum(s.passed for s in trial.subchecks) > sum(s.passed for s in best.subchecks):
                best = trial
            if trial.passed:
                break
        r.subchecks.extend(best.subchecks)
    check_pods(r, name, kube.pods(ns, selector_of(dep)), dep.spec.replicas or 1)


def node_images(node) -> set[str]:
    return {n for img in (node.status.images or []) for n in (img.names or [])}


def check_image_on_nodes(kube: Kube, r: CheckResult, pods: list, image: str, fix: str) -> None:
    """'image on the node': the nodes the Pods are scheduled on (all nodes if none is) list
    `image` in status.images; `fix` says how to put it there."""
    nodes = kube.nodes()
    scheduled = {p.spec.node_name for p in pods if p.spec.node_name}
    targets = [n for n in nodes if n.metadata.name in scheduled] or nodes
    want = normalized(image)
    missing = [n.metadata.name for n in targets if want not in node_images(n)]
    if not targets:
        r.add("image on the node", False, "the cluster lists no nodes")
    else:
        r.add("image on the node", not missing,
              f"{want} is in status.images of {', '.join(n.metadata.name for n in targets)}" if not missing else
              f"node {missing[0]} does not list {want} in status.images ({fix}; the kubelet reports a new "
              "image within a minute)")


def read_fields(path: Path, keys: tuple[str, ...], form: str) -> dict | str:
    """The `key=value` (or `key: value`) lines of a learner's answer file, or a string saying
    what is wrong with the file. `form` is the format the task asks for, quoted when lines are missing."""
    if not path.exists():
        return f"{path} does not exist yet"
    answer = {}
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        if sep:
            answer[key.strip().lower()] = value.strip().strip("'\"")
    missing = [k for k in keys if not answer.get(k)]
    if missing:
        return f"{path} has no {' and no '.join(missing)} line (format: {form.replace(chr(10), '  ')})"
    return answer
