"""Lab 18: report a crashed container from the node with crictl.

Lab 18 is the exam's "report a container from the node" task: with crictl only, the learner
writes the ID and runtime type of a running container, the exit code of one that crashed, and
that crashed container's log (both of its streams: `crictl logs` writes the container's stderr
to its own stderr). The Check compares them with the Pod's status in the API and with
`crictl inspect` on the node."""

from __future__ import annotations

import json
import time

from ckalab.checks import CheckResult
from ckalab.cluster_actions import apply_manifest, build_push, delete_namespaces, in_node, wait_until_passes
from ckalab.cluster_checks import CHECK_NOTE, Kube, open_host, read_fields, short
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab18-crictl-container-report"
NS, POD = "lab18-audit", "audit-agent"
# What rotator prints before it exits (files/pod.yaml runs these lines).
ROTATOR_STDOUT = "rotator 1.0: reading /etc/rotator/rotator.conf"
ROTATOR_STDERR = "rotator: open /etc/rotator/rotator.conf: no such file or directory"
REPORT_FORMAT = ("container=<ID of the agent container>\nruntime=<its runtime type>\n"
                   "exitcode=<exit code of the last rotator run>")
IN_NAMESPACE = f"--label io.kubernetes.pod.namespace={NS}"


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


def _statuses(kube: Kube) -> dict:
    pods = kube.pods(NS, f"app={POD}")
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


def _check(lab: Lab, r: CheckResult) -> None:
    report = read_fields(report_path(lab), ("container", "runtime", "exitcode"), REPORT_FORMAT)
    if not r.add("report file exists", not isinstance(report, str),
                 report if isinstance(report, str) else
                 f"container={report['container'][:13]}  runtime={report['runtime']}  exitcode={report['exitcode']}"):
        return
    statuses = _statuses(Kube())
    agent, rotator = statuses.get("agent"), statuses.get("rotator")
    if agent is None or not agent.container_id or not (agent.state and agent.state.running):
        r.add("agent container ID", False, f"no agent container runs in {NS}; run lab.reset() to start again")
        return
    _check_container_id(r, _bare_id(report["container"]), agent, rotator)
    _check_runtime(r, report["runtime"], agent)
    _check_exit_code(r, report["exitcode"], rotator)
    _check_log(lab, r)


def _node_ids(query: str) -> list[str]:
    result = in_node(f"crictl {query} {IN_NAMESPACE} -q" if query.startswith("ps") else f"crictl {query} -q",
                     timeout=60)
    return result.output.split() if result.ok else []


def container_ids(timeout: float = 120) -> tuple[str, str]:
    """(running agent container ID, an exited rotator container ID), found with crictl on the node."""
    deadline = time.monotonic() + timeout
    while True:
        agent = _node_ids("ps --name '^agent$'")
        rotator = _node_ids("ps -a --state exited --name '^rotator$'")
        if agent and rotator:
            return agent[0], rotator[0]
        if time.monotonic() > deadline:
            raise CourseError(f"No running agent and exited rotator container of {POD} within {timeout:.0f} s.",
                              "run lab.reset().")
        time.sleep(2)


def _answer(lab: Lab, *, container: str | None = None, runtime: str | None = None,
              exit_code: int | None = None, streams: str = "2>&1") -> None:
    """Write the report the way the solution finds it, with the given parts replaced."""
    agent, rotator = container_ids()
    found_runtime, problem = runtime_type_of(agent)
    exited, problem = _inspect(rotator) if found_runtime else (None, problem)
    log = in_node(f"crictl logs {rotator} {streams}", timeout=60)
    if exited is None or not log.ok:
        raise CourseError(f"crictl could not read the containers of {POD}: {problem or short(log.output, 160)}",
                          "run lab.reset().")
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    report_path(lab).write_text(f"container={container or agent}\nruntime={runtime or found_runtime}\n"
                                f"exitcode={exited['status']['exitCode'] if exit_code is None else exit_code}\n")
    rotator_log_path(lab).write_text(log.output)


def _wrong_sandbox_id(lab: Lab) -> None:
    container_ids()                                   # the Pod's sandbox exists once its containers do
    _answer(lab, container=_node_ids(f"pods --namespace {NS}")[0])


def _setup(lab: Lab) -> None:
    build_push(lab, f"{open_host()}/audit-agent:1.0", "1.0")
    apply_manifest(lab, "pod.yaml")
    report_path(lab).unlink(missing_ok=True)
    rotator_log_path(lab).unlink(missing_ok=True)
    lab.work_dir.mkdir(parents=True, exist_ok=True)


def _solve(lab: Lab) -> None:
    _answer(lab)
    print(report_path(lab).read_text())
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    delete_namespaces(NS, wait=False)


register(Lab(
    id=LAB_ID, title="Report a crashed container from the node with crictl", level="cluster",
    checks=["report file exists", "agent container ID", "runtime type", "exit code", "rotator log saved"],
    first_failure="report file exists",
    hints=[
        "Everything is on the node: `docker exec {node} crictl ps --name agent` lists the "
        "running agent container with its ID; add `-a` to see containers that have exited, such as rotator's.",
        "`crictl inspect ID` prints one container as JSON: its runtime type is in info.runtimeType, and an "
        "exited container's exit code in status.exitCode. `crictl logs ID` prints a container's log.",
        "crictl logs writes the container's stderr to its own stderr: `docker exec {node} "
        "crictl logs ID > .ckalab/work/lab18/rotator.log 2>&1` keeps both. Then write container=, runtime= "
        "and exitcode= lines into .ckalab/work/lab18/report.txt.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("gives the Pod sandbox ID", _wrong_sandbox_id, fails="agent container ID", needs_reset=False),
        WrongAttempt("writes runc as the runtime type", lambda lab: _answer(lab, runtime="runc"),
                     fails="runtime type", needs_reset=False),
        WrongAttempt("guesses exit code 1", lambda lab: _answer(lab, exit_code=1), fails="exit code",
                     needs_reset=False),
        WrongAttempt("saves only the stdout of crictl logs", lambda lab: _answer(lab, streams="2>/dev/null"),
                     fails="rotator log saved", needs_reset=False),
    ],
    check_note=CHECK_NOTE,
))
