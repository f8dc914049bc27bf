"""Lab 23: Debug a container that has no shell: an ephemeral container with --target, and a copy
of the Pod with another image (kubectl debug --copy-to --set-image)."""

from __future__ import annotations

import json
import secrets

from ckalab import cluster
from ckalab.checks import CheckResult
from ckalab.cluster_actions import apply_manifest, build_push, delete_namespaces, field, kubectl, wait_for_field
from ckalab.cluster_checks import CHECK_NOTE, Kube, container, normalized, not_checked, open_host, short
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab23-debug-shell-less"
NAMES = {"ns": "lab23-rates", "pod": "rates-api", "container": "api", "repo": "rates-api", "tag": "1.4",
         "debug_tag": "1.4-debug", "tools_repo": "debug-tools", "tools_tag": "1.0", "debugger": "debugger",
         "copy": "rates-api-debug", "answer": "upstream.conf"}
CONFIG = "/srv/config/upstream.conf"         # in the app's image
CHECKS = ["debug container runs beside the app", "upstream.conf copied", "copy runs the debug image",
          "original Pod unchanged"]


def image(lab: Lab, repo_key: str = "repo", tag_key: str = "tag") -> str:
    return f"{open_host()}/{lab.names[repo_key]}:{lab.names[tag_key]}"


def _state(lab: Lab) -> dict:
    try:
        return json.loads((lab.work_dir / "setup.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _debugger(lab: Lab, r: CheckResult, pod) -> None:
    n = lab.names
    ephemeral = {c.name: c for c in pod.spec.ephemeral_containers or []}
    debugger = ephemeral.get(n["debugger"])
    tools = image(lab, "tools_repo", "tools_tag")
    if debugger is None:
        others = ", ".join(ephemeral) or "none"
        r.add(CHECKS[0], False, f"Pod {n['pod']} has no ephemeral container named {n['debugger']} (its ephemeral "
                                f"containers: {others}); `kubectl debug` adds one, with `-c {n['debugger']}`")
        return
    if normalized(debugger.image) != normalized(tools):
        r.add(CHECKS[0], False, f"ephemeral container {n['debugger']} runs {debugger.image}, not {tools}")
        return
    if debugger.target_container_name != n["container"]:
        r.add(CHECKS[0], False, f"ephemeral container {n['debugger']} has no target (targetContainerName "
                                f"{debugger.target_container_name or 'unset'}): it does not share the process "
                                f"namespace of {n['container']}, so its /proc/1 is its own process, not the app; "
                                f"it needs `--target={n['container']}`, and an ephemeral container cannot be changed "
                                "or removed: add another one with a new name, or lab.reset()")
        return
    status = next((s for s in pod.status.ephemeral_container_statuses or [] if s.name == n["debugger"]), None)
    state = status.state if status else None
    if state is None or (state.waiting and not state.running and not state.terminated):
        why = f"{state.waiting.reason}: {short(state.waiting.message, 140)}" if state and state.waiting else "not started"
        r.add(CHECKS[0], False, f"ephemeral container {n['debugger']} never started ({why})")
        return
    r.add(CHECKS[0], True, f"ephemeral container {n['debugger']} ({tools}) targets {n['container']}")


def _answer(lab: Lab, r: CheckResult, pod) -> None:
    n = lab.names
    path = lab.work_dir / n["answer"]
    want = _state(lab).get("config", "")
    shown = lab.shown(path)
    if not path.is_file():
        r.add(CHECKS[1], False, f"no file {shown}: copy the app's {CONFIG} there" + _no_ptrace(lab, pod))
        return
    text = path.read_text(errors="replace")
    ok = bool(want) and text.strip() == want.strip()
    r.add(CHECKS[1], ok, f"{shown} holds the app's {CONFIG}" if ok else
          f"{shown} holds {short(text.strip(), 80)!r}, not the app's {CONFIG}: from a debug container that "
          "targets the app, the app's files are under /proc/<its PID>/root/" + _no_ptrace(lab, pod))


def _no_ptrace(lab: Lab, pod) -> str:
    """Why the debug container cannot read the app's /proc/<pid>/root, or ""."""
    debugger = next((c for c in pod.spec.ephemeral_containers or [] if c.name == lab.names["debugger"]), None)
    caps = debugger.security_context.capabilities if debugger and debugger.security_context else None
    if debugger is None or "SYS_PTRACE" in ((caps.add if caps else None) or []):
        return ""
    return (f"; ephemeral container {lab.names['debugger']} has no SYS_PTRACE capability, so reading the app's "
            "/proc/<pid>/root (the app runs as another user) answers Permission denied: kubectl before v1.36 "
            "defaults to --profile=legacy, which adds nothing; add another debug container with --profile=general")


def _copy(lab: Lab, r: CheckResult, kube: Kube) -> None:
    n = lab.names
    debug_image = image(lab, "repo", "debug_tag")
    pods = {p.metadata.name: p for p in kube.pods(n["ns"], "")}
    copy = pods.get(n["copy"])
    if copy is None:
        r.add(CHECKS[2], False, f"no Pod {n['copy']} in {n['ns']}: make it as a copy of {n['pod']}")
        return
    api = container(copy.spec, n["container"])
    if api is None or normalized(api.image) != normalized(debug_image):
        r.add(CHECKS[2], False, f"Pod {n['copy']}'s container {n['container']} runs "
                                f"{api.image if api else 'nothing'}, not {debug_image}")
        return
    running = copy.status.phase == "Running"
    r.add(CHECKS[2], running, f"Pod {n['copy']} runs {debug_image}" if running else
          f"Pod {n['copy']} runs {debug_image} but is {copy.status.phase}; check again in a few seconds")


def _original(lab: Lab, r: CheckResult, pod) -> None:
    n = lab.names
    uid = _state(lab).get("uid")
    api = container(pod.spec, n["container"])
    if uid and pod.metadata.uid != uid:
        r.add(CHECKS[3], False, f"Pod {n['pod']} was deleted and created again (its uid changed): the task "
                                "keeps it as it is; lab.reset() starts over")
    elif api is None or normalized(api.image) != normalized(image(lab)):
        r.add(CHECKS[3], False, f"Pod {n['pod']}'s container {n['container']} now runs "
                                f"{api.image if api else 'nothing'}, not {image(lab)}: it was edited; a copy "
                                "(`kubectl debug --copy-to`) leaves the original as it is")
    else:
        r.add(CHECKS[3], True, f"Pod {n['pod']} still runs {image(lab)}, as it was")


def _check(lab: Lab, r: CheckResult) -> None:
    n = lab.names
    kube = Kube()
    pods = {p.metadata.name: p for p in kube.pods(n["ns"], "")}
    pod = pods.get(n["pod"])
    if pod is None:
        r.add(CHECKS[0], False, f"no Pod {n['pod']} in namespace {n['ns']}: run lab.reset()")
        not_checked(r, CHECKS)
        return
    _debugger(lab, r, pod)
    _answer(lab, r, pod)
    _copy(lab, r, kube)
    _original(lab, r, pod)


def _setup(lab: Lab) -> None:
    n = lab.names
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    # A new upstream each time, so the file can only come from the running app.
    upstream = f"https://rates-{secrets.token_hex(4)}.example.internal/v1"
    build_push(lab, image(lab), n["tag"], build_args={"UPSTREAM": upstream})
    build_push(lab, image(lab, "repo", "debug_tag"), n["tag"], build_args={"UPSTREAM": upstream, "SHELL_KEPT": "yes"})
    build_push(lab, image(lab, "tools_repo", "tools_tag"), n["tools_tag"], dockerfile="Dockerfile.tools")
    apply_manifest(lab, "pod.yaml")
    kubectl("wait", "--for=condition=Ready", f"pod/{n['pod']}", "-n", n["ns"], "--timeout=120s", timeout=135)
    uid = field(n["ns"], f"pod/{n['pod']}", "{.metadata.uid}")
    (lab.work_dir / "setup.json").write_text(json.dumps({"config": f"upstream = {upstream}", "uid": uid}))


def _debug(lab: Lab, *extra: str) -> None:
    """kubectl debug with an ephemeral container that stays (sleep), waited for until it runs or fails."""
    n = lab.names
    kubectl("debug", n["pod"], "-n", n["ns"], f"--image={image(lab, 'tools_repo', 'tools_tag')}",
            "-c", n["debugger"], *extra, "--", "sleep", "3600")
    # Done once it runs, or once it waits for a reason other than being created.
    wait_for_field(n["ns"], f"pod/{n['pod']}",
                   f'{{.status.ephemeralContainerStatuses[?(@.name=="{n["debugger"]}")].state}}',
                   lambda state: "running" in state or ("reason" in state and "ContainerCreating" not in state),
                   f"ephemeral container {n['debugger']} neither started nor failed")


def _copy_config(lab: Lab) -> None:
    n = lab.names
    result = cluster.kubectl_result("exec", n["pod"], "-n", n["ns"], "-c", n["debugger"], "--", "cat",
                                    f"/proc/1/root{CONFIG}", timeout=60)
    if result.ok:
        (lab.work_dir / n["answer"]).write_text(result.output)


def _make_copy(lab: Lab) -> None:
    n = lab.names
    kubectl("debug", n["pod"], "-n", n["ns"], f"--copy-to={n['copy']}",
            f"--set-image={n['container']}={image(lab, 'repo', 'debug_tag')}")
    wait_for_field(n["ns"], f"pod/{n['copy']}", "{.status.phase}", lambda phase: phase == "Running",
                   "the copy did not start")


def _solve(lab: Lab) -> None:
    # --profile=general is kubectl's default since v1.36; named, it works with older kubectl too.
    _debug(lab, f"--target={lab.names['container']}", "--profile=general")
    _copy_config(lab)
    _make_copy(lab)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"], wait=False)
    for name in ("setup.json", lab.names["answer"]):
        (lab.work_dir / name).unlink(missing_ok=True)


def _wrong_no_target(lab: Lab) -> None:
    _debug(lab)
    _copy_config(lab)


def _wrong_restricted(lab: Lab) -> None:
    _debug(lab, f"--target={lab.names['container']}", "--profile=restricted")
    _copy_config(lab)


def _wrong_legacy(lab: Lab) -> None:
    """What kubectl before v1.36 does by default: the legacy profile, no SYS_PTRACE."""
    _debug(lab, f"--target={lab.names['container']}", "--profile=legacy")
    _copy_config(lab)


def _wrong_edit_pod(lab: Lab) -> None:
    n = lab.names
    kubectl("set", "image", f"pod/{n['pod']}", f"{n['container']}={image(lab, 'repo', 'debug_tag')}", "-n", n["ns"])


register(Lab(
    id=LAB_ID, title="Debug a container that has no shell", level="cluster",
    checks=CHECKS, first_failure="debug container runs beside the app",
    hints=[
        "`kubectl exec rates-api -n lab23-rates -it -- sh` fails: the image has no shell. `kubectl debug` can add an "
        "ephemeral container with an image of your choice to the running Pod.",
        "With `--target=api` the debug container shares the app's process namespace: `ls /proc/1/root/` is the app's "
        "filesystem. `kubectl debug --copy-to=NAME --set-image=CONTAINER=IMAGE` makes a changed copy of a Pod.",
        "kubectl debug rates-api -n lab23-rates -it --image=localhost:5001/debug-tools:1.0 --target=api "
        "--profile=general -c debugger -- sh, then `cat /proc/1/root/srv/config/upstream.conf` (save it into .ckalab/work/lab23/upstream.conf); "
        "then kubectl debug rates-api -n lab23-rates --copy-to=rates-api-debug "
        "--set-image=api=localhost:5001/rates-api:1.4-debug.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("debugs without --target", _wrong_no_target, fails="debug container runs beside the app"),
        WrongAttempt("debugs with --profile=restricted", _wrong_restricted, fails="debug container runs beside the app"),
        WrongAttempt("debugs with --profile=legacy (kubectl before v1.36)", _wrong_legacy, fails="upstream.conf copied"),
        WrongAttempt("changes the Pod's image instead of copying it", _wrong_edit_pod, fails="original Pod unchanged"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
