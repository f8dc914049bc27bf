"""Lab 22: A DaemonSet with updateStrategy OnDelete keeps its old image after a template change."""

from __future__ import annotations

import time

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, delete_namespaces, kubectl, wait_for_field,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_pods, container, normalized, not_checked, open_host,
                                   selector_of)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab22-daemonset-ondelete"
# `tag` is the image the template was changed to; `old_tag` the one the Pods still run.
NAMES = {"ns": "lab22-logging", "ds": "log-agent", "container": "agent", "repo": "log-agent",
         "tag": "2.1", "old_tag": "2.0"}
REVISION_LABEL = "controller-revision-hash"
CHECKS = ["daemonset exists", "template runs the new image", "every Pod on the template's revision", "pods ready"]


def image(lab: Lab, tag_key: str = "tag") -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names[tag_key]}"


def _template_hash(kube: Kube, ds) -> str | None:
    """The hash of the DaemonSet's newest ControllerRevision: the label its template's Pods carry."""
    owned = [cr for cr in kube.controller_revisions(ds.metadata.namespace, selector_of(ds))
             if any(ref.uid == ds.metadata.uid for ref in cr.metadata.owner_references or [])]
    if not owned:
        return None
    return (max(owned, key=lambda cr: cr.revision).metadata.labels or {}).get(REVISION_LABEL)


def _revisions(kube: Kube, r: CheckResult, ds, pods: list, cname: str) -> None:
    latest = _template_hash(kube, ds)
    if (ds.status.observed_generation or 0) < (ds.metadata.generation or 0) or not latest:
        r.add(CHECKS[2], False, "the DaemonSet controller has not seen the last change yet: check again in a few seconds")
        return
    stale = [p for p in pods if (p.metadata.labels or {}).get(REVISION_LABEL) != latest]
    if not stale:
        r.add(CHECKS[2], True, f"{len(pods)} Pod(s) with controller-revision-hash {latest}, the template's")
        return
    pod = stale[0]
    old = (pod.metadata.labels or {}).get(REVISION_LABEL, "?")
    runs = container(pod.spec, cname)
    template = container(ds.spec.template.spec, cname)
    strategy = ds.spec.update_strategy.type if ds.spec.update_strategy else "RollingUpdate"
    why = ("with updateStrategy OnDelete the controller makes a Pod from the new template only once the old "
           "Pod is deleted (`kubectl rollout restart` is one more template change, and waits the same way)"
           if strategy == "OnDelete" else "the rolling update has not replaced it yet; check again in a few seconds")
    if runs and template and normalized(runs.image) == normalized(template.image):
        r.add(CHECKS[2], False, f"pod {pod.metadata.name} runs {runs.image}, but it is still the Pod of an older "
                                f"revision (controller-revision-hash {old}, the template's is {latest}): it was changed "
                                f"in place, and {why}")
    else:
        r.add(CHECKS[2], False, f"pod {pod.metadata.name} still runs {runs.image if runs else '?'}, made from an older "
                                f"revision of the template (controller-revision-hash {old}, the template's is "
                                f"{latest}): {why}")


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    ds = kube.daemonset(n["ns"], n["ds"])
    if not r.add(CHECKS[0], ds is not None, f"daemonset/{n['ds']} in {n['ns']}" if ds else
                 f"no DaemonSet {n['ds']} in namespace {n['ns']}: run lab.reset()"):
        not_checked(r, CHECKS)
        return
    agent = container(ds.spec.template.spec, n["container"])
    new = image(lab)
    runs = agent is not None and normalized(agent.image) == normalized(new)
    r.add(CHECKS[1], runs, f"container {n['container']} runs {new}" if runs else
          f"the template's container {n['container']} runs {agent.image if agent else 'nothing'}, not {new}: "
          "keep the new image in the template")
    pods = kube.pods(n["ns"], selector_of(ds))
    _revisions(kube, r, ds, pods, n["container"])
    check_pods(r, n["ds"], pods, ds.status.desired_number_scheduled or 1)


def _ready(counts: str) -> bool:
    desired, _, ready = counts.partition(" ")
    return desired not in ("", "0") and desired == ready


def _setup(lab: Lab) -> None:
    n = lab.names
    for tag_key in ("old_tag", "tag"):
        build_push(lab, image(lab, tag_key), n[tag_key])
    apply_manifest(lab, "daemonset.yaml")
    wait_for_field(n["ns"], f"daemonset/{n['ds']}", "{.status.desiredNumberScheduled} {.status.numberReady}", _ready,
                   "its Pods were not Ready")
    # The colleague's change: the template's image, and nothing else.
    kubectl("set", "image", f"daemonset/{n['ds']}", f"{n['container']}={image(lab)}", "-n", n["ns"])


def _solve(lab: Lab) -> None:
    n = lab.names
    kubectl("delete", "pod", "-n", n["ns"], "-l", f"app={n['ds']}", "--wait=false")
    wait_until_passes(lab, 90)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_restart(lab: Lab) -> None:
    kubectl("rollout", "restart", f"daemonset/{lab.names['ds']}", "-n", lab.names["ns"])
    time.sleep(5)           # long enough for a rolling update to have started, if there were one


def _wrong_edit_pod(lab: Lab) -> None:
    n = lab.names
    for pod in kubectl("get", "pods", "-n", n["ns"], "-l", f"app={n['ds']}", "-o", "name").output.split():
        kubectl("set", "image", pod, f"{n['container']}={image(lab)}", "-n", n["ns"])
    time.sleep(5)


def _wrong_undo(lab: Lab) -> None:
    kubectl("rollout", "undo", f"daemonset/{lab.names['ds']}", "-n", lab.names["ns"])
    time.sleep(3)


register(Lab(
    id=LAB_ID, title="Roll a new image out to a DaemonSet that updates on delete", level="cluster",
    checks=CHECKS, first_failure="every Pod on the template's revision",
    hints=[
        "Compare the image in the template (`kubectl get daemonset log-agent -n lab22-logging -o wide`) with the one "
        "the Pod runs (`kubectl get pods -n lab22-logging -o wide`, then `describe`). Why did the change not reach it?",
        "Read the DaemonSet's `spec.updateStrategy`. Each Pod's `controller-revision-hash` label names the revision it "
        "was made from; `kubectl get controllerrevisions -n lab22-logging` lists the template's revisions.",
        "kubectl delete pod -n lab22-logging -l app=log-agent: the controller makes the new Pod from the current "
        "template. (Switching `updateStrategy.type` to RollingUpdate also works.)",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("restarts it with kubectl rollout restart", _wrong_restart,
                     fails="every Pod on the template's revision"),
        WrongAttempt("changes the Pod's image in place", _wrong_edit_pod, fails="every Pod on the template's revision"),
        WrongAttempt("rolls back with kubectl rollout undo", _wrong_undo, fails="template runs the new image"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
