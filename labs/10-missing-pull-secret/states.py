"""Lab 10's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import PRIVATE, private_lab, pull_secret

from ckalab import pullsecrets

NS = "lab10-billing"
IMAGE = f"{PRIVATE}/billing-worker:1.0"


def objects(state: str):
    args = (NS, "billing-worker", "worker", IMAGE)
    return {
        "broken": lambda: private_lab(*args),
        "Secret for localhost:5002 (where you push)": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS, server="localhost:5002")]),
        "Secret created but not referenced": lambda: private_lab(*args, secrets=[pull_secret(NS)]),
        "no --docker-server (Docker Hub default)": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS, server=pullsecrets.DOCKER_HUB)]),
        "wrong password": lambda: private_lab(*args, refs=["regcred"], secrets=[pull_secret(NS, password="nope")]),
        "generic (Opaque) Secret": lambda: private_lab(*args, refs=["regcred"],
                                                       secrets=[pull_secret(NS, type_="Opaque")]),
        "typo in the referenced name": lambda: private_lab(*args, refs=["regcreds"], secrets=[pull_secret(NS)]),
        "secret right, Pods not yet restarted": lambda: private_lab(*args, refs=["regcred"],
                                                                    secrets=[pull_secret(NS)]),
        "solved": lambda: private_lab(*args, refs=["regcred"], secrets=[pull_secret(NS)], working=True),
        "solved, scheme in the server key": lambda: private_lab(
            *args, refs=["regcred"], secrets=[pull_secret(NS, server="http://private-registry:5000")],
            working=True),
    }[state]()


STATES = {name: (lambda name=name: objects(name), None, fails) for name, fails in {
    "broken": "pull secret referenced",
    "Secret for localhost:5002 (where you push)": "server matches the image host",
    "Secret created but not referenced": "pull secret referenced",
    "no --docker-server (Docker Hub default)": "server matches the image host",
    "wrong password": "credentials authenticate",
    "generic (Opaque) Secret": "secret type",
    "typo in the referenced name": "secret in the pods' namespace",
    "secret right, Pods not yet restarted": "pods ready",
    "solved": None,
    "solved, scheme in the server key": None,
}.items()}
