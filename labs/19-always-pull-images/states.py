"""Lab 19's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import (KIND_IMAGES, NODE, PRIVATE, backoff, ctr, deployment, digest_of, meta, no_credentials,
                         node, pod, pull_secret, replicaset, running, waiting)

from ckalab import labs

LAB = labs.module("lab19-always-pull-images")
PAYROLL = f"{PRIVATE}/payroll:3.1"
OWNER_NS, TENANT_NS = LAB.NS_OWNER, LAB.NS_TENANT


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
                             annotations={"kubernetes.io/config.mirror": digest_of(repr(command))[:32],
                                          "kubernetes.io/config.source": "file"}),
            "spec": {"containers": [c], "hostNetwork": True, "nodeName": NODE, "priorityClassName": "system-node-critical"},
            "status": {"phase": "Running", "containerStatuses": [running("kube-apiserver", image)],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def team(ns, name, cname, *, template="IfNotPresent", pods=(("IfNotPresent", "running"),), refs=None):
    """A Deployment whose template asks for `template`, and Pods (policy admission gave, state)."""
    c = [ctr(cname, PAYROLL, policy=template)]
    dep = deployment(ns, name, c, replicas=1, pull_secrets=refs)
    rs = replicaset(dep, c, 1, replicas=1, pull_secrets=refs)
    found = [dep, rs]
    for i, (policy, state) in enumerate(pods):
        status = {"running": running(cname, PAYROLL),
                  "refused": waiting(cname, PAYROLL, "ErrImagePull", no_credentials(PAYROLL)),
                  "backoff": waiting(cname, PAYROLL, "ImagePullBackOff",
                                     backoff(PAYROLL, no_credentials(PAYROLL))),
                  "creating": waiting(cname, PAYROLL, "ContainerCreating", "")}[state]
        p = pod(rs, i, [status])
        p["spec"]["containers"][0]["imagePullPolicy"] = policy
        found.append(p)
    return found


def objects(plugins="NodeRestriction", *, template="IfNotPresent", owner=(("IfNotPresent", "running"),),
            tenant=(("IfNotPresent", "running"),), mirror=True):
    return [*([apiserver_pod(plugins)] if mirror else []),
            *team(OWNER_NS, "payroll", "payroll", template=template, pods=owner, refs=["regcred"]),
            pull_secret(OWNER_NS),
            *team(TENANT_NS, "report-viewer", "viewer", template=template, pods=tenant),
            node(KIND_IMAGES + [[PAYROLL]])]


ADMITTED = dict(owner=(("Always", "running"),), tenant=(("Always", "refused"),))


STATES = {name: (lambda kw=kw: objects(**kw), None, fails) for name, (kw, fails) in {
    "broken": ({}, "AlwaysPullImages enabled"),
    "sets imagePullPolicy: Always in the Deployments": (
        dict(template="Always", **ADMITTED), "AlwaysPullImages enabled"),
    "enables the plugin but keeps the old Pods": (
        dict(plugins="NodeRestriction,AlwaysPullImages"), "Pods admitted again"),
    "replaces NodeRestriction with AlwaysPullImages": (dict(plugins="AlwaysPullImages", **ADMITTED),
                                                       "NodeRestriction kept"),
    "no --enable-admission-plugins flag left": (dict(plugins=None, **ADMITTED), "AlwaysPullImages enabled"),
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
    "solved": (dict(plugins="NodeRestriction,AlwaysPullImages", **ADMITTED), None),
    "solved, tenant in back-off": (dict(plugins="NodeRestriction,AlwaysPullImages",
                                        owner=(("Always", "running"),), tenant=(("Always", "backoff"),)), None),
    "solved, plugins in another order": (dict(plugins="AlwaysPullImages,NodeRestriction", **ADMITTED), None),
}.items()}
