"""Lab 10: Pull from a private registry: create and use a pull Secret."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ckalab import pullsecrets
from ckalab import registry as registry_module
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, create_pull_secret, delete_namespaces,
                                    kubectl, patch_pull_secret, rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, PULL_SECRET, PULL_SECRET_CHECKS,
                                   check_private_deployment, course_settings, private_host)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab10-missing-pull-secret"
NAMES = {"ns": "lab10-billing", "deploy": "billing-worker", "container": "worker", "repo": "billing-worker",
           "tag": "1.0"}


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    check_private_deployment(Kube(), r, n["ns"], n["deploy"], n["container"])


def _setup(lab: Lab) -> None:
    n = lab.names
    build_push(lab, f"{course_settings().private_registry}/{n['repo']}:{n['tag']}", n["tag"])
    apply_manifest(lab, "deployment.yaml")


def _solve(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns)
    patch_pull_secret(ns, dep)
    rollout_status(ns, dep)
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_localhost(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, server=course_settings().private_registry)
    patch_pull_secret(ns, dep)


def _wrong_not_referenced(lab: Lab) -> None:
    create_pull_secret(lab.names["ns"])


def _wrong_docker_hub(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, server=pullsecrets.DOCKER_HUB)
    patch_pull_secret(ns, dep)


def _wrong_password(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns, password="not-the-password")
    patch_pull_secret(ns, dep)


def _wrong_opaque(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    creds = registry_module.credentials()
    with tempfile.TemporaryDirectory() as tmp:
        path = pullsecrets.write_config(Path(tmp) / "config.json", private_host(), creds.username, creds.password)
        kubectl("create", "secret", "generic", PULL_SECRET, "-n", ns, f"--from-file=.dockerconfigjson={path}")
    patch_pull_secret(ns, dep)


def _wrong_typo(lab: Lab) -> None:
    ns, dep = lab.names["ns"], lab.names["deploy"]
    create_pull_secret(ns)
    patch_pull_secret(ns, dep, "regcreds")


register(Lab(
    id=LAB_ID, title="Pull from a private registry: create and use a pull Secret", level="cluster",
    checks=PULL_SECRET_CHECKS, first_failure="pull secret referenced",
    hints=[
        "Read the pull error in `kubectl describe pod -n lab10-billing -l app=billing-worker`: the "
        "registry wants a login, and the Pod sends none. Pods get registry credentials from a Secret of "
        "type kubernetes.io/dockerconfigjson listed in spec.imagePullSecrets.",
        "The Secret's --docker-server must be the host written in the image name "
        "(private-registry:5000), not localhost:5002 where you push. `python -m ckalab credentials` "
        "prints the lab login.",
        "kubectl create secret docker-registry regcred -n lab10-billing --docker-server=private-registry:5000 "
        "--docker-username=student --docker-password=<password>, then kubectl patch deployment/billing-worker "
        "-n lab10-billing -p '{\"spec\":{\"template\":{\"spec\":{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}}}}'.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("Secret for localhost:5002 (where you push)", _wrong_localhost,
                     fails="server matches the image host"),
        WrongAttempt("Secret created but not referenced", _wrong_not_referenced, fails="pull secret referenced"),
        WrongAttempt("no --docker-server (Docker Hub default)", _wrong_docker_hub,
                     fails="server matches the image host"),
        WrongAttempt("wrong password", _wrong_password, fails="credentials authenticate"),
        WrongAttempt("generic (Opaque) Secret", _wrong_opaque, fails="secret type"),
        WrongAttempt("typo in the referenced name", _wrong_typo, fails="secret in the pods' namespace"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
