"""Lab 13: ErrImageNeverPull: side-load an image into kind."""

from __future__ import annotations

import json
import time

from ckalab import shell
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, crictl, delete_namespaces, kubectl,
                                    rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_deployment, check_image_on_nodes, check_pods,
                                   container, course_settings, node_images, normalized, selector_of, short)
from ckalab.docker_checks import docker
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab13-errimageneverpull-side-load"
NAMES = {"ns": "lab13-ledger", "deploy": "ledger-sync", "container": "sync", "repo": "ledger-sync", "tag": "1.0"}


def image_of(lab: Lab, tag: str | None = None) -> str:
    """The image only the learner's Docker has (no registry host: it is never pushed)."""
    return f"{lab.names['repo']}:{tag or lab.names['tag']}"


def _check(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, lab.names["ns"], lab.names["deploy"])
    if dep is None:
        return
    c = container(dep.spec.template.spec, lab.names["container"])
    policy = c.image_pull_policy if c else None
    r.add("pull policy still Never", policy == "Never",
          "imagePullPolicy: Never" if policy == "Never" else
          f"imagePullPolicy is {policy}; keep Never and put the image on the node instead")
    image = c.image if c else "?"
    r.add("image unchanged", image == image_of(lab),
          f"image {image}" + ("" if image == image_of(lab) else f"; keep {image_of(lab)}"))
    pods = kube.pods(lab.names["ns"], selector_of(dep))
    check_image_on_nodes(kube, r, pods, image_of(lab),
                         f"kind load docker-image ... --name {course_settings().cluster_name}")
    check_pods(r, lab.names["deploy"], pods, dep.spec.replicas or 1, label="pods running")


def _setup(lab: Lab) -> None:
    build_push(lab, image_of(lab), lab.names["tag"])   # built only: it goes to no registry
    delete_namespaces(lab.names["ns"])                # no Pod may keep the image in use
    crictl("rmi", normalized(image_of(lab)))           # the starting state: NOT on the node (error ignored)
    _wait_until_node_forgets(normalized(image_of(lab)))
    apply_manifest(lab, "deployment.yaml")


def _wait_until_node_forgets(image: str, timeout: float = 120) -> None:
    """Wait until no node lists `image` in status.images any more.

    The kubelet reports the node's images with its periodic status update, so an image just
    removed from containerd stays listed for a while; a Check in that window would see it.
    """
    deadline = time.monotonic() + timeout
    while any(image in node_images(n) for n in Kube(budget=5).nodes()):
        if time.monotonic() > deadline:
            raise CourseError(f"The node still lists {image} in status.images {int(timeout)} s after "
                              "it was removed from containerd.", "run lab.reset() again.")
        time.sleep(3)


def _solve(lab: Lab) -> None:
    result = shell.run(["kind", "load", "docker-image", image_of(lab), "--name", course_settings().cluster_name],
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"kind load failed: {short(result.output, 300)}", "run `make doctor`.")
    kubectl("rollout", "restart", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"])
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 150)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"])
    # REPO:latest is what the wrong-tag attempt (and a learner making it) loads.
    for image in (image_of(lab), image_of(lab, "latest")):
        crictl("rmi", normalized(image))


def _wrong_policy(lab: Lab) -> None:
    kubectl("patch", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"], "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": lab.names["container"],
                                                      "imagePullPolicy": "IfNotPresent"}]}}}}))


def _wrong_cluster(lab: Lab) -> None:
    clusters = shell.run(["kind", "get", "clusters"], env=shell.course_env(), timeout=60).output.split()
    # Without --name, kind loads into the cluster named `kind`. If this machine has one, it is not
    # the course's: load into a name no cluster has instead, which leaves the lab's node the same.
    name = ["--name", "ckalab-no-such-cluster"] if "kind" in clusters else []
    shell.run(["kind", "load", "docker-image", image_of(lab), *name], env=shell.course_env(), timeout=300)


def _wrong_tag(lab: Lab) -> None:
    docker("tag", image_of(lab), image_of(lab, "latest"))
    shell.run(["kind", "load", "docker-image", image_of(lab, "latest"), "--name", course_settings().cluster_name],
              env=shell.course_env(), timeout=600)


register(Lab(
    id=LAB_ID, title="ErrImageNeverPull: side-load an image into kind", level="cluster",
    checks=["deployment exists", "pull policy still Never", "image unchanged", "image on the node",
            "pods running"],
    first_failure="image on the node",
    hints=[
        "imagePullPolicy: Never means the kubelet never pulls: the image must already be in the node's "
        "containerd. The image ledger-sync:1.0 exists only in your Docker Engine (`docker images ledger-sync`).",
        "kind copies an image from your Docker into the nodes: `kind load docker-image IMAGE --name CLUSTER`. "
        "Without --name it targets a cluster called `kind`. Check the node with "
        "`docker exec {node} crictl images | grep ledger-sync`.",
        "kind load docker-image ledger-sync:1.0 --name {cluster}, then kubectl rollout restart "
        "deployment/ledger-sync -n lab13-ledger (or wait for the next retry). If kind load fails with "
        "`ctr: content digest sha256:...: not found` (Docker's containerd image store), load one platform "
        "from a file: `docker save --platform linux/amd64 -o ledger-sync.tar ledger-sync:1.0` (linux/arm64 "
        "on Arm), then `kind load image-archive ledger-sync.tar --name {cluster}`.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("changes the pull policy instead", _wrong_policy, fails="pull policy still Never"),
        WrongAttempt("kind load without --name (cluster `kind`)", _wrong_cluster, fails="image on the node"),
        WrongAttempt("loads ledger-sync:latest", _wrong_tag, fails="image on the node"),
    ],
    check_note=CHECK_NOTE,
    names=NAMES,
))
