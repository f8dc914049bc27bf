"""Lab 18's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

from api_objects import OPEN, T1, ctr, deployment, digest_of, learner_file, pod, replicaset, running, waiting

from ckalab import labs

LAB_ID = "lab18-crictl-container-report"
LAB = labs.module(LAB_ID)
NS, AUDIT = "lab18-audit", f"{OPEN}/audit-agent:1.0"
ROTATOR_CMD = ["sh", "-c", "echo ...; exit 3"]
RUNTIME = "io.containerd.runc.v2"
SANDBOX = digest_of("sandbox", NS)
AGENT_ID = digest_of("agent", AUDIT, "c")          # running("agent", AUDIT)'s container ID
ROTATOR_ID = digest_of("rotator", AUDIT, "exited")   # exited("rotator", AUDIT)'s


def exited(name: str, image: str, *, exit_code: int) -> dict:
    """A container that ran and exited (restartPolicy Never), as the kubelet reports it."""
    cid = f"containerd://{digest_of(name, image, 'exited')}"
    return {"name": name, "state": {"terminated": {"exitCode": exit_code, "reason": "Error", "startedAt": T1,
                                                   "finishedAt": T1, "containerID": cid}},
            "lastState": {}, "ready": False, "restartCount": 0, "image": image,
            "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{digest_of(image)}", "containerID": cid, "started": False}


def objects(*, agent_runs=True, exited_yet=True):
    """Pod audit-agent (no owner, restartPolicy Never), and what crictl inspect says of agent."""
    c = [ctr("agent", AUDIT), ctr("rotator", AUDIT, command=ROTATOR_CMD)]
    dep = deployment(NS, "audit-agent", c, replicas=1)     # only to shape the Pod below
    agent = running("agent", AUDIT) if agent_runs else waiting("agent", AUDIT, "ContainerCreating", "")
    rotator = exited("rotator", AUDIT, exit_code=3) if exited_yet else \
        waiting("rotator", AUDIT, "ContainerCreating", "")
    p = pod(replicaset(dep, c, 1, replicas=1), 0, [agent, rotator])
    p["metadata"].update(name="audit-agent", labels={"app": "audit-agent"})
    del p["metadata"]["ownerReferences"]
    p["spec"]["restartPolicy"] = "Never"
    return [p, {"kind": "crictl-inspect", "id": AGENT_ID, "runtimeType": RUNTIME}]


BOTH_STREAMS = f"{LAB.ROTATOR_STDOUT}\n{LAB.ROTATOR_STDERR}\n"


def report(container=AGENT_ID[:13], runtime=RUNTIME, exit_code="3", log=BOTH_STREAMS):
    """Lab 18's two learner files; None leaves a file out."""
    lab = lambda: labs.get(LAB_ID)
    text = None if container is None else f"container={container}\nruntime={runtime}\nexitcode={exit_code}\n"
    writes = [learner_file(lambda: LAB.report_path(lab()), text),
              learner_file(lambda: LAB.rotator_log_path(lab()), log)]
    return lambda: [write() for write in writes]


# The learner's files of a finished attempt: a Check on an empty cluster gets past them.
ANSWER_FILES = report()


def stand_ins(facts: list[dict]) -> dict:
    """What `crictl inspect ID` on the node says: info.runtimeType by container ID."""
    runtimes = {fact["id"]: fact["runtimeType"] for fact in facts if fact["kind"] == "crictl-inspect"}
    return {"runtime_type_of": lambda cid: (runtimes.get(cid), "" if cid in runtimes
                                            else "NotFound: container does not exist")}


STATES = {
    "broken": (lambda: objects(), report(container=None, log=None), "report file exists"),
    "gives the Pod sandbox ID": (lambda: objects(), report(container=SANDBOX[:13]), "agent container ID"),
    "gives a rotator container's ID": (lambda: objects(), report(container=ROTATOR_ID[:13]), "agent container ID"),
    "gives 6 characters of the ID": (lambda: objects(), report(container=AGENT_ID[:6]), "agent container ID"),
    "writes runc as the runtime type": (lambda: objects(), report(runtime="runc"), "runtime type"),
    "guesses exit code 1": (lambda: objects(), report(exit_code="1"), "exit code"),
    "writes exit code 0 (the agent's state)": (lambda: objects(), report(exit_code="0"), "exit code"),
    "rotator has not exited yet": (lambda: objects(exited_yet=False), report(), "exit code"),
    "saves only the stdout of crictl logs": (lambda: objects(), report(log=LAB.ROTATOR_STDOUT + "\n"),
                                             "rotator log saved"),
    "saves agent's log": (lambda: objects(), report(log="Serving HTTP on 0.0.0.0 port 8080\n"),
                          "rotator log saved"),
    "no log file": (lambda: objects(), report(log=None), "rotator log saved"),
    "agent not running (lab deleted)": (lambda: objects(agent_runs=False), report(), "agent container ID"),
    "solved": (lambda: objects(), report(), None),
    "solved, full ID with its containerd:// prefix": (
        lambda: objects(), report(container=f"containerd://{AGENT_ID}"), None),
}
