"""Lab 09's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import OPEN, backoff, ctr, deployment, event, not_found, pod, pods_of, replicaset, running, waiting

NS = "lab09-inventory"
BAD, GOOD = f"{OPEN}/inventory-api:1.0.0", f"{OPEN}/inventory-api:1.0"


def objects(state: str):
    if state == "solved":
        dep = deployment(NS, "inventory-api", [ctr("api", GOOD)], revision=2, generation=2)
        rs = replicaset(dep, [ctr("api", GOOD)], 2, replicas=2)
        return [dep, rs] + pods_of(rs, 2, lambda i: [running("api", GOOD)])
    image = {"broken": BAD, "latest": f"{OPEN}/inventory-api:latest", "pod edited": BAD,
             "rollout pending": GOOD}[state]
    dep = deployment(NS, "inventory-api", [ctr("api", image)], available=0, updated=0 if state != "latest" else 1,
                     revision=2 if state in ("latest", "rollout pending") else 1,
                     generation=2 if state in ("latest", "rollout pending") else 1)
    rs = replicaset(dep, [ctr("api", BAD)], 1, replicas=2, ready=0)
    if state == "pod edited":   # `kubectl set image pod/...`: the Pods run, the template is still wrong
        pods = pods_of(rs, 2, lambda i: [running("api", GOOD)])
        for p in pods:
            p["spec"]["containers"][0]["image"] = GOOD
        return [dep, rs] + pods
    pods = pods_of(rs, 2, lambda i: [waiting("api", BAD, "ImagePullBackOff", backoff(BAD, not_found(BAD)))])
    objs = [dep, rs] + pods + [event(pods[0], "api", "Failed", f'Failed to pull image "{BAD}": {not_found(BAD)}')]
    if state == "latest":
        latest = f"{OPEN}/inventory-api:latest"
        new = replicaset(dep, [ctr("api", latest)], 2, replicas=1, ready=0)
        objs += pods_of(new, 1, lambda i: [waiting("api", latest, "ErrImagePull", not_found(latest))])
    if state == "rollout pending":
        new = replicaset(dep, [ctr("api", GOOD)], 2, replicas=1, ready=0)
        objs += [new, pod(new, 0, [waiting("api", GOOD, "ContainerCreating", "")])]
    return objs


STATES = {
    "broken": (lambda: objects("broken"), None, "image tag exists in the registry"),
    "edits the Pods, not the Deployment": (lambda: objects("pod edited"), None, "image tag exists in the registry"),
    "switches to :latest (never pushed)": (lambda: objects("latest"), None, "image tag exists in the registry"),
    "fixed, new Pod still creating": (lambda: objects("rollout pending"), None, "pods ready"),
    "solved": (lambda: objects("solved"), None, None),
}
