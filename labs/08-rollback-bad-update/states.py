"""Lab 08's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import OPEN, T1, backoff, ctr, deployment, not_found, pod, pods_of, replicaset, running, waiting

from ckalab import cluster_checks

NS = "lab08-payments"
GOOD, BAD = f"{OPEN}/payments-api:3.2", f"{OPEN}/payments-api:3.3"


def objects(state: str):
    good_c, bad_c = [ctr("api", GOOD)], [ctr("api", BAD)]
    if state == "recreated":
        dep = deployment(NS, "payments-api", good_c, replicas=3, revision=1, generation=1)
        rs = replicaset(dep, good_c, 1, replicas=3, created=T1)
        return [dep, rs] + pods_of(rs, 3, lambda i: [running("api", GOOD)])
    if state in ("broken", "pods deleted", "undo twice"):
        rev = 4 if state == "undo twice" else 2
        dep = deployment(NS, "payments-api", bad_c, replicas=3, revision=rev, generation=rev,
                         updated=1, available=3, total=4, deadline_exceeded=state != "pods deleted",
                         annotations={cluster_checks.CHANGE_CAUSE: "api image updated to 3.3"})
        good = replicaset(dep, good_c, 3 if state == "undo twice" else 1, replicas=3)
        bad = replicaset(dep, bad_c, rev, replicas=1, ready=0)
        msg = not_found(BAD)
        created = "2025-11-26T09:25:00Z" if state == "pods deleted" else T1
        bad_pod = pod(bad, 0, [waiting("api", BAD, "ErrImagePull" if state == "pods deleted" else
                                       "ImagePullBackOff", msg if state == "pods deleted" else backoff(BAD, msg))],
                      created=created)
        return [dep, good, bad, bad_pod] + pods_of(good, 3, lambda i: [running("api", GOOD)])
    # solved: rollout undo -> revision 1's template is revision 3
    dep = deployment(NS, "payments-api", good_c, replicas=3, revision=3, generation=3)
    good = replicaset(dep, good_c, 3, replicas=3, annotations={cluster_checks.REVISION_HISTORY: "1"})
    bad = replicaset(dep, bad_c, 2, replicas=0, ready=0)
    return [dep, good, bad] + pods_of(good, 3, lambda i: [running("api", GOOD)])


STATES = {
    "broken": (lambda: objects("broken"), None, "image rolled back"),
    "deletes the failing Pods": (lambda: objects("pods deleted"), None, "image rolled back"),
    "deletes and recreates the Deployment": (lambda: objects("recreated"), None, "rollback recorded"),
    "undo twice (back to the bad revision)": (lambda: objects("undo twice"), None, "image rolled back"),
    "broken: pull errors are seen": (lambda: objects("broken"), None, "no pull errors"),
    "solved": (lambda: objects("solved"), None, None),
}
