"""Kubernetes API objects as a v1.37 API server returns them: the factories each cluster lab's
labs/NN-name/states.py builds its states from (tests/fake_cluster.py serves them over HTTP).

Deployments, ReplicaSets, StatefulSets, DaemonSets and their ControllerRevisions, Pods with
kubelet-shaped (init) containerStatuses, Secrets, ServiceAccounts, Nodes with status.images and
Events; the pull errors in the words containerd 2.3.4 and kubelet v1.37.0 use. A helper module of the tests, not a test file: it imports nothing that needs Docker.
"""

from __future__ import annotations

import copy
import hashlib
import uuid

from ckalab import cluster_checks, pullsecrets

NODE = "cka-images-control-plane"
T0 = "2025-11-26T09:00:00Z"
T1 = "2025-11-26T09:20:00Z"
PASSWORD = "lab-password-9f2c"
OPEN = "localhost:5001"
PRIVATE = "private-registry:5000"

# What configz of a fresh kind v1.37 node says about image pulls (measured on the course's node).
DEFAULT_KUBELET_CONFIG = {"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
                          "registryPullQPS": 5, "registryBurst": 10,
                          "imagePullCredentialsVerificationPolicy": "NeverVerifyPreloadedImages",
                          "serializeImagePulls": True, "nodeStatusMaxImages": 50}

_rv = [41000]


def uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def digest_of(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def meta(name: str, ns: str | None = None, *, labels=None, annotations=None, owner=None,
         generation=None, created=T0) -> dict:
    _rv[0] += 7
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    m.update({"uid": uid(ns or "", name, created), "resourceVersion": str(_rv[0]),
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


def pod_spec(containers, *, sa=None, pull_secrets=None, node=None, init_containers=None) -> dict:
    spec = {"containers": copy.deepcopy(containers), "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": sa or "default", "serviceAccount": sa or "default",
            "securityContext": {}, "schedulerName": "default-scheduler"}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    if node:
        spec["nodeName"] = node
    if init_containers:
        spec["initContainers"] = copy.deepcopy(init_containers)
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
    template_hash = digest_of(name, repr(containers), repr(pull_secrets), str(sa))[:10].translate(
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


def statefulset(ns, name, containers, *, init_containers=None, replicas=2, generation=1, observed=None,
                current_revision="1", update_revision=None, ready=None, current=None, updated=None) -> dict:
    """A StatefulSet (OrderedReady, RollingUpdate) whose revisions are named `NAME-<hash of KEY>`
    for the keys given (`sts_revision`); status counts default to "all Pods current and Ready"."""
    observed = generation if observed is None else observed
    update_revision = update_revision or current_revision
    ready = replicas if ready is None else ready
    current = replicas if current is None else current
    updated = (replicas if update_revision == current_revision else 0) if updated is None else updated
    status = {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready,
              "availableReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
              "currentRevision": sts_revision(name, current_revision),
              "updateRevision": sts_revision(name, update_revision), "collisionCount": 0}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta(name, ns, labels={"app": name}, generation=generation),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "serviceName": name,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": pod_spec(containers, init_containers=init_containers)},
                     "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
                     "revisionHistoryLimit": 10,
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
            "status": status}


def sts_revision(name: str, key: str) -> str:
    """A ControllerRevision's name: the StatefulSet's name and a hash of its template."""
    return f"{name}-{digest_of(name, key)[:10].translate(str.maketrans('0123456789', 'bcdfghjklm'))}"


def sts_pod(sts: dict, ordinal: int, revision: str, statuses: list[dict], *, init_statuses=None,
            containers=None, init_containers=None) -> dict:
    """Pod NAME-ORDINAL of `sts`, made from its template at `revision` (a key of sts_revision), or
    from `containers`/`init_containers` when that revision's template is no longer the StatefulSet's."""
    name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
    spec = copy.deepcopy(sts["spec"]["template"]["spec"])
    if containers is not None:
        spec["containers"] = copy.deepcopy(containers)
    if init_containers is not None:
        spec["initContainers"] = copy.deepcopy(init_containers)
    spec.update(hostname=f"{name}-{ordinal}", subdomain=sts["spec"]["serviceName"], nodeName=NODE,
                enableServiceLinks=True, preemptionPolicy="PreemptLowerPriority", priority=0)
    init_statuses = init_statuses or []
    initialized = all("terminated" in s["state"] for s in init_statuses)
    ready = initialized and all(s["ready"] for s in statuses)
    cond = lambda t, ok: {"type": t, "status": "True" if ok else "False", "lastProbeTime": None,
                          "lastTransitionTime": T1}
    conditions = [cond("PodReadyToStartContainers", True), cond("Initialized", initialized),
                  cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", True)]
    if not initialized:
        waiting_init = [s["name"] for s in init_statuses if "terminated" not in s["state"]]
        conditions[1].update(reason="ContainersNotInitialized",
                             message=f"containers with incomplete status: [{' '.join(waiting_init)}]")
    if not ready:
        unready = [s["name"] for s in statuses if not s["ready"]]
        for c in conditions[2:4]:
            c.update(reason="ContainersNotReady", message=f"containers with unready status: [{' '.join(unready)}]")
    labels = {"app": name, "controller-revision-hash": sts_revision(name, revision),
              "statefulset.kubernetes.io/pod-name": f"{name}-{ordinal}", "apps.kubernetes.io/pod-index": str(ordinal)}
    status = {"phase": "Running" if ready else "Pending", "conditions": conditions,
              "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}],
              "podIP": f"10.244.0.{20 + ordinal}", "podIPs": [{"ip": f"10.244.0.{20 + ordinal}"}],
              "startTime": T1, "containerStatuses": statuses, "qosClass": "Burstable"}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(f"{name}-{ordinal}", ns, labels=labels, owner=sts, created=T1, generation=1),
            "spec": spec, "status": status}


def daemonset(ns, name, containers, *, strategy="OnDelete", generation=1, observed=None, desired=1,
              ready=None, updated=None) -> dict:
    """A DaemonSet on the course's one node; status counts default to "every Pod updated and Ready"."""
    observed = generation if observed is None else observed
    ready = desired if ready is None else ready
    updated = desired if updated is None else updated
    update_strategy = {"type": strategy}
    if strategy == "RollingUpdate":
        update_strategy["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 0}
    status = {"currentNumberScheduled": desired, "desiredNumberScheduled": desired, "numberMisscheduled": 0,
              "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": updated,
              "observedGeneration": observed}
    if updated == 0:
        del status["updatedNumberScheduled"]        # the API server leaves a zero count out
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": meta(name, ns, labels={"app": name}, generation=generation,
                             annotations={"deprecated.daemonset.template.generation": str(generation)}),
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(containers)},
                     "updateStrategy": update_strategy, "revisionHistoryLimit": 10},
            "status": status}


def ds_hash(name: str, key: str) -> str:
    """A DaemonSet revision's controller-revision-hash (its ControllerRevision is NAME-HASH)."""
    return digest_of(name, key)[:10].translate(str.maketrans("0123456789", "bcdfghjklm"))


def controller_revision(owner: dict, revision: int, key: str) -> dict:
    """The ControllerRevision `revision` of a DaemonSet, for the template revision named `key`."""
    name, template_hash = owner["metadata"]["name"], ds_hash(owner["metadata"]["name"], key)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": meta(f"{name}-{template_hash}", owner["metadata"]["namespace"], owner=owner,
                             labels={"app": name, "controller-revision-hash": template_hash}),
            "revision": revision, "data": {"spec": {"template": {"$patch": "replace"}}}}


def ds_pod(ds: dict, key: str, statuses: list[dict], *, containers=None, generation=1) -> dict:
    """The DaemonSet's Pod on the node, made from the template revision `key` (with `containers`
    when that is no longer the DaemonSet's template)."""
    name, ns = ds["metadata"]["name"], ds["metadata"]["namespace"]
    spec = copy.deepcopy(ds["spec"]["template"]["spec"])
    if containers is not None:
        spec["containers"] = copy.deepcopy(containers)
    spec.update(nodeName=NODE, enableServiceLinks=True, preemptionPolicy="PreemptLowerPriority", priority=0)
    ready = all(s["ready"] for s in statuses)
    cond = lambda t, ok: {"type": t, "status": "True" if ok else "False", "lastProbeTime": None,
                          "lastTransitionTime": T1}
    labels = {"app": name, "controller-revision-hash": ds_hash(name, key), "pod-template-generation": str(generation)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(f"{name}-{digest_of(name, key)[:5]}", ns, labels=labels, owner=ds, created=T1,
                             generation=1),
            "spec": spec,
            "status": {"phase": "Running", "conditions": [cond("PodReadyToStartContainers", True),
                                                          cond("Initialized", True), cond("Ready", ready),
                                                          cond("ContainersReady", ready), cond("PodScheduled", True)],
                       "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}], "podIP": "10.244.0.30",
                       "podIPs": [{"ip": "10.244.0.30"}], "startTime": T1, "containerStatuses": statuses,
                       "qosClass": "Burstable"}}


def completed(name: str, image: str) -> dict:
    """An init container that ran to completion."""
    repo = image.rsplit(":", 1)[0]
    return {"name": name, "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": T1,
                                                   "finishedAt": T1}},
            "lastState": {}, "ready": True, "restartCount": 0, "image": image,
            "imageID": f"{repo}@sha256:{digest_of(image)}", "containerID": f"containerd://{digest_of(name, image, 'i')}",
            "started": False}


def running(name: str, image: str) -> dict:
    repo = image.rsplit(":", 1)[0]
    return {"name": name, "state": {"running": {"startedAt": T1}}, "lastState": {}, "ready": True,
            "restartCount": 0, "image": image, "imageID": f"{repo}@sha256:{digest_of(image)}",
            "containerID": f"containerd://{digest_of(name, image, 'c')}", "started": True}


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
    name = f"{rs['metadata']['name']}-{digest_of(rs['metadata']['name'], str(index))[:5]}"
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
                       "nodeInfo": {"machineID": "6c2d1e8b0f0a4c4e9f3b5a7d8c9e0f12", "systemUUID": uid("n"),
                                    "bootID": uid("boot"), "kernelVersion": "6.8.0-1017-azure",
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
            "metadata": meta(f"{name}.{digest_of(name, reason, message)[:16]}", p["metadata"]["namespace"]),
            "involvedObject": {"kind": "Pod", "namespace": p["metadata"]["namespace"], "name": name,
                               "uid": p["metadata"]["uid"], "apiVersion": "v1",
                               "resourceVersion": p["metadata"]["resourceVersion"],
                               "fieldPath": f"spec.containers{{{cname}}}"},
            "reason": reason, "message": message, "source": {"component": "kubelet", "host": NODE},
            "firstTimestamp": T1, "lastTimestamp": T1, "count": count, "type": kind, "eventTime": None,
            "reportingComponent": "kubelet", "reportingInstance": NODE}


def pods_of(rs, n, make_statuses):
    return [pod(rs, i, make_statuses(i)) for i in range(n)]


def private_lab(ns, name, cname, image, *, refs=None, secrets=(), working=False):
    """One Deployment pulling `image` from the private registry, with pull Secrets `refs` (labs 10, 11)."""
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

