"""A fake Kubernetes API server and fake registries for the cluster labs' Checks, and the loader
of each lab's labs/NN-name/states.py. A helper module of the tests, not a test file.

A kmock Kubernetes emulator (kmock 0.8) runs in a thread and serves, through its REST paths,
the objects of a lab state (tests/api_objects.py builds them): lists as DeploymentList,
PodList, ..., items without kind/apiVersion, label and field selectors, 404s worded as
kube-apiserver words them, the node proxy's configz and Pod logs. The checkers read them through
the official `kubernetes` client, exactly as on a cluster. A second kmock server stands in for
the registries (tags list, Basic-auth /v2/).

A state may also hold facts that are no API object (kind "crictl-inspect", "registry-offers"):
the lab's states.py turns them into `stand_ins(facts)`, replacements for the lab module's own
readers of the node or the registry.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import importlib.util
import sys
import threading
from pathlib import Path

import kmock
from api_objects import DEFAULT_KUBELET_CONFIG, PASSWORD
from kubernetes import client as k8s

from ckalab import labs

STATES_FILE = "states.py"
EXAMPLE_STATES = "labs/09-wrong-tag/states.py"

KINDS = {  # plural -> (apiVersion, kind, namespaced)
    "deployments": ("apps/v1", "Deployment", True),
    "replicasets": ("apps/v1", "ReplicaSet", True),
    "statefulsets": ("apps/v1", "StatefulSet", True),
    "daemonsets": ("apps/v1", "DaemonSet", True),
    "controllerrevisions": ("apps/v1", "ControllerRevision", True),
    "pods": ("v1", "Pod", True),
    "secrets": ("v1", "Secret", True),
    "serviceaccounts": ("v1", "ServiceAccount", True),
    "events": ("v1", "Event", True),
    "nodes": ("v1", "Node", False),
    "namespaces": ("v1", "Namespace", False),
}


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



def start_apiserver() -> Threaded:
    server = Threaded(ApiServer)
    for plural, (api_version, kind, namespaced) in KINDS.items():
        group, _, version = api_version.rpartition("/")
        server.handler.resources[f"{group}/{version}/{plural}" if group else f"v1/{plural}"] = \
            kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs={"get", "list"})
    return server


def start_fake_registry() -> Threaded:
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
    return server


def api_client_for(url: str):
    configuration = k8s.Configuration()
    configuration.host = url
    configuration.retries = 0
    return k8s.ApiClient(configuration)


PLURALS = {kind: plural for plural, (_, kind, _) in KINDS.items()}
# What the API server answers beside its objects: the kubelet's configz, a Pod's log.
SUBRESOURCES = ("configz", "pod-log")


def serve(apiserver: Threaded, objects: list[dict]) -> list[dict]:
    """Serve `objects` (and only them) from `apiserver`; return the facts that are no API object."""
    handler = apiserver.handler
    handler.objects.clear()
    handler.kubelet_configs = {o["node"]: o["config"] for o in objects if o["kind"] == "configz"}
    handler.pod_logs = {(o["namespace"], o["pod"]): o["text"] for o in objects if o["kind"] == "pod-log"}
    facts = []
    for obj in objects:
        if obj["kind"] in SUBRESOURCES:
            continue
        if obj["kind"] not in PLURALS:
            facts.append(obj)
            continue
        api_version, plural = obj["apiVersion"], PLURALS[obj["kind"]]
        group, _, version = api_version.rpartition("/")
        key = f"{group}/{version}/{plural}" if group else f"v1/{plural}"
        handler.objects[key, obj["metadata"].get("namespace"), obj["metadata"]["name"]] = copy.deepcopy(obj)
    return facts


# ---------------------------------------------------------------- each lab's states.py

class MissingStates(LookupError):
    """A cluster lab without its labs/NN-name/states.py."""


def states_of(lab_id: str):
    """The lab's states.py, loaded from its folder (once): STATES and, optionally, stand_ins(facts)
    and ANSWER_FILES (the learner's files of a finished attempt)."""
    lab = labs.get(lab_id)
    path = lab.folder / STATES_FILE
    name = "ckalab_states_" + lab.folder.name.replace("-", "_")    # per folder: two labs may share a number in tests
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise MissingStates(f"{lab.id} has no {_shown(path)}: add one with STATES = {{...}} (see {EXAMPLE_STATES})")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    if not isinstance(getattr(module, "STATES", None), dict):
        del sys.modules[name]
        raise MissingStates(f"{_shown(path)} defines no STATES dict (see {EXAMPLE_STATES})")
    return module


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(labs.labs_root().parent))
    except ValueError:
        return str(path)


def cluster_labs() -> list:
    """Every cluster-level lab the course discovers: each must have its states.py."""
    return [lab for lab in labs.all_labs() if lab.level == "cluster"]
