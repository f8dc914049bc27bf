"""Cluster labs (07-14, 16-19): every Check proven non-vacuous against API objects served over real HTTP.

A kmock Kubernetes emulator (kmock 0.8) runs in a thread and serves, through its REST paths,
the objects a v1.37 API server returns for each lab state: Deployments, ReplicaSets, Pods with
kubelet-shaped containerStatuses, Secrets, ServiceAccounts, Nodes with status.images and Events
(lists as DeploymentList/PodList/..., items without kind/apiVersion, label and field selectors).
The checkers read them through the official `kubernetes` client, exactly as on a cluster. A
second kmock server stands in for the registries (tags list, Basic-auth /v2/).

For every lab: the broken starting state fails on the lab's `first_failure`, every known-wrong
state fails on its sub-check, and the solved state passes. This proves the checker logic on
API-shaped objects; it does NOT prove that setup(), the wrong attempts and solve() do the same
on a cluster. That is test_real_cluster_cycle: the whole cycle, every known-wrong attempt
included, on the kind cluster. It fails, rather than skips, when CKALAB_REQUIRE=cluster.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import io
import json
import multiprocessing
import os
import signal
import tarfile
import threading
import time
import uuid
from pathlib import Path

import kmock
import yaml
import pytest
from kubernetes import client as k8s

from ckalab import cells, cluster_actions, cluster_checks, doctor, exam_tasks, labs, multiplatform, pullsecrets
from ckalab.errors import CourseError
from ckalab.registry import RegistryAPI

# The labs whose helpers and constants these tests read (each is its labs/NN-name/lab.py).
mod07, mod14, mod16, mod17, mod18, mod19, mod20 = (labs.module(i) for i in (
    "lab07-update-image-record-cause", "lab14-crictl-find-failing-image", "lab16-save-image-load-on-node",
    "lab17-kubelet-parallel-pulls", "lab18-crictl-container-report", "lab19-always-pull-images",
    "lab20-wrong-platform"))

NODE = "cka-images-control-plane"
T0 = "2025-11-26T09:00:00Z"
T1 = "2025-11-26T09:20:00Z"
PASSWORD = "lab-password-9f2c"
OPEN = "localhost:5001"
PRIVATE = "private-registry:5000"

KINDS = {  # plural -> (apiVersion, kind, namespaced)
    "deployments": ("apps/v1", "Deployment", True),
    "replicasets": ("apps/v1", "ReplicaSet", True),
    "pods": ("v1", "Pod", True),
    "secrets": ("v1", "Secret", True),
    "serviceaccounts": ("v1", "ServiceAccount", True),
    "events": ("v1", "Event", True),
    "nodes": ("v1", "Node", False),
    "namespaces": ("v1", "Namespace", False),
}


# ====================================================================== the API server

def _path(obj: dict, dotted: str):
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _matches_labels(obj: dict, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


def _matches_fields(obj: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        if str(_path(obj, key.strip())) != value.strip():
            return False
    return True


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator, answering lists and 404s the way kube-apiserver does."""

    async def _serve_list(self, request):
        res = request.resource
        api_version, kind, _ = KINDS[res.plural]
        items = []
        for (resource, namespace, _name), obj in list(self.objects.items()):
            if resource != res or obj.deleted:
                continue
            if request.namespace and namespace != request.namespace:
                continue
            raw = copy.deepcopy(obj.raw)
            if not _matches_labels(raw, request.params.get("labelSelector", "")):
                continue
            if not _matches_fields(raw, request.params.get("fieldSelector", "")):
                continue
            raw.pop("apiVersion", None)   # list items carry no TypeMeta
            raw.pop("kind", None)
            items.append(raw)
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return {"kind": f"{kind}List", "apiVersion": api_version,
                "metadata": {"resourceVersion": "52001"}, "items": items}

    # GET /api/v1/nodes/NODE/proxy/configz: the kubelet's own answer, passed on by the API server;
    # 503 with the dial error, as kube-apiserver answers, while the kubelet is down.
    kubelet_configs: dict = {}
    # GET /api/v1/namespaces/NS/pods/POD/log: what the container's latest run printed, by (ns, pod).
    pod_logs: dict = {}

    async def _serve_fetch(self, request):
        if request.resource and request.resource.plural == "pods" and request.subresource == "log":
            return self.pod_logs.get((request.namespace, request.name), "")
        if request.resource and request.resource.plural == "nodes" and request.subresource == "proxy/configz":
            config = self.kubelet_configs.get(request.name, DEFAULT_KUBELET_CONFIG)
            if config is None:
                raise kmock.KubernetesError(
                    status=503, reason="ServiceUnavailable",
                    message="error trying to reach service: dial tcp 172.18.0.2:10250: connect: connection refused")
            return {"kubeletconfig": config}
        try:
            return await super()._serve_fetch(request)
        except kmock.KubernetesObjectNotFoundError:
            res = request.resource
            qualified = f"{res.plural}.{res.group}" if res.group else res.plural
            raise kmock.KubernetesError(status=404, reason="NotFound",
                                        message=f'{qualified} "{request.name}" not found',
                                        details={"name": request.name, "group": res.group,
                                                 "kind": res.plural}) from None


class Threaded:
    """Run a kmock handler + server on a private event loop in a thread (the client is sync)."""

    def __init__(self, handler_cls):
        self.handler_cls = handler_cls
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._main()), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "kmock did not start"

    async def _main(self):
        self.stop = asyncio.Event()
        async with self.handler_cls() as handler, kmock.Server(handler) as server:
            self.handler = handler
            self.url = str(server.url).rstrip("/")
            self.ready.set()
            await self.stop.wait()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


@pytest.fixture(scope="module")
def apiserver():
    server = Threaded(ApiServer)
    for plural, (api_version, kind, namespaced) in KINDS.items():
        group, _, version = api_version.rpartition("/")
        server.handler.resources[f"{group}/{version}/{plural}" if group else f"v1/{plural}"] = \
            kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs={"get", "list"})
    yield server
    server.close()


@pytest.fixture(scope="module")
def fake_registry():
    """Both registries in one: /v2/<repo>/tags/list (open) and Basic-auth /v2/ (private)."""
    server = Threaded(kmock.RawHandler)
    km = server.handler
    good = "Basic " + base64.b64encode(f"student:{PASSWORD}".encode()).decode()
    km["get /v2/", kmock.headers({"Authorization": good})] << 200 << {}
    km["get /v2/"] << 401 << kmock.headers({"WWW-Authenticate": 'Basic realm="ckalab private registry"'}) \
        << {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
    for repo, tags in {"inventory-api": ["0.9", "1.0"], "checkout-web": ["1.0", "1.1"]}.items():
        km[f"get /v2/{repo}/tags/list"] << {"name": repo, "tags": tags}
    km.fallback << 404 << {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}
    yield server
    server.close()


def api_client_for(url: str):
    configuration = k8s.Configuration()
    configuration.host = url
    configuration.retries = 0
    return k8s.ApiClient(configuration)


@pytest.fixture
def serve(apiserver, fake_registry, isolated_state, monkeypatch):
    """serve(objects) -> the lab's CheckResult function, reading those objects over HTTP."""
    monkeypatch.setattr(labs, "unavailable", lambda level: None)   # the level probe needs a real cluster
    api = api_client_for(apiserver.url)

    def load(objects: list[dict]):
        apiserver.handler.objects.clear()
        apiserver.handler.kubelet_configs = {o["node"]: o["config"] for o in objects if o["kind"] == "configz"}
        apiserver.handler.pod_logs = {(o["namespace"], o["pod"]): o["text"] for o in objects if o["kind"] == "pod-log"}
        # What `crictl inspect ID` on the node says (lab 18): info.runtimeType by container ID.
        runtimes = {o["id"]: o["runtimeType"] for o in objects if o["kind"] == "crictl-inspect"}
        monkeypatch.setattr(mod18, "runtime_type_of", lambda cid: (runtimes.get(cid), "" if cid in runtimes
                                                                       else "NotFound: container does not exist"))
        # What the open registry holds (lab 20): reference -> Offers, as multiplatform.offers reads it.
        held = {ref: o for obj in objects if obj["kind"] == "registry-offers" for ref, o in obj["offers"].items()}
        monkeypatch.setattr(mod20, "offers_of", lambda ref: (held[ref], "") if ref in held else
                            (None, f"the registry has no {ref} (404 Not Found)"))
        objects = [o for o in objects if o["kind"] not in ("configz", "crictl-inspect", "registry-offers", "pod-log")]
        for obj in objects:
            api_version, plural = obj["apiVersion"], PLURALS[obj["kind"]]
            group, _, version = api_version.rpartition("/")
            key = f"{group}/{version}/{plural}" if group else f"v1/{plural}"
            apiserver.handler.objects[key, obj["metadata"].get("namespace"), obj["metadata"]["name"]] = \
                copy.deepcopy(obj)

        def check(lab_id: str):
            with cluster_checks.using(api_client=api, registry=RegistryAPI(fake_registry.url.split("//")[1]),
                                    private_registry_url=fake_registry.url):
                return labs.get(lab_id).check(record=False)
        return check
    return load


PLURALS = {kind: plural for plural, (_, kind, _) in KINDS.items()}


# ====================================================================== API-shaped objects

_rv = [41000]


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def meta(name: str, ns: str | None = None, *, labels=None, annotations=None, owner=None,
         generation=None, created=T0) -> dict:
    _rv[0] += 7
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    m.update({"uid": _uid(ns or "", name, created), "resourceVersion": str(_rv[0]),
              "creationTimestamp": created})
    if generation is not None:
        m["generation"] = generation
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                 "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                 "controller": True, "blockOwnerDeletion": True}]
    return m


def ctr(name: str, image: str, *, port=8080, policy=None, command=None) -> dict:
    c = {"name": name, "image": image}
    if command:
        c["command"] = command
    c.update({"ports": [{"containerPort": port, "protocol": "TCP"}],
              "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "10m", "memory": "32Mi"}},
              "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
              "imagePullPolicy": policy or ("Always" if image.endswith(":latest") else "IfNotPresent")})
    return c


def pod_spec(containers, *, sa=None, pull_secrets=None, node=None) -> dict:
    spec = {"containers": copy.deepcopy(containers), "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": sa or "default", "serviceAccount": sa or "default",
            "securityContext": {}, "schedulerName": "default-scheduler"}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    if node:
        spec["nodeName"] = node
    return spec


def deployment(ns, name, containers, *, replicas=2, revision=1, generation=1, observed=None,
               updated=None, available=None, total=None, annotations=None, sa=None, pull_secrets=None,
               deadline_exceeded=False) -> dict:
    observed = generation if observed is None else observed
    updated = replicas if updated is None else updated
    available = replicas if available is None else available
    total = replicas if total is None else total
    progressing = ({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{name}-x" has timed out progressing.'} if deadline_exceeded else
                   {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{name}" has successfully progressed.'})
    status = {"observedGeneration": observed, "replicas": total, "updatedReplicas": updated,
              "readyReplicas": available, "availableReplicas": available,
              "conditions": [{"type": "Available", "status": "True" if available else "False",
                              "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                              "message": "Deployment has minimum availability.",
                              "lastUpdateTime": T0, "lastTransitionTime": T0},
                             {**progressing, "lastUpdateTime": T1, "lastTransitionTime": T0}]}
    if total - available > 0:
        status["unavailableReplicas"] = total - available
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(name, ns, labels={"app": name}, generation=generation,
                             annotations={cluster_checks.REVISION: str(revision), **(annotations or {})}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": pod_spec(containers, sa=sa, pull_secrets=pull_secrets)},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": status}


def replicaset(dep: dict, containers, revision: int, *, replicas: int, ready: int | None = None,
               annotations=None, sa=None, pull_secrets=None, created=T0) -> dict:
    name = dep["metadata"]["name"]
    template_hash = _hash(name, repr(containers), repr(pull_secrets), str(sa))[:10].translate(
        str.maketrans("0123456789", "bcdfghjklm"))
    labels = {"app": name, "pod-template-hash": template_hash}
    ready = replicas if ready is None else ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": meta(f"{name}-{template_hash}", dep["metadata"]["namespace"], labels=labels,
                             generation=1, owner=dep, created=created,
                             annotations={cluster_checks.REVISION: str(revision),
                                          "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                                          "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                                          **(annotations or {})}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": pod_spec(containers, sa=sa, pull_secrets=pull_secrets)}},
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready,
                       "availableReplicas": ready, "observedGeneration": 1}}


def running(name: str, image: str) -> dict:
    repo = image.rsplit(":", 1)[0]
    return {"name": name, "state": {"running": {"startedAt": T1}}, "lastState": {}, "ready": True,
            "restartCount": 0, "image": image, "imageID": f"{repo}@sha256:{_hash(image)}",
            "containerID": f"containerd://{_hash(name, image, 'c')}", "started": True}


def waiting(name: str, image: str, reason: str, message: str) -> dict:
    return {"name": name, "state": {"waiting": {"reason": reason, "message": message}}, "lastState": {},
            "ready": False, "restartCount": 0, "image": image, "imageID": "", "started": False}


# Texts as containerd 2.3.4 under kubelet v1.37.0 reports them (tests/fixtures/pods, recorded):
# NotFound keeps its gRPC prefix, other errors do not; ImagePullBackOff appends the last error.
def not_found(image: str) -> str:
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
            f'failed to resolve reference "{image}": {image}: not found')


def no_credentials(image: str) -> str:
    return (f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": pull access '
            'denied, repository does not exist or may require authorization: authorization failed: '
            'no basic auth credentials')


def backoff(image: str, error: str) -> str:
    return f'Back-off pulling image "{image}": ErrImagePull: {error}'


def never(image: str) -> str:
    return f'Container image "{image}" is not present with pull policy of Never'


def pod(rs: dict, index: int, statuses: list[dict], *, created=T1) -> dict:
    ns = rs["metadata"]["namespace"]
    tmpl = copy.deepcopy(rs["spec"]["template"])
    name = f"{rs['metadata']['name']}-{_hash(rs['metadata']['name'], str(index))[:5]}"
    ready = all(s["ready"] for s in statuses)
    running_all = all("running" in s["state"] for s in statuses)
    cond = lambda t, ok: {"type": t, "status": "True" if ok else "False", "lastProbeTime": None,
                          "lastTransitionTime": T1}
    conditions = [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                  cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", True)]
    if not ready:
        waiting_names = [s["name"] for s in statuses if not s["ready"]]
        for c in conditions[2:4]:
            c.update(reason="ContainersNotReady",
                     message=f"containers with unready status: [{' '.join(waiting_names)}]")
    spec = tmpl["spec"]
    spec.update(nodeName=NODE, enableServiceLinks=True, preemptionPolicy="PreemptLowerPriority", priority=0)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, ns, labels=tmpl["metadata"]["labels"], owner=rs, created=created,
                             generation=1),
            "spec": spec,
            "status": {"phase": "Running" if running_all else "Pending", "conditions": conditions,
                       "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}],
                       "podIP": f"10.244.0.{10 + index}", "podIPs": [{"ip": f"10.244.0.{10 + index}"}],
                       "startTime": T1, "containerStatuses": statuses, "qosClass": "Burstable"}}


def pull_secret(ns: str, name="regcred", server=PRIVATE, password=PASSWORD, type_=None) -> dict:
    manifest = pullsecrets.secret_manifest(name, server, "student", password, namespace=ns)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns),
            "data": manifest["data"], "type": type_ or manifest["type"]}


def service_account(ns: str, name: str, pull_secrets=None, secrets=None) -> dict:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns)}
    if pull_secrets:
        sa["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    if secrets:
        sa["secrets"] = [{"name": n} for n in secrets]
    return sa


def node(images: list[list[str]], *, ready: bool = True) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": meta(NODE, labels={"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                           "node-role.kubernetes.io/control-plane": ""}),
            "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                     "providerID": f"kind://docker/cka-images/{NODE}"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                                     {"type": "Hostname", "address": NODE}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       } if ready else {
                                       "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                       "message": "Kubelet stopped posting node status.",
                                       "lastHeartbeatTime": T1, "lastTransitionTime": T0}],
                       "images": [{"names": names, "sizeBytes": 40_000_000 + 1000 * i}
                                  for i, names in enumerate(images)],
                       "nodeInfo": {"machineID": "6c2d1e8b0f0a4c4e9f3b5a7d8c9e0f12", "systemUUID": _uid("n"),
                                    "bootID": _uid("boot"), "kernelVersion": "6.8.0-1017-azure",
                                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "containerRuntimeVersion": "containerd://2.1.4",
                                    "kubeletVersion": "v1.37.0", "kubeProxyVersion": "",
                                    "operatingSystem": "linux", "architecture": "amd64"}}}


KIND_IMAGES = [["registry.k8s.io/etcd:3.6.5-0"], ["registry.k8s.io/kube-apiserver-amd64:v1.37.0",
               "registry.k8s.io/kube-apiserver:v1.37.0"], ["docker.io/kindest/kindnetd:v20251020-b4a6b1f8"],
               ["registry.k8s.io/pause:3.10.1"], ["registry.k8s.io/coredns/coredns:v1.12.4"]]


def event(p: dict, cname: str, reason: str, message: str, kind="Warning", count=3) -> dict:
    name = p["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": meta(f"{name}.{_hash(name, reason, message)[:16]}", p["metadata"]["namespace"]),
            "involvedObject": {"kind": "Pod", "namespace": p["metadata"]["namespace"], "name": name,
                               "uid": p["metadata"]["uid"], "apiVersion": "v1",
                               "resourceVersion": p["metadata"]["resourceVersion"],
                               "fieldPath": f"spec.containers{{{cname}}}"},
            "reason": reason, "message": message, "source": {"component": "kubelet", "host": NODE},
            "firstTimestamp": T1, "lastTimestamp": T1, "count": count, "type": kind, "eventTime": None,
            "reportingComponent": "kubelet", "reportingInstance": NODE}


# ====================================================================== lab states

def pods_of(rs, n, make_statuses):
    return [pod(rs, i, make_statuses(i)) for i in range(n)]


# ---------------------------------------------------------------- lab07

NS07 = "lab07-storefront"
WEB10, WEB11, SIDE = f"{OPEN}/checkout-web:1.0", f"{OPEN}/checkout-web:1.1", f"{OPEN}/log-forwarder:2.3"
SIDE_CMD = ["python3", "-m", "http.server", "9090", "--directory", "/srv"]


def lab07(web=WEB11, side=SIDE, cause="web image updated to localhost:5001/checkout-web:1.1",
          rs_cause="same", rollout_done=True):
    containers = [ctr("web", web), ctr("log-forwarder", side, port=9090, command=SIDE_CMD)]
    changed = (web, side) != (WEB10, SIDE)
    ann = {cluster_checks.CHANGE_CAUSE: cause} if cause else {}
    dep = deployment(NS07, "checkout-web", containers, revision=2 if changed else 1,
                     generation=2 if changed else 1, annotations=ann,
                     updated=2 if rollout_done else 1, available=2, total=2 if rollout_done else 3)
    old_c = [ctr("web", WEB10), ctr("log-forwarder", SIDE, port=9090, command=SIDE_CMD)]
    rs_ann = ann if rs_cause == "same" else ({cluster_checks.CHANGE_CAUSE: rs_cause} if rs_cause else {})
    objs = [dep]
    if changed:
        old = replicaset(dep, old_c, 1, replicas=0 if rollout_done else 1)
        new = replicaset(dep, containers, 2, replicas=2 if rollout_done else 1, annotations=rs_ann)
        objs += [old, new]
        objs += pods_of(new, 2 if rollout_done else 1, lambda i: [running("web", web), running("log-forwarder", side)])
        if not rollout_done:
            objs += pods_of(old, 2, lambda i: [running("web", WEB10), running("log-forwarder", SIDE)])
    else:
        rs = replicaset(dep, containers, 1, replicas=2, annotations=rs_ann)
        objs += [rs] + pods_of(rs, 2, lambda i: [running("web", web), running("log-forwarder", side)])
    return objs


# ---------------------------------------------------------------- lab08

NS08 = "lab08-payments"
GOOD08, BAD08 = f"{OPEN}/payments-api:3.2", f"{OPEN}/payments-api:3.3"


def lab08(state: str):
    good_c, bad_c = [ctr("api", GOOD08)], [ctr("api", BAD08)]
    if state == "recreated":
        dep = deployment(NS08, "payments-api", good_c, replicas=3, revision=1, generation=1)
        rs = replicaset(dep, good_c, 1, replicas=3, created=T1)
        return [dep, rs] + pods_of(rs, 3, lambda i: [running("api", GOOD08)])
    if state in ("broken", "pods deleted", "undo twice"):
        rev = 4 if state == "undo twice" else 2
        dep = deployment(NS08, "payments-api", bad_c, replicas=3, revision=rev, generation=rev,
                         updated=1, available=3, total=4, deadline_exceeded=state != "pods deleted",
                         annotations={cluster_checks.CHANGE_CAUSE: "api image updated to 3.3"})
        good = replicaset(dep, good_c, 3 if state == "undo twice" else 1, replicas=3)
        bad = replicaset(dep, bad_c, rev, replicas=1, ready=0)
        msg = not_found(BAD08)
        created = "2025-11-26T09:25:00Z" if state == "pods deleted" else T1
        bad_pod = pod(bad, 0, [waiting("api", BAD08, "ErrImagePull" if state == "pods deleted" else
                                       "ImagePullBackOff", msg if state == "pods deleted" else backoff(BAD08, msg))],
                      created=created)
        return [dep, good, bad, bad_pod] + pods_of(good, 3, lambda i: [running("api", GOOD08)])
    # solved: rollout undo -> revision 1's template is revision 3
    dep = deployment(NS08, "payments-api", good_c, replicas=3, revision=3, generation=3)
    good = replicaset(dep, good_c, 3, replicas=3, annotations={cluster_checks.REVISION_HISTORY: "1"})
    bad = replicaset(dep, bad_c, 2, replicas=0, ready=0)
    return [dep, good, bad] + pods_of(good, 3, lambda i: [running("api", GOOD08)])


# ---------------------------------------------------------------- lab09

NS09 = "lab09-inventory"
BAD09, GOOD09 = f"{OPEN}/inventory-api:1.0.0", f"{OPEN}/inventory-api:1.0"


def lab09(state: str):
    if state == "solved":
        dep = deployment(NS09, "inventory-api", [ctr("api", GOOD09)], revision=2, generation=2)
        rs = replicaset(dep, [ctr("api", GOOD09)], 2, replicas=2)
        return [dep, rs] + pods_of(rs, 2, lambda i: [running("api", GOOD09)])
    image = {"broken": BAD09, "latest": f"{OPEN}/inventory-api:latest", "pod edited": BAD09,
             "rollout pending": GOOD09}[state]
    dep = deployment(NS09, "inventory-api", [ctr("api", image)], available=0, updated=0 if state != "latest" else 1,
                     revision=2 if state in ("latest", "rollout pending") else 1,
                     generation=2 if state in ("latest", "rollout pending") else 1)
    rs = replicaset(dep, [ctr("api", BAD09)], 1, replicas=2, ready=0)
    if state == "pod edited":   # `kubectl set image pod/...`: the Pods run, the template is still wrong
        pods = pods_of(rs, 2, lambda i: [running("api", GOOD09)])
        for p in pods:
            p["spec"]["containers"][0]["image"] = GOOD09
        return [dep, rs] + pods
    pods = pods_of(rs, 2, lambda i: [waiting("api", BAD09, "ImagePullBackOff", backoff(BAD09, not_found(BAD09)))])
    objs = [dep, rs] + pods + [event(pods[0], "api", "Failed", f'Failed to pull image "{BAD09}": {not_found(BAD09)}')]
    if state == "latest":
        latest = f"{OPEN}/inventory-api:latest"
        new = replicaset(dep, [ctr("api", latest)], 2, replicas=1, ready=0)
        objs += pods_of(new, 1, lambda i: [waiting("api", latest, "ErrImagePull", not_found(latest))])
    if state == "rollout pending":
        new = replicaset(dep, [ctr("api", GOOD09)], 2, replicas=1, ready=0)
        objs += [new, pod(new, 0, [waiting("api", GOOD09, "ContainerCreating", "")])]
    return objs


# ---------------------------------------------------------------- lab10 / lab11

IMG10 = f"{PRIVATE}/billing-worker:1.0"
IMG11 = f"{PRIVATE}/report-builder:1.0"


def private_lab(ns, name, cname, image, *, refs=None, secrets=(), working=False):
    c = [ctr(cname, image)]
    gen = 2 if working else 1
    dep = deployment(ns, name, c, replicas=1, pull_secrets=refs, revision=gen, generation=gen,
                     available=1 if working else 0)
    rs = replicaset(dep, c, gen, replicas=1, ready=1 if working else 0, pull_secrets=refs)
    if working:
        pods = [pod(rs, 0, [running(cname, image)])]
    else:
        pods = [pod(rs, 0, [waiting(cname, image, "ImagePullBackOff", backoff(image, no_credentials(image)))])]
    return [dep, rs, *pods, *secrets, node(KIND_IMAGES)]


NS10, NS11, NS11P = "lab10-billing", "lab11-reports", "lab11-platform"


def lab10(state: str):
    args = ("lab10-billing", "billing-worker", "worker", IMG10)
    return {
        "broken": lambda: private_lab(*args),
        "Secret for localhost:5002 (where you push)": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS10, server="localhost:5002")]),
        "Secret created but not referenced": lambda: private_lab(*args, secrets=[pull_secret(NS10)]),
        "no --docker-server (Docker Hub default)": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS10, server=pullsecrets.DOCKER_HUB)]),
        "wrong password": lambda: private_lab(*args, refs=["regcred"], secrets=[pull_secret(NS10, password="nope")]),
        "generic (Opaque) Secret": lambda: private_lab(*args, refs=["regcred"],
                                                       secrets=[pull_secret(NS10, type_="Opaque")]),
        "typo in the referenced name": lambda: private_lab(*args, refs=["regcreds"], secrets=[pull_secret(NS10)]),
        "secret right, Pods not yet restarted": lambda: private_lab(*args, refs=["regcred"],
                                                                    secrets=[pull_secret(NS10)]),
        "solved": lambda: private_lab(*args, refs=["regcred"], secrets=[pull_secret(NS10)], working=True),
        "solved, scheme in the server key": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS10, server="http://private-registry:5000")],
            working=True),
    }[state]()


def lab11(state: str):
    args = (NS11, "report-builder", "builder", IMG11)
    platform = pull_secret(NS11P)
    return {
        "broken": lambda: private_lab(*args, refs=["regcred"], secrets=[platform]),
        "copies the Secret to the default namespace": lambda: private_lab(
            *args, refs=["regcred"], secrets=[platform, pull_secret("default")]),
        "new Secret for localhost:5002": lambda: private_lab(
            *args, refs=["regcred"], secrets=[platform, pull_secret(NS11, server="localhost:5002")]),
        "solved": lambda: private_lab(*args, refs=["regcred"], secrets=[platform, pull_secret(NS11)], working=True),
    }[state]()


# ---------------------------------------------------------------- lab12

NS12 = "lab12-analytics"
IMG12 = f"{PRIVATE}/nightly-report:1.0"


def lab12(state: str):
    c = [ctr("report", IMG12)]
    secret = pull_secret(NS12)
    sa_plain = service_account(NS12, "report-runner")
    sa_fixed = service_account(NS12, "report-runner", pull_secrets=["regcred"])
    default = service_account(NS12, "default")

    def world(sa, *, template_secrets=None, pod_secrets=None, working=False, extra=()):
        gen = 2 if working else 1
        dep = deployment(NS12, "nightly-report", c, replicas=1, sa="report-runner", pull_secrets=template_secrets,
                         revision=gen, generation=gen, available=1 if working else 0)
        rs = replicaset(dep, c, gen, replicas=1, ready=1 if working else 0, sa="report-runner",
                        pull_secrets=template_secrets)
        status = [running("report", IMG12)] if working else [
            waiting("report", IMG12, "ImagePullBackOff", backoff(IMG12, no_credentials(IMG12)))]
        p = pod(rs, 0, status)
        if pod_secrets:  # what the ServiceAccount admission plugin adds at creation
            p["spec"]["imagePullSecrets"] = [{"name": n} for n in pod_secrets]
        return [dep, rs, p, secret, sa, default, *extra]

    return {
        "broken": lambda: world(sa_plain),
        "patches the ServiceAccount but keeps the old Pods": lambda: world(sa_fixed),
        "adds imagePullSecrets to the Deployment instead": lambda: world(
            sa_plain, template_secrets=["regcred"], pod_secrets=["regcred"], working=True),
        "patches the default ServiceAccount": lambda: [
            o for o in world(sa_plain) if o is not default] + [
            service_account(NS12, "default", pull_secrets=["regcred"])],
        "uses the `secrets` field, not imagePullSecrets": lambda: world(
            service_account(NS12, "report-runner", secrets=["regcred"])),
        "solved": lambda: world(sa_fixed, pod_secrets=["regcred"], working=True),
    }[state]()


# ---------------------------------------------------------------- lab13

NS13 = "lab13-ledger"
IMG13 = "ledger-sync:1.0"
LOADED13 = "docker.io/library/ledger-sync:1.0"


def lab13(state: str):
    policy = "IfNotPresent" if state == "changes the pull policy instead" else "Never"
    c = [ctr("sync", IMG13, policy=policy)]
    images = list(KIND_IMAGES)
    if state in ("solved", "loaded, Pod still backing off"):
        images.append([LOADED13, f"docker.io/library/ledger-sync@sha256:{_hash('ledger')}"])
    if state == "loads ledger-sync:latest":
        images.append(["docker.io/library/ledger-sync:latest"])
    working = state == "solved"
    dep = deployment(NS13, "ledger-sync", c, replicas=1, available=1 if working else 0,
                     revision=2 if policy != "Never" or working else 1, generation=2 if policy != "Never" or working else 1)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if working else 0)
    if working:
        status = [running("sync", IMG13)]
    elif policy == "Never":
        status = [waiting("sync", IMG13, "ErrImageNeverPull", never(IMG13))]
    else:
        err = (f'failed to pull and unpack image "{LOADED13}": failed to resolve reference "{LOADED13}": '
               'pull access denied, repository does not exist or may require authorization: server message: '
               'insufficient_scope: authorization failed')
        status = [waiting("sync", IMG13, "ErrImagePull", err)]
    p = pod(rs, 0, status)
    return [dep, rs, p, node(images), event(p, "sync", "ErrImageNeverPull", never(IMG13))]


# ---------------------------------------------------------------- lab14

NS14 = "lab14-fraud"
SCORER, AGENT = f"{OPEN}/fraud-scorer:2.4", f"{PRIVATE}/metrics-agent:0.9"


def lab14(detail_in_status=True, fixed=False):
    c = [ctr("scorer", SCORER), ctr("metrics-agent", AGENT, port=9100,
                                    command=["python3", "-m", "http.server", "9100", "--directory", "/srv"])]
    dep = deployment(NS14, "fraud-scorer", c, replicas=1, available=1 if fixed else 0)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if fixed else 0)
    msg = backoff(AGENT, no_credentials(AGENT)) if detail_in_status else f'Back-off pulling image "{AGENT}"'
    agent = running("metrics-agent", AGENT) if fixed else waiting("metrics-agent", AGENT, "ImagePullBackOff", msg)
    p = pod(rs, 0, [running("scorer", SCORER), agent])
    events = [event(p, "metrics-agent", "Failed", f'Failed to pull image "{AGENT}": {no_credentials(AGENT)}'),
              event(p, "metrics-agent", "Failed", "Error: ErrImagePull"),
              event(p, "metrics-agent", "BackOff", f'Back-off pulling image "{AGENT}"', kind="Normal", count=9),
              event(p, "metrics-agent", "Failed", "Error: ImagePullBackOff", count=9),
              event(p, "scorer", "Pulled", f'Container image "{SCORER}" already present on machine '
                                           'and can be accessed by the pod', kind="Normal")]
    return [dep, rs, p, *events]


def learner_file(path_of, text: str | None):
    """Write (or, for None, remove) a file a learner leaves for a Check, before the Check."""
    def write():
        path = path_of()
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
    return write


def answer(text: str | None):
    return learner_file(lambda: mod14.answer_path(labs.get("lab14-crictl-find-failing-image")), text)


# ---------------------------------------------------------------- lab16

NS16, IMG16 = "lab16-reports", "report-gen:2.1"
LOADED16 = "docker.io/library/report-gen:2.1"


def lab16(state: str):
    policy = "Never" if state == "sets imagePullPolicy: Never" else "IfNotPresent"
    c = [ctr("report", IMG16, policy=policy)]
    loaded = state == "solved"
    images = list(KIND_IMAGES) + ([[LOADED16, f"docker.io/library/report-gen@sha256:{_hash('report')}"]] if loaded else [])
    changed = policy != "IfNotPresent"
    dep = deployment(NS16, "report-gen", c, replicas=1, available=1 if loaded else 0,
                     revision=2 if changed or loaded else 1, generation=2 if changed or loaded else 1)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if loaded else 0)
    if loaded:
        status = [running("report", IMG16)]
    elif changed:
        status = [waiting("report", IMG16, "ErrImageNeverPull", never(IMG16))]
    else:
        status = [waiting("report", IMG16, "ImagePullBackOff", backoff(LOADED16, not_found(LOADED16)))]
    return [dep, rs, pod(rs, 0, status), node(images)]


def archive(content: str | None):
    """Write what a learner may have left at the lab's archive path (before the Check)."""
    def write():
        path = mod16.archive_path(labs.get("lab16-save-image-load-on-node"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.unlink(missing_ok=True)
            return
        if content == "not a tar":
            path.write_bytes(b"report-gen 2.1\n")
            return
        with tarfile.open(path, "w") as tar:
            def add(name: str, data: bytes):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            if content == "export":              # docker export: the container's files, nothing else
                add("etc/hostname", b"report\n")
                add("srv/index.html", b"report-gen 2.1\n")
            elif content == "oci":               # Docker's containerd store, podman --format oci-archive
                add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
                add("index.json", json.dumps({"manifests": [{"annotations": {
                    "io.containerd.image.name": LOADED16, "org.opencontainers.image.ref.name": "2.1"}}]}).encode())
            else:                                # docker save of report-gen:<content>
                add("manifest.json", json.dumps([{"Config": f"blobs/sha256/{_hash(content)}",
                                                  "RepoTags": [f"report-gen:{content}"], "Layers": []}]).encode())
    return write


# ---------------------------------------------------------------- lab17

# What configz of a fresh kind v1.37 node says about image pulls (measured on the course's node).
DEFAULT_KUBELET_CONFIG = {"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
                          "registryPullQPS": 5, "registryBurst": 10,
                          "imagePullCredentialsVerificationPolicy": "NeverVerifyPreloadedImages",
                          "serializeImagePulls": True, "nodeStatusMaxImages": 50}
POLICY17 = "NeverVerifyPreloadedImages"


def lab17(*, answering=True, serialize=False, most=3, ready=True):
    """The node, and the kubelet configuration the API server's node proxy returns (None: down)."""
    config = dict(DEFAULT_KUBELET_CONFIG, serializeImagePulls=serialize)
    if most is not None:
        config["maxParallelImagePulls"] = most
    return [node(KIND_IMAGES, ready=ready and answering), {"kind": "configz", "node": NODE,
                                                          "config": config if answering else None}]


def policy_file(content: str | None):
    return learner_file(lambda: mod17.policy_path(labs.get("lab17-kubelet-parallel-pulls")), content)


# ---------------------------------------------------------------- lab18

NS18, AUDIT = "lab18-audit", f"{OPEN}/audit-agent:1.0"
ROTATOR_CMD = ["sh", "-c", "echo ...; exit 3"]
RUNTIME18 = "io.containerd.runc.v2"
SANDBOX18 = _hash("sandbox", NS18)
AGENT18 = _hash("agent", AUDIT, "c")          # running("agent", AUDIT)'s container ID
ROTATOR18 = _hash("rotator", AUDIT, "exited")   # exited("rotator", AUDIT)'s


def exited(name: str, image: str, *, exit_code: int) -> dict:
    """A container that ran and exited (restartPolicy Never), as the kubelet reports it."""
    cid = f"containerd://{_hash(name, image, 'exited')}"
    return {"name": name, "state": {"terminated": {"exitCode": exit_code, "reason": "Error", "startedAt": T1,
                                                   "finishedAt": T1, "containerID": cid}},
            "lastState": {}, "ready": False, "restartCount": 0, "image": image,
            "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{_hash(image)}", "containerID": cid, "started": False}


def lab18(*, agent_runs=True, exited_yet=True):
    """Pod audit-agent (no owner, restartPolicy Never), and what crictl inspect says of agent."""
    c = [ctr("agent", AUDIT), ctr("rotator", AUDIT, command=ROTATOR_CMD)]
    dep = deployment(NS18, "audit-agent", c, replicas=1)     # only to shape the Pod below
    agent = running("agent", AUDIT) if agent_runs else waiting("agent", AUDIT, "ContainerCreating", "")
    rotator = exited("rotator", AUDIT, exit_code=3) if exited_yet else \
        waiting("rotator", AUDIT, "ContainerCreating", "")
    p = pod(replicaset(dep, c, 1, replicas=1), 0, [agent, rotator])
    p["metadata"].update(name="audit-agent", labels={"app": "audit-agent"})
    del p["metadata"]["ownerReferences"]
    p["spec"]["restartPolicy"] = "Never"
    return [p, {"kind": "crictl-inspect", "id": AGENT18, "runtimeType": RUNTIME18}]


BOTH_STREAMS18 = f"{mod18.ROTATOR_STDOUT}\n{mod18.ROTATOR_STDERR}\n"


def report18(container=AGENT18[:13], runtime=RUNTIME18, exit_code="3", log=BOTH_STREAMS18):
    """Lab 18's two learner files; None leaves a file out."""
    lab = lambda: labs.get("lab18-crictl-container-report")
    report = None if container is None else f"container={container}\nruntime={runtime}\nexitcode={exit_code}\n"
    writes = [learner_file(lambda: mod18.report_path(lab()), report),
              learner_file(lambda: mod18.rotator_log_path(lab()), log)]
    return lambda: [write() for write in writes]


# ---------------------------------------------------------------- lab19

PAYROLL19 = f"{PRIVATE}/payroll:3.1"
NS19P, NS19T = mod19.NS19_OWNER, mod19.NS19_TENANT


def apiserver_pod(plugins: str | None) -> dict:
    """The kube-apiserver mirror Pod as kind v1.37 shows it (kubeadm's flags, one per argument)."""
    command = ["kube-apiserver", "--advertise-address=172.18.0.2", "--allow-privileged=true",
               "--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
               "--enable-bootstrap-token-auth=true", "--etcd-servers=https://127.0.0.1:2379",
               "--runtime-config=", "--secure-port=6443", "--service-cluster-ip-range=10.96.0.0/16"]
    if plugins is not None:
        command.insert(5, f"--enable-admission-plugins={plugins}")
    image = "registry.k8s.io/kube-apiserver:v1.37.0"
    c = {"name": "kube-apiserver", "image": image, "command": command, "imagePullPolicy": "IfNotPresent",
         "resources": {"requests": {"cpu": "250m"}}}
    name = f"kube-apiserver-{NODE}"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, "kube-system", labels={"component": "kube-apiserver", "tier": "control-plane"},
                             annotations={"kubernetes.io/config.mirror": _hash(repr(command))[:32],
                                          "kubernetes.io/config.source": "file"}),
            "spec": {"containers": [c], "hostNetwork": True, "nodeName": NODE, "priorityClassName": "system-node-critical"},
            "status": {"phase": "Running", "containerStatuses": [running("kube-apiserver", image)],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def team19(ns, name, cname, *, template="IfNotPresent", pods=(("IfNotPresent", "running"),), refs=None):
    """A Deployment whose template asks for `template`, and Pods (policy admission gave, state)."""
    c = [ctr(cname, PAYROLL19, policy=template)]
    dep = deployment(ns, name, c, replicas=1, pull_secrets=refs)
    rs = replicaset(dep, c, 1, replicas=1, pull_secrets=refs)
    objects = [dep, rs]
    for i, (policy, state) in enumerate(pods):
        status = {"running": running(cname, PAYROLL19),
                  "refused": waiting(cname, PAYROLL19, "ErrImagePull", no_credentials(PAYROLL19)),
                  "backoff": waiting(cname, PAYROLL19, "ImagePullBackOff",
                                     backoff(PAYROLL19, no_credentials(PAYROLL19))),
                  "creating": waiting(cname, PAYROLL19, "ContainerCreating", "")}[state]
        p = pod(rs, i, [status])
        p["spec"]["containers"][0]["imagePullPolicy"] = policy
        objects.append(p)
    return objects


def lab19(plugins="NodeRestriction", *, template="IfNotPresent", owner=(("IfNotPresent", "running"),),
          tenant=(("IfNotPresent", "running"),), mirror=True):
    return [*([apiserver_pod(plugins)] if mirror else []),
            *team19(NS19P, "payroll", "payroll", template=template, pods=owner, refs=["regcred"]),
            pull_secret(NS19P),
            *team19(NS19T, "report-viewer", "viewer", template=template, pods=tenant),
            node(KIND_IMAGES + [[PAYROLL19]])]


ADMITTED19 = dict(owner=(("Always", "running"),), tenant=(("Always", "refused"),))


# ---------------------------------------------------------------- lab20

NS20 = "lab20-metrics"
IMG20, NEW20 = f"{OPEN}/metrics-agent:3.2", f"{OPEN}/metrics-agent:3.2.1"
REPO20 = f"{OPEN}/metrics-agent"


def offers20(ref: str, *platforms: str, index: bool = True) -> "multiplatform.Offers":
    """An index of `platforms` with an attestation each (as buildx pushes it), or one image."""
    digest = f"sha256:{_hash(ref, *platforms)}"
    offers = multiplatform.Offers(reference=ref, digest=digest, is_index=index)
    for p in platforms:
        image = f"sha256:{_hash(ref, p)}"
        offers.entries.append(multiplatform.Offer(p, image))
        if index:
            offers.entries.append(multiplatform.Offer("unknown/unknown", f"sha256:{_hash(ref, p, 'att')}", image))
    return offers


ARM20 = offers20(IMG20, "linux/arm64", index=False)            # the laptop's push: one arm64 image
# What `kubectl logs` printed for that container on the kind node (runc's error, recorded here).
EXEC_FORMAT20 = "exec /usr/local/bin/python3: exec format error\n"


def crashing(name: str, image: str, image_id: str) -> dict:
    """An exec format error, as kubelet v1.37 and containerd 2.3.4 report it (recorded in lab 20's cycle)."""
    return {"name": name, "ready": False, "restartCount": 3, "image": image, "imageID": image_id,
            "started": False, "containerID": f"containerd://{_hash(name, image, 'x')}",
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": f"back-off 40s restarting failed container={name} pod=metrics-agent-x"}},
            "lastState": {"terminated": {"exitCode": 255, "reason": "Error", "startedAt": T1, "finishedAt": T1,
                                         "containerID": f"containerd://{_hash(name, image, 'y')}"}}}


def lab20(state: str):
    """The Deployment's image, what the registry holds, and the one Pod's container."""
    registry = {IMG20: ARM20}
    image, status = IMG20, lambda img: crashing("agent", img, f"{REPO20}@{ARM20.digest}")
    if state == "rebuilds for the laptop's platform again":
        registry[NEW20] = offers20(NEW20, "linux/arm64", index=False)
        image, status = NEW20, lambda img: crashing("agent", img, f"{REPO20}@{registry[NEW20].digest}")
    elif state == "builds for the node's platform only":
        registry[NEW20] = offers20(NEW20, "linux/amd64", index=False)
        image = NEW20
        status = lambda img: {**running("agent", img), "imageID": f"{REPO20}@{registry[NEW20].digest}"}
    elif state == "pushes both platforms over the old tag and restarts":
        registry[IMG20] = offers20(IMG20, "linux/amd64", "linux/arm64")   # the tag moved; the node kept ARM20
        registry[f"{REPO20}@{ARM20.digest}"] = ARM20
    elif state == "pushed over the old tag, emulated node runs the old image":
        registry[IMG20] = offers20(IMG20, "linux/amd64", "linux/arm64")
        registry[f"{REPO20}@{ARM20.digest}"] = ARM20
        status = lambda img: {**running("agent", img), "imageID": f"{REPO20}@{ARM20.digest}"}
    elif state == "broken, emulated node runs it":
        status = lambda img: {**running("agent", img), "imageID": f"{REPO20}@{ARM20.digest}"}
    elif state in ("solved", "fixed, new Pod not ready yet"):
        registry[NEW20] = offers20(NEW20, "linux/amd64", "linux/arm64")
        image = NEW20
        if state == "solved":
            status = lambda img: {**running("agent", img), "imageID": f"{REPO20}@{registry[NEW20].digest}"}
        else:
            status = lambda img: {**running("agent", img), "imageID": f"{REPO20}@{registry[NEW20].digest}",
                                  "ready": False}
    for ref, offers in list(registry.items()):
        registry[f"{REPO20}@{offers.digest}"] = offers
    dep = deployment(NS20, "metrics-agent", [ctr("agent", image)], replicas=1,
                     available=1 if state in ("solved", "builds for the node's platform only") else 0)
    rs = replicaset(dep, [ctr("agent", image)], 1, replicas=1)
    p = pod(rs, 0, [status(image)])
    crashed = "waiting" in p["status"]["containerStatuses"][0]["state"]
    log = EXEC_FORMAT20 if crashed else "metrics-agent 3.2.1 on x86_64 listening on :8080\n"
    return [dep, rs, p, node(KIND_IMAGES), {"kind": "registry-offers", "offers": registry},
            {"kind": "pod-log", "namespace": NS20, "pod": p["metadata"]["name"], "text": log}]


# ====================================================================== scenarios

# lab id -> {state name: (objects factory, before-check action or None, expected failing sub-check or None)}
SCENARIOS = {
    "lab07-update-image-record-cause": {
        "broken": (lambda: lab07(web=WEB10, cause=None), None, "image of the updated container"),
        "image updated, no change-cause": (lambda: lab07(cause=None), None, "change-cause recorded"),
        "set image with * changes the sidecar too": (
            lambda: lab07(side=f"{OPEN}/checkout-web:1.1", cause="update to 1.1"), None, "other containers untouched"),
        "annotation only, image unchanged": (lambda: lab07(web=WEB10, cause="update to 1.1"), None, "image of the updated container"),
        "stale change-cause from before the update": (lambda: lab07(cause="initial 1.0"), None, "change-cause recorded"),
        "cause mentions 1.10, not 1.1": (lambda: lab07(cause="bump to 1.10"), None, "change-cause recorded"),
        "rollout still in progress": (lambda: lab07(rollout_done=False), None, "rollout complete"),
        "Deployment annotated, ReplicaSet not yet": (lambda: lab07(rs_cause=None), None,
                                                     "rollout history shows the cause"),
        "solved": (lambda: lab07(), None, None),
    },
    "lab08-rollback-bad-update": {
        "broken": (lambda: lab08("broken"), None, "image rolled back"),
        "deletes the failing Pods": (lambda: lab08("pods deleted"), None, "image rolled back"),
        "deletes and recreates the Deployment": (lambda: lab08("recreated"), None, "rollback recorded"),
        "undo twice (back to the bad revision)": (lambda: lab08("undo twice"), None, "image rolled back"),
        "broken: pull errors are seen": (lambda: lab08("broken"), None, "no pull errors"),
        "solved": (lambda: lab08("solved"), None, None),
    },
    "lab09-wrong-tag": {
        "broken": (lambda: lab09("broken"), None, "image tag exists in the registry"),
        "edits the Pods, not the Deployment": (lambda: lab09("pod edited"), None, "image tag exists in the registry"),
        "switches to :latest (never pushed)": (lambda: lab09("latest"), None, "image tag exists in the registry"),
        "fixed, new Pod still creating": (lambda: lab09("rollout pending"), None, "pods ready"),
        "solved": (lambda: lab09("solved"), None, None),
    },
    "lab10-missing-pull-secret": {name: (lambda name=name: lab10(name), None, fails) for name, fails in {
        "broken": "pull secret referenced",
        "Secret for localhost:5002 (where you push)": "server matches the image host",
        "Secret created but not referenced": "pull secret referenced",
        "no --docker-server (Docker Hub default)": "server matches the image host",
        "wrong password": "credentials authenticate",
        "generic (Opaque) Secret": "secret type",
        "typo in the referenced name": "secret in the pods' namespace",
        "secret right, Pods not yet restarted": "pods ready",
        "solved": None,
        "solved, scheme in the server key": None,
    }.items()},
    "lab11-secret-wrong-namespace": {name: (lambda name=name: lab11(name), None, fails) for name, fails in {
        "broken": "secret in the pods' namespace",
        "copies the Secret to the default namespace": "secret in the pods' namespace",
        "new Secret for localhost:5002": "server matches the image host",
        "solved": None,
    }.items()},
    "lab12-serviceaccount-pull-secret": {name: (lambda name=name: lab12(name), None, fails) for name, fails in {
        "broken": "service account has the pull secret",
        "patches the ServiceAccount but keeps the old Pods": "new pods carry the secret",
        "adds imagePullSecrets to the Deployment instead": "no imagePullSecrets in the Deployment",
        "patches the default ServiceAccount": "service account has the pull secret",
        "uses the `secrets` field, not imagePullSecrets": "service account has the pull secret",
        "solved": None,
    }.items()},
    "lab13-errimageneverpull-side-load": {name: (lambda name=name: lab13(name), None, fails) for name, fails in {
        "broken": "image on the node",
        "changes the pull policy instead": "pull policy still Never",
        "kind load without --name (cluster `kind`)": "image on the node",
        "loads ledger-sync:latest": "image on the node",
        "loaded, Pod still backing off": "pods running",
        "solved": None,
    }.items()},
    "lab14-crictl-find-failing-image": {
        "broken": (lambda: lab14(), answer(None), "answer file exists"),
        "names the image that works": (lambda: lab14(), answer(f"image={SCORER}\nreason=unauthorized\n"),
                                       "image matches"),
        "guesses not-found": (lambda: lab14(), answer(f"image={AGENT}\nreason=not-found\n"), "reason matches"),
        "answers the kubelet state ImagePullBackOff": (
            lambda: lab14(), answer(f"image={AGENT}\nreason=ImagePullBackOff\n"), "reason matches"),
        "answer file without a reason line": (lambda: lab14(), answer(f"image={AGENT}\n"), "answer file exists"),
        "the failing Pod was fixed instead": (lambda: lab14(fixed=True),
                                              answer(f"image={AGENT}\nreason=unauthorized\n"), "failing pod found"),
        "solved": (lambda: lab14(), answer(f"# found with crictl\nimage={AGENT}\nreason=unauthorized\n"), None),
        "solved, reason only in the Events (old kubelet message)": (
            lambda: lab14(detail_in_status=False), answer(f"image: {AGENT}\nreason: unauthorized\n"), None),
    },
    "lab16-save-image-load-on-node": {
        "broken": (lambda: lab16("broken"), archive(None), "archive exists"),
        "exports a container instead of saving the image": (
            lambda: lab16("broken"), archive("export"), "archive is an image archive"),
        "writes some other file": (lambda: lab16("broken"), archive("not a tar"), "archive is an image archive"),
        "saves the older tag": (lambda: lab16("broken"), archive("2.0"), "archive holds the image"),
        "saves the archive but loads nothing": (lambda: lab16("broken"), archive("2.1"), "image on the node"),
        # ctr's default namespace is not the kubelet's: status.images stays as in "broken".
        "imports with ctr into containerd's default namespace": (lambda: lab16("broken"), archive("2.1"),
                                                                 "image on the node"),
        "sets imagePullPolicy: Never": (lambda: lab16("sets imagePullPolicy: Never"), archive("2.1"),
                                        "deployment unchanged"),
        "solved": (lambda: lab16("solved"), archive("2.1"), None),
        "solved from an OCI archive": (lambda: lab16("solved"), archive("oci"), None),
    },
    "lab17-kubelet-parallel-pulls": {
        "broken": (lambda: lab17(answering=False), policy_file(None), "kubelet answers"),
        "removes maxParallelImagePulls instead": (lambda: lab17(serialize=True, most=None),
                                                  policy_file(POLICY17 + "\n"), "parallel pulls"),
        "turns serialization off but keeps 5": (lambda: lab17(most=5), policy_file(POLICY17 + "\n"),
                                               "at most 3 at once"),
        "no limit at all": (lambda: lab17(most=None), policy_file(POLICY17), "at most 3 at once"),
        "writes NeverVerify (another policy)": (lambda: lab17(), policy_file("NeverVerify\n"), "policy recorded"),
        "fixed, no policy file": (lambda: lab17(), policy_file(None), "policy recorded"),
        "fixed, node not Ready yet": (lambda: lab17(ready=False), policy_file(POLICY17), "node Ready"),
        "solved": (lambda: lab17(), policy_file(POLICY17 + "\n"), None),
        "solved, policy copied with its quotes": (lambda: lab17(), policy_file(f'"{POLICY17}"'), None),
    },
    "lab18-crictl-container-report": {
        "broken": (lambda: lab18(), report18(container=None, log=None), "report file exists"),
        "gives the Pod sandbox ID": (lambda: lab18(), report18(container=SANDBOX18[:13]), "agent container ID"),
        "gives a rotator container's ID": (lambda: lab18(), report18(container=ROTATOR18[:13]), "agent container ID"),
        "gives 6 characters of the ID": (lambda: lab18(), report18(container=AGENT18[:6]), "agent container ID"),
        "writes runc as the runtime type": (lambda: lab18(), report18(runtime="runc"), "runtime type"),
        "guesses exit code 1": (lambda: lab18(), report18(exit_code="1"), "exit code"),
        "writes exit code 0 (the agent's state)": (lambda: lab18(), report18(exit_code="0"), "exit code"),
        "rotator has not exited yet": (lambda: lab18(exited_yet=False), report18(), "exit code"),
        "saves only the stdout of crictl logs": (lambda: lab18(), report18(log=mod18.ROTATOR_STDOUT + "\n"),
                                                 "rotator log saved"),
        "saves agent's log": (lambda: lab18(), report18(log="Serving HTTP on 0.0.0.0 port 8080\n"),
                              "rotator log saved"),
        "no log file": (lambda: lab18(), report18(log=None), "rotator log saved"),
        "agent not running (lab deleted)": (lambda: lab18(agent_runs=False), report18(), "agent container ID"),
        "solved": (lambda: lab18(), report18(), None),
        "solved, full ID with its containerd:// prefix": (
            lambda: lab18(), report18(container=f"containerd://{AGENT18}"), None),
    },
    "lab19-always-pull-images": {name: (lambda kw=kw: lab19(**kw), None, fails) for name, (kw, fails) in {
        "broken": ({}, "AlwaysPullImages enabled"),
        "sets imagePullPolicy: Always in the Deployments": (
            dict(template="Always", **ADMITTED19), "AlwaysPullImages enabled"),
        "enables the plugin but keeps the old Pods": (
            dict(plugins="NodeRestriction,AlwaysPullImages"), "Pods admitted again"),
        "replaces NodeRestriction with AlwaysPullImages": (dict(plugins="AlwaysPullImages", **ADMITTED19),
                                                           "NodeRestriction kept"),
        "no --enable-admission-plugins flag left": (dict(plugins=None, **ADMITTED19), "AlwaysPullImages enabled"),
        "rollout restart: the tenant's old Pod still runs": (
            dict(plugins="NodeRestriction,AlwaysPullImages", owner=(("Always", "running"),),
                 tenant=(("IfNotPresent", "running"), ("Always", "backoff"))), "Pods admitted again"),
        "mirror Pod not posted yet after the restart": (dict(mirror=False), "API server answers"),
        "tenant's new Pod has not tried to pull yet": (
            dict(plugins="NodeRestriction,AlwaysPullImages", owner=(("Always", "running"),),
                 tenant=(("Always", "creating"),)), "tenant cannot use the image"),
        "payroll's new Pod cannot pull": (
            dict(plugins="NodeRestriction,AlwaysPullImages", owner=(("Always", "backoff"),),
                 tenant=(("Always", "refused"),)), "payroll runs"),
        "solved": (dict(plugins="NodeRestriction,AlwaysPullImages", **ADMITTED19), None),
        "solved, tenant in back-off": (dict(plugins="NodeRestriction,AlwaysPullImages",
                                            owner=(("Always", "running"),), tenant=(("Always", "backoff"),)), None),
        "solved, plugins in another order": (dict(plugins="AlwaysPullImages,NodeRestriction", **ADMITTED19), None),
    }.items()},
    "lab20-wrong-platform": {name: (lambda name=name: lab20(name), None, fails) for name, fails in {
        "broken": "image serves the node's platform",
        "broken, emulated node runs it": "image serves the node's platform",
        "rebuilds for the laptop's platform again": "image serves the node's platform",
        "builds for the node's platform only": "image serves both platforms",
        "pushes both platforms over the old tag and restarts": "pods run the node's platform",
        "pushed over the old tag, emulated node runs the old image": "pods run the node's platform",
        "fixed, new Pod not ready yet": "pods ready",
        "solved": None,
    }.items()},
}

CASES = [(lab_id, state) for lab_id, states in SCENARIOS.items() for state in states]


@pytest.mark.parametrize("lab_id,state", CASES, ids=[f"{a.split('-')[0]}-{b}" for a, b in CASES])
def test_check_against_api_objects(serve, lab_id, state):
    factory, before, fails = SCENARIOS[lab_id][state]
    check = serve(factory())
    if before:
        before()
    result = check(lab_id)
    names = [s.name for s in result.subchecks]
    assert names == labs.get(lab_id).checks, f"sub-checks out of order or missing:\n{result}"
    assert "checker" not in names, str(result)
    if fails is None:
        assert result.passed, str(result)
    else:
        assert not result.get(fails).passed, f"expected '{fails}' to fail:\n{result}"
        assert not result.passed


@pytest.mark.parametrize("lab_id", list(SCENARIOS))
def test_every_declared_wrong_attempt_has_a_failing_state(lab_id):
    """Each WrongAttempt of the lab is modelled here, failing on the same sub-check it declares."""
    lab = labs.get(lab_id)
    assert SCENARIOS[lab_id]["broken"][2] == lab.first_failure
    for attempt in lab.wrong_attempts:
        assert attempt.name in SCENARIOS[lab_id], f"no API state for wrong attempt '{attempt.name}'"
        assert SCENARIOS[lab_id][attempt.name][2] == attempt.fails
    assert any(fails is None for _, _, fails in SCENARIOS[lab_id].values())


def test_wrong_attempt_reasons_name_the_mistake(serve):
    check = serve(lab10("Secret for localhost:5002 (where you push)"))
    reason = check("lab10-missing-pull-secret").get("server matches the image host").reason
    assert "localhost:5002" in reason and "host written in the image name" in reason
    check = serve(lab11("broken"))
    reason = check("lab11-secret-wrong-namespace").get("secret in the pods' namespace").reason
    assert "lab11-platform" in reason and "own namespace" in reason
    check = serve(lab12("patches the ServiceAccount but keeps the old Pods"))
    assert "rollout restart" in check("lab12-serviceaccount-pull-secret").get("new pods carry the secret").reason
    check = serve(lab08("recreated"))
    assert "rollout undo" in check("lab08-rollback-bad-update").get("rollback recorded").reason
    # A container waiting with an empty message gets no empty "()" after its reason.
    new_pod_only = [o for o in lab09("rollout pending") if not (o.get("kind") == "Pod" and BAD09 in str(o))]
    reason = serve(new_pod_only)("lab09-wrong-tag").get("no waiting reason").reason
    assert reason.endswith("waits with ContainerCreating"), reason


# A node lab starts from the node's kubelet, which every cluster has: it has no objects to miss.
NODE_LABS = {"lab17-kubelet-parallel-pulls"}
# Lab 19 starts from the API server's own Pod, which every cluster has, and restarts the API server.
CONTROL_PLANE_LABS = {"lab19-always-pull-images"}


@pytest.mark.parametrize("lab_id", [lab_id for lab_id in SCENARIOS if lab_id not in NODE_LABS | CONTROL_PLANE_LABS])
def test_empty_cluster_is_one_failed_subcheck_not_an_error(serve, lab_id):
    check = serve([node(KIND_IMAGES)])
    answer(f"image={AGENT}\nreason=unauthorized\n")()       # labs whose first check is a learner's file
    report18()()
    result = check(lab_id)
    assert not result.passed
    assert "checker" not in [s.name for s in result.subchecks], str(result)
    first_failed = result.failed()[0]
    assert "lab.reset()" in first_failed.reason


def test_unreachable_cluster_fails_fast_with_one_line(isolated_state, monkeypatch):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    dead = api_client_for("http://127.0.0.1:9")       # nothing listens on the discard port
    started = time.monotonic()
    with cluster_checks.using(api_client=dead):
        result = labs.get("lab09-wrong-tag").check(record=False)
    assert time.monotonic() - started < 15    # no retries, no long timeout: it answers at once
    assert result.subchecks[0].name == "checker" and "did not answer" in result.subchecks[0].reason
    assert "\n" not in result.subchecks[0].reason


def test_wrong_context_is_refused_before_any_read(isolated_state, monkeypatch):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    isolated_state.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    isolated_state.kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: prod-eu\n"
                                         "contexts: [{name: prod-eu, context: {cluster: prod}}]\n")
    result = labs.get("lab07-update-image-record-cause").check(record=False)
    assert result.subchecks[0].name == "checker"
    assert "prod-eu" in result.subchecks[0].reason and "kind-cka-images" in result.subchecks[0].reason


def test_lists_are_shaped_like_the_api_server(apiserver, serve):
    serve(lab09("broken"))
    api = api_client_for(apiserver.url)
    raw = k8s.AppsV1Api(api).list_namespaced_deployment(NS09, _preload_content=False)
    import json
    body = json.loads(raw.data)
    assert body["kind"] == "DeploymentList" and body["apiVersion"] == "apps/v1"
    assert "kind" not in body["items"][0] and body["items"][0]["metadata"]["resourceVersion"]
    pods = k8s.CoreV1Api(api).list_namespaced_pod(NS09, label_selector="app=nope")
    assert pods.items == []
    with pytest.raises(k8s.ApiException) as exc:
        k8s.AppsV1Api(api).read_namespaced_deployment("nope", NS09)
    assert exc.value.status == 404 and json.loads(exc.value.body)["message"] == 'deployments.apps "nope" not found'


def test_classify_pull_errors():
    assert mod14.classify(no_credentials(AGENT)) == "unauthorized"
    assert mod14.classify(backoff(BAD09, not_found(BAD09))) == "not-found"
    assert mod14.classify(never(IMG13)) == "never-pull"
    assert mod14.classify('failed to do request: Head "http://nowhere:5000/v2/x/manifests/1": dial tcp: '
                      'lookup nowhere on 172.18.0.1:53: no such host') == "unreachable"
    assert mod14.classify('Back-off pulling image "x"') == "unknown"


@pytest.mark.parametrize("stem, reason", [("tag-not-found", "not-found"), ("unauthorized", "unauthorized"),
                                          ("registry-unreachable", "unreachable"), ("never-pull", "never-pull"),
                                          ("platform-missing", "not-found")])
def test_classify_the_recorded_messages(stem, reason):
    fixtures = Path(__file__).parent / "fixtures" / "pods"
    pod = json.loads((fixtures / f"{stem}.pod.json").read_text())
    events = json.loads((fixtures / f"{stem}.events.json").read_text())["items"]
    assert mod14.classify(pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]) == reason
    failed = [e["message"] for e in events if e["reason"] in ("Failed", "ErrImageNeverPull")
              and not e["message"].startswith("Error: ")]
    assert failed and all(mod14.classify(text) == reason for text in failed)


def test_change_cause_must_name_the_tag_itself():
    assert mod07.mentions_tag("web image updated to localhost:5001/checkout-web:1.1", "1.1")
    assert mod07.mentions_tag("update to 1.1.", "1.1")
    assert not mod07.mentions_tag("bump to 1.10", "1.1")
    assert not mod07.mentions_tag("rollback from 1.1.3", "1.1")


def test_registry_host_matching_is_the_kubelets():
    assert cluster_checks.registry_host_of("private-registry:5000") == "private-registry:5000"
    assert cluster_checks.registry_host_of("http://private-registry:5000/") == "private-registry:5000"
    assert cluster_checks.registry_host_of("https://index.docker.io/v1/") == "index.docker.io"


def test_lab_manifests_validate():
    from ckalab import validate
    for lab_id in set(SCENARIOS) - NODE_LABS:       # node labs edit the node, not manifests
        folder = labs.get(lab_id).files
        files = sorted(folder.glob("*.yaml"))
        assert files, f"{folder} has no manifests"
        for path in files:
            assert validate.manifests(path) == [], path
        assert (folder / "Dockerfile").exists()
        assert validate.dockerfile(folder / "Dockerfile") == []


# ====================================================================== a real cluster

@pytest.fixture(scope="module")
def real_cluster():
    env = doctor.diagnose()
    if env.level != "cluster":
        missing = "; ".join(f"{c.name}: {c.detail}" for c in env.missing()) or env.summary()
        if cells.required_level() == "cluster":
            pytest.fail(f"CKALAB_REQUIRE=cluster but there is no usable cluster: {missing}")
        pytest.skip(f"needs a kind cluster (make cluster): {missing}")
    return env


def settled_check(lab, *, quiet: float = 4, timeout: float = 90):
    """The Check once the cluster has settled: two runs `quiet` s apart fail the same sub-checks.

    A wrong attempt starts a rollout or a pull; what it must fail is what a learner sees after
    waiting, not a state in between."""
    deadline = time.monotonic() + timeout
    previous = lab.check(record=False)
    while True:
        time.sleep(quiet)
        result = lab.check(record=False)
        if [s.name for s in result.failed()] == [s.name for s in previous.failed()] \
                or time.monotonic() > deadline:
            return result
        previous = result


def _ready(lab) -> None:
    """setup() returns None: it prints "<id> is ready" once the starting state exists, or one
    Skipped line (and nothing else) when the cluster is not usable."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        lab.setup()
    printed = printed.getvalue()
    print(printed, end="")
    assert f"{lab.id} is ready" in printed and "Skipped:" not in printed, printed


# The mock exam's cluster tasks are these labs under other names: their cycles run too, under the
# names of one drawn exam, so a name a lab still keeps as a constant breaks here.
EXAM_SEED = 4711
EXAM_CYCLES = [f"exam:{t.key}" for t in exam_tasks.TEMPLATES if exam_tasks._level(t) == "cluster"]


def exam_task(key: str) -> exam_tasks.Task:
    return next(t for t in exam_tasks.draw(EXAM_SEED, docker_tasks=0, cluster_tasks=len(EXAM_CYCLES)) if t.key == key)


def full_cycle(lab_id: str) -> None:
    """setup -> Check fails on first_failure -> every known-wrong attempt fails on its sub-check ->
    solve -> Check passes -> teardown, on the kind cluster. Raises AssertionError on a breach.
    `exam:KEY`: the same, for the lab of the exam's task KEY under that task's names."""
    lab = exam_task(lab_id[5:]).lab if lab_id.startswith("exam:") else labs.get(lab_id)
    if lab_id.startswith("exam:"):
        assert all(lab.names[k] != v for k, v in lab.defaults.items() if k in ("ns", "deploy", "repo")), lab.names
    lab.teardown()
    try:
        _ready(lab)
        result = lab.check(record=False)
        # Every sub-check ran against the cluster (no "needs a kind cluster", no checker error), and
        # the first one to fail is the lab's first_failure, failed for a reason of its own.
        assert [s.name for s in result.subchecks] == lab.checks, str(result)
        assert result.failed() and result.failed()[0].name == lab.first_failure, str(result)
        assert "not checked" not in result.get(lab.first_failure).reason, str(result)
        fresh = True                         # the state is the starting state, untouched
        for attempt in lab.wrong_attempts:
            if attempt.needs_reset and not fresh:
                lab.teardown()
                _ready(lab)
            attempt(lab)
            fresh = False
            result = settled_check(lab)
            assert not result.passed, f"wrong attempt '{attempt.name}' passed on the cluster:\n{result}"
            assert not result.get(attempt.fails).passed, \
                f"'{attempt.name}' should fail '{attempt.fails}' on the cluster:\n{result}"
        if not fresh:
            lab.teardown()
            _ready(lab)
        lab.solve()
        result = cluster_actions.wait_until_passes(lab, 180)
        assert result.passed, str(result)
    finally:
        lab.teardown()


# A cycle takes one to three minutes here, lab 19 about six. One that hangs fails alone, named and
# with its output, instead of running the whole pool into the test's timeout.
CYCLE_DEADLINE = 900
TEARDOWN_GRACE = 180


class CycleDeadline(BaseException):
    """SIGALRM in a worker. A BaseException, so that a checker's `except Exception` cannot swallow it."""


def _cycle_in_worker(lab_id: str, run=None, deadline: int = CYCLE_DEADLINE) -> tuple[float, str | None]:
    """One lab's full cycle in a worker process: (seconds, None) or (seconds, what broke + its output).
    `run` and `deadline` are for the test of the deadline itself."""
    def past_deadline(signum, frame):
        signal.alarm(TEARDOWN_GRACE)    # the cycle's own teardown (full_cycle's finally) gets this long
        raise CycleDeadline(f"the cycle did not finish within {deadline} s")

    output = io.StringIO()
    started = time.monotonic()
    signal.signal(signal.SIGALRM, past_deadline)
    signal.alarm(deadline)
    try:
        with contextlib.redirect_stdout(output):
            (run or full_cycle)(lab_id)
        return time.monotonic() - started, None
    except (Exception, CycleDeadline) as exc:  # noqa: BLE001 - the parent test reports it, with the lab's output
        what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else str(exc)
        return time.monotonic() - started, f"{what}\n--- the lab's output (last 4000 characters)\n" \
                                           f"{output.getvalue()[-4000:]}"
    finally:
        signal.alarm(0)


def _hangs_in_a_checker(lab_id: str) -> None:
    print(f"{lab_id}: set up")
    try:
        while True:
            try:
                time.sleep(0.1)
            except Exception:   # noqa: BLE001 - what a checker's own catch-all looks like
                pass
    finally:
        print(f"{lab_id}: torn down")


def test_a_cycle_that_hangs_fails_by_itself_after_its_teardown_with_its_output():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds, failure = pool.apply(_cycle_in_worker, ("lab99",), {"run": _hangs_in_a_checker, "deadline": 1})
    assert seconds < 30
    assert failure.startswith("CycleDeadline: the cycle did not finish within 1 s"), failure
    assert "lab99: set up\nlab99: torn down" in failure, failure


# Each lab lives in namespaces of its own, and labs 13/14 touch only their own images on the node,
# so the cycles run side by side: one after the other they take about four times as long.
CYCLE_WORKERS = 4
# Every cluster cycle runs inside the first cycle test's time: about 13-15 min on 2 cores. Each
# cycle has its own deadline, so this only stops a pool that hangs as a whole.
CYCLES_TIMEOUT = 2700


@pytest.fixture(scope="module")
def real_cycles(real_cluster, request):
    # Only the cycles of the tests selected (`-k lab07` runs one); the labs with the most resets
    # first, so that no long cycle starts last.
    from test_lab_cycles import CYCLE_TESTS
    selected = {item.callspec.params.get("lab_id") or item.callspec.params.get("cycle_id")
                for item in request.session.items
                if getattr(item, "originalname", None) in CYCLE_TESTS and hasattr(item, "callspec")}
    alone = (NODE_LABS | CONTROL_PLANE_LABS) & selected
    lab_ids = sorted((set(SCENARIOS) - alone) & selected,
                     key=lambda i: -sum(a.needs_reset for a in labs.get(i).wrong_attempts))
    lab_ids += [i for i in EXAM_CYCLES if i in selected]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(CYCLE_WORKERS) as pool:
        cycles = dict(zip(lab_ids, pool.map(_cycle_in_worker, lab_ids, chunksize=1)))
    # A node lab restarts the node's kubelet, and lab 19 the API server: either would stall the
    # other labs' rollouts, so they run alone, after them. In a worker too: in this process,
    # SIGALRM is pytest-timeout's.
    with spawn.Pool(1) as pool:
        cycles.update({lab_id: pool.apply(_cycle_in_worker, (lab_id,)) for lab_id in sorted(alone)})
    request.config.cycle_seconds = {lab_id: seconds for lab_id, (seconds, _) in cycles.items()}
    return cycles


def test_a_variant_renames_the_manifest_and_the_default_keeps_it():
    task = exam_task("rollout")
    lab, n = task.lab, task.names
    original = cluster_actions.manifest_text(labs.get(lab.id), "deployment.yaml")
    assert "lab07-storefront" in original and original.startswith("# Starting state")
    docs = list(yaml.safe_load_all(cluster_actions.manifest_text(lab, "deployment.yaml")))
    assert [d["metadata"]["name"] for d in docs] == [n["ns"], n["deploy"]]
    dep = docs[1]
    assert dep["metadata"]["namespace"] == n["ns"]
    assert dep["spec"]["selector"]["matchLabels"] == {"app": n["deploy"]}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": n["deploy"]}
    containers = {c["name"]: c["image"] for c in dep["spec"]["template"]["spec"]["containers"]}
    assert containers == {n["container"]: f"{cluster_checks.open_host()}/{n['repo']}:{n['tag']}",
                          "log-forwarder": f"{cluster_checks.open_host()}/log-forwarder:2.3"}
    pull = exam_task("image-pull-error")
    image = yaml.safe_load_all(cluster_actions.manifest_text(pull.lab, "deployment.yaml"))
    assert [d["spec"]["template"]["spec"]["containers"][0]["image"] for d in image if d["kind"] == "Deployment"] == \
        [f"{cluster_checks.open_host()}/{pull.names['repo']}:{pull.names['bad_tag']}"]
    shipped = exam_task("image-archive")           # an image with no registry host in its name
    docs = list(yaml.safe_load_all(cluster_actions.manifest_text(shipped.lab, "deployment.yaml")))
    spec = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert (spec["name"], spec["image"], spec["imagePullPolicy"]) == \
        (shipped.names["container"], f"{shipped.names['repo']}:{shipped.names['tag']}", "IfNotPresent")


def test_waiting_for_a_namespace_survives_a_slow_api_server(monkeypatch):
    """A read timeout (the API server busy with four lab cycles) is retried; a 403 is not."""
    import urllib3
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    answers = [urllib3.exceptions.ReadTimeoutError(None, "/api/v1/namespaces/x", "Read timed out."),
               client.V1Namespace(metadata=client.V1ObjectMeta(name="x"))]

    def read_namespace(self, name, **kwargs):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    monkeypatch.setattr(client.CoreV1Api, "read_namespace", read_namespace)
    monkeypatch.setattr(cluster_actions, "api_client", lambda: None)
    monkeypatch.setattr(cluster_actions.time, "sleep", lambda s: None)
    cluster_actions.wait_until_namespace_is_not_terminating("x", timeout=30)
    assert answers == []
    answers[:] = [ApiException(status=403, reason="Forbidden")]
    with pytest.raises(CourseError, match="Forbidden"):
        cluster_actions.wait_until_namespace_is_not_terminating("x", timeout=30)


def test_lab19_reads_the_admission_flag_in_both_spellings():
    plugins = mod19.admission_plugins
    assert plugins(["kube-apiserver", "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"]) == \
        ["NodeRestriction", "AlwaysPullImages"]
    assert plugins(["kube-apiserver", "--enable-admission-plugins", "NodeRestriction"]) == ["NodeRestriction"]
    assert plugins(["kube-apiserver", "--disable-admission-plugins=AlwaysPullImages"]) is None


def test_lab19_api_server_down_is_its_first_subcheck_with_the_node_commands(isolated_state, monkeypatch):
    """While the API server restarts (or after a typo stops it), the Check says so and where to look."""
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    with cluster_checks.using(api_client=api_client_for("http://127.0.0.1:9")):
        result = labs.get("lab19-always-pull-images").check(record=False)
    assert [s.name for s in result.subchecks] == labs.get("lab19-always-pull-images").checks, str(result)
    first = result.subchecks[0]
    assert first.name == "API server answers" and not first.passed
    assert "crictl ps -a --name kube-apiserver" in first.reason and "did not answer" in first.reason


def test_lab20_starts_with_a_real_exec_format_error(real_cluster, tmp_path):
    """Lab 20's starting state on the kind node: the single image for the other platform is pulled,
    its container starts, the kernel refuses its program, and the Check quotes that from the log.
    Only a node that emulates the other platform runs it instead (Docker Desktop does); where the
    run may change binfmt_misc (CI), nothing may be left registered, so it must crash here."""
    lab = labs.get("lab20-wrong-platform").variant(
        {"ns": "lab20-proof", "repo": "lab20-proof/metrics-agent"}, work_dir=tmp_path / "lab20")
    try:
        _ready(lab)
        native = mod20.node_platform(cluster_checks.Kube(budget=10))
        emulated = multiplatform.emulation().runs(mod20.other_platform(native))
        if os.environ.get("CKALAB_ALLOW_EMULATION") == "1":
            assert not emulated, "the node runs the other platform: an emulator was left in binfmt_misc"
        deadline = time.monotonic() + 90       # between restarts the container is briefly not waiting
        while True:
            result = lab.check(record=False)
            pods = result.get("pods ready")
            if pods.passed or "CrashLoopBackOff" in pods.reason or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert result.get("image serves the node's platform").reason.startswith(
            f"{OPEN}/lab20-proof/metrics-agent:3.2 is a single image for {mod20.other_platform(native)}")
        if emulated:
            assert pods.passed, str(result)
        else:
            assert not pods.passed and "CrashLoopBackOff" in pods.reason and "exec format error" in pods.reason, \
                str(result)
    finally:
        lab.teardown()
