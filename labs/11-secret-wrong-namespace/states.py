"""Lab 11's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import PRIVATE, private_lab, pull_secret

NS, PLATFORM_NS = "lab11-reports", "lab11-platform"
IMAGE = f"{PRIVATE}/report-builder:1.0"


def objects(state: str):
    args = (NS, "report-builder", "builder", IMAGE)
    platform = pull_secret(PLATFORM_NS)
    return {
        "broken": lambda: private_lab(*args, refs=["regcred"], secrets=[platform]),
        "copies the Secret to the default namespace": lambda: private_lab(
            *args, refs=["regcred"], secrets=[platform, pull_secret("default")]),
        "new Secret for localhost:5002": lambda: private_lab(
            *args, refs=["regcred"], secrets=[platform, pull_secret(NS, server="localhost:5002")]),
        "solved": lambda: private_lab(*args, refs=["regcred"], secrets=[platform, pull_secret(NS)], working=True),
    }[state]()


STATES = {name: (lambda name=name: objects(name), None, fails) for name, fails in {
    "broken": "secret in the pods' namespace",
    "copies the Secret to the default namespace": "secret in the pods' namespace",
    "new Secret for localhost:5002": "server matches the image host",
    "solved": None,
}.items()}
