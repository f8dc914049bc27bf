"""Lab 14: Find the failing image on the node with crictl."""

from __future__ import annotations

import time
from pathlib import Path

from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, crictl, delete_namespaces, node_container,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, PULL_REASONS, container, course_settings, normalized,
                                   open_host, private_host, read_fields, selector_of, waiting_problems)
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab14-crictl-find-failing-image"
# The Deployment's two containers: repo:tag works; agent_repo:agent_tag (private, no pull Secret) fails.
NAMES = {"ns": "lab14-fraud", "deploy": "fraud-scorer", "repo": "fraud-scorer", "tag": "2.4",
           "agent_repo": "metrics-agent", "agent_tag": "0.9"}


def working_image(lab: Lab) -> str:
    return f"{open_host()}/{lab.names['repo']}:{lab.names['tag']}"


def failing_image(lab: Lab, host: str | None = None) -> str:
    return f"{host or private_host()}/{lab.names['agent_repo']}:{lab.names['agent_tag']}"
REASONS = ("not-found", "unauthorized", "unreachable", "never-pull")
ANSWER_FORMAT = "image=<image reference as in the Pod spec>\nreason=<one of: " + ", ".join(REASONS) + ">"


def classify(message: str) -> str:
    """The cause of a pull failure from the kubelet's/containerd's message."""
    m = (message or "").lower()
    if "pull policy of never" in m:
        return "never-pull"
    if any(s in m for s in ("no basic auth credentials", "401 unauthorized", "unauthorized",
                            "authorization failed", "authentication required", "pull access denied")):
        return "unauthorized"
    if any(s in m for s in (": not found", "manifest unknown", "notfound", "not found")):
        return "not-found"
    if any(s in m for s in ("no such host", "connection refused", "i/o timeout", "dial tcp",
                            "registry is unavailable", "server gave http response to https client")):
        return "unreachable"
    return "unknown"


def answer_path(lab: Lab) -> Path:
    return lab.work_dir / "answer.txt"


def read_answer(path: Path) -> dict | str:
    """{'image':..., 'reason':...} or a string saying what is wrong with the file."""
    return read_fields(path, ("image", "reason"), ANSWER_FORMAT)


def failing_container(kube: Kube, dep) -> tuple | None:
    """(pod, container name, image, reason, message) of the first container failing to get its image."""
    ns = dep.metadata.namespace
    for pod in kube.pods(ns, selector_of(dep)):
        for cname, reason, message in waiting_problems(pod):
            if reason in PULL_REASONS:
                spec_c = container(pod.spec, cname) or next(
                    (c for c in pod.spec.init_containers or [] if c.name == cname), None)
                detail = message
                if classify(detail) == "unknown":     # older kubelets: only "Back-off pulling image ..."
                    events = [e for e in kube.pull_events(ns, pod.metadata.name)
                              if (e.message or "").startswith("Failed to pull image")]
                    if events:
                        detail = events[-1].message
                return pod, cname, spec_c.image if spec_c else "?", reason, detail
    return None


def _check(lab: Lab, r: CheckResult) -> None:
    answer = read_answer(answer_path(lab))
    if isinstance(answer, str):
        r.add("answer file exists", False, answer)
        return
    r.add("answer file exists", True, f"image={answer['image']}  reason={answer['reason']}")
    kube = Kube()
    ns, deploy = lab.names["ns"], lab.names["deploy"]
    dep = kube.deployment(ns, deploy)
    found = failing_container(kube, dep) if dep is not None else None
    if found is None:
        r.add("failing pod found", False, f"no Pod of {deploy} in {ns} waits for an image any more; "
                                          "run lab.reset() to start again")
        return
    pod, cname, image, reason, detail = found
    r.add("failing pod found", True, f"pod {pod.metadata.name}, container {cname}: {reason}")
    given = answer["image"]
    r.add("image matches", normalized(given) == normalized(image),
          f"{given} is the image that fails" if normalized(given) == normalized(image) else
          f"{given} is not the image that fails to pull (each container has its own image; "
          "the failing one has no container in `crictl ps -a`)")
    actual = classify(detail)
    given_reason = answer["reason"].lower()
    if given_reason in {r_.lower() for r_ in PULL_REASONS}:
        r.add("reason matches", False, f"{answer['reason']} is the kubelet's state, not WHY the pull "
                                       f"fails; use one of {', '.join(REASONS)}")
    elif given_reason not in REASONS:
        r.add("reason matches", False, f"'{answer['reason']}' is not one of {', '.join(REASONS)}")
    else:
        r.add("reason matches", given_reason == actual,
              f"the pull fails because: {actual}" if given_reason == actual else
              f"'{given_reason}' does not match what the registry answers; `crictl pull {image}` on the "
              "node shows the full error")


def _forget_private_image(lab: Lab) -> None:
    """Remove the private image from the node's containerd (errors ignored: it may be absent).

    A `crictl pull --creds` on the node (hint 3) stores it there, and the kubelet's default
    imagePullCredentialsVerificationPolicy, NeverVerifyPreloadedImages, never re-checks credentials
    for an image it did not pull itself: under IfNotPresent the container would then start without
    a pull Secret, and the lab could never be broken again.
    """
    delete_namespaces(lab.names["ns"])            # no container may keep the image in use
    crictl("rmi", normalized(failing_image(lab)))


def _setup(lab: Lab) -> None:
    build_push(lab, working_image(lab), lab.names["tag"])
    build_push(lab, failing_image(lab, course_settings().private_registry), lab.names["agent_tag"])
    _forget_private_image(lab)
    apply_manifest(lab, "deployment.yaml")
    lab.work_dir.mkdir(parents=True, exist_ok=True)


def _solve(lab: Lab) -> None:
    deadline = time.monotonic() + 120
    while True:
        dep = Kube(budget=5).deployment(lab.names["ns"], lab.names["deploy"])
        found = failing_container(Kube(budget=5), dep) if dep else None
        if found or time.monotonic() > deadline:
            break
        time.sleep(3)
    if not found:
        raise CourseError(f"No container of {lab.names['deploy']} failed to pull within 2 minutes.",
                          "run lab.reset().")
    image = found[2]
    pulled = crictl("pull", image)
    reason = classify(pulled.output)
    print(f"$ docker exec {node_container()} crictl pull {image}\n{pulled.output.strip()}")
    path = answer_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"image={image}\nreason={reason}\n")
    print(path.read_text())
    wait_until_passes(lab, 30)


def _teardown(lab: Lab) -> None:
    _forget_private_image(lab)


def _write_answer(lab: Lab, image: str, reason: str) -> None:
    answer_path(lab).parent.mkdir(parents=True, exist_ok=True)
    answer_path(lab).write_text(f"image={image}\nreason={reason}\n")


register(Lab(
    id=LAB_ID, title="Find the failing image on the node with crictl", level="cluster",
    checks=["answer file exists", "failing pod found", "image matches", "reason matches"],
    first_failure="answer file exists",
    hints=[
        "Work on the node: `docker exec {node} crictl pods --namespace lab14-fraud` "
        "finds the Pod, `crictl ps -a --pod POD_ID` its containers: the one that never started has no "
        "container at all.",
        "The node's kubelet log names the image it could not pull: `docker exec {node} "
        "journalctl -u kubelet --no-pager | grep -i 'failed to pull'` (or read the Pod's Events). Then "
        "`crictl pull IMAGE` on the node shows the registry's answer.",
        "The metrics-agent image comes from private-registry:5000 and the Pod has no pull Secret: "
        "write image=private-registry:5000/metrics-agent:0.9 and the reason the registry gives "
        "(`crictl pull --creds student:PASSWORD ...` succeeds, so the image does exist).",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("names the image that works", lambda lab: _write_answer(
            lab, working_image(lab), "unauthorized"), fails="image matches", needs_reset=False),
        WrongAttempt("guesses not-found", lambda lab: _write_answer(
            lab, failing_image(lab), "not-found"), fails="reason matches", needs_reset=False),
        WrongAttempt("answers the kubelet state ImagePullBackOff", lambda lab: _write_answer(
            lab, failing_image(lab), "ImagePullBackOff"), fails="reason matches", needs_reset=False),
    ],
    check_note=CHECK_NOTE,
    names=NAMES,
))
