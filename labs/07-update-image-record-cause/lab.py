"""Lab 07: Update a Deployment's image and record why."""

from __future__ import annotations

import re

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, delete_namespaces, kubectl, rollout_status,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHANGE_CAUSE, CHECK_NOTE, Kube, check_deployment, check_rollout, container,
                                   open_host, revision, selector_of, short)
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab07-update-image-record-cause"
NAMES = {"ns": "lab07-storefront", "deploy": "checkout-web", "container": "web", "repo": "checkout-web",
           "tag": "1.0", "new_tag": "1.1"}


def image_of(lab: Lab, tag_name: str) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names[tag_name]}"


def sidecar() -> str:
    return f"{open_host()}/log-forwarder:2.3"


def mentions_tag(text: str, tag: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(tag)}(?![\w]|\.\w|-\w)", text or "") is not None


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    spec = dep.spec.template.spec
    web = container(spec, n["container"])
    want = image_of(lab, "new_tag")
    r.add("image of the updated container", web is not None and web.image == want,
          f"container {n['container']} runs {want}" if web is not None and web.image == want else
          f"container {n['container']} has image {web.image if web else '(no such container)'}; it should be {want}")
    side = container(spec, "log-forwarder")
    names = sorted(c.name for c in spec.containers or [])
    if names != sorted(["log-forwarder", n["container"]]):
        r.add("other containers untouched", False, f"the containers are now {', '.join(names)}; "
                                                   f"keep exactly {n['container']} and log-forwarder")
    else:
        r.add("other containers untouched", side.image == sidecar(),
              f"log-forwarder still runs {sidecar()}" if side.image == sidecar() else
              f"log-forwarder now runs {side.image}: `kubectl set image ... *=...` or a wrong container "
              f"name changed it; set it back to {sidecar()}")
    check_rollout(r, dep)
    cause = (dep.metadata.annotations or {}).get(CHANGE_CAUSE)
    if not cause:
        r.add("change-cause recorded", False, f"deployment/{n['deploy']} has no {CHANGE_CAUSE} annotation "
                                              "(kubectl annotate ...); rollout history shows <none>")
    else:
        ok = mentions_tag(cause, n["new_tag"])
        r.add("change-cause recorded", ok, f"{CHANGE_CAUSE}: \"{short(cause, 100)}\"" + (
            "" if ok else f" does not mention the new tag {n['new_tag']}"))
    current = [rs for rs in kube.replicasets(n["ns"], selector_of(dep)) if revision(rs) == revision(dep)]
    rs_cause = (current[0].metadata.annotations or {}).get(CHANGE_CAUSE) if current else None
    r.add("rollout history shows the cause", bool(cause) and rs_cause == cause,
          f"revision {revision(dep)} shows \"{short(rs_cause, 80)}\"" if bool(cause) and rs_cause == cause else
          f"revision {revision(dep)} of `kubectl rollout history` shows "
          f"{short(rs_cause, 80) if rs_cause else '<none>'}; annotate the Deployment after (or with) "
          "the image change so its newest ReplicaSet carries the cause")


def _setup(lab: Lab) -> None:
    n = lab.names
    build_push(lab, image_of(lab, "tag"), n["tag"])
    build_push(lab, image_of(lab, "new_tag"), n["new_tag"])
    build_push(lab, sidecar(), "2.3")
    apply_manifest(lab, "deployment.yaml")
    rollout_status(n["ns"], n["deploy"])


def _set_image(lab: Lab, container_name: str | None = None) -> None:
    n = lab.names
    kubectl("set", "image", f"deployment/{n['deploy']}",
            f"{container_name or n['container']}={image_of(lab, 'new_tag')}", "-n", n["ns"])


def _annotate(lab: Lab, cause: str) -> None:
    kubectl("annotate", f"deployment/{lab.names['deploy']}", "--overwrite", "-n", lab.names["ns"],
            f"{CHANGE_CAUSE}={cause}")


def _solve(lab: Lab) -> None:
    _set_image(lab)
    _annotate(lab, f"{lab.names['container']} image updated to {image_of(lab, 'new_tag')}")
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_no_cause(lab: Lab) -> None:
    _set_image(lab)


def _wrong_star(lab: Lab) -> None:
    _set_image(lab, "*")
    _annotate(lab, f"update to {lab.names['new_tag']}")


def _wrong_cause_only(lab: Lab) -> None:
    _annotate(lab, f"update to {lab.names['new_tag']}")


def _wrong_stale_cause(lab: Lab) -> None:
    _annotate(lab, f"initial {lab.names['tag']}")
    _set_image(lab)


register(Lab(
    id=LAB_ID, title="Update a Deployment's image and record why", level="cluster",
    checks=["deployment exists", "image of the updated container", "other containers untouched", "rollout complete",
            "change-cause recorded", "rollout history shows the cause"],
    first_failure="image of the updated container",
    hints=[
        "Two separate things: the Pod template's image (that starts a rollout) and an annotation on "
        "the Deployment named kubernetes.io/change-cause (that is what `kubectl rollout history` shows "
        "in CHANGE-CAUSE). `--record` is deprecated; do not use it.",
        "`kubectl set image deployment/checkout-web CONTAINER=IMAGE -n lab07-storefront` changes one "
        "container by name. Name the container `web`; `*=` would change the log-forwarder too.",
        "kubectl set image deployment/checkout-web web=localhost:5001/checkout-web:1.1 -n lab07-storefront, "
        "then kubectl annotate deployment/checkout-web -n lab07-storefront --overwrite "
        "kubernetes.io/change-cause=\"web image updated to 1.1\", then kubectl rollout status and "
        "kubectl rollout history deployment/checkout-web -n lab07-storefront.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("image updated, no change-cause", _wrong_no_cause, fails="change-cause recorded"),
        WrongAttempt("set image with * changes the sidecar too", _wrong_star, fails="other containers untouched"),
        WrongAttempt("annotation only, image unchanged", _wrong_cause_only, fails="image of the updated container"),
        WrongAttempt("stale change-cause from before the update", _wrong_stale_cause, fails="change-cause recorded"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
