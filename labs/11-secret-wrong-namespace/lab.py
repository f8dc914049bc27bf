"""Lab 11: A pull Secret in the wrong namespace."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from ckalab import pullsecrets
from ckalab.cluster import kubectl_result
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, create_pull_secret, delete_namespaces,
                                    kubectl, rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, PULL_SECRET, PULL_SECRET_CHECKS,
                                   check_private_deployment, course_settings)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab11-secret-wrong-namespace"
NAMES = {"ns": "lab11-reports", "other_ns": "lab11-platform", "deploy": "report-builder", "container": "builder",
           "repo": "report-builder", "tag": "1.0"}


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    check_private_deployment(Kube(), r, n["ns"], n["deploy"], n["container"])


def _setup(lab: Lab) -> None:
    n = lab.names
    build_push(lab, f"{course_settings().private_registry}/{n['repo']}:{n['tag']}", n["tag"])
    apply_manifest(lab, "namespaces.yaml")
    create_pull_secret(n["other_ns"])
    apply_manifest(lab, "deployment.yaml")


def copy_secret(src_ns: str, dest_ns: str, name: str = PULL_SECRET) -> None:
    """The documented way: decode the Secret's config.json, create it again in the other namespace."""
    data = kubectl("get", "secret", name, "-n", src_ns, "-o", "jsonpath={.data.\\.dockerconfigjson}").output
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_bytes(base64.b64decode(data))
        manifest = kubectl("create", "secret", "generic", name, "-n", dest_ns,
                           f"--from-file=.dockerconfigjson={path}", f"--type={pullsecrets.SECRET_TYPE}",
                           "--dry-run=client", "-o", "json").output
    kubectl("apply", "-f", "-", input=manifest)


def _solve(lab: Lab) -> None:
    n = lab.names
    copy_secret(n["other_ns"], n["ns"])
    kubectl("rollout", "restart", f"deployment/{n['deploy']}", "-n", n["ns"])
    rollout_status(n["ns"], n["deploy"])
    wait_until_passes(lab, 60)


WRONG_ATTEMPT_LABEL = "io.ckalab.wrong-attempt"


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], lab.names["other_ns"], wait=False)
    kubectl_result("delete", "secret", "-n", "default", "-l", f"{WRONG_ATTEMPT_LABEL}={LAB_ID}", "--ignore-not-found")


def _wrong_default_ns(lab: Lab) -> None:
    copy_secret(lab.names["other_ns"], "default")
    # Marked, so that teardown removes what the attempt left outside the lab's namespaces.
    kubectl("label", "secret", PULL_SECRET, "-n", "default", "--overwrite", f"{WRONG_ATTEMPT_LABEL}={LAB_ID}")


def _wrong_localhost(lab: Lab) -> None:
    create_pull_secret(lab.names["ns"], server=course_settings().private_registry)


register(Lab(
    id=LAB_ID, title="A pull Secret in the wrong namespace", level="cluster",
    checks=PULL_SECRET_CHECKS, first_failure="secret in the pods' namespace",
    hints=[
        "The Deployment in lab11-reports lists imagePullSecrets: regcred. Where does regcred exist? "
        "`kubectl get secrets -A --field-selector metadata.name=regcred`.",
        "imagePullSecrets names a Secret in the Pod's OWN namespace; there is no cross-namespace "
        "reference. Create the same Secret in lab11-reports (`kubectl get secret ... -o jsonpath` "
        "gives you its .dockerconfigjson).",
        "kubectl get secret regcred -n lab11-platform -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d "
        "> /tmp/config.json; kubectl create secret generic regcred -n lab11-reports "
        "--from-file=.dockerconfigjson=/tmp/config.json --type=kubernetes.io/dockerconfigjson; "
        "kubectl rollout restart deployment/report-builder -n lab11-reports.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("copies the Secret to the default namespace", _wrong_default_ns,
                     fails="secret in the pods' namespace"),
        WrongAttempt("new Secret for localhost:5002", _wrong_localhost, fails="server matches the image host"),
    ],
    check_note=CHECK_NOTE,
    names=NAMES,
))
