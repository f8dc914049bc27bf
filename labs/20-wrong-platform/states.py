"""Lab 20's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import KIND_IMAGES, OPEN, T1, ctr, deployment, digest_of, node, pod, replicaset, running

from ckalab import multiplatform

NS = "lab20-metrics"
IMAGE, FIXED = f"{OPEN}/metrics-agent:3.2", f"{OPEN}/metrics-agent:3.2.1"
REPO = f"{OPEN}/metrics-agent"


def offers_for(ref: str, *platforms: str, index: bool = True) -> "multiplatform.Offers":
    """An index of `platforms` with an attestation each (as buildx pushes it), or one image."""
    digest = f"sha256:{digest_of(ref, *platforms)}"
    held = multiplatform.Offers(reference=ref, digest=digest, is_index=index)
    for p in platforms:
        image = f"sha256:{digest_of(ref, p)}"
        held.entries.append(multiplatform.Offer(p, image))
        if index:
            held.entries.append(multiplatform.Offer("unknown/unknown", f"sha256:{digest_of(ref, p, 'att')}", image))
    return held


ARM_ONLY = offers_for(IMAGE, "linux/arm64", index=False)            # the laptop's push: one arm64 image
# What `kubectl logs` printed for that container on the kind node (runc's error, recorded here).
EXEC_FORMAT_ERROR = "exec /usr/local/bin/python3: exec format error\n"


def crashing(name: str, image: str, image_id: str) -> dict:
    """An exec format error, as kubelet v1.37 and containerd 2.3.4 report it (recorded in lab 20's cycle)."""
    return {"name": name, "ready": False, "restartCount": 3, "image": image, "imageID": image_id,
            "started": False, "containerID": f"containerd://{digest_of(name, image, 'x')}",
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": f"back-off 40s restarting failed container={name} pod=metrics-agent-x"}},
            "lastState": {"terminated": {"exitCode": 255, "reason": "Error", "startedAt": T1, "finishedAt": T1,
                                         "containerID": f"containerd://{digest_of(name, image, 'y')}"}}}


def objects(state: str):
    """The Deployment's image, what the registry holds, and the one Pod's container."""
    registry = {IMAGE: ARM_ONLY}
    image, status = IMAGE, lambda img: crashing("agent", img, f"{REPO}@{ARM_ONLY.digest}")
    if state == "rebuilds for the laptop's platform again":
        registry[FIXED] = offers_for(FIXED, "linux/arm64", index=False)
        image, status = FIXED, lambda img: crashing("agent", img, f"{REPO}@{registry[FIXED].digest}")
    elif state == "builds for the node's platform only":
        registry[FIXED] = offers_for(FIXED, "linux/amd64", index=False)
        image = FIXED
        status = lambda img: {**running("agent", img), "imageID": f"{REPO}@{registry[FIXED].digest}"}
    elif state == "pushes both platforms over the old tag and restarts":
        registry[IMAGE] = offers_for(IMAGE, "linux/amd64", "linux/arm64")   # the tag moved; the node kept ARM_ONLY
        registry[f"{REPO}@{ARM_ONLY.digest}"] = ARM_ONLY
    elif state == "pushed over the old tag, emulated node runs the old image":
        registry[IMAGE] = offers_for(IMAGE, "linux/amd64", "linux/arm64")
        registry[f"{REPO}@{ARM_ONLY.digest}"] = ARM_ONLY
        status = lambda img: {**running("agent", img), "imageID": f"{REPO}@{ARM_ONLY.digest}"}
    elif state == "broken, emulated node runs it":
        status = lambda img: {**running("agent", img), "imageID": f"{REPO}@{ARM_ONLY.digest}"}
    elif state in ("solved", "fixed, new Pod not ready yet"):
        registry[FIXED] = offers_for(FIXED, "linux/amd64", "linux/arm64")
        image = FIXED
        if state == "solved":
            status = lambda img: {**running("agent", img), "imageID": f"{REPO}@{registry[FIXED].digest}"}
        else:
            status = lambda img: {**running("agent", img), "imageID": f"{REPO}@{registry[FIXED].digest}",
                                  "ready": False}
    for ref, offers in list(registry.items()):
        registry[f"{REPO}@{offers.digest}"] = offers
    dep = deployment(NS, "metrics-agent", [ctr("agent", image)], replicas=1,
                     available=1 if state in ("solved", "builds for the node's platform only") else 0)
    rs = replicaset(dep, [ctr("agent", image)], 1, replicas=1)
    p = pod(rs, 0, [status(image)])
    crashed = "waiting" in p["status"]["containerStatuses"][0]["state"]
    log = EXEC_FORMAT_ERROR if crashed else "metrics-agent 3.2.1 on x86_64 listening on :8080\n"
    return [dep, rs, p, node(KIND_IMAGES), {"kind": "registry-offers", "offers": registry},
            {"kind": "pod-log", "namespace": NS, "pod": p["metadata"]["name"], "text": log}]


def stand_ins(facts: list[dict]) -> dict:
    """What the open registry holds, by reference, as lab 20's `offers_of` reads it with multiplatform.offers."""
    held = {ref: o for fact in facts if fact["kind"] == "registry-offers" for ref, o in fact["offers"].items()}
    return {"offers_of": lambda ref: (held[ref], "") if ref in held else
            (None, f"the registry has no {ref} (404 Not Found)")}


STATES = {name: (lambda name=name: objects(name), None, fails) for name, fails in {
    "broken": "image serves the node's platform",
    "broken, emulated node runs it": "image serves the node's platform",
    "rebuilds for the laptop's platform again": "image serves the node's platform",
    "builds for the node's platform only": "image serves both platforms",
    "pushes both platforms over the old tag and restarts": "pods run the node's platform",
    "pushed over the old tag, emulated node runs the old image": "pods run the node's platform",
    "fixed, new Pod not ready yet": "pods ready",
    "solved": None,
}.items()}
