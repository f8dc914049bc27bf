"""Lab 21: A StatefulSet's release is stuck on an init container image that cannot be pulled."""

from __future__ import annotations

import time

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, delete_namespaces, kubectl, wait_for_field,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_pods, container, normalized, not_checked, open_host,
                                   pod_ready, selector_of, tag_exists)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab21-statefulset-init-image"
# `tag` is the release and `old_tag` the one before it; `bad_tag` is the typo the release asks
# for in the init container (the pipeline pushed `tag`).
NAMES = {"ns": "lab21-ledger", "sts": "ledger", "container": "app", "init": "migrate", "repo": "ledger",
         "init_repo": "ledger-migrate", "tag": "2.0", "old_tag": "1.0", "bad_tag": "v2.0"}
REPLICAS = 2
REVISION_LABEL = "controller-revision-hash"
CHECKS = ["statefulset exists", "init container image exists in the registry", "app runs the release",
          "every Pod on the template's revision", "pods ready"]


def image(lab: Lab, repo_key: str, tag_key: str) -> str:
    return f"{open_host()}/{lab.names[repo_key]}:{lab.names[tag_key]}"


def _ordinal(pod) -> int:
    return int(pod.metadata.name.rsplit("-", 1)[-1])


def _revisions(kube: Kube, r: CheckResult, sts, pods: list) -> None:
    """Every Pod was made from the template's revision; a stuck old one is named, with why."""
    update = sts.status.update_revision if sts.status else None
    if (sts.status.observed_generation or 0) < (sts.metadata.generation or 0) or not update:
        r.add(CHECKS[3], False, "the StatefulSet controller has not seen the last change yet: check again in a few seconds")
        return
    stale = sorted((p for p in pods if (p.metadata.labels or {}).get(REVISION_LABEL) != update),
                   key=_ordinal, reverse=True)
    if not stale:
        r.add(CHECKS[3], True, f"{len(pods)} Pod(s) on revision {update}")
        return
    pod = stale[0]
    old = (pod.metadata.labels or {}).get(REVISION_LABEL, "?")
    unready = [p.metadata.name for p in pods if not pod_ready(p)]
    if pod_ready(pod) and unready:
        r.add(CHECKS[3], False, f"pod {pod.metadata.name} is still on revision {old}, not {update}: the rolling "
                                f"update goes on only while every Pod is Running and Ready, and {unready[0]} is not")
    elif pod_ready(pod):
        r.add(CHECKS[3], False, f"pod {pod.metadata.name} is still on revision {old}, not {update}: the rolling "
                                "update replaces one Pod at a time, highest ordinal first; check again in a few seconds")
    else:
        r.add(CHECKS[3], False, f"pod {pod.metadata.name} is on revision {old}, not the template's {update}, and it is "
                                "not Ready: with podManagementPolicy OrderedReady the controller waits for it to "
                                "become Ready before it replaces it, and it never will; delete that Pod and the "
                                "controller creates it again from the template")


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    sts = kube.statefulset(n["ns"], n["sts"])
    if not r.add(CHECKS[0], sts is not None, f"statefulset/{n['sts']} in {n['ns']}" if sts else
                 f"no StatefulSet {n['sts']} in namespace {n['ns']}: run lab.reset()"):
        not_checked(r, CHECKS)
        return
    spec = sts.spec.template.spec
    init = container(spec, n["init"], init=True)
    ok, why = tag_exists(init.image) if init else (False, f"the template has no init container {n['init']}")
    r.add(CHECKS[1], ok, f"{init.image}: {why}" if init else why)
    app = container(spec, n["container"])
    release = image(lab, "repo", "tag")
    runs = app is not None and normalized(app.image) == normalized(release)
    r.add(CHECKS[2], runs, f"container {n['container']} runs {release}" if runs else
          f"the template's container {n['container']} runs {app.image if app else 'nothing'}, not the release "
          f"{release}: finish the release, do not go back to the last one")
    pods = kube.pods(n["ns"], selector_of(sts))
    _revisions(kube, r, sts, pods)
    check_pods(r, n["sts"], pods, sts.spec.replicas or REPLICAS)


def _rollout_status(lab: Lab, timeout: int = 150) -> None:
    kubectl("rollout", "status", f"statefulset/{lab.names['sts']}", "-n", lab.names["ns"], f"--timeout={timeout}s",
            timeout=timeout + 15)


def _setup(lab: Lab) -> None:
    n = lab.names
    for repo_key in ("repo", "init_repo"):
        for tag_key in ("old_tag", "tag"):
            build_push(lab, image(lab, repo_key, tag_key), n[tag_key])
    apply_manifest(lab, "statefulset.yaml")
    _rollout_status(lab)
    # The release: the app's new image, and a typo in the migrations' tag.
    kubectl("set", "image", f"statefulset/{n['sts']}", f"{n['container']}={image(lab, 'repo', 'tag')}",
            f"{n['init']}={image(lab, 'init_repo', 'bad_tag')}", "-n", n["ns"])
    wait_for_field(n["ns"], f"pod/{n['sts']}-{REPLICAS - 1}",
                   "{.status.initContainerStatuses[0].state.waiting.reason}",
                   lambda reason: reason in ("ErrImagePull", "ImagePullBackOff"),
                   "the lab's starting state (its init container waiting on a pull) did not come")


def _fix_template(lab: Lab) -> None:
    n = lab.names
    kubectl("set", "image", f"statefulset/{n['sts']}", f"{n['init']}={image(lab, 'init_repo', 'tag')}", "-n", n["ns"])


def _solve(lab: Lab) -> None:
    n = lab.names
    _fix_template(lab)
    kubectl("delete", "pod", f"{n['sts']}-{REPLICAS - 1}", "-n", n["ns"], "--wait=false")
    _rollout_status(lab)
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_template_only(lab: Lab) -> None:
    """The template is right now, but the stuck Pod is left as it is."""
    _fix_template(lab)
    time.sleep(5)           # long enough for the controller to have replaced it, if it would


def _wrong_edit_pod(lab: Lab) -> None:
    n = lab.names
    kubectl("set", "image", f"pod/{n['sts']}-{REPLICAS - 1}", f"{n['init']}={image(lab, 'init_repo', 'tag')}",
            "-n", n["ns"])


def _wrong_undo(lab: Lab) -> None:
    n = lab.names
    kubectl("rollout", "undo", f"statefulset/{n['sts']}", "-n", n["ns"])
    time.sleep(5)


register(Lab(
    id=LAB_ID, title="Unstick a StatefulSet whose init container image cannot be pulled", level="cluster",
    checks=CHECKS, first_failure="init container image exists in the registry",
    hints=[
        "`kubectl get pods -n lab21-ledger` shows `Init:ImagePullBackOff` for one Pod: the init container "
        "waits, so the app container never starts. `kubectl describe pod` names the image under Init Containers "
        "and the failed pull in its Events.",
        "Ask the registry which tags exist (`curl -s http://localhost:5001/v2/ledger-migrate/tags/list`) and fix "
        "the StatefulSet's template. Then compare each Pod's `controller-revision-hash` label with "
        "`kubectl get statefulset ledger -n lab21-ledger -o jsonpath='{.status.updateRevision}'`.",
        "kubectl set image statefulset/ledger migrate=localhost:5001/ledger-migrate:2.0 -n lab21-ledger, then "
        "kubectl delete pod ledger-1 -n lab21-ledger (OrderedReady waits for it forever), then "
        "kubectl rollout status statefulset/ledger -n lab21-ledger.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("fixes the template, leaves the stuck Pod", _wrong_template_only,
                     fails="every Pod on the template's revision"),
        WrongAttempt("edits the stuck Pod's init container", _wrong_edit_pod,
                     fails="init container image exists in the registry"),
        WrongAttempt("rolls back with kubectl rollout undo", _wrong_undo, fails="app runs the release"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
