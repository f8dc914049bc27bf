"""Lab 12: Give a ServiceAccount the pull Secret."""

from __future__ import annotations

import json

from ckalab import references
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, create_pull_secret, delete_namespaces,
                                    kubectl, patch_pull_secret, rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, PULL_SECRET, check_deployment, check_pods, check_secret,
                                   container, course_settings, private_host, selector_of)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab12-serviceaccount-pull-secret"
NAMES = {"ns": "lab12-analytics", "deploy": "nightly-report", "container": "report", "repo": "nightly-report",
           "tag": "1.0", "sa": "report-runner"}


def _check(lab: Lab, r: CheckResult) -> None:
    ns, deploy, account = lab.names["ns"], lab.names["deploy"], lab.names["sa"]
    kube = Kube()
    dep = check_deployment(kube, r, ns, deploy)
    if dep is None:
        return
    spec = dep.spec.template.spec
    sa = kube.service_account(ns, account)
    listed = [s.name for s in (sa.image_pull_secrets or [])] if sa else []
    if sa is None:
        r.add("service account has the pull secret", False, f"there is no ServiceAccount {account} in {ns}; "
                                                            "run lab.reset()")
    elif not listed:
        mounted = [s.name for s in sa.secrets or []]
        r.add("service account has the pull secret", False,
              f"serviceaccount/{account} has no imagePullSecrets"
              + (f" (its `secrets` field lists {', '.join(mounted)}, which is not used for pulling)"
                 if mounted else ""))
    else:
        c = container(spec, lab.names["container"])
        host = references.parse(c.image).registry if c else private_host()
        trial = CheckResult(r.lab)
        check_secret(kube, trial, ns, listed[0], host)
        r.add("service account has the pull secret", trial.passed,
              f"serviceaccount/{account} imagePullSecrets: {', '.join(listed)}" + (
                  "" if trial.passed else f"; but {trial.failed()[0].reason}"))
    uses = spec.service_account_name or "default"
    r.add("deployment uses that service account", uses == account,
          f"the Pod template uses serviceAccountName {uses}" + ("" if uses == account else f", not {account}"))
    inline = [s.name for s in spec.image_pull_secrets or []]
    r.add("no imagePullSecrets in the Deployment", not inline,
          "the Pod template lists none; they come from the ServiceAccount" if not inline else
          f"the Pod template lists {', '.join(inline)} itself; the task is to attach it to {account}")
    pods = kube.pods(ns, selector_of(dep))
    missing = [p.metadata.name for p in pods
               if not set(listed or [PULL_SECRET]) & {s.name for s in p.spec.image_pull_secrets or []}]
    if not pods:
        r.add("new pods carry the secret", False, "no Pods yet")
    else:
        r.add("new pods carry the secret", not missing,
              f"all {len(pods)} Pod(s) have it in spec.imagePullSecrets" if not missing else
              f"pod {missing[0]} has no imagePullSecrets: it was created before the ServiceAccount changed "
              "(admission copies them only when a Pod is created); `kubectl rollout restart` makes new Pods")
    check_pods(r, deploy, pods, dep.spec.replicas or 1)


def _setup(lab: Lab) -> None:
    n = lab.names
    build_push(lab, f"{course_settings().private_registry}/{n['repo']}:{n['tag']}", n["tag"])
    apply_manifest(lab, "namespace.yaml")
    create_pull_secret(n["ns"])
    apply_manifest(lab, "deployment.yaml")


def _patch_sa(lab: Lab, field: str = "imagePullSecrets", account: str | None = None) -> None:
    kubectl("patch", f"serviceaccount/{account or lab.names['sa']}", "-n", lab.names["ns"], "-p",
            json.dumps({field: [{"name": PULL_SECRET}]}))


def _restart(lab: Lab) -> None:
    kubectl("rollout", "restart", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"])


def _solve(lab: Lab) -> None:
    _patch_sa(lab)
    _restart(lab)
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_no_restart(lab: Lab) -> None:
    _patch_sa(lab)


def _wrong_inline(lab: Lab) -> None:
    patch_pull_secret(lab.names["ns"], lab.names["deploy"])


def _wrong_default_sa(lab: Lab) -> None:
    _patch_sa(lab, account="default")
    _restart(lab)


def _wrong_secrets_field(lab: Lab) -> None:
    _patch_sa(lab, field="secrets")
    _restart(lab)


register(Lab(
    id=LAB_ID, title="Give a ServiceAccount the pull Secret", level="cluster",
    checks=["deployment exists", "service account has the pull secret", "deployment uses that service account",
            "no imagePullSecrets in the Deployment", "new pods carry the secret", "pods ready"],
    first_failure="service account has the pull secret",
    hints=[
        "The Secret regcred already exists in lab12-analytics. The Deployment runs as ServiceAccount "
        "report-runner: `kubectl get serviceaccount report-runner -n lab12-analytics -o yaml`.",
        "A ServiceAccount's imagePullSecrets are copied into a Pod's spec when the Pod is CREATED. "
        "Existing Pods keep their spec, so after changing the ServiceAccount you need new Pods.",
        "kubectl patch serviceaccount report-runner -n lab12-analytics -p "
        "'{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}', then kubectl rollout restart "
        "deployment/nightly-report -n lab12-analytics.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("patches the ServiceAccount but keeps the old Pods", _wrong_no_restart,
                     fails="new pods carry the secret"),
        WrongAttempt("adds imagePullSecrets to the Deployment instead", _wrong_inline,
                     fails="no imagePullSecrets in the Deployment"),
        WrongAttempt("patches the default ServiceAccount", _wrong_default_sa,
                     fails="service account has the pull secret"),
        WrongAttempt("uses the `secrets` field, not imagePullSecrets", _wrong_secrets_field,
                     fails="service account has the pull secret"),
    ],
    check_note=CHECK_NOTE,
    names=NAMES,
))
