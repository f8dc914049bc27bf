"""Lab 07's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import OPEN, ctr, deployment, pods_of, replicaset, running

from ckalab import cluster_checks

NS = "lab07-storefront"
WEB10, WEB11, SIDE = f"{OPEN}/checkout-web:1.0", f"{OPEN}/checkout-web:1.1", f"{OPEN}/log-forwarder:2.3"
SIDE_CMD = ["python3", "-m", "http.server", "9090", "--directory", "/srv"]


def objects(web=WEB11, side=SIDE, cause="web image updated to localhost:5001/checkout-web:1.1",
            rs_cause="same", rollout_done=True):
    containers = [ctr("web", web), ctr("log-forwarder", side, port=9090, command=SIDE_CMD)]
    changed = (web, side) != (WEB10, SIDE)
    ann = {cluster_checks.CHANGE_CAUSE: cause} if cause else {}
    dep = deployment(NS, "checkout-web", containers, revision=2 if changed else 1,
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


STATES = {
    "broken": (lambda: objects(web=WEB10, cause=None), None, "image of the updated container"),
    "image updated, no change-cause": (lambda: objects(cause=None), None, "change-cause recorded"),
    "set image with * changes the sidecar too": (
        lambda: objects(side=f"{OPEN}/checkout-web:1.1", cause="update to 1.1"), None, "other containers untouched"),
    "annotation only, image unchanged": (lambda: objects(web=WEB10, cause="update to 1.1"), None,
                                         "image of the updated container"),
    "stale change-cause from before the update": (lambda: objects(cause="initial 1.0"), None, "change-cause recorded"),
    "cause mentions 1.10, not 1.1": (lambda: objects(cause="bump to 1.10"), None, "change-cause recorded"),
    "rollout still in progress": (lambda: objects(rollout_done=False), None, "rollout complete"),
    "Deployment annotated, ReplicaSet not yet": (lambda: objects(rs_cause=None), None,
                                                 "rollout history shows the cause"),
    "solved": (lambda: objects(), None, None),
}
