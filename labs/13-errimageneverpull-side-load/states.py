"""Lab 13's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import (KIND_IMAGES, ctr, deployment, digest_of, event, never, node, pod, replicaset, running,
                         waiting)

NS = "lab13-ledger"
IMAGE = "ledger-sync:1.0"
LOADED = "docker.io/library/ledger-sync:1.0"


def objects(state: str):
    policy = "IfNotPresent" if state == "changes the pull policy instead" else "Never"
    c = [ctr("sync", IMAGE, policy=policy)]
    images = list(KIND_IMAGES)
    if state in ("solved", "loaded, Pod still backing off"):
        images.append([LOADED, f"docker.io/library/ledger-sync@sha256:{digest_of('ledger')}"])
    if state == "loads ledger-sync:latest":
        images.append(["docker.io/library/ledger-sync:latest"])
    working = state == "solved"
    dep = deployment(NS, "ledger-sync", c, replicas=1, available=1 if working else 0,
                     revision=2 if policy != "Never" or working else 1, generation=2 if policy != "Never" or working else 1)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if working else 0)
    if working:
        status = [running("sync", IMAGE)]
    elif policy == "Never":
        status = [waiting("sync", IMAGE, "ErrImageNeverPull", never(IMAGE))]
    else:
        err = (f'failed to pull and unpack image "{LOADED}": failed to resolve reference "{LOADED}": '
               'pull access denied, repository does not exist or may require authorization: server message: '
               'insufficient_scope: authorization failed')
        status = [waiting("sync", IMAGE, "ErrImagePull", err)]
    p = pod(rs, 0, status)
    return [dep, rs, p, node(images), event(p, "sync", "ErrImageNeverPull", never(IMAGE))]


STATES = {name: (lambda name=name: objects(name), None, fails) for name, fails in {
    "broken": "image on the node",
    "changes the pull policy instead": "pull policy still Never",
    "kind load without --name (cluster `kind`)": "image on the node",
    "loads ledger-sync:latest": "image on the node",
    "loaded, Pod still backing off": "pods running",
    "solved": None,
}.items()}
