"""Lab 17's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import DEFAULT_KUBELET_CONFIG, KIND_IMAGES, NODE, learner_file, node

from ckalab import labs

LAB_ID = "lab17-kubelet-parallel-pulls"
LAB = labs.module(LAB_ID)
POLICY = "NeverVerifyPreloadedImages"


def objects(*, answering=True, serialize=False, most=3, ready=True):
    """The node, and the kubelet configuration the API server's node proxy returns (None: down)."""
    config = dict(DEFAULT_KUBELET_CONFIG, serializeImagePulls=serialize)
    if most is not None:
        config["maxParallelImagePulls"] = most
    return [node(KIND_IMAGES, ready=ready and answering), {"kind": "configz", "node": NODE,
                                                          "config": config if answering else None}]


def policy_file(content: str | None):
    return learner_file(lambda: LAB.policy_path(labs.get(LAB_ID)), content)


STATES = {
    "broken": (lambda: objects(answering=False), policy_file(None), "kubelet answers"),
    "removes maxParallelImagePulls instead": (lambda: objects(serialize=True, most=None),
                                              policy_file(POLICY + "\n"), "parallel pulls"),
    "turns serialization off but keeps 5": (lambda: objects(most=5), policy_file(POLICY + "\n"),
                                           "at most 3 at once"),
    "no limit at all": (lambda: objects(most=None), policy_file(POLICY), "at most 3 at once"),
    "writes NeverVerify (another policy)": (lambda: objects(), policy_file("NeverVerify\n"), "policy recorded"),
    "fixed, no policy file": (lambda: objects(), policy_file(None), "policy recorded"),
    "fixed, node not Ready yet": (lambda: objects(ready=False), policy_file(POLICY), "node Ready"),
    "solved": (lambda: objects(), policy_file(POLICY + "\n"), None),
    "solved, policy copied with its quotes": (lambda: objects(), policy_file(f'"{POLICY}"'), None),
}
