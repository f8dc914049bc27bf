"""Lab 22's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's. Template revisions are
named by their image: "2.0" the one the Pod was made from, "2.1" the colleague's change, and
"2.1 restarted" that change with `kubectl rollout restart`'s annotation."""

from __future__ import annotations

from api_objects import OPEN, controller_revision, ctr, daemonset, ds_pod, running

NS = "lab22-logging"
OLD, NEW = f"{OPEN}/log-agent:2.0", f"{OPEN}/log-agent:2.1"


def objects(state: str):
    template, revisions, pod_key, pod_image = {
        "broken": (NEW, ["2.0", "2.1"], "2.0", OLD),
        "restarted": (NEW, ["2.0", "2.1", "2.1 restarted"], "2.0", OLD),
        "pod edited": (NEW, ["2.0", "2.1"], "2.0", NEW),
        "undone": (OLD, ["2.1", "2.0"], "2.0", OLD),            # undo makes the 2.0 revision the newest
        "strategy switched, rolling": (NEW, ["2.0", "2.1"], "2.0", OLD),
        "solved": (NEW, ["2.0", "2.1"], "2.1", NEW),
    }[state]
    strategy = "RollingUpdate" if state == "strategy switched, rolling" else "OnDelete"
    generation = len(revisions)
    ds = daemonset(NS, "log-agent", [ctr("agent", template)], strategy=strategy, generation=generation,
                   updated=1 if pod_key == revisions[-1] else 0)
    history = [controller_revision(ds, number, key) for number, key in enumerate(revisions, 1)]
    pod = ds_pod(ds, pod_key, [running("agent", pod_image)], containers=[ctr("agent", pod_image)])
    return [ds, *history, pod]


STATES = {
    "broken": (lambda: objects("broken"), None, "every Pod on the template's revision"),
    "restarts it with kubectl rollout restart": (lambda: objects("restarted"), None,
                                                 "every Pod on the template's revision"),
    "changes the Pod's image in place": (lambda: objects("pod edited"), None, "every Pod on the template's revision"),
    "rolls back with kubectl rollout undo": (lambda: objects("undone"), None, "template runs the new image"),
    "switched to RollingUpdate, Pod not replaced yet": (lambda: objects("strategy switched, rolling"), None,
                                                        "every Pod on the template's revision"),
    "solved": (lambda: objects("solved"), None, None),
}
