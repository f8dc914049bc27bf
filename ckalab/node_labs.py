"""Node-level labs: work inside the kind node, on the kubelet's own configuration file.

Lab 17 breaks the kubelet of the course's node the way a half-done edit does: its
`/var/lib/kubelet/config.yaml` asks for parallel image pulls (`maxParallelImagePulls: 5`) while
it still says `serializeImagePulls: true`. The kubelet (v1.37) refuses that combination at start,
systemd restarts it every second, and the node goes NotReady. The Check reads the kubelet's
LIVE configuration through the API server (`GET /api/v1/nodes/NODE/proxy/configz`), so an edit
that the running kubelet has not loaded does not count.

The node keeps a copy of the file as it was before setup; teardown puts it back, restarts the
kubelet and waits until the node is Ready again.

Lab 18 is the exam's "report a container from the node" task: with crictl only, the learner
writes the ID and runtime type of a running container, the exit code of one that crashed, and
that crashed container's log (both of its streams: `crictl logs` writes the container's stderr
to its own stderr). The Check compares them with the Pod's status in the API and with
`crictl inspect` on the node.
"""

from __future__ import annotations

import json
import time

from .checks import CheckResult
from .cluster_labs import (CHECK_NOTE, Kube, apply_manifest, build_push, delete_namespaces, node_container,
                           open_host, read_fields, short, wait_until_passes)
from .errors import CourseError
from .labs import Lab, WrongAttempt, docker, register

L17 = "lab17-kubelet-parallel-pulls"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_CONFIG_BEFORE = "/var/lib/kubelet/config.yaml.before-lab17"
MAX_PULLS17 = 3
BROKEN_PULLS17 = 5
POLICY_FILE17 = "policy.txt"
# The edit the solution makes: parallel pulls, at most MAX_PULLS17 at once.
FIX_SED17 = (f"s/^serializeImagePulls: .*/serializeImagePulls: false/; "
             f"s/^maxParallelImagePulls: .*/maxParallelImagePulls: {MAX_PULLS17}/")


def in_node(script: str, timeout: float = 120):
    """Run a shell script as root in the course's node (`docker exec NODE sh -c ...`)."""
    return docker("exec", node_container(), "sh", "-c", script, timeout=timeout)


def _node_ready(kube: Kube, node: str) -> tuple[bool, str]:
    found = next((n for n in kube.nodes() if n.metadata.name == node), None)
    if found is None:
        return False, f"there is no node {node}"
    ready = next((c for c in (found.status.conditions or []) if c.type == "Ready"), None)
    if ready is None:
        return False, f"{node} reports no Ready condition yet"
    return ready.status == "True", f"{node}: Ready={ready.status}" + (
        "" if ready.status == "True" else f" ({ready.reason}: {short(ready.message, 120)})")


def policy_path(lab: Lab):
    return lab.work_dir / POLICY_FILE17


def _check17(lab: Lab, r: CheckResult) -> None:
    kube, node = Kube(), node_container()
    config, problem = kube.kubelet_config(node)
    if not r.add("kubelet answers", config is not None,
                 f"the kubelet on {node} serves its configuration" if config is not None else
                 f"the kubelet on {node} does not answer ({short(problem, 160)}); "
                 f"`docker exec {node} journalctl -u kubelet -n 20 --no-pager` says why it stops"):
        return
    serialize, most = config.get("serializeImagePulls"), config.get("maxParallelImagePulls")
    r.add("parallel pulls", serialize is False,
          "serializeImagePulls: false" if serialize is False else
          f"serializeImagePulls: {str(serialize).lower()}: the kubelet pulls one image at a time")
    r.add(f"at most {MAX_PULLS17} at once", most == MAX_PULLS17,
          f"maxParallelImagePulls: {most}" if most == MAX_PULLS17 else
          f"maxParallelImagePulls: {'not set (no limit)' if most is None else most}, not {MAX_PULLS17}")
    ready, detail = _node_ready(kube, node)
    r.add("node Ready", ready, detail)
    want = config.get("imagePullCredentialsVerificationPolicy") or "(not set)"
    path = policy_path(lab)
    written = path.read_text().strip().strip("'\"") if path.is_file() else None   # quotes copied from JSON
    r.add("policy recorded", written == want,
          f"{POLICY_FILE17} says {want}, as the kubelet does" if written == want else
          f"no file {lab.shown(path)} yet" if written is None else
          f"{POLICY_FILE17} says {short(written, 60) or 'nothing'}; the running kubelet's "
          "imagePullCredentialsVerificationPolicy is another value")


def wait_for_kubelet(*, answering: bool, timeout: float = 90) -> None:
    """Wait until the node's kubelet serves its configuration (answering) or has stopped doing so."""
    node = node_container()
    deadline = time.monotonic() + timeout
    while True:
        try:
            config, _problem = Kube(budget=5).kubelet_config(node)
            ready = _node_ready(Kube(budget=5), node)[0] if config is not None else False
        except CourseError:
            config, ready = None, False
        if (ready if answering else config is None):
            return
        if time.monotonic() > deadline:
            raise CourseError(f"The kubelet on {node} did not {'come back' if answering else 'stop'} "
                              f"within {timeout:.0f} s.",
                              f"read `docker exec {node} journalctl -u kubelet -n 30 --no-pager`; "
                              "lab.teardown() puts the kubelet's configuration back.")
        time.sleep(1)


def _edit_and_restart(sed_script: str) -> None:
    """Edit the node's kubelet configuration as a learner would, restart it, wait until it is back."""
    result = in_node(f"sed -i '{sed_script}' {KUBELET_CONFIG} && systemctl restart kubelet")
    if not result.ok:
        raise CourseError(f"Editing the kubelet's configuration in the node failed: {short(result.output, 300)}",
                          "run lab.teardown(), then lab.setup().")
    wait_for_kubelet(answering=True)


def _setup17(lab: Lab) -> None:
    # Start from the file as it was before the lab (kept in the node), whatever was edited since.
    result = in_node(
        f"set -e; [ -f {KUBELET_CONFIG_BEFORE} ] || cp -p {KUBELET_CONFIG} {KUBELET_CONFIG_BEFORE}; "
        f"cp -p {KUBELET_CONFIG_BEFORE} {KUBELET_CONFIG}; "
        f"sed -i '/^serializeImagePulls:/d; /^maxParallelImagePulls:/d' {KUBELET_CONFIG}; "
        f"printf 'serializeImagePulls: true\\nmaxParallelImagePulls: {BROKEN_PULLS17}\\n' >> {KUBELET_CONFIG}; "
        "systemctl restart kubelet")
    if not result.ok:
        raise CourseError(f"Could not change the kubelet's configuration in {node_container()}: "
                          f"{short(result.output, 300)}", "run `make doctor`; `make cluster` recreates the node.")
    policy_path(lab).unlink(missing_ok=True)
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    wait_for_kubelet(answering=False, timeout=30)


def _write_policy(lab: Lab, value: str | None = None) -> None:
    """Write the policy file: `value`, or what the running kubelet says."""
    if value is None:
        config, problem = Kube(budget=5).kubelet_config(node_container())
        if config is None:
            raise CourseError(f"The kubelet does not answer: {problem}", "run lab.teardown(), then lab.setup().")
        value = config.get("imagePullCredentialsVerificationPolicy") or "(not set)"
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    policy_path(lab).write_text(value + "\n")


def _solve17(lab: Lab) -> None:
    _edit_and_restart(FIX_SED17)
    _write_policy(lab)
    wait_until_passes(lab, 60)


def _teardown17(lab: Lab) -> None:
    result = in_node(f"if [ -f {KUBELET_CONFIG_BEFORE} ]; then mv {KUBELET_CONFIG_BEFORE} {KUBELET_CONFIG}; "
                     "systemctl restart kubelet; fi")
    if not result.ok:
        raise CourseError(f"Could not put the kubelet's configuration back: {short(result.output, 300)}",
                          "`make cluster-delete cluster` recreates the node.")
    wait_for_kubelet(answering=True)


def _w17_remove_limit(lab: Lab) -> None:
    _edit_and_restart("/^maxParallelImagePulls:/d")
    _write_policy(lab)


def _w17_keep_five(lab: Lab) -> None:
    _edit_and_restart("s/^serializeImagePulls: .*/serializeImagePulls: false/")
    _write_policy(lab)


def _w17_wrong_policy(lab: Lab) -> None:
    _edit_and_restart(FIX_SED17)
    _write_policy(lab, "NeverVerify")


register(Lab(
    id=L17, title="Repair the kubelet's image pull settings", level="cluster",
    checks=["kubelet answers", "parallel pulls", f"at most {MAX_PULLS17} at once", "node Ready",
            "policy recorded"],
    first_failure="kubelet answers",
    hints=[
        "The kubelet is a systemd service inside the node container, not a Pod: `docker exec "
        "cka-images-control-plane systemctl status kubelet` shows it restarting, and `journalctl -u kubelet` "
        "shows the line it prints before it exits.",
        f"The kubelet reads {KUBELET_CONFIG} only when it starts. It refuses maxParallelImagePulls above 1 "
        "while serializeImagePulls is true. Edit the file in the node (it has sed, not vi), restart the "
        "kubelet, then read what it really runs with: `kubectl get --raw "
        "/api/v1/nodes/cka-images-control-plane/proxy/configz`.",
        "docker exec cka-images-control-plane sed -i 's/^serializeImagePulls: .*/serializeImagePulls: false/; "
        f"s/^maxParallelImagePulls: .*/maxParallelImagePulls: {MAX_PULLS17}/' {KUBELET_CONFIG}, then "
        "docker exec cka-images-control-plane systemctl restart kubelet, then copy the value of "
        "imagePullCredentialsVerificationPolicy from configz into .ckalab/work/lab17/policy.txt.",
    ],
    setup_fn=_setup17, check_fn=_check17, solve_fn=_solve17, teardown_fn=_teardown17,
    wrong_attempts=[
        WrongAttempt("removes maxParallelImagePulls instead", _w17_remove_limit, fails="parallel pulls"),
        WrongAttempt(f"turns serialization off but keeps {BROKEN_PULLS17}", _w17_keep_five,
                     fails=f"at most {MAX_PULLS17} at once"),
        WrongAttempt("writes NeverVerify (another policy)", _w17_wrong_policy, fails="policy recorded"),
    ],
    check_note=CHECK_NOTE,
))


# ====================================================================== lab18 crictl container report

L18 = "lab18-crictl-container-report"
NS18, POD18 = "lab18-audit", "audit-agent"
# What rotator prints before it exits (workloads/labs/lab18-.../pod.yaml runs these lines).
ROTATOR_STDOUT = "rotator 1.0: reading /etc/rotator/rotator.conf"
ROTATOR_STDERR = "rotator: open /etc/rotator/rotator.conf: no such file or directory"
REPORT_FORMAT18 = ("container=<ID of the agent container>\nruntime=<its runtime type>\n"
                   "exitcode=<exit code of the last rotator run>")
IN_NAMESPACE18 = f"--label io.kubernetes.pod.namespace={NS18}"


def report_path(lab: Lab):
    return lab.work_dir / "report.txt"


def rotator_log_path(lab: Lab):
    return lab.work_dir / "rotator.log"


def _inspect(container_id: str) -> tuple[dict | None, str]:
    """(`crictl inspect ID` on the node as JSON, or None and what crictl printed instead)."""
    result = in_node(f"crictl inspect {container_id}", timeout=60)
    try:
        return json.loads(result.output), ""
    except ValueError:
        return None, short(result.output, 160) or "crictl printed nothing"


def runtime_type_of(container_id: str) -> tuple[str | None, str]:
    """(info.runtimeType of the container as `crictl inspect` on the node shows it, problem)."""
    found, problem = _inspect(container_id)
    runtime = ((found or {}).get("info") or {}).get("runtimeType")
    return runtime, problem or ("" if runtime else "crictl inspect shows no info.runtimeType")


def _statuses18(kube: Kube) -> dict:
    pods = kube.pods(NS18, f"app={POD18}")
    return {s.name: s for p in pods for s in (p.status.container_statuses or [])}


def _bare_id(text: str | None) -> str:
    return (text or "").split("://", 1)[-1].strip().lower()


def _check_container_id(r: CheckResult, given: str, agent, rotator) -> None:
    full = _bare_id(agent.container_id)
    rotator_ids = []
    if rotator is not None:
        ended = [rotator.state and rotator.state.terminated, rotator.last_state and rotator.last_state.terminated]
        rotator_ids = [_bare_id(rotator.container_id)] + [_bare_id(t.container_id) for t in ended if t]
    ok = len(given) >= 12 and full.startswith(given)
    r.add("agent container ID", ok,
          f"{given[:13]} is the agent container" if ok else
          f"{given} is too short: give at least the 13 characters `crictl ps` prints" if full.startswith(given) else
          "that is the ID of a rotator container; the task asks for the running agent's"
          if any(i and i.startswith(given) for i in rotator_ids) else
          f"{short(given, 24)} is not the agent container's ID: `crictl ps --name agent` prints it in its "
          "first column (`crictl pods` lists Pod sandboxes, whose IDs are others)")


def _check_runtime(r: CheckResult, given: str, agent) -> None:
    truth, problem = runtime_type_of(_bare_id(agent.container_id))
    if truth is None:
        r.add("runtime type", False, f"`crictl inspect` of the agent container failed on the node ({problem})")
        return
    r.add("runtime type", given == truth,
          f"runtime={truth}" if given == truth else
          f"{given} is the low-level runtime the shim starts; the runtime type is the shim itself, as "
          "`crictl inspect ID` shows in info.runtimeType" if given.lower() == "runc" else
          f"{short(given, 40)} is not the runtime type `crictl inspect ID` shows (info.runtimeType)")


def _check_exit_code(r: CheckResult, given: str, rotator) -> None:
    ended = rotator and ((rotator.last_state and rotator.last_state.terminated) or
                         (rotator.state and rotator.state.terminated))
    if not ended:
        r.add("exit code", False, "rotator has not exited yet: Check again in a few seconds")
        return
    ok = given.lstrip("-").isdigit() and int(given) == ended.exit_code
    r.add("exit code", ok,
          f"exitcode={ended.exit_code}" if ok else
          f"{short(given, 20)} is not the exit code of rotator's last run: `crictl ps -a --name rotator` "
          "lists its exited containers, and `crictl inspect ID` shows status.exitCode")


def _check_log(lab: Lab, r: CheckResult) -> None:
    path = rotator_log_path(lab)
    text = path.read_text(errors="replace") if path.is_file() else None
    has_out, has_err = text is not None and ROTATOR_STDOUT in text, text is not None and ROTATOR_STDERR in text
    r.add("rotator log saved", has_out and has_err,
          f"{lab.shown(path)} holds both of rotator's streams" if has_out and has_err else
          f"no file {lab.shown(path)} yet" if text is None else
          f"{path.name} has what rotator writes to stdout, not the error it writes to stderr: `crictl logs` "
          "writes the container's stderr to its own stderr, so redirect both (`> FILE 2>&1`)" if has_out else
          f"{path.name} is not rotator's log: `crictl logs ID` of one of its exited containers prints it")


def _check18(lab: Lab, r: CheckResult) -> None:
    report = read_fields(report_path(lab), ("container", "runtime", "exitcode"), REPORT_FORMAT18)
    if not r.add("report file exists", not isinstance(report, str),
                 report if isinstance(report, str) else
                 f"container={report['container'][:13]}  runtime={report['runtime']}  exitcode={report['exitcode']}"):
        return
    statuses = _statuses18(Kube())
    agent, rotator = statuses.get("agent"), statuses.get("rotator")
    if agent is None or not agent.container_id or not (agent.state and agent.state.running):
        r.add("agent container ID", False, f"no agent container runs in {NS18}; run lab.reset() to start again")
        return
    _check_container_id(r, _bare_id(report["container"]), agent, rotator)
    _check_runtime(r, report["runtime"], agent)
    _check_exit_code(r, report["exitcode"], rotator)
    _check_log(lab, r)


def _node_ids(query: str) -> list[str]:
    result = in_node(f"crictl {query} {IN_NAMESPACE18} -q" if query.startswith("ps") else f"crictl {query} -q",
                     timeout=60)
    return result.output.split() if result.ok else []


def containers18(timeout: float = 120) -> tuple[str, str]:
    """(running agent container ID, an exited rotator container ID), found with crictl on the node."""
    deadline = time.monotonic() + timeout
    while True:
        agent = _node_ids("ps --name '^agent$'")
        rotator = _node_ids("ps -a --state exited --name '^rotator$'")
        if agent and rotator:
            return agent[0], rotator[0]
        if time.monotonic() > deadline:
            raise CourseError(f"No running agent and exited rotator container of {POD18} within {timeout:.0f} s.",
                              "run lab.reset().")
        time.sleep(2)


def _answer18(lab: Lab, *, container: str | None = None, runtime: str | None = None,
              exit_code: int | None = None, streams: str = "2>&1") -> None:
    """Write the report the way the solution finds it, with the given parts replaced."""
    agent, rotator = containers18()
    found_runtime, problem = runtime_type_of(agent)
    exited, problem = _inspect(rotator) if found_runtime else (None, problem)
    log = in_node(f"crictl logs {rotator} {streams}", timeout=60)
    if exited is None or not log.ok:
        raise CourseError(f"crictl could not read the containers of {POD18}: {problem or short(log.output, 160)}",
                          "run lab.reset().")
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    report_path(lab).write_text(f"container={container or agent}\nruntime={runtime or found_runtime}\n"
                                f"exitcode={exited['status']['exitCode'] if exit_code is None else exit_code}\n")
    rotator_log_path(lab).write_text(log.output)


def _w18_sandbox_id(lab: Lab) -> None:
    containers18()                                   # the Pod's sandbox exists once its containers do
    _answer18(lab, container=_node_ids(f"pods --namespace {NS18}")[0])


def _setup18(lab: Lab) -> None:
    build_push(lab, f"{open_host()}/audit-agent:1.0", "1.0")
    apply_manifest(lab, "pod.yaml")
    report_path(lab).unlink(missing_ok=True)
    rotator_log_path(lab).unlink(missing_ok=True)
    lab.work_dir.mkdir(parents=True, exist_ok=True)


def _solve18(lab: Lab) -> None:
    _answer18(lab)
    print(report_path(lab).read_text())
    wait_until_passes(lab, 60)


def _teardown18(lab: Lab) -> None:
    delete_namespaces(NS18, wait=False)


register(Lab(
    id=L18, title="Report a crashed container from the node with crictl", level="cluster",
    checks=["report file exists", "agent container ID", "runtime type", "exit code", "rotator log saved"],
    first_failure="report file exists",
    hints=[
        "Everything is on the node: `docker exec cka-images-control-plane crictl ps --name agent` lists the "
        "running agent container with its ID; add `-a` to see containers that have exited, such as rotator's.",
        "`crictl inspect ID` prints one container as JSON: its runtime type is in info.runtimeType, and an "
        "exited container's exit code in status.exitCode. `crictl logs ID` prints a container's log.",
        "crictl logs writes the container's stderr to its own stderr: `docker exec cka-images-control-plane "
        "crictl logs ID > .ckalab/work/lab18/rotator.log 2>&1` keeps both. Then write container=, runtime= "
        "and exitcode= lines into .ckalab/work/lab18/report.txt.",
    ],
    setup_fn=_setup18, check_fn=_check18, solve_fn=_solve18, teardown_fn=_teardown18,
    wrong_attempts=[
        WrongAttempt("gives the Pod sandbox ID", _w18_sandbox_id, fails="agent container ID", needs_reset=False),
        WrongAttempt("writes runc as the runtime type", lambda lab: _answer18(lab, runtime="runc"),
                     fails="runtime type", needs_reset=False),
        WrongAttempt("guesses exit code 1", lambda lab: _answer18(lab, exit_code=1), fails="exit code",
                     needs_reset=False),
        WrongAttempt("saves only the stdout of crictl logs", lambda lab: _answer18(lab, streams="2>/dev/null"),
                     fails="rotator log saved", needs_reset=False),
    ],
    check_note=CHECK_NOTE,
))
