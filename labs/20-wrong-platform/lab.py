"""Lab 20: An image built for another platform: exec format error on the node.

The starting state is the "built on my laptop" mistake: the tag holds one image for the other
architecture than the node's (linux/arm64 on an amd64 node), pushed without an index. containerd
pulls a single image whatever its platform, so the container starts and the kernel refuses its
first program: `exec format error` in the log, CrashLoopBackOff in the Pod. (Where the machine
emulates that architecture, as Docker Desktop does, the Pod runs, slowly, under QEMU; the Check
still finds the wrong platform.) The learner builds one tag for both platforms with the course's
docker-container builder and rolls it out; overwriting the old tag is not enough, because the node
keeps the image it pulled under that tag (IfNotPresent).
"""

from __future__ import annotations

import time

from ckalab import multiplatform
from ckalab import registry as registry_module
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, crictl, delete_namespaces, kubectl, rollout_status,
                                    wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, _injected, check_deployment, check_pods, container,
                                   open_host, selector_of, short, waiting_problems)
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab20-wrong-platform"
# `tag` is the one pushed from the other architecture; `fixed_tag` is the reference solution's.
NAMES = {"ns": "lab20-metrics", "deploy": "metrics-agent", "container": "agent", "repo": "metrics-agent",
           "tag": "3.2", "fixed_tag": "3.2.1"}
BOTH = ["linux/amd64", "linux/arm64"]


def image_of(lab: Lab, tag: str | None = None) -> str:
    return f"{open_host()}/{lab.names['repo']}:{tag or lab.names['tag']}"


def node_platform(kube: Kube) -> str:
    """`linux/amd64` for a node whose nodeInfo says operatingSystem linux, architecture amd64."""
    nodes = kube.nodes()
    if not nodes:
        raise CourseError("The cluster lists no nodes.", "run `make cluster`, then lab.reset().")
    info = nodes[0].status.node_info
    return f"{info.operating_system}/{info.architecture}"


def other_platform(native: str) -> str:
    """The platform of the laptop that built the broken image: the other one of BOTH."""
    return BOTH[1] if native != BOTH[1] else BOTH[0]


def offers_of(reference: str) -> tuple[multiplatform.Offers | None, str]:
    """What the course's open registry offers for `reference`, or None and why not."""
    api = _injected.get("registry") or registry_module.RegistryAPI(open_host(), timeout=1.5)
    if not reference.startswith(open_host() + "/"):
        return None, f"{reference} is not in the course's registry {open_host()}"
    try:
        return multiplatform.offers(reference, api=api), ""
    except CourseError as exc:
        return None, exc.problem
    except Exception as exc:  # requests errors
        return None, f"the registry {open_host()} did not answer ({type(exc).__name__}); run `make registries`"


def _image_id(pod, cname: str) -> str:
    for cs in pod.status.container_statuses or []:
        if cs.name == cname:
            return (cs.image_id or "").removeprefix("docker-pullable://")
    return ""


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    native = node_platform(kube)
    c = container(dep.spec.template.spec, n["container"])
    image = c.image if c else "?"
    offers, why = offers_of(image) if c else (None, f"the Deployment has no container {n['container']}")
    if offers is None:
        r.add("image serves the node's platform", False, f"{image}: {why}")
        return
    r.add("image serves the node's platform", offers.serves(native),
          f"{offers.describe()}; the node is {native}" + ("" if offers.serves(native) else
          ": a node pulls that image anyway, and the kernel cannot run its programs (exec format error)"))
    r.add("image serves both platforms", all(offers.serves(p) for p in BOTH),
          f"{offers.describe()}" + ("" if all(offers.serves(p) for p in BOTH) else
          f"; the task asks for one tag that serves {' and '.join(BOTH)}"))
    pods = kube.pods(n["ns"], selector_of(dep))
    _check_running_platform(r, pods, n["container"], native, tag_serves=offers.serves(native))

    def last_log_line(pod, cname):
        return _last_log_line(kube, pod, cname)
    check_pods(r, n["deploy"], pods, dep.spec.replicas or 1, waiting_detail=last_log_line)


def _check_running_platform(r: CheckResult, pods: list, cname: str, native: str, *, tag_serves: bool) -> None:
    """Each Pod's container runs an image for the node's platform: its imageID (the digest the node
    pulled) is an index that serves the node, or a single image for it. `tag_serves`: the
    Deployment's image serves the node now (so a Pod that runs another image runs a stale copy)."""
    label = "pods run the node's platform"
    if not pods:
        r.add(label, False, "the Deployment has no Pods yet; wait a few seconds and check again")
        return
    for pod in pods:
        image_id = _image_id(pod, cname)
        if not image_id:
            r.add(label, False, f"pod {pod.metadata.name} has not created its container yet; check again")
            return
        offers, why = offers_of(image_id)
        if offers is None:
            r.add(label, False, f"pod {pod.metadata.name} runs {image_id}: {why}")
            return
        if not offers.serves(native):
            why = ("the node kept the image it had pulled under that tag before (imagePullPolicy IfNotPresent "
                   "does not pull it again): push the fixed image under a new tag" if tag_serves else
                   f"the node is {native}")
            r.add(label, False, f"pod {pod.metadata.name} runs {short(image_id, 90)}, an image for "
                                f"{', '.join(offers.platforms)}: {why}")
            return
    r.add(label, True, f"{len(pods)} Pod(s) run an image that serves {native}")


def _last_log_line(kube: Kube, pod, cname: str) -> str:
    """The last line the container's latest run printed (`kubectl logs`): an exec error is there.
    In CrashLoopBackOff that run has exited; `--previous` would be the run before it, which the
    kubelet may already have removed."""
    text = kube.log_tail(pod.metadata.namespace, pod.metadata.name, cname).strip()
    return f"its last run printed: {short(text.splitlines()[-1], 120)}" if text else ""


def _setup(lab: Lab) -> None:
    n = lab.names
    native = node_platform(Kube(budget=15))
    foreign = other_platform(native)
    delete_namespaces(n["ns"])                        # no Pod may keep the lab's images in use
    for tag in (n["tag"], n["fixed_tag"]):            # the node must pull what this setup pushes
        crictl("rmi", image_of(lab, tag))
    for name in ("Dockerfile", "app.py"):
        lab.place(name)
    multiplatform.build_push(lab.files, image_of(lab), [foreign], provenance=False,
                             build_args={"APP_NAME": n["deploy"], "APP_VERSION": n["tag"]})
    apply_manifest(lab, "deployment.yaml")
    print(f"{image_of(lab)} holds one image, for {foreign}; the node is {native}.")
    print(_first_outcome(lab))


def _first_outcome(lab: Lab, timeout: float = 120) -> str:
    """How the Pod started: it crashed (no emulation on the node) or runs under emulation."""
    n = lab.names
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kube = Kube(budget=10)
        for pod in kube.pods(n["ns"], f"app={n['deploy']}"):
            for cs in pod.status.container_statuses or []:
                last = cs.last_state.terminated if cs.last_state else None
                now = cs.state.terminated if cs.state else None
                if last or now:
                    log = _last_log_line(kube, pod, cs.name)
                    return (f"Pod {pod.metadata.name}: its container exited with code {(last or now).exit_code}"
                            + (f"; {log}" if log else "") + ". It will go on restarting (CrashLoopBackOff).")
                if cs.ready:
                    return (f"Pod {pod.metadata.name} is Running: this machine emulates the image's platform "
                            "(binfmt_misc with QEMU, as Docker Desktop sets up), so it runs, slowly. On a node "
                            "without emulation it would crash with `exec format error`.")
        time.sleep(2)
    return f"The Pod has not started yet: `kubectl get pods -n {n['ns']}` shows what it waits for."


def _push_for(lab: Lab, tag: str, platforms: list[str]) -> None:
    multiplatform.build_push(lab.work_dir, image_of(lab, tag), platforms,
                             build_args={"APP_NAME": lab.names["deploy"], "APP_VERSION": tag})


def _set_image(lab: Lab, tag: str) -> None:
    n = lab.names
    kubectl("set", "image", f"deployment/{n['deploy']}", f"{n['container']}={image_of(lab, tag)}", "-n", n["ns"])


def _solve(lab: Lab) -> None:
    _push_for(lab, lab.names["fixed_tag"], BOTH)
    _set_image(lab, lab.names["fixed_tag"])
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 90)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)


def _wrong_same_platform_again(lab: Lab) -> None:
    native = node_platform(Kube(budget=10))
    _push_for(lab, lab.names["fixed_tag"], [other_platform(native)])
    _set_image(lab, lab.names["fixed_tag"])


def _wrong_node_platform_only(lab: Lab) -> None:
    native = node_platform(Kube(budget=10))
    _push_for(lab, lab.names["fixed_tag"], [native])
    _set_image(lab, lab.names["fixed_tag"])
    rollout_status(lab.names["ns"], lab.names["deploy"])


def _wrong_overwrite_tag(lab: Lab) -> None:
    _push_for(lab, lab.names["tag"], BOTH)
    kubectl("rollout", "restart", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"])
    _wait_for_containers(lab)


def _wait_for_containers(lab: Lab, timeout: float = 90) -> None:
    """Until every Pod of the newest ReplicaSet has created its container (it has an imageID)."""
    n = lab.names
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = Kube(budget=10).pods(n["ns"], f"app={n['deploy']}")
        if pods and all(_image_id(p, n["container"]) for p in pods) and len(pods) == 1:
            return
        time.sleep(2)


register(Lab(
    id=LAB_ID, title="Run an image built for another platform", level="cluster",
    checks=["deployment exists", "image serves the node's platform", "image serves both platforms",
            "pods run the node's platform", "pods ready"],
    first_failure="image serves the node's platform",
    hints=[
        "`kubectl logs -n lab20-metrics deploy/metrics-agent` shows why the container exits. Then ask "
        "the registry what the tag holds: `docker buildx imagetools inspect localhost:5001/metrics-agent:3.2` "
        "lists an index's platforms; a single image has its platform in its config (add "
        "`--format '{{json .Image}}'`). Compare with the node's `.status.nodeInfo.architecture`.",
        "Build the Dockerfile in .ckalab/work/lab20/ for both platforms at once with the course's builder "
        "(`docker buildx build --builder ckalab --platform linux/amd64,linux/arm64 ... --push`). Push it "
        "under a NEW tag: the node keeps the broken image it pulled under 3.2, and IfNotPresent never pulls "
        "that tag again.",
        "docker buildx build --builder ckalab --platform linux/amd64,linux/arm64 -t "
        "localhost:5001/metrics-agent:3.2.1 --push .ckalab/work/lab20, then kubectl set image "
        "deployment/metrics-agent agent=localhost:5001/metrics-agent:3.2.1 -n lab20-metrics.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("rebuilds for the laptop's platform again", _wrong_same_platform_again,
                     fails="image serves the node's platform"),
        WrongAttempt("builds for the node's platform only", _wrong_node_platform_only,
                     fails="image serves both platforms"),
        WrongAttempt("pushes both platforms over the old tag and restarts", _wrong_overwrite_tag,
                     fails="pods run the node's platform"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
