"""Plain-language diagnosis of image problems, from a Pod and its events.

    d = ck.diagnose.explain_pod(pod_json, events_json)   # dicts as `kubectl get ... -o json` prints them
    print(d)                                            # reason, image, likely cause, evidence, fix
    d = ck.diagnose.from_cluster("web-7d9c-abcde", "nb08")  # the same, read from the course cluster

Where the words come from (Kubernetes v1.37 source, verified for notebook 08):

* waiting reasons set by the kubelet's image manager (pkg/kubelet/images/types.go):
  ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName, ImageInspectError;
  and two the CRI runtime can return (k8s.io/cri-api/pkg/errors): RegistryUnavailable,
  SignatureValidationFailed.
* CreateContainerConfigError with "container has runAsNonRoot and image will run as root"
  or "... image has non-numeric user (NAME), cannot verify user is non-root"
  (pkg/kubelet/kuberuntime/security_context_others.go).
* event messages: "Failed to pull image %q: %v", "Back-off pulling image %q",
  "Container image %q is not present with pull policy of Never",
  "Failed to apply default image tag %q: %v" (pkg/kubelet/images/image_manager.go);
  the text after the image name is the container runtime's own (containerd 2.3:
  "rpc error: code = NotFound desc = ... not found", "pull access denied, repository does
  not exist or may require authorization: ...", "dial tcp: lookup HOST on ...: no such host";
  only NotFound keeps the gRPC "rpc error: code = ... desc = " prefix).
* the Pod-level warning FailedToRetrieveImagePullSecret, "Unable to retrieve some image pull
  secrets (%s); attempting to pull the image may not succeed." (pkg/kubelet/kubelet.go): the
  Pod lists pull Secrets its namespace does not have. The kubelet pulls without them and sends
  the warning only when a pull of that sync failed.
* the waiting message of ImagePullBackOff: "Back-off pulling image %q: ErrImagePull: <the last
  pull error>" since Kubernetes v1.32 (kubernetes/kubernetes#127918; the BackOff event keeps the
  short form). Older kubelets wrote only "Back-off pulling image %q": then the cause is only in
  the Failed event, which expires. Checked against Pods recorded from v1.37.0 with containerd
  2.3.4 (tests/fixtures/pods, `make record-fixtures`).

The module only reads: it never changes the cluster.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from .errors import CourseError

PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "SignatureValidationFailed"}
IMAGE_REASONS = PULL_REASONS | {"ErrImageNeverPull", "InvalidImageName", "ImageInspectError"}

# cause -> (what it means, in one sentence)
CAUSES = {
    "tag-not-found": "the registry answered, but it has no image under that name and tag (or digest)",
    "unauthorized": "the registry refused the pull: no credentials, wrong credentials, or (on some "
                    "registries, e.g. Docker Hub) a repository that does not exist",
    "registry-unreachable": "the node could not reach the registry (DNS name, port, firewall, or "
                            "HTTP vs HTTPS)",
    "platform-missing": "the image exists, but not for this node's OS/CPU architecture",
    "never-pull": "imagePullPolicy is Never and the image is not on this node",
    "invalid-name": "the image reference is not a valid name (uppercase letters, a stray colon, "
                    "spaces...)",
    "inspect-error": "the container runtime could not inspect the image already on the node",
    "signature": "the container runtime's signature policy rejected the image",
    "non-root": "runAsNonRoot is set, but the image runs as root or as a user name the kubelet "
                "cannot check",
    "pull-failed": "the pull failed, but the reason is not in what was given (events expire after "
                   "one hour by default)",
    "running": "the container is running: no image problem",
    "pending": "the container has not started yet and reports no image problem (yet)",
    "other": "the container is not running, for a reason that is not an image problem",
}

# Patterns on the runtime's error text, checked in this order (the first that matches wins).
_TEXT_PATTERNS = [
    ("platform-missing", r"no match for platform|does not provide the specified platform"),
    ("registry-unreachable", r"no such host|connection refused|i/o timeout|network is unreachable|"
                             r"server gave HTTP response to HTTPS client|x509:|tls: |"
                             r"context deadline exceeded|dial tcp|because the registry is unavailable"),
    ("unauthorized", r"unauthorized|authorization failed|no basic auth credentials|pull access denied|"
                     r"authentication required|insufficient_scope|\b401\b|\b403\b|forbidden"),
    ("tag-not-found", r"not found|manifest unknown|name unknown|code = NotFound"),
]


@dataclass
class Diagnosis:
    """What is wrong with one container of a Pod, in words a learner can act on."""

    pod: str
    namespace: str
    container: str | None
    image: str | None
    reason: str | None          # status...state.waiting.reason (or "Running")
    cause: str                  # a key of CAUSES
    evidence: str = ""          # the message the cause was read from
    controller: str | None = None   # e.g. "deployment/web", when the Pod belongs to one
    events: list[str] = field(default_factory=list)
    missing_pull_secrets: list[str] = field(default_factory=list)   # from FailedToRetrieveImagePullSecret

    @property
    def ok(self) -> bool:
        return self.cause == "running"

    @property
    def image_problem(self) -> bool:
        return self.cause not in ("running", "pending", "other")

    @property
    def explanation(self) -> str:
        return CAUSES[self.cause]

    @property
    def fix(self) -> str:
        target = self.controller or f"the Pod's owner (or pod/{self.pod} if it has none)"
        c = self.container or "CONTAINER"
        return {
            "tag-not-found": f"check the tag in the registry (`curl http://REGISTRY/v2/REPO/tags/list`), "
                             f"push it or pick one that exists, then fix {target}: "
                             f"`kubectl set image {self._kind_name()} {c}=IMAGE:TAG`.",
            "unauthorized": (f"the Pod lists pull Secret {', '.join(self.missing_pull_secrets)}, which "
                             f"namespace {self.namespace} does not have (a Secret in another namespace "
                             f"does not count), so the kubelet pulled without credentials: create it in "
                             f"{self.namespace} (`kubectl create secret docker-registry ... -n "
                             f"{self.namespace}`)." if self.missing_pull_secrets else
                             f"create a docker-registry Secret for that registry in namespace "
                             f"{self.namespace} and list it under imagePullSecrets of {target} (or of "
                             f"its ServiceAccount); check the repository name too."),
            "registry-unreachable": "check the host and port in the image name; from the node, "
                                    "`crictl pull IMAGE` shows the same error with more detail.",
            "platform-missing": "build the image for the node's platform (`docker build --platform "
                                "linux/amd64`, or a multi-platform index) and push it again.",
            "never-pull": f"load the image onto the node (`kind load docker-image`, or `kind load "
                          f"image-archive` of a `docker save` file). Setting imagePullPolicy to "
                          f"IfNotPresent in {target} helps only if a registry serves the image.",
            "invalid-name": f"correct the image reference in {target}: lowercase repository, "
                            f"one `:tag` and/or one `@sha256:...`.",
            "inspect-error": "look at the runtime on the node: `crictl inspecti IMAGE` and "
                             "`journalctl -u containerd`.",
            "signature": "use a signed image that the node's policy trusts, or fix the policy.",
            "non-root": f"make the image run as a numeric non-root UID (`USER 10001` in the "
                        f"Dockerfile), or set securityContext.runAsUser in {target}.",
            "pull-failed": f"run `kubectl describe pod {self.pod} -n {self.namespace}` and read the "
                           f"Failed event; reproduce on the node with `crictl pull`.",
            "running": "nothing to fix.",
            "pending": "wait a few seconds and look again (`kubectl get pod -w`).",
            "other": f"read `kubectl describe pod {self.pod} -n {self.namespace}`.",
        }[self.cause]

    def _kind_name(self) -> str:
        return self.controller or f"pod/{self.pod}"

    def __str__(self) -> str:
        lines = [f"Pod {self.namespace}/{self.pod}, container {self.container}: {self.reason or 'no status'}",
                 f"  image:    {self.image}",
                 f"  cause:    {self.explanation} [{self.cause}]"]
        if self.evidence:
            lines.append(f"  evidence: {_shorten(self.evidence)}")
        if self.missing_pull_secrets:
            lines.append(f"  warning:  FailedToRetrieveImagePullSecret: no Secret "
                         f"{', '.join(self.missing_pull_secrets)} in namespace {self.namespace}")
        if self.controller:
            lines.append(f"  owner:    {self.controller} (fix it there: a new Pod would get the same spec)")
        lines.append(f"  fix:      {self.fix}")
        return "\n".join(lines)


# ---------------------------------------------------------------- reading API objects

def _items(events) -> list[dict]:
    """Events as a list, from None, a list, an EventList / List dict, or JSON text."""
    if events is None:
        return []
    if isinstance(events, str):
        events = json.loads(events)
    if isinstance(events, dict):
        return list(events.get("items") or [])
    return list(events)


def _event_time(event: dict) -> str:
    # core/v1 Event: lastTimestamp for kubelet events; eventTime for events.k8s.io-style ones.
    return (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")


def events_for(pod: dict, events, container: str | None = None) -> list[dict]:
    """The events about this Pod (and container, when given), oldest first."""
    meta = pod.get("metadata") or {}
    uid, name, ns = meta.get("uid"), meta.get("name"), meta.get("namespace")
    mine = []
    for event in _items(events):
        obj = event.get("involvedObject") or event.get("regarding") or {}
        if obj.get("kind", "Pod") != "Pod":
            continue
        if uid and obj.get("uid") and obj["uid"] != uid:
            continue
        if obj.get("name") != name or (ns and obj.get("namespace") not in (None, ns)):
            continue
        path = obj.get("fieldPath") or ""
        if container and path and not path.endswith(f"{{{container}}}"):
            continue
        mine.append(event)
    return sorted(mine, key=_event_time)


def controller_of(pod: dict) -> str | None:
    """'deployment/NAME' for a Deployment's Pod, 'KIND/NAME' for another controller, else None."""
    meta = pod.get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if not owner:
        return None
    pod_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if owner.get("kind") == "ReplicaSet" and pod_hash and owner["name"].endswith(f"-{pod_hash}"):
        return f"deployment/{owner['name'][: -len(pod_hash) - 1]}"
    return f"{owner.get('kind', '').lower()}/{owner.get('name')}"


def _statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _spec_images(pod: dict) -> dict[str, str]:
    spec = pod.get("spec") or {}
    return {c["name"]: c.get("image") for c in
            list(spec.get("initContainers") or []) + list(spec.get("containers") or [])}


def classify_text(text: str) -> str | None:
    """The cause a runtime error text points to, or None if it says nothing recognisable."""
    for cause, pattern in _TEXT_PATTERNS:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return cause
    return None


def explain_container(pod: dict, events, container: str) -> Diagnosis:
    meta = pod.get("metadata") or {}
    status = next((s for s in _statuses(pod) if s.get("name") == container), {})
    image = _spec_images(pod).get(container) or status.get("image")
    state = status.get("state") or {}
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason") or ("Running" if "running" in state else None)
    if "terminated" in state:
        reason = state["terminated"].get("reason") or "Terminated"
    message = waiting.get("message") or ""
    mine = events_for(pod, events, container)
    texts = [e.get("message") or "" for e in mine]

    missing = sorted({name.strip() for e in mine if e.get("reason") == "FailedToRetrieveImagePullSecret"
                      for m in [re.search(r"pull secrets \(([^)]*)\)", e.get("message") or "")] if m
                      for name in m.group(1).split(",") if name.strip()})

    def make(cause: str, evidence: str = "") -> Diagnosis:
        return Diagnosis(pod=meta.get("name", "?"), namespace=meta.get("namespace", "default"),
                         container=container, image=image, reason=reason, cause=cause,
                         evidence=evidence, controller=controller_of(pod), events=texts,
                         missing_pull_secrets=missing if cause == "unauthorized" else [])

    if reason == "Running":
        return make("running")
    if reason == "ErrImageNeverPull":
        return make("never-pull", message)
    if reason == "InvalidImageName":
        return make("invalid-name", message)
    if reason == "ImageInspectError":
        return make("inspect-error", message)
    if reason == "SignatureValidationFailed":
        return make("signature", message)
    if reason == "RegistryUnavailable":
        return make("registry-unreachable", message)
    if reason == "CreateContainerConfigError":
        if re.search(r"runAsNonRoot|non-root policy", message):
            return make("non-root", message)
        return make("other", message)
    if reason in PULL_REASONS:
        # The status message carries the runtime's words: ErrImagePull's is the error itself,
        # ImagePullBackOff's appends it to "Back-off pulling image ..." (Kubernetes v1.32 on;
        # older kubelets stop at the image name). The newest "Failed to pull image" event
        # carries them too, for as long as the events last.
        pulls = [t for t in texts if t.startswith("Failed to pull image")]
        for text in [message, *reversed(pulls)]:
            cause = classify_text(text)
            if cause:
                return make(cause, text)
        return make("pull-failed", message)
    if reason in (None, "ContainerCreating", "PodInitializing"):
        return make("pending", message)
    return make("other", message)


def explain_containers(pod: dict, events=None) -> list[Diagnosis]:
    """One Diagnosis per container (init containers first)."""
    if isinstance(pod, str):
        pod = json.loads(pod)
    if (pod or {}).get("kind") not in (None, "Pod"):
        raise CourseError(f"explain_pod() needs a Pod, not a {pod.get('kind')}.",
                          "pass the output of `kubectl get pod NAME -o json`.")
    names = list(_spec_images(pod)) or [s.get("name") for s in _statuses(pod)]
    return [explain_container(pod, events, name) for name in names]


def explain_pod(pod: dict, events=None) -> Diagnosis:
    """The diagnosis that matters most: the first container with an image problem,
    else the first that is not running, else the first container."""
    found = explain_containers(pod, events)
    if not found:
        meta = (pod or {}).get("metadata") or {}
        return Diagnosis(meta.get("name", "?"), meta.get("namespace", "default"), None, None,
                         None, "pending")
    for test in (lambda d: d.image_problem, lambda d: not d.ok):
        hit = next((d for d in found if test(d)), None)
        if hit:
            return hit
    return found[0]


def _shorten(text: str, limit: int = 240) -> str:
    """One line of at most `limit` characters. A long runtime error is cut in the middle: its
    last words ("...: not found", "... no such host") are the ones that name the cause."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = (limit - 5) // 2
    return f"{text[:head].rstrip()} ... {text[-(limit - 5 - head):].lstrip()}"


# ---------------------------------------------------------------- the course cluster

def read_pod(name: str, namespace: str) -> tuple[dict, dict]:
    """The Pod and its events, as the API server returns them (course cluster only)."""
    from . import cluster
    pod = cluster.kubectl_result("get", "pod", name, "-n", namespace, "-o", "json")
    if not pod.ok:
        raise CourseError(f"Could not read pod {namespace}/{name}: {pod.output.strip()}",
                          f"list the Pods with `kubectl get pods -n {namespace}`.")
    events = cluster.kubectl_result("get", "events", "-n", namespace, "--field-selector",
                             f"involvedObject.name={name}", "-o", "json")
    return json.loads(pod.output), (json.loads(events.output) if events.ok else {"items": []})


def from_cluster(name: str, namespace: str) -> Diagnosis:
    pod, events = read_pod(name, namespace)
    return explain_pod(pod, events)


def first_pod(selector: str, namespace: str, timeout: float = 30) -> str:
    """The name of the newest Pod matching a label selector (course cluster only).

    Waits up to `timeout` s for one to exist: right after `kubectl apply` of a Deployment, the
    controllers may not have made its Pod yet (seen in CI with a busy API server)."""
    from . import cluster
    deadline = time.monotonic() + timeout
    while True:
        result = cluster.kubectl_result("get", "pods", "-n", namespace, "-l", selector,
                                 "--sort-by=.metadata.creationTimestamp", "-o",
                                 "jsonpath={.items[*].metadata.name}")
        names = result.output.split() if result.ok else []
        if names:
            return names[-1]
        if time.monotonic() > deadline:
            raise CourseError(f"No Pod in namespace {namespace} matches `{selector}` after {timeout:.0f} s.",
                              f"look with `kubectl get pods -n {namespace} --show-labels`.")
        time.sleep(1)


def wait_for_reason(name: str, namespace: str, reasons=IMAGE_REASONS | {"CreateContainerConfigError"},
                    timeout: float = 90) -> str:
    """Wait until the Pod's first container is waiting for one of `reasons` (or running); return it."""
    from . import cluster
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        result = cluster.kubectl_result("get", "pod", name, "-n", namespace, "-o", "json")
        if result.ok:
            d = explain_pod(json.loads(result.output))
            seen = d.reason or ""
            if seen in reasons or seen == "Running":
                return seen
        time.sleep(2)
    raise CourseError(f"Pod {namespace}/{name} did not reach {sorted(reasons)} within {timeout:.0f} s "
                      f"(last seen: {seen or 'no container status'}).",
                      f"look at `kubectl describe pod {name} -n {namespace}`.")
