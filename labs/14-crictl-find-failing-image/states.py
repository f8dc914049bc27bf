"""Lab 14's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import (OPEN, PRIVATE, backoff, ctr, deployment, event, learner_file, no_credentials, pod,
                         replicaset, running, waiting)

from ckalab import labs

LAB_ID = "lab14-crictl-find-failing-image"
LAB = labs.module(LAB_ID)
NS = "lab14-fraud"
SCORER, AGENT = f"{OPEN}/fraud-scorer:2.4", f"{PRIVATE}/metrics-agent:0.9"


def objects(detail_in_status=True, fixed=False):
    c = [ctr("scorer", SCORER), ctr("metrics-agent", AGENT, port=9100,
                                    command=["python3", "-m", "http.server", "9100", "--directory", "/srv"])]
    dep = deployment(NS, "fraud-scorer", c, replicas=1, available=1 if fixed else 0)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if fixed else 0)
    msg = backoff(AGENT, no_credentials(AGENT)) if detail_in_status else f'Back-off pulling image "{AGENT}"'
    agent = running("metrics-agent", AGENT) if fixed else waiting("metrics-agent", AGENT, "ImagePullBackOff", msg)
    p = pod(rs, 0, [running("scorer", SCORER), agent])
    events = [event(p, "metrics-agent", "Failed", f'Failed to pull image "{AGENT}": {no_credentials(AGENT)}'),
              event(p, "metrics-agent", "Failed", "Error: ErrImagePull"),
              event(p, "metrics-agent", "BackOff", f'Back-off pulling image "{AGENT}"', kind="Normal", count=9),
              event(p, "metrics-agent", "Failed", "Error: ImagePullBackOff", count=9),
              event(p, "scorer", "Pulled", f'Container image "{SCORER}" already present on machine '
                                           'and can be accessed by the pod', kind="Normal")]
    return [dep, rs, p, *events]


def answer(text: str | None):
    """Write (None: remove) the learner's answer file before the Check."""
    return learner_file(lambda: LAB.answer_path(labs.get(LAB_ID)), text)


# The answer file of a finished attempt: a Check on an empty cluster gets past it.
ANSWER_FILES = answer(f"image={AGENT}\nreason=unauthorized\n")


STATES = {
    "broken": (lambda: objects(), answer(None), "answer file exists"),
    "names the image that works": (lambda: objects(), answer(f"image={SCORER}\nreason=unauthorized\n"),
                                   "image matches"),
    "guesses not-found": (lambda: objects(), answer(f"image={AGENT}\nreason=not-found\n"), "reason matches"),
    "answers the kubelet state ImagePullBackOff": (
        lambda: objects(), answer(f"image={AGENT}\nreason=ImagePullBackOff\n"), "reason matches"),
    "answer file without a reason line": (lambda: objects(), answer(f"image={AGENT}\n"), "answer file exists"),
    "the failing Pod was fixed instead": (lambda: objects(fixed=True),
                                          answer(f"image={AGENT}\nreason=unauthorized\n"), "failing pod found"),
    "solved": (lambda: objects(), answer(f"# found with crictl\nimage={AGENT}\nreason=unauthorized\n"), None),
    "solved, reason only in the Events (old kubelet message)": (
        lambda: objects(detail_in_status=False), answer(f"image: {AGENT}\nreason: unauthorized\n"), None),
}
