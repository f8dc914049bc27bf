"""Lab 08: Roll back a bad update."""

from __future__ import annotations

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, delete_namespaces, kubectl, rollout_status,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHANGE_CAUSE, CHECK_NOTE, Kube, PULL_REASONS, check_deployment,
                                   check_rollout, container, open_host, revision, selector_of,
                                   waiting_problems)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab08-rollback-bad-update"
NAMES = {"ns": "lab08-payments", "deploy": "payments-api", "container": "api", "repo": "payments-api",
           "good_tag": "3.2", "bad_tag": "3.3"}


def image_of(lab: Lab, tag_name: str) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names[tag_name]}"


def _check(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    n = lab.names
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    good, bad_image = image_of(lab, "good_tag"), image_of(lab, "bad_tag")
    api = container(dep.spec.template.spec, n["container"])
    image = api.image if api else f"(no container {n['container']})"
    r.add("image rolled back", image == good,
          f"container {n['container']} runs {image}" + ("" if image == good else
                                                       f"; the working revision ran {good}"))
    pods = kube.pods(n["ns"], selector_of(dep))
    pulling = [(p.metadata.name, c, reason) for p in pods for c, reason, _ in waiting_problems(p)
               if reason in PULL_REASONS]
    r.add("no pull errors", not pulling,
          "no Pod waits for an image" if not pulling else
          f"pod {pulling[0][0]} still waits with {pulling[0][2]} (container {pulling[0][1]})")
    check_rollout(r, dep)
    sets = kube.replicasets(n["ns"], selector_of(dep))
    bad = [rs for rs in sets if any(c.image == bad_image for c in rs.spec.template.spec.containers)]
    current = revision(dep)
    if not bad:
        r.add("rollback recorded", False,
              f"no ReplicaSet of the bad update remains (the Deployment is at revision {current}): was it "
              "deleted and created again? That loses the history; run lab.reset() and use kubectl rollout undo")
        return
    bad_rev = max(revision(rs) for rs in bad)
    good = [rs for rs in sets if revision(rs) == current and rs not in bad]
    ok = current > bad_rev and bool(good)
    r.add("rollback recorded", ok,
          f"the Deployment is at revision {current}, after the bad revision {bad_rev}: the working "
          f"template came back as a new revision" if ok else
          f"the Deployment is at revision {current}, the bad update is revision {bad_rev}: "
          "`kubectl rollout undo` makes the previous template the newest revision")


def _undo(lab: Lab) -> None:
    kubectl("rollout", "undo", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"])


def _setup(lab: Lab) -> None:
    n = lab.names
    build_push(lab, image_of(lab, "good_tag"), n["good_tag"])
    apply_manifest(lab, "deployment.yaml")
    rollout_status(n["ns"], n["deploy"])
    kubectl("set", "image", f"deployment/{n['deploy']}", f"{n['container']}={image_of(lab, 'bad_tag')}",
            "-n", n["ns"])
    kubectl("annotate", f"deployment/{n['deploy']}", "--overwrite", "-n", n["ns"],
            f"{CHANGE_CAUSE}={n['container']} image updated to {n['bad_tag']}")


def _solve(lab: Lab) -> None:
    _undo(lab)
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 90)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_delete_pods(lab: Lab) -> None:
    # The manifest labels the Pods app=<Deployment name> (a variant renames both).
    kubectl("delete", "pods", "-l", f"app={lab.names['deploy']}", "-n", lab.names["ns"], "--wait=false")


def _wrong_recreate(lab: Lab) -> None:
    kubectl("delete", "deployment", lab.names["deploy"], "-n", lab.names["ns"])
    apply_manifest(lab, "deployment.yaml")


def _wrong_undo_twice(lab: Lab) -> None:
    _undo(lab)
    rollout_status(lab.names["ns"], lab.names["deploy"])
    _undo(lab)


register(Lab(
    id=LAB_ID, title="Roll back a bad update", level="cluster",
    checks=["deployment exists", "image rolled back", "no pull errors", "rollout complete",
            "rollback recorded"],
    first_failure="image rolled back",
    hints=[
        "The update to 3.3 never finishes: the new Pod cannot pull its image, and the old Pods keep "
        "serving. `kubectl rollout history deployment/payments-api -n lab08-payments` lists the revisions.",
        "`kubectl rollout undo` goes back to the previous revision (or `--to-revision=N`). Deleting Pods "
        "does not help: the Deployment creates them again from the same template.",
        "kubectl rollout undo deployment/payments-api -n lab08-payments, then kubectl rollout status "
        "deployment/payments-api -n lab08-payments and kubectl rollout history ... (the old revision "
        "comes back under a new number).",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("deletes the failing Pods", _wrong_delete_pods, fails="image rolled back"),
        WrongAttempt("deletes and recreates the Deployment", _wrong_recreate, fails="rollback recorded"),
        WrongAttempt("undo twice (back to the bad revision)", _wrong_undo_twice, fails="image rolled back"),
    ],
    check_note=CHECK_NOTE,
    names=NAMES,
))
