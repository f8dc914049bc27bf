"""Lab 09: Fix an ImagePullBackOff caused by a wrong tag."""

from __future__ import annotations

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, delete_namespaces, kubectl, rollout_status,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_deployment, check_pods, container, open_host,
                                   selector_of, short, tag_exists, waiting_problems)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab09-wrong-tag"
# `tag` is what the registry has; `bad_tag` is the one the Deployment asks for.
NAMES = {"ns": "lab09-inventory", "deploy": "inventory-api", "container": "api", "repo": "inventory-api",
           "tag": "1.0", "bad_tag": "1.0.0"}


def image_of(lab: Lab) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names['tag']}"


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    api = container(dep.spec.template.spec, n["container"])
    ok, why = tag_exists(api.image) if api else (False, f"the Deployment has no container {n['container']}")
    r.add("image tag exists in the registry", ok, f"{api.image if api else '?'}: {why}")
    pods = kube.pods(n["ns"], selector_of(dep))

    def image_of(pod):
        c = container(pod.spec, n["container"])
        return c.image if c else None
    stale = [p.metadata.name for p in pods if image_of(p) != (api.image if api else None)]
    waiting = [(p.metadata.name, w) for p in pods for w in waiting_problems(p)]
    if waiting:
        name, (cname, reason, message) = waiting[0]
        r.add("no waiting reason", False, f"pod {name}: container {cname} waits with {reason}"
                                          + (f" ({short(message, 140)})" if message else ""))
    elif stale:
        r.add("no waiting reason", False, f"pod {stale[0]} runs another image than the Deployment: a Pod "
                                          "was edited; fix the Deployment's template instead")
    else:
        r.add("no waiting reason", True, "no container waits")
    check_pods(r, n["deploy"], pods, dep.spec.replicas or 1)


def _setup(lab: Lab) -> None:
    build_push(lab, image_of(lab), lab.names["tag"])
    apply_manifest(lab, "deployment.yaml")


def _set_image(lab: Lab, target: str, image: str) -> None:
    kubectl("set", "image", target, f"{lab.names['container']}={image}", "-n", lab.names["ns"])


def _solve(lab: Lab) -> None:
    _set_image(lab, f"deployment/{lab.names['deploy']}", image_of(lab))
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_edit_pod(lab: Lab) -> None:
    n = lab.names
    pods = kubectl("get", "pods", "-n", n["ns"], "-l", f"app={n['deploy']}", "-o", "name").output.split()
    for pod in pods:
        _set_image(lab, pod, image_of(lab))


def _wrong_latest(lab: Lab) -> None:
    _set_image(lab, f"deployment/{lab.names['deploy']}", f"{open_host()}/{lab.names['repo']}:latest")


register(Lab(
    id=LAB_ID, title="Fix an ImagePullBackOff caused by a wrong tag", level="cluster",
    checks=["deployment exists", "image tag exists in the registry", "no waiting reason", "pods ready"],
    first_failure="image tag exists in the registry",
    hints=[
        "`kubectl describe pod -n lab09-inventory -l app=inventory-api` ends with Events: read the "
        "`Failed to pull image` line. What exactly does the registry say is missing?",
        "Ask the registry which tags exist: `curl -s http://localhost:5001/v2/inventory-api/tags/list`. "
        "Then change the Deployment's template (not a Pod: the ReplicaSet would bring the wrong one back).",
        "kubectl set image deployment/inventory-api api=localhost:5001/inventory-api:1.0 -n lab09-inventory, "
        "then kubectl rollout status deployment/inventory-api -n lab09-inventory.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("edits the Pods, not the Deployment", _wrong_edit_pod, fails="image tag exists in the registry"),
        WrongAttempt("switches to :latest (never pushed)", _wrong_latest, fails="image tag exists in the registry"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
