"""Lab 12's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import (PRIVATE, backoff, ctr, deployment, no_credentials, pod, pull_secret, replicaset,
                         running, service_account, waiting)

NS = "lab12-analytics"
IMAGE = f"{PRIVATE}/nightly-report:1.0"


def objects(state: str):
    c = [ctr("report", IMAGE)]
    secret = pull_secret(NS)
    sa_plain = service_account(NS, "report-runner")
    sa_fixed = service_account(NS, "report-runner", pull_secrets=["regcred"])
    default = service_account(NS, "default")

    def world(sa, *, template_secrets=None, pod_secrets=None, working=False, extra=()):
        gen = 2 if working else 1
        dep = deployment(NS, "nightly-report", c, replicas=1, sa="report-runner", pull_secrets=template_secrets,
                         revision=gen, generation=gen, available=1 if working else 0)
        rs = replicaset(dep, c, gen, replicas=1, ready=1 if working else 0, sa="report-runner",
                        pull_secrets=template_secrets)
        status = [running("report", IMAGE)] if working else [
            waiting("report", IMAGE, "ImagePullBackOff", backoff(IMAGE, no_credentials(IMAGE)))]
        p = pod(rs, 0, status)
        if pod_secrets:  # what the ServiceAccount admission plugin adds at creation
            p["spec"]["imagePullSecrets"] = [{"name": n} for n in pod_secrets]
        return [dep, rs, p, secret, sa, default, *extra]

    return {
        "broken": lambda: world(sa_plain),
        "patches the ServiceAccount but keeps the old Pods": lambda: world(sa_fixed),
        "adds imagePullSecrets to the Deployment instead": lambda: world(
            sa_plain, template_secrets=["regcred"], pod_secrets=["regcred"], working=True),
        "patches the default ServiceAccount": lambda: [
            o for o in world(sa_plain) if o is not default] + [
            service_account(NS, "default", pull_secrets=["regcred"])],
        "uses the `secrets` field, not imagePullSecrets": lambda: world(
            service_account(NS, "report-runner", secrets=["regcred"])),
        "solved": lambda: world(sa_fixed, pod_secrets=["regcred"], working=True),
    }[state]()


STATES = {name: (lambda name=name: objects(name), None, fails) for name, fails in {
    "broken": "service account has the pull secret",
    "patches the ServiceAccount but keeps the old Pods": "new pods carry the secret",
    "adds imagePullSecrets to the Deployment instead": "no imagePullSecrets in the Deployment",
    "patches the default ServiceAccount": "service account has the pull secret",
    "uses the `secrets` field, not imagePullSecrets": "service account has the pull secret",
    "solved": None,
}.items()}
