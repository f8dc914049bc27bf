"""Cluster labs 07-14: broken Deployments on the course's kind cluster, and Checks that read them.

Each lab lives in its own `labNN-...` namespace(s). `setup` builds and pushes the lab's images and
applies workloads/labs/<id>/*.yaml; `check` only READS the cluster through the official
`kubernetes` Python client (kubeconfig .ckalab/kubeconfig, context kind-cka-images), within
about 3 s; `solve` is the reference solution (the kubectl commands the notebook shows);
`teardown` deletes the lab's namespaces (and, for lab13, the side-loaded image).

Tests point the checkers at another API server (kmock) with `using(api_client=...)`:

    with cluster_labs.using(api_client=client, registry=RegistryAPI(...), private_registry_url=...):
        result = ck.labs.get("lab09-wrong-tag").check(record=False)
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import tempfile
import time
from pathlib import Path

import yaml

from . import pullsecrets, references
from . import registry as registry_module
from . import settings as settings_module
from . import shell
from .checks import CheckResult
from .errors import CourseError
from .labs import Lab, WrongAttempt, docker, register

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


def container(pod_spec, name: str):
    return next((c for c in (pod_spec.containers or []) if c.name == name), None)


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


def _cfg():
    return settings_module.load()


def open_host() -> str:
    return _cfg().open_registry


def private_host() -> str:
    return _cfg().private_registry_in_cluster


def _hosts(text: str) -> str:
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


def check_pods(r: CheckResult, name: str, pods: list, want: int, *, label: str = "pods ready") -> bool:
    """Every live Pod of the Deployment is Running and Ready, with no container waiting."""
    for pod in pods:
        problems = waiting_problems(pod)
        if problems:
            cname, reason, message = problems[0]
            return r.add(label, False, f"pod {pod.metadata.name}: container {cname} waits with {reason}"
                                       + (f" ({short(message, 150)})" if message else ""))
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
    url = _injected.get("private_registry_url") or f"http://{_cfg().private_registry}"
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
        if any(registry_host_of(k) == _cfg().private_registry for k in auths):
            why = (f": {_cfg().private_registry} is where YOU push; the nodes pull {image_host}, and "
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


# ====================================================================== images, registry, node

def build_push(lab: Lab, push_as: str, version: str, labels: dict | None = None) -> None:
    """docker build the lab's Dockerfile as `push_as` (with image `labels`) and push it."""
    app = push_as.rsplit("/", 1)[-1].split(":", 1)[0]
    label_args = [arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")]
    result = docker("build", "-q", "--build-arg", f"APP_NAME={app}", "--build-arg", f"APP_VERSION={version}",
                    *label_args, "-t", push_as, str(lab.workload_dir), timeout=600)
    if not result.ok:
        raise CourseError(f"Building {push_as} failed: {short(result.output, 300)}", "run `make doctor`.")
    if "/" in push_as and push_as.split("/", 1)[0] in (_cfg().open_registry, _cfg().private_registry):
        if push_as.startswith(_cfg().private_registry):
            registry_module.login()
        result = docker("push", "-q", push_as, timeout=600)
        if not result.ok:
            raise CourseError(f"Pushing {push_as} failed: {short(result.output, 300)}",
                              "run `make registries`, then lab.reset().")


def kubectl(*args: str, input: str | None = None, check: bool = True, timeout: float = 180):
    from . import cluster
    result = cluster.kubectl(*args, input=input, timeout=timeout)
    if check and not result.ok:
        raise CourseError(f"`kubectl {' '.join(args)[:120]}` failed: {short(result.output, 300)}",
                          "run `make doctor`, then lab.reset().")
    return result


def _renames(lab: Lab, *, image_part: bool) -> dict[str, str]:
    """{default: new} for the names a variant changed. `repo` and `*tag` names rename only the
    parts of image references; the others rename whole values (namespace, Deployment, label)."""
    return {str(lab.defaults[key]): str(value) for key, value in lab.names.items()
            if value != lab.defaults[key] and (key == "repo" or key.endswith("tag")) == image_part}


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
    text = _hosts((lab.workload_dir / filename).read_text())
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


def delete_namespaces(*namespaces: str, wait: bool = True) -> None:
    """Delete the lab's namespaces. wait=False returns at once (5-10 s sooner): the next
    apply_manifest() into them waits instead."""
    kubectl("delete", "namespace", *namespaces, "--ignore-not-found", f"--wait={str(wait).lower()}",
            "--timeout=150s", check=False, timeout=170)


def node_container() -> str:
    return f"{_cfg().cluster_name}-control-plane"


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


# ====================================================================== lab07 update image + cause

L07 = "lab07-update-image-record-cause"
NAMES07 = {"ns": "lab07-storefront", "deploy": "checkout-web", "container": "web", "repo": "checkout-web",
           "tag": "1.0", "new_tag": "1.1"}


def image07(lab: Lab, tag_name: str) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names[tag_name]}"


def sidecar07() -> str:
    return f"{open_host()}/log-forwarder:2.3"


def mentions_tag(text: str, tag: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(tag)}(?![\w]|\.\w|-\w)", text or "") is not None


def _check07(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    spec = dep.spec.template.spec
    web = container(spec, n["container"])
    want = image07(lab, "new_tag")
    r.add("image of the updated container", web is not None and web.image == want,
          f"container {n['container']} runs {want}" if web is not None and web.image == want else
          f"container {n['container']} has image {web.image if web else '(no such container)'}; it should be {want}")
    side = container(spec, "log-forwarder")
    names = sorted(c.name for c in spec.containers or [])
    if names != sorted(["log-forwarder", n["container"]]):
        r.add("other containers untouched", False, f"the containers are now {', '.join(names)}; "
                                                   f"keep exactly {n['container']} and log-forwarder")
    else:
        r.add("other containers untouched", side.image == sidecar07(),
              f"log-forwarder still runs {sidecar07()}" if side.image == sidecar07() else
              f"log-forwarder now runs {side.image}: `kubectl set image ... *=...` or a wrong container "
              f"name changed it; set it back to {sidecar07()}")
    check_rollout(r, dep)
    cause = (dep.metadata.annotations or {}).get(CHANGE_CAUSE)
    if not cause:
        r.add("change-cause recorded", False, f"deployment/{n['deploy']} has no {CHANGE_CAUSE} annotation "
                                              "(kubectl annotate ...); rollout history shows <none>")
    else:
        ok = mentions_tag(cause, n["new_tag"])
        r.add("change-cause recorded", ok, f"{CHANGE_CAUSE}: \"{short(cause, 100)}\"" + (
            "" if ok else f" does not mention the new tag {n['new_tag']}"))
    current = [rs for rs in kube.replicasets(n["ns"], selector_of(dep)) if revision(rs) == revision(dep)]
    rs_cause = (current[0].metadata.annotations or {}).get(CHANGE_CAUSE) if current else None
    r.add("rollout history shows the cause", bool(cause) and rs_cause == cause,
          f"revision {revision(dep)} shows \"{short(rs_cause, 80)}\"" if bool(cause) and rs_cause == cause else
          f"revision {revision(dep)} of `kubectl rollout history` shows "
          f"{short(rs_cause, 80) if rs_cause else '<none>'}; annotate the Deployment after (or with) "
          "the image change so its newest ReplicaSet carries the cause")


def _setup07(lab: Lab) -> None:
    n = lab.names
    build_push(lab, image07(lab, "tag"), n["tag"])
    build_push(lab, image07(lab, "new_tag"), n["new_tag"])
    build_push(lab, sidecar07(), "2.3")
    apply_manifest(lab, "deployment.yaml")
    rollout_status(n["ns"], n["deploy"])


def _set_image07(lab: Lab, container_name: str | None = None) -> None:
    n = lab.names
    kubectl("set", "image", f"deployment/{n['deploy']}",
            f"{container_name or n['container']}={image07(lab, 'new_tag')}", "-n", n["ns"])


def _annotate07(lab: Lab, cause: str) -> None:
    kubectl("annotate", f"deployment/{lab.names['deploy']}", "--overwrite", "-n", lab.names["ns"],
            f"{CHANGE_CAUSE}={cause}")


def _solve07(lab: Lab) -> None:
    _set_image07(lab)
    _annotate07(lab, f"{lab.names['container']} image updated to {image07(lab, 'new_tag')}")
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 60)


def _teardown07(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _w07_no_cause(lab: Lab) -> None:
    _set_image07(lab)


def _w07_star(lab: Lab) -> None:
    _set_image07(lab, "*")
    _annotate07(lab, f"update to {lab.names['new_tag']}")


def _w07_cause_only(lab: Lab) -> None:
    _annotate07(lab, f"update to {lab.names['new_tag']}")


def _w07_stale_cause(lab: Lab) -> None:
    _annotate07(lab, f"initial {lab.names['tag']}")
    _set_image07(lab)


register(Lab(
    id=L07, title="Update a Deployment's image and record why", level="cluster",
    checks=["deployment exists", "image of the updated container", "other containers untouched", "rollout complete",
            "change-cause recorded", "rollout history shows the cause"],
    first_failure="image of the updated container",
    hints=[
        "Two separate things: the Pod template's image (that starts a rollout) and an annotation on "
        "the Deployment named kubernetes.io/change-cause (that is what `kubectl rollout history` shows "
        "in CHANGE-CAUSE). `--record` is deprecated; do not use it.",
        "`kubectl set image deployment/checkout-web CONTAINER=IMAGE -n lab07-storefront` changes one "
        "container by name. Name the container `web`; `*=` would change the log-forwarder too.",
        "kubectl set image deployment/checkout-web web=localhost:5001/checkout-web:1.1 -n lab07-storefront, "
        "then kubectl annotate deployment/checkout-web -n lab07-storefront --overwrite "
        "kubernetes.io/change-cause=\"web image updated to 1.1\", then kubectl rollout status and "
        "kubectl rollout history deployment/checkout-web -n lab07-storefront.",
    ],
    setup_fn=_setup07, check_fn=_check07, solve_fn=_solve07, teardown_fn=_teardown07,
    wrong_attempts=[
        WrongAttempt("image updated, no change-cause", _w07_no_cause, fails="change-cause recorded"),
        WrongAttempt("set image with * changes the sidecar too", _w07_star, fails="other containers untouched"),
        WrongAttempt("annotation only, image unchanged", _w07_cause_only, fails="image of the updated container"),
        WrongAttempt("stale change-cause from before the update", _w07_stale_cause, fails="change-cause recorded"),
    ],
    check_note=CHECK_NOTE, names=NAMES07,
))


# ====================================================================== lab08 rollback

L08 = "lab08-rollback-bad-update"
NS08, DEP08 = "lab08-payments", "payments-api"


def image08(tag: str) -> str:
    return f"{open_host()}/payments-api:{tag}"


GOOD08, BAD08 = "3.2", "3.3"


def _check08(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, NS08, DEP08)
    if dep is None:
        return
    api = container(dep.spec.template.spec, "api")
    image = api.image if api else "(no container api)"
    r.add("image rolled back", image == image08(GOOD08),
          f"container api runs {image}" + ("" if image == image08(GOOD08) else
                                            f"; the working revision ran {image08(GOOD08)}"))
    pods = kube.pods(NS08, selector_of(dep))
    pulling = [(p.metadata.name, c, reason) for p in pods for c, reason, _ in waiting_problems(p)
               if reason in PULL_REASONS]
    r.add("no pull errors", not pulling,
          "no Pod waits for an image" if not pulling else
          f"pod {pulling[0][0]} still waits with {pulling[0][2]} (container {pulling[0][1]})")
    check_rollout(r, dep)
    sets = kube.replicasets(NS08, selector_of(dep))
    bad = [rs for rs in sets if any(c.image == image08(BAD08) for c in rs.spec.template.spec.containers)]
    current = revision(dep)
    if not bad:
        r.add("rollback recorded", False,
              f"no ReplicaSet of the bad update remains (the Deployment is at revision {current}): was it "
              "deleted and created again? That loses the history; run lab.reset() and use kubectl rollout undo")
        return
    bad_rev = max(revision(rs) for rs in bad)
    good = [rs for rs in sets if revision(rs) == current and rs not in bad]
    ok = current > bad_rev and bool(good)
    r.add("rollback recorded", ok,
          f"the Deployment is at revision {current}, after the bad revision {bad_rev}: the working "
          f"template came back as a new revision" if ok else
          f"the Deployment is at revision {current}, the bad update is revision {bad_rev}: "
          "`kubectl rollout undo` makes the previous template the newest revision")


def _setup08(lab: Lab) -> None:
    build_push(lab, image08(GOOD08), GOOD08)
    apply_manifest(lab, "deployment.yaml")
    rollout_status(NS08, DEP08)
    kubectl("set", "image", f"deployment/{DEP08}", f"api={image08(BAD08)}", "-n", NS08)
    kubectl("annotate", f"deployment/{DEP08}", "--overwrite", "-n", NS08,
            f"{CHANGE_CAUSE}=api image updated to {BAD08}")


def _solve08(lab: Lab) -> None:
    kubectl("rollout", "undo", f"deployment/{DEP08}", "-n", NS08)
    rollout_status(NS08, DEP08)
    wait_until_passes(lab, 90)


def _teardown08(lab: Lab) -> None:
    delete_namespaces(NS08, wait=False)


def _w08_delete_pods(lab: Lab) -> None:
    kubectl("delete", "pods", "-l", "app=payments-api", "-n", NS08, "--wait=false")


def _w08_recreate(lab: Lab) -> None:
    kubectl("delete", "deployment", DEP08, "-n", NS08)
    apply_manifest(lab, "deployment.yaml")


def _w08_undo_twice(lab: Lab) -> None:
    kubectl("rollout", "undo", f"deployment/{DEP08}", "-n", NS08)
    rollout_status(NS08, DEP08)
    kubectl("rollout", "undo", f"deployment/{DEP08}", "-n", NS08)


register(Lab(
    id=L08, title="Roll back a bad update", level="cluster",
    checks=["deployment exists", "image rolled back", "no pull errors", "rollout complete",
            "rollback recorded"],
    first_failure="image rolled back",
    hints=[
        "The update to 3.3 never finishes: the new Pod cannot pull its image, and the old Pods keep "
        "serving. `kubectl rollout history deployment/payments-api -n lab08-payments` lists the revisions.",
        "`kubectl rollout undo` goes back to the previous revision (or `--to-revision=N`). Deleting Pods "
        "does not help: the Deployment creates them again from the same template.",
        "kubectl rollout undo deployment/payments-api -n lab08-payments, then kubectl rollout status "
        "deployment/payments-api -n lab08-payments and kubectl rollout history ... (the old revision "
        "comes back under a new number).",
    ],
    setup_fn=_setup08, check_fn=_check08, solve_fn=_solve08, teardown_fn=_teardown08,
    wrong_attempts=[
        WrongAttempt("deletes the failing Pods", _w08_delete_pods, fails="image rolled back"),
        WrongAttempt("deletes and recreates the Deployment", _w08_recreate, fails="rollback recorded"),
        WrongAttempt("undo twice (back to the bad revision)", _w08_undo_twice, fails="image rolled back"),
    ],
    check_note=CHECK_NOTE,
))


# ====================================================================== lab09 wrong tag

L09 = "lab09-wrong-tag"
# `tag` is what the registry has; `bad_tag` is the one the Deployment asks for.
NAMES09 = {"ns": "lab09-inventory", "deploy": "inventory-api", "container": "api", "repo": "inventory-api",
           "tag": "1.0", "bad_tag": "1.0.0"}


def image09(lab: Lab) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names['tag']}"


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


def _check09(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    api = container(dep.spec.template.spec, n["container"])
    ok, why = tag_exists(api.image) if api else (False, f"the Deployment has no container {n['container']}")
    r.add("image tag exists in the registry", ok, f"{api.image if api else '?'}: {why}")
    pods = kube.pods(n["ns"], selector_of(dep))

    def image_of(pod):
        c = container(pod.spec, n["container"])
        return c.image if c else None
    stale = [p.metadata.name for p in pods if image_of(p) != (api.image if api else None)]
    waiting = [(p.metadata.name, w) for p in pods for w in waiting_problems(p)]
    if waiting:
        name, (cname, reason, message) = waiting[0]
        r.add("no waiting reason", False, f"pod {name}: container {cname} waits with {reason}"
                                          + (f" ({short(message, 140)})" if message else ""))
    elif stale:
        r.add("no waiting reason", False, f"pod {stale[0]} runs another image than the Deployment: a Pod "
                                          "was edited; fix the Deployment's template instead")
    else:
        r.add("no waiting reason", True, "no container waits")
    check_pods(r, n["deploy"], pods, dep.spec.replicas or 1)


def _setup09(lab: Lab) -> None:
    build_push(lab, image09(lab), lab.names["tag"])
    apply_manifest(lab, "deployment.yaml")


def _set_image09(lab: Lab, target: str, image: str) -> None:
    kubectl("set", "image", target, f"{lab.names['container']}={image}", "-n", lab.names["ns"])


def _solve09(lab: Lab) -> None:
    _set_image09(lab, f"deployment/{lab.names['deploy']}", image09(lab))
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 60)


def _teardown09(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _w09_edit_pod(lab: Lab) -> None:
    n = lab.names
    pods = kubectl("get", "pods", "-n", n["ns"], "-l", f"app={n['deploy']}", "-o", "name").output.split()
    for pod in pods:
        _set_image09(lab, pod, image09(lab))


def _w09_latest(lab: Lab) -> None:
    _set_image09(lab, f"deployment/{lab.names['deploy']}", f"{open_host()}/{lab.names['repo']}:latest")


register(Lab(
    id=L09, title="Fix an ImagePullBackOff caused by a wrong tag", level="cluster",
    checks=["deployment exists", "image tag exists in the registry", "no waiting reason", "pods ready"],
    first_failure="image tag exists in the registry",
    hints=[
        "`kubectl describe pod -n lab09-inventory -l app=inventory-api` ends with Events: read the "
        "`Failed to pull image` line. What exactly does the registry say is missing?",
        "Ask the registry which tags exist: `curl -s http://localhost:5001/v2/inventory-api/tags/list`. "
        "Then change the Deployment's template (not a Pod: the ReplicaSet would bring the wrong one back).",
        "kubectl set image deployment/inventory-api api=localhost:5001/inventory-api:1.0 -n lab09-inventory, "
        "then kubectl rollout status deployment/inventory-api -n lab09-inventory.",
    ],
    setup_fn=_setup09, check_fn=_check09, solve_fn=_solve09, teardown_fn=_teardown09,
    wrong_attempts=[
        WrongAttempt("edits the Pods, not the Deployment", _w09_edit_pod, fails="image tag exists in the registry"),
        WrongAttempt("switches to :latest (never pushed)", _w09_latest, fails="image tag exists in the registry"),
    ],
    check_note=CHECK_NOTE, names=NAMES09,
))


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


L10 = "lab10-missing-pull-secret"
NAMES10 = {"ns": "lab10-billing", "deploy": "billing-worker", "container": "worker", "repo": "billing-worker",
           "tag": "1.0"}


def _check10(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    check_private_deployment(Kube(), r, n["ns"], n["deploy"], n["container"])


def _setup10(lab: Lab) -> None:
    n = lab.names
    build_push(lab, f"{_cfg().private_registry}/{n['repo']}:{n['tag']}", n["tag"])
    apply_manifest(lab, "deployment.yaml")


def _patch_pull_secret(ns: str, dep: str, name: str = PULL_SECRET) -> None:
    kubectl("patch", f"deployment/{dep}", "-n", ns, "-p",
            json.dumps({"spec": {"template": {"spec": {"imagePullSecrets": [{"name": name}]}}}}))


def _solve10(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns)
    _patch_pull_secret(ns, dep)
    rollout_status(ns, dep)
    wait_until_passes(lab, 60)


def _teardown10(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _w10_localhost(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, server=_cfg().private_registry)
    _patch_pull_secret(ns, dep)


def _w10_not_referenced(lab: Lab) -> None:
    create_pull_secret(lab.names["ns"])


def _w10_docker_hub(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, server=pullsecrets.DOCKER_HUB)
    _patch_pull_secret(ns, dep)


def _w10_wrong_password(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, password="not-the-password")
    _patch_pull_secret(ns, dep)


def _w10_opaque(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    creds = registry_module.credentials()
    with tempfile.TemporaryDirectory() as tmp:
        path = pullsecrets.write_config(Path(tmp) / "config.json", private_host(), creds.username, creds.password)
        kubectl("create", "secret", "generic", PULL_SECRET, "-n", ns, f"--from-file=.dockerconfigjson={path}")
    _patch_pull_secret(ns, dep)


def _w10_typo(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns)
    _patch_pull_secret(ns, dep, "regcreds")


register(Lab(
    id=L10, title="Pull from a private registry: create and use a pull Secret", level="cluster",
    checks=PULL_SECRET_CHECKS, first_failure="pull secret referenced",
    hints=[
        "Read the pull error in `kubectl describe pod -n lab10-billing -l app=billing-worker`: the "
        "registry wants a login, and the Pod sends none. Pods get registry credentials from a Secret of "
        "type kubernetes.io/dockerconfigjson listed in spec.imagePullSecrets.",
        "The Secret's --docker-server must be the host written in the image name "
        "(private-registry:5000), not localhost:5002 where you push. `python -m ckalab credentials` "
        "prints the lab login.",
        "kubectl create secret docker-registry regcred -n lab10-billing --docker-server=private-registry:5000 "
        "--docker-username=student --docker-password=<password>, then kubectl patch deployment/billing-worker "
        "-n lab10-billing -p '{\"spec\":{\"template\":{\"spec\":{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}}}}'.",
    ],
    setup_fn=_setup10, check_fn=_check10, solve_fn=_solve10, teardown_fn=_teardown10,
    wrong_attempts=[
        WrongAttempt("Secret for localhost:5002 (where you push)", _w10_localhost,
                     fails="server matches the image host"),
        WrongAttempt("Secret created but not referenced", _w10_not_referenced, fails="pull secret referenced"),
        WrongAttempt("no --docker-server (Docker Hub default)", _w10_docker_hub,
                     fails="server matches the image host"),
        WrongAttempt("wrong password", _w10_wrong_password, fails="credentials authenticate"),
        WrongAttempt("generic (Opaque) Secret", _w10_opaque, fails="secret type"),
        WrongAttempt("typo in the referenced name", _w10_typo, fails="secret in the pods' namespace"),
    ],
    check_note=CHECK_NOTE, names=NAMES10,
))


L11 = "lab11-secret-wrong-namespace"
NS11, NS11_OTHER, DEP11 = "lab11-reports", "lab11-platform", "report-builder"


def _check11(lab: Lab, r: CheckResult) -> None:
    check_private_deployment(Kube(), r, NS11, DEP11, "builder")


def _setup11(lab: Lab) -> None:
    build_push(lab, f"{_cfg().private_registry}/report-builder:1.0", "1.0")
    apply_manifest(lab, "namespaces.yaml")
    create_pull_secret(NS11_OTHER)
    apply_manifest(lab, "deployment.yaml")


def copy_secret(src_ns: str, dest_ns: str, name: str = PULL_SECRET) -> None:
    """The documented way: decode the Secret's config.json, create it again in the other namespace."""
    data = kubectl("get", "secret", name, "-n", src_ns, "-o", "jsonpath={.data.\\.dockerconfigjson}").output
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_bytes(base64.b64decode(data))
        manifest = kubectl("create", "secret", "generic", name, "-n", dest_ns,
                           f"--from-file=.dockerconfigjson={path}", f"--type={pullsecrets.SECRET_TYPE}",
                           "--dry-run=client", "-o", "json").output
    kubectl("apply", "-f", "-", input=manifest)


def _solve11(lab: Lab) -> None:
    copy_secret(NS11_OTHER, NS11)
    kubectl("rollout", "restart", f"deployment/{DEP11}", "-n", NS11)
    rollout_status(NS11, DEP11)
    wait_until_passes(lab, 60)


WRONG_ATTEMPT_LABEL = "io.ckalab.wrong-attempt"


def _teardown11(lab: Lab) -> None:
    delete_namespaces(NS11, NS11_OTHER, wait=False)
    kubectl("delete", "secret", "-n", "default", "-l", f"{WRONG_ATTEMPT_LABEL}={L11}", "--ignore-not-found",
            check=False)


def _w11_default_ns(lab: Lab) -> None:
    copy_secret(NS11_OTHER, "default")
    # Marked, so that teardown removes what the attempt left outside the lab's namespaces.
    kubectl("label", "secret", PULL_SECRET, "-n", "default", "--overwrite", f"{WRONG_ATTEMPT_LABEL}={L11}")


def _w11_localhost(lab: Lab) -> None:
    create_pull_secret(NS11, server=_cfg().private_registry)


register(Lab(
    id=L11, title="A pull Secret in the wrong namespace", level="cluster",
    checks=PULL_SECRET_CHECKS, first_failure="secret in the pods' namespace",
    hints=[
        "The Deployment in lab11-reports lists imagePullSecrets: regcred. Where does regcred exist? "
        "`kubectl get secrets -A --field-selector metadata.name=regcred`.",
        "imagePullSecrets names a Secret in the Pod's OWN namespace; there is no cross-namespace "
        "reference. Create the same Secret in lab11-reports (`kubectl get secret ... -o jsonpath` "
        "gives you its .dockerconfigjson).",
        "kubectl get secret regcred -n lab11-platform -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d "
        "> /tmp/config.json; kubectl create secret generic regcred -n lab11-reports "
        "--from-file=.dockerconfigjson=/tmp/config.json --type=kubernetes.io/dockerconfigjson; "
        "kubectl rollout restart deployment/report-builder -n lab11-reports.",
    ],
    setup_fn=_setup11, check_fn=_check11, solve_fn=_solve11, teardown_fn=_teardown11,
    wrong_attempts=[
        WrongAttempt("copies the Secret to the default namespace", _w11_default_ns,
                     fails="secret in the pods' namespace"),
        WrongAttempt("new Secret for localhost:5002", _w11_localhost, fails="server matches the image host"),
    ],
    check_note=CHECK_NOTE,
))


# ====================================================================== lab12 ServiceAccount

L12 = "lab12-serviceaccount-pull-secret"
NS12, DEP12, SA12 = "lab12-analytics", "nightly-report", "report-runner"


def _check12(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, NS12, DEP12)
    if dep is None:
        return
    spec = dep.spec.template.spec
    sa = kube.service_account(NS12, SA12)
    listed = [s.name for s in (sa.image_pull_secrets or [])] if sa else []
    if sa is None:
        r.add("service account has the pull secret", False, f"there is no ServiceAccount {SA12} in {NS12}; "
                                                            "run lab.reset()")
    elif not listed:
        mounted = [s.name for s in sa.secrets or []]
        r.add("service account has the pull secret", False,
              f"serviceaccount/{SA12} has no imagePullSecrets"
              + (f" (its `secrets` field lists {', '.join(mounted)}, which is not used for pulling)"
                 if mounted else ""))
    else:
        c = container(spec, "report")
        host = references.parse(c.image).registry if c else private_host()
        trial = CheckResult(r.lab)
        check_secret(kube, trial, NS12, listed[0], host)
        r.add("service account has the pull secret", trial.passed,
              f"serviceaccount/{SA12} imagePullSecrets: {', '.join(listed)}" + (
                  "" if trial.passed else f"; but {trial.failed()[0].reason}"))
    uses = spec.service_account_name or "default"
    r.add("deployment uses that service account", uses == SA12,
          f"the Pod template uses serviceAccountName {uses}" + ("" if uses == SA12 else f", not {SA12}"))
    inline = [s.name for s in spec.image_pull_secrets or []]
    r.add("no imagePullSecrets in the Deployment", not inline,
          "the Pod template lists none; they come from the ServiceAccount" if not inline else
          f"the Pod template lists {', '.join(inline)} itself; the task is to attach it to {SA12}")
    pods = kube.pods(NS12, selector_of(dep))
    missing = [p.metadata.name for p in pods
               if not set(listed or [PULL_SECRET]) & {s.name for s in p.spec.image_pull_secrets or []}]
    if not pods:
        r.add("new pods carry the secret", False, "no Pods yet")
    else:
        r.add("new pods carry the secret", not missing,
              f"all {len(pods)} Pod(s) have it in spec.imagePullSecrets" if not missing else
              f"pod {missing[0]} has no imagePullSecrets: it was created before the ServiceAccount changed "
              "(admission copies them only when a Pod is created); `kubectl rollout restart` makes new Pods")
    check_pods(r, DEP12, pods, dep.spec.replicas or 1)


def _setup12(lab: Lab) -> None:
    build_push(lab, f"{_cfg().private_registry}/nightly-report:1.0", "1.0")
    apply_manifest(lab, "namespace.yaml")
    create_pull_secret(NS12)
    apply_manifest(lab, "deployment.yaml")


def _patch_sa(name: str = SA12) -> None:
    kubectl("patch", f"serviceaccount/{name}", "-n", NS12, "-p",
            json.dumps({"imagePullSecrets": [{"name": PULL_SECRET}]}))


def _solve12(lab: Lab) -> None:
    _patch_sa()
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)
    rollout_status(NS12, DEP12)
    wait_until_passes(lab, 60)


def _teardown12(lab: Lab) -> None:
    delete_namespaces(NS12, wait=False)


def _w12_no_restart(lab: Lab) -> None:
    _patch_sa()


def _w12_inline(lab: Lab) -> None:
    _patch_pull_secret(NS12, DEP12)


def _w12_default_sa(lab: Lab) -> None:
    _patch_sa("default")
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)


def _w12_secrets_field(lab: Lab) -> None:
    kubectl("patch", f"serviceaccount/{SA12}", "-n", NS12, "-p", json.dumps({"secrets": [{"name": PULL_SECRET}]}))
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)


register(Lab(
    id=L12, title="Give a ServiceAccount the pull Secret", level="cluster",
    checks=["deployment exists", "service account has the pull secret", "deployment uses that service account",
            "no imagePullSecrets in the Deployment", "new pods carry the secret", "pods ready"],
    first_failure="service account has the pull secret",
    hints=[
        "The Secret regcred already exists in lab12-analytics. The Deployment runs as ServiceAccount "
        "report-runner: `kubectl get serviceaccount report-runner -n lab12-analytics -o yaml`.",
        "A ServiceAccount's imagePullSecrets are copied into a Pod's spec when the Pod is CREATED. "
        "Existing Pods keep their spec, so after changing the ServiceAccount you need new Pods.",
        "kubectl patch serviceaccount report-runner -n lab12-analytics -p "
        "'{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}', then kubectl rollout restart "
        "deployment/nightly-report -n lab12-analytics.",
    ],
    setup_fn=_setup12, check_fn=_check12, solve_fn=_solve12, teardown_fn=_teardown12,
    wrong_attempts=[
        WrongAttempt("patches the ServiceAccount but keeps the old Pods", _w12_no_restart,
                     fails="new pods carry the secret"),
        WrongAttempt("adds imagePullSecrets to the Deployment instead", _w12_inline,
                     fails="no imagePullSecrets in the Deployment"),
        WrongAttempt("patches the default ServiceAccount", _w12_default_sa,
                     fails="service account has the pull secret"),
        WrongAttempt("uses the `secrets` field, not imagePullSecrets", _w12_secrets_field,
                     fails="service account has the pull secret"),
    ],
    check_note=CHECK_NOTE,
))


# ====================================================================== lab13 side-load

L13 = "lab13-errimageneverpull-side-load"
NS13, DEP13 = "lab13-ledger", "ledger-sync"
IMAGE13 = "ledger-sync:1.0"


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


def _check13(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, NS13, DEP13)
    if dep is None:
        return
    c = container(dep.spec.template.spec, "sync")
    policy = c.image_pull_policy if c else None
    r.add("pull policy still Never", policy == "Never",
          "imagePullPolicy: Never" if policy == "Never" else
          f"imagePullPolicy is {policy}; keep Never and put the image on the node instead")
    image = c.image if c else "?"
    r.add("image unchanged", image == IMAGE13,
          f"image {image}" + ("" if image == IMAGE13 else f"; keep {IMAGE13}"))
    pods = kube.pods(NS13, selector_of(dep))
    check_image_on_nodes(kube, r, pods, IMAGE13, f"kind load docker-image ... --name {_cfg().cluster_name}")
    check_pods(r, DEP13, pods, dep.spec.replicas or 1, label="pods running")


def _setup13(lab: Lab) -> None:
    build_push(lab, IMAGE13, "1.0")               # built only: it goes to no registry
    delete_namespaces(NS13)                       # no Pod may keep the image in use
    crictl("rmi", normalized(IMAGE13))            # the starting state: NOT on the node (error ignored)
    _wait_until_node_forgets(normalized(IMAGE13))
    apply_manifest(lab, "deployment.yaml")


def _wait_until_node_forgets(image: str, timeout: float = 120) -> None:
    """Wait until no node lists `image` in status.images any more.

    The kubelet reports the node's images with its periodic status update, so an image just
    removed from containerd stays listed for a while; a Check in that window would see it.
    """
    deadline = time.monotonic() + timeout
    while any(image in node_images(n) for n in Kube(budget=5).nodes()):
        if time.monotonic() > deadline:
            raise CourseError(f"The node still lists {image} in status.images {int(timeout)} s after "
                              "it was removed from containerd.", "run lab.reset() again.")
        time.sleep(3)


def _solve13(lab: Lab) -> None:
    result = shell.run(["kind", "load", "docker-image", IMAGE13, "--name", _cfg().cluster_name],
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"kind load failed: {short(result.output, 300)}", "run `make doctor`.")
    kubectl("rollout", "restart", f"deployment/{DEP13}", "-n", NS13)
    rollout_status(NS13, DEP13)
    wait_until_passes(lab, 150)


def _teardown13(lab: Lab) -> None:
    delete_namespaces(NS13)
    # ledger-sync:latest is what the wrong-tag attempt (and a learner making it) loads.
    for image in (IMAGE13, "ledger-sync:latest"):
        crictl("rmi", normalized(image))


def _w13_policy(lab: Lab) -> None:
    kubectl("patch", f"deployment/{DEP13}", "-n", NS13, "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": "sync", "imagePullPolicy": "IfNotPresent"}]}}}}))


def _w13_wrong_cluster(lab: Lab) -> None:
    clusters = shell.run(["kind", "get", "clusters"], env=shell.course_env(), timeout=60).output.split()
    # Without --name, kind loads into the cluster named `kind`. If this machine has one, it is not
    # the course's: load into a name no cluster has instead, which leaves the lab's node the same.
    name = ["--name", "ckalab-no-such-cluster"] if "kind" in clusters else []
    shell.run(["kind", "load", "docker-image", IMAGE13, *name], env=shell.course_env(), timeout=300)


def _w13_wrong_tag(lab: Lab) -> None:
    docker("tag", IMAGE13, "ledger-sync:latest")
    shell.run(["kind", "load", "docker-image", "ledger-sync:latest", "--name", _cfg().cluster_name],
              env=shell.course_env(), timeout=600)


register(Lab(
    id=L13, title="ErrImageNeverPull: side-load an image into kind", level="cluster",
    checks=["deployment exists", "pull policy still Never", "image unchanged", "image on the node",
            "pods running"],
    first_failure="image on the node",
    hints=[
        "imagePullPolicy: Never means the kubelet never pulls: the image must already be in the node's "
        "containerd. The image ledger-sync:1.0 exists only in your Docker Engine (`docker images ledger-sync`).",
        "kind copies an image from your Docker into the nodes: `kind load docker-image IMAGE --name CLUSTER`. "
        "Without --name it targets a cluster called `kind`. Check the node with "
        "`docker exec cka-images-control-plane crictl images | grep ledger-sync`.",
        "kind load docker-image ledger-sync:1.0 --name cka-images, then kubectl rollout restart "
        "deployment/ledger-sync -n lab13-ledger (or wait for the next retry). If kind load fails with "
        "`ctr: content digest sha256:...: not found` (Docker's containerd image store), load one platform "
        "from a file: `docker save --platform linux/amd64 -o ledger-sync.tar ledger-sync:1.0` (linux/arm64 "
        "on Arm), then `kind load image-archive ledger-sync.tar --name cka-images`.",
    ],
    setup_fn=_setup13, check_fn=_check13, solve_fn=_solve13, teardown_fn=_teardown13,
    wrong_attempts=[
        WrongAttempt("changes the pull policy instead", _w13_policy, fails="pull policy still Never"),
        WrongAttempt("kind load without --name (cluster `kind`)", _w13_wrong_cluster, fails="image on the node"),
        WrongAttempt("loads ledger-sync:latest", _w13_wrong_tag, fails="image on the node"),
    ],
    check_note=CHECK_NOTE,
))


# ====================================================================== lab14 crictl

L14 = "lab14-crictl-find-failing-image"
NS14, DEP14 = "lab14-fraud", "fraud-scorer"
REASONS = ("not-found", "unauthorized", "unreachable", "never-pull")
ANSWER_FORMAT = "image=<image reference as in the Pod spec>\nreason=<one of: " + ", ".join(REASONS) + ">"


def classify(message: str) -> str:
    """The cause of a pull failure from the kubelet's/containerd's message."""
    m = (message or "").lower()
    if "pull policy of never" in m:
        return "never-pull"
    if any(s in m for s in ("no basic auth credentials", "401 unauthorized", "unauthorized",
                            "authorization failed", "authentication required", "pull access denied")):
        return "unauthorized"
    if any(s in m for s in (": not found", "manifest unknown", "notfound", "not found")):
        return "not-found"
    if any(s in m for s in ("no such host", "connection refused", "i/o timeout", "dial tcp",
                            "registry is unavailable", "server gave http response to https client")):
        return "unreachable"
    return "unknown"


def answer_path(lab: Lab) -> Path:
    return lab.work_dir / "answer.txt"


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


def read_answer(path: Path) -> dict | str:
    """{'image':..., 'reason':...} or a string saying what is wrong with the file."""
    return read_fields(path, ("image", "reason"), ANSWER_FORMAT)


def failing_container(kube: Kube, dep) -> tuple | None:
    """(pod, container name, image, reason, message) of the first container failing to get its image."""
    for pod in kube.pods(NS14, selector_of(dep)):
        for cname, reason, message in waiting_problems(pod):
            if reason in PULL_REASONS:
                spec_c = container(pod.spec, cname) or next(
                    (c for c in pod.spec.init_containers or [] if c.name == cname), None)
                detail = message
                if classify(detail) == "unknown":     # older kubelets: only "Back-off pulling image ..."
                    events = [e for e in kube.pull_events(NS14, pod.metadata.name)
                              if (e.message or "").startswith("Failed to pull image")]
                    if events:
                        detail = events[-1].message
                return pod, cname, spec_c.image if spec_c else "?", reason, detail
    return None


def _check14(lab: Lab, r: CheckResult) -> None:
    answer = read_answer(answer_path(lab))
    if isinstance(answer, str):
        r.add("answer file exists", False, answer)
        return
    r.add("answer file exists", True, f"image={answer['image']}  reason={answer['reason']}")
    kube = Kube()
    dep = kube.deployment(NS14, DEP14)
    found = failing_container(kube, dep) if dep is not None else None
    if found is None:
        r.add("failing pod found", False, f"no Pod of {DEP14} in {NS14} waits for an image any more; "
                                          "run lab.reset() to start again")
        return
    pod, cname, image, reason, detail = found
    r.add("failing pod found", True, f"pod {pod.metadata.name}, container {cname}: {reason}")
    given = answer["image"]
    r.add("image matches", normalized(given) == normalized(image),
          f"{given} is the image that fails" if normalized(given) == normalized(image) else
          f"{given} is not the image that fails to pull (each container has its own image; "
          "the failing one has no container in `crictl ps -a`)")
    actual = classify(detail)
    given_reason = answer["reason"].lower()
    if given_reason in {r_.lower() for r_ in PULL_REASONS}:
        r.add("reason matches", False, f"{answer['reason']} is the kubelet's state, not WHY the pull "
                                       f"fails; use one of {', '.join(REASONS)}")
    elif given_reason not in REASONS:
        r.add("reason matches", False, f"'{answer['reason']}' is not one of {', '.join(REASONS)}")
    else:
        r.add("reason matches", given_reason == actual,
              f"the pull fails because: {actual}" if given_reason == actual else
              f"'{given_reason}' does not match what the registry answers; `crictl pull {image}` on the "
              "node shows the full error")


def _forget_private_image14() -> None:
    """Remove the private image from the node's containerd (errors ignored: it may be absent).

    A `crictl pull --creds` on the node (hint 3) stores it there, and the kubelet's default
    imagePullCredentialsVerificationPolicy, NeverVerifyPreloadedImages, never re-checks credentials
    for an image it did not pull itself: under IfNotPresent the container would then start without
    a pull Secret, and the lab could never be broken again.
    """
    delete_namespaces(NS14)                       # no container may keep the image in use
    crictl("rmi", normalized(f"{private_host()}/metrics-agent:0.9"))


def _setup14(lab: Lab) -> None:
    build_push(lab, f"{open_host()}/fraud-scorer:2.4", "2.4")
    build_push(lab, f"{_cfg().private_registry}/metrics-agent:0.9", "0.9")
    _forget_private_image14()
    apply_manifest(lab, "deployment.yaml")
    lab.work_dir.mkdir(parents=True, exist_ok=True)


def _solve14(lab: Lab) -> None:
    deadline = time.monotonic() + 120
    while True:
        dep = Kube(budget=5).deployment(NS14, DEP14)
        found = failing_container(Kube(budget=5), dep) if dep else None
        if found or time.monotonic() > deadline:
            break
        time.sleep(3)
    if not found:
        raise CourseError("No container of fraud-scorer failed to pull within 2 minutes.", "run lab.reset().")
    image = found[2]
    pulled = crictl("pull", image)
    reason = classify(pulled.output)
    print(f"$ docker exec {node_container()} crictl pull {image}\n{pulled.output.strip()}")
    path = answer_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"image={image}\nreason={reason}\n")
    print(path.read_text())
    wait_until_passes(lab, 30)


def _teardown14(lab: Lab) -> None:
    _forget_private_image14()


def _write_answer(lab: Lab, image: str, reason: str) -> None:
    answer_path(lab).parent.mkdir(parents=True, exist_ok=True)
    answer_path(lab).write_text(f"image={image}\nreason={reason}\n")


register(Lab(
    id=L14, title="Find the failing image on the node with crictl", level="cluster",
    checks=["answer file exists", "failing pod found", "image matches", "reason matches"],
    first_failure="answer file exists",
    hints=[
        "Work on the node: `docker exec cka-images-control-plane crictl pods --namespace lab14-fraud` "
        "finds the Pod, `crictl ps -a --pod POD_ID` its containers: the one that never started has no "
        "container at all.",
        "The node's kubelet log names the image it could not pull: `docker exec cka-images-control-plane "
        "journalctl -u kubelet --no-pager | grep -i 'failed to pull'` (or read the Pod's Events). Then "
        "`crictl pull IMAGE` on the node shows the registry's answer.",
        "The metrics-agent image comes from private-registry:5000 and the Pod has no pull Secret: "
        "write image=private-registry:5000/metrics-agent:0.9 and the reason the registry gives "
        "(`crictl pull --creds student:PASSWORD ...` succeeds, so the image does exist).",
    ],
    setup_fn=_setup14, check_fn=_check14, solve_fn=_solve14, teardown_fn=_teardown14,
    wrong_attempts=[
        WrongAttempt("names the image that works", lambda lab: _write_answer(
            lab, f"{open_host()}/fraud-scorer:2.4", "unauthorized"), fails="image matches", needs_reset=False),
        WrongAttempt("guesses not-found", lambda lab: _write_answer(
            lab, f"{private_host()}/metrics-agent:0.9", "not-found"), fails="reason matches", needs_reset=False),
        WrongAttempt("answers the kubelet state ImagePullBackOff", lambda lab: _write_answer(
            lab, f"{private_host()}/metrics-agent:0.9", "ImagePullBackOff"), fails="reason matches", needs_reset=False),
    ],
    check_note=CHECK_NOTE,
))
