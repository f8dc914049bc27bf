"""Lab 23's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The before-check action writes the learner's files: setup.json
(what lab.setup() recorded) and, when the state has one, the copied upstream.conf."""

from __future__ import annotations

import json

from api_objects import NODE, OPEN, T1, ctr, learner_file, meta, pod_spec, running, uid, waiting

from ckalab import labs

NS = "lab23-rates"
APP, DEBUG_BUILD, TOOLS = f"{OPEN}/rates-api:1.4", f"{OPEN}/rates-api:1.4-debug", f"{OPEN}/debug-tools:1.0"
CONFIG = "upstream = https://rates-3f9a11c2.example.internal/v1\n"
POD_UID = uid(NS, "rates-api", "setup")
RESTRICTED = ('container has runAsNonRoot and image will run as root (pod: "rates-api_lab23-rates(' + POD_UID +
              ')", container: debugger)')


def bare_pod(name: str, image: str, *, pod_uid: str | None = None, ephemeral=None, ephemeral_statuses=None) -> dict:
    """A Pod with no owner (what pod.yaml and `kubectl debug --copy-to` create)."""
    m = meta(name, NS, labels={"app": "rates-api"}, created=T1)
    if pod_uid:
        m["uid"] = pod_uid
    spec = pod_spec([ctr("api", image)], node=NODE)
    if ephemeral:
        spec["ephemeralContainers"] = ephemeral
    ready = {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": T1}
    status = {"phase": "Running", "conditions": [ready], "hostIP": "172.18.0.2", "podIP": "10.244.0.40",
              "startTime": T1, "containerStatuses": [running("api", image)], "qosClass": "Burstable"}
    if ephemeral_statuses:
        status["ephemeralContainerStatuses"] = ephemeral_statuses
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec, "status": status}


def debugger(*, target: str | None = "api", restricted: bool = False, legacy: bool = False) -> dict:
    """The ephemeral container as `kubectl debug` v1.37 writes it (general profile: SYS_PTRACE;
    legacy: no securityContext)."""
    c = {"name": "debugger", "image": TOOLS, "command": ["sleep", "3600"], "resources": {},
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
         "imagePullPolicy": "IfNotPresent", "stdin": False, "tty": False,
         "securityContext": ({"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                              "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
                             if restricted else {"capabilities": {"add": ["SYS_PTRACE"]}})}
    if legacy:
        del c["securityContext"]
    if target:
        c["targetContainerName"] = target
    return c


def objects(state: str):
    if state == "broken":
        return [bare_pod("rates-api", APP, pod_uid=POD_UID)]
    if state == "no target":
        return [bare_pod("rates-api", APP, pod_uid=POD_UID, ephemeral=[debugger(target=None)],
                         ephemeral_statuses=[running("debugger", TOOLS)])]
    if state == "restricted":
        status = waiting("debugger", TOOLS, "CreateContainerConfigError", RESTRICTED)
        return [bare_pod("rates-api", APP, pod_uid=POD_UID, ephemeral=[debugger(restricted=True)],
                         ephemeral_statuses=[status])]
    if state == "legacy":
        return [bare_pod("rates-api", APP, pod_uid=POD_UID, ephemeral=[debugger(legacy=True)],
                         ephemeral_statuses=[running("debugger", TOOLS)])]
    if state == "pod edited":
        return [bare_pod("rates-api", DEBUG_BUILD, pod_uid=POD_UID)]
    debugged = bare_pod("rates-api", APP, pod_uid=POD_UID, ephemeral=[debugger()],
                        ephemeral_statuses=[running("debugger", TOOLS)])
    if state == "debugged, no copy":
        return [debugged]
    if state == "copy without --set-image":
        return [debugged, bare_pod("rates-api-debug", APP)]
    if state == "recreated":      # deleted and applied again: a new uid
        return [bare_pod("rates-api", APP), bare_pod("rates-api-debug", DEBUG_BUILD)]
    return [debugged, bare_pod("rates-api-debug", DEBUG_BUILD)]


def files(config: str | None = CONFIG):
    """setup.json as lab.setup() writes it, and upstream.conf holding `config` (None: no file)."""
    work = lambda: labs.get("lab23-debug-shell-less").work_dir
    writes = [learner_file(lambda: work() / "setup.json", json.dumps({"config": CONFIG.strip(), "uid": POD_UID})),
              learner_file(lambda: work() / "upstream.conf", config)]
    return lambda: [write() for write in writes]


# The learner's files of a finished attempt: a Check on an empty cluster gets past them.
ANSWER_FILES = files()


STATES = {
    "broken": (lambda: objects("broken"), files(None), "debug container runs beside the app"),
    "debugs without --target": (lambda: objects("no target"), files(None), "debug container runs beside the app"),
    "debugs with --profile=restricted": (lambda: objects("restricted"), files(None),
                                         "debug container runs beside the app"),
    "debugs with --profile=legacy (kubectl before v1.36)": (lambda: objects("legacy"), files(None),
                                                            "upstream.conf copied"),
    "changes the Pod's image instead of copying it": (lambda: objects("pod edited"), files(None),
                                                      "original Pod unchanged"),
    "copies the debug container's own file": (lambda: objects("debugged, no copy"),
                                              files("cat: /proc/1/root/srv/config/upstream.conf: No such file\n"),
                                              "upstream.conf copied"),
    "debugged, no copy yet": (lambda: objects("debugged, no copy"), files(), "copy runs the debug image"),
    "copy without --set-image": (lambda: objects("copy without --set-image"), files(), "copy runs the debug image"),
    "deleted and recreated the Pod": (lambda: objects("recreated"), files(), "original Pod unchanged"),
    "solved": (lambda: objects("solved"), files(), None),
}
