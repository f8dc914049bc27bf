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

# ====================================================================== lab12 ServiceAccount

L12 = "lab12-serviceaccount-pull-secret"
NS12, DEP12, SA12 = "lab12-analytics", "nightly-report", "report-runner"


def _check12(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, NS12, DEP12)
    if dep is None:
        return
    spec = dep.spec.template.spec
    sa = kube.service_account(NS12, SA12)
    listed = [s.name for s in (sa.image_pull_secrets or [])] if sa else []
    if sa is None:
        r.add("service account has the pull secret", False, f"there is no ServiceAccount {SA12} in {NS12}; "
                                                            "run lab.reset()")
    elif not listed:
        mounted = [s.name for s in sa.secrets or []]
        r.add("service account has the pull secret", False,
              f"serviceaccount/{SA12} has no imagePullSecrets"
              + (f" (its `secrets` field lists {', '.join(mounted)}, which is not used for pulling)"
                 if mounted else ""))
    else:
        c = container(spec, "report")
        host = references.parse(c.image).registry if c else private_host()
        trial = CheckResult(r.lab)
        check_secret(kube, trial, NS12, listed[0], host)
        r.add("service account has the pull secret", trial.passed,
              f"serviceaccount/{SA12} imagePullSecrets: {', '.join(listed)}" + (
                  "" if trial.passed else f"; but {trial.failed()[0].reason}"))
    uses = spec.service_account_name or "default"
    r.add("deployment uses that service account", uses == SA12,
          f"the Pod template uses serviceAccountName {uses}" + ("" if uses == SA12 else f", not {SA12}"))
    inline = [s.name for s in spec.image_pull_secrets or []]
    r.add("no imagePullSecrets in the Deployment", not inline,
          "the Pod template lists none; they come from the ServiceAccount" if not inline else
          f"the Pod template lists {', '.join(inline)} itself; the task is to attach it to {SA12}")
    pods = kube.pods(NS12, selector_of(dep))
    missing = [p.metadata.name for p in pods
               if not set(listed or [PULL_SECRET]) & {s.name for s in p.spec.image_pull_secrets or []}]
    if not pods:
        r.add("new pods carry the secret", False, "no Pods yet")
    else:
        r.add("new pods carry the secret", not missing,
              f"all {len(pods)} Pod(s) have it in spec.imagePullSecrets" if not missing else
              f"pod {missing[0]} has no imagePullSecrets: it was created before the ServiceAccount changed "
              "(admission copies them only when a Pod is created); `kubectl rollout restart` makes new Pods")
    check_pods(r, DEP12, pods, dep.spec.replicas or 1)


def _setup12(lab: Lab) -> None:
    build_push(lab, f"{course_settings().private_registry}/nightly-report:1.0", "1.0")
    apply_manifest(lab, "namespace.yaml")
    create_pull_secret(NS12)
    apply_manifest(lab, "deployment.yaml")


def _patch_sa(name: str = SA12) -> None:
    kubectl("patch", f"serviceaccount/{name}", "-n", NS12, "-p",
            json.dumps({"imagePullSecrets": [{"name": PULL_SECRET}]}))


def _solve12(lab: Lab) -> None:
    _patch_sa()
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)
    rollout_status(NS12, DEP12)
    wait_until_passes(lab, 60)


def _teardown12(lab: Lab) -> None:
    delete_namespaces(NS12, wait=False)


def _w12_no_restart(lab: Lab) -> None:
    _patch_sa()


def _w12_inline(lab: Lab) -> None:
    patch_pull_secret(NS12, DEP12)


def _w12_default_sa(lab: Lab) -> None:
    _patch_sa("default")
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)


def _w12_secrets_field(lab: Lab) -> None:
    kubectl("patch", f"serviceaccount/{SA12}", "-n", NS12, "-p", json.dumps({"secrets": [{"name": PULL_SECRET}]}))
    kubectl("rollout", "restart", f"deployment/{DEP12}", "-n", NS12)


register(Lab(
    id=L12, title="Give a ServiceAccount the pull Secret", level="cluster",
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
    setup_fn=_setup12, check_fn=_check12, solve_fn=_solve12, teardown_fn=_teardown12,
    wrong_attempts=[
        WrongAttempt("patches the ServiceAccount but keeps the old Pods", _w12_no_restart,
                     fails="new pods carry the secret"),
        WrongAttempt("adds imagePullSecrets to the Deployment instead", _w12_inline,
                     fails="no imagePullSecrets in the Deployment"),
        WrongAttempt("patches the default ServiceAccount", _w12_default_sa,
                     fails="service account has the pull secret"),
        WrongAttempt("uses the `secrets` field, not imagePullSecrets", _w12_secrets_field,
                     fails="service account has the pull secret"),
    ],
    check_note=CHECK_NOTE,
))
