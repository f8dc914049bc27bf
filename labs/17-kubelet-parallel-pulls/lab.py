"""Lab 17: repair the kubelet's image pull settings, inside the kind node.

Lab 17 breaks the kubelet of the course's node the way a copied snippet does: its
`/var/lib/kubelet/config.yaml` gets `serializeImagePulls: true` and `maxParallelImagePulls: 5`, the
two lines the lab's story names. The kubelet (v1.37) refuses that combination at start (the
`maxParallelImagePulls` line alone would start it: it then defaults serializeImagePulls to false),
systemd restarts it every second, and the node goes NotReady. The Check reads the kubelet's
LIVE configuration through the API server (`GET /api/v1/nodes/NODE/proxy/configz`), so an edit
that the running kubelet has not loaded does not count.

The node keeps a copy of the file as it was before setup; teardown puts it back, restarts the
kubelet and waits until the node is Ready again."""

from __future__ import annotations

import time

from ckalab.checks import CheckResult
from ckalab.cluster_actions import in_node, node_container, wait_until_passes
from ckalab.cluster_checks import CHECK_NOTE, Kube, short
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab17-kubelet-parallel-pulls"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_CONFIG_BEFORE = "/var/lib/kubelet/config.yaml.before-lab17"
MAX_PULLS = 3
BROKEN_PULLS = 5
POLICY_FILE = "policy.txt"
# The edit the solution makes: parallel pulls, at most MAX_PULLS at once.
FIX_SED = (f"s/^serializeImagePulls: .*/serializeImagePulls: false/; "
             f"s/^maxParallelImagePulls: .*/maxParallelImagePulls: {MAX_PULLS}/")


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
    return lab.work_dir / POLICY_FILE


def _check(lab: Lab, r: CheckResult) -> None:
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
    r.add(f"at most {MAX_PULLS} at once", most == MAX_PULLS,
          f"maxParallelImagePulls: {most}" if most == MAX_PULLS else
          f"maxParallelImagePulls: {'not set (no limit)' if most is None else most}, not {MAX_PULLS}")
    ready, detail = _node_ready(kube, node)
    r.add("node Ready", ready, detail)
    want = config.get("imagePullCredentialsVerificationPolicy") or "(not set)"
    path = policy_path(lab)
    written = path.read_text().strip().strip("'\"") if path.is_file() else None   # quotes copied from JSON
    r.add("policy recorded", written == want,
          f"{POLICY_FILE} says {want}, as the kubelet does" if written == want else
          f"no file {lab.shown(path)} yet" if written is None else
          f"{POLICY_FILE} says {short(written, 60) or 'nothing'}; the running kubelet's "
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


def _setup(lab: Lab) -> None:
    # Start from the file as it was before the lab (kept in the node), whatever was edited since.
    result = in_node(
        f"set -e; [ -f {KUBELET_CONFIG_BEFORE} ] || cp -p {KUBELET_CONFIG} {KUBELET_CONFIG_BEFORE}; "
        f"cp -p {KUBELET_CONFIG_BEFORE} {KUBELET_CONFIG}; "
        f"sed -i '/^serializeImagePulls:/d; /^maxParallelImagePulls:/d' {KUBELET_CONFIG}; "
        f"printf 'serializeImagePulls: true\\nmaxParallelImagePulls: {BROKEN_PULLS}\\n' >> {KUBELET_CONFIG}; "
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


def _solve(lab: Lab) -> None:
    _edit_and_restart(FIX_SED)
    _write_policy(lab)
    wait_until_passes(lab, 60)


def _teardown(lab: Lab) -> None:
    result = in_node(f"if [ -f {KUBELET_CONFIG_BEFORE} ]; then mv {KUBELET_CONFIG_BEFORE} {KUBELET_CONFIG}; "
                     "systemctl restart kubelet; fi")
    if not result.ok:
        raise CourseError(f"Could not put the kubelet's configuration back: {short(result.output, 300)}",
                          "`make cluster-delete cluster` recreates the node.")
    wait_for_kubelet(answering=True)


def _wrong_remove_limit(lab: Lab) -> None:
    _edit_and_restart("/^maxParallelImagePulls:/d")
    _write_policy(lab)


def _wrong_keep_five(lab: Lab) -> None:
    _edit_and_restart("s/^serializeImagePulls: .*/serializeImagePulls: false/")
    _write_policy(lab)


def _wrong_policy(lab: Lab) -> None:
    _edit_and_restart(FIX_SED)
    _write_policy(lab, "NeverVerify")


register(Lab(
    id=LAB_ID, title="Repair the kubelet's image pull settings", level="cluster",
    checks=["kubelet answers", "parallel pulls", f"at most {MAX_PULLS} at once", "node Ready",
            "policy recorded"],
    first_failure="kubelet answers",
    hints=[
        "The kubelet is a systemd service inside the node container, not a Pod: `docker exec "
        "{node} systemctl status kubelet` shows it restarting, and `journalctl -u kubelet` "
        "shows the line it prints before it exits.",
        f"The kubelet reads {KUBELET_CONFIG} only when it starts. It refuses maxParallelImagePulls above 1 "
        "while serializeImagePulls is true. Edit the file in the node (it has sed, not vi), restart the "
        "kubelet, then read what it really runs with: `kubectl get --raw "
        "/api/v1/nodes/{node}/proxy/configz`.",
        "docker exec {node} sed -i 's/^serializeImagePulls: .*/serializeImagePulls: false/; "
        f"s/^maxParallelImagePulls: .*/maxParallelImagePulls: {MAX_PULLS}/' {KUBELET_CONFIG}, then "
        "docker exec {node} systemctl restart kubelet, then copy the value of "
        "imagePullCredentialsVerificationPolicy from configz into .ckalab/work/lab17/policy.txt.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("removes maxParallelImagePulls instead", _wrong_remove_limit, fails="parallel pulls"),
        WrongAttempt(f"turns serialization off but keeps {BROKEN_PULLS}", _wrong_keep_five,
                     fails=f"at most {MAX_PULLS} at once"),
        WrongAttempt("writes NeverVerify (another policy)", _wrong_policy, fails="policy recorded"),
    ],
    check_note=CHECK_NOTE,
    disrupts="node",
))
