"""Lab 21's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's. Revisions are keys of
`sts_revision`: "1" the last release, "2" the release with the typo, "3" the release fixed."""

from __future__ import annotations

from api_objects import (OPEN, backoff, completed, ctr, event, not_found, running, statefulset, sts_pod,
                         waiting)

from ckalab import cluster_checks
from ckalab.errors import CourseError

NS = "lab21-ledger"
APP_1, APP_2 = f"{OPEN}/ledger:1.0", f"{OPEN}/ledger:2.0"
MIGRATE_1, MIGRATE_TYPO, MIGRATE_2 = (f"{OPEN}/ledger-migrate:1.0", f"{OPEN}/ledger-migrate:v2.0",
                                      f"{OPEN}/ledger-migrate:2.0")
COMMAND = ["python3", "-c", "import os; print('schema migrated to', os.environ['APP_VERSION'])"]
TEMPLATES = {"1": (APP_1, MIGRATE_1), "2": (APP_2, MIGRATE_TYPO), "3": (APP_2, MIGRATE_2)}
# What the open registry holds once lab.setup() has pushed: the pipeline pushed 2.0, not v2.0.
TAGS = {"ledger": ["1.0", "2.0"], "ledger-migrate": ["1.0", "2.0"]}


def containers(revision: str):
    app, migrate = TEMPLATES[revision]
    return [ctr("app", app)], [ctr("migrate", migrate, command=COMMAND)]


def ready_pod(sts, ordinal: int, revision: str, *, migrate: str | None = None):
    app, template_migrate = TEMPLATES[revision]
    main, init = containers(revision)
    if migrate:                                   # `kubectl set image pod/...` changed the Pod only
        init = [ctr("migrate", migrate, command=COMMAND)]
    return sts_pod(sts, ordinal, revision, [running("app", app)],
                   init_statuses=[completed("migrate", migrate or template_migrate)],
                   containers=main, init_containers=init)


def stuck_pod(sts, ordinal: int, revision: str = "2"):
    """Made from the release with the typo: Init:ImagePullBackOff, the app container not started."""
    app, migrate = TEMPLATES[revision]
    main, init = containers(revision)
    return sts_pod(sts, ordinal, revision,
                   [waiting("app", app, "PodInitializing", "")],
                   init_statuses=[waiting("migrate", migrate, "ImagePullBackOff", backoff(migrate, not_found(migrate)))],
                   containers=main, init_containers=init)


def objects(state: str):
    template = {"broken": "2", "template fixed": "3", "pod edited": "2", "undone": "1",
                "rolling": "3", "solved": "3"}[state]
    main, init = containers(template)
    generation = {"broken": 2, "pod edited": 2}.get(state, 3)
    sts = statefulset(NS, "ledger", main, init_containers=init, generation=generation,
                      current_revision="1", update_revision=template, ready=1, current=1, updated=0)
    if state == "broken":
        pods = [ready_pod(sts, 0, "1"), stuck_pod(sts, 1)]
    elif state == "template fixed":
        pods = [ready_pod(sts, 0, "1"), stuck_pod(sts, 1)]
    elif state == "pod edited":   # ledger-1 ran with the Pod's image; the controller then recreated ledger-0
        pods = [stuck_pod(sts, 0), ready_pod(sts, 1, "2", migrate=MIGRATE_2)]
    elif state == "undone":       # back to revision 1, but ledger-1 (revision 2) is never replaced
        pods = [ready_pod(sts, 0, "1"), stuck_pod(sts, 1)]
    elif state == "rolling":      # ledger-1 on the fixed revision; ledger-0 is next
        sts["status"].update(readyReplicas=2, availableReplicas=2, updatedReplicas=1)
        pods = [ready_pod(sts, 0, "1"), ready_pod(sts, 1, "3")]
    else:
        sts = statefulset(NS, "ledger", main, init_containers=init, generation=3, current_revision="3")
        pods = [ready_pod(sts, 0, "3"), ready_pod(sts, 1, "3")]
    stuck = [p for p in pods if p["status"]["phase"] == "Pending"]
    events = [event(p, "migrate", "Failed", f'Failed to pull image "{MIGRATE_TYPO}": {not_found(MIGRATE_TYPO)}')
              for p in stuck]
    return [sts, *pods, *events]


class OpenRegistry:
    """The open registry's tags list, as cluster_checks.tag_exists asks it (RegistryAPI.tags)."""

    def tags(self, repository: str) -> list[str]:
        if repository not in TAGS:
            raise CourseError(f"the registry has no repository {repository} (404 NAME_UNKNOWN)", "")
        return TAGS[repository]


def _tag_exists(image: str):
    with cluster_checks.using(registry=OpenRegistry()):
        return cluster_checks.tag_exists(image)


def stand_ins(facts: list[dict]) -> dict:
    """The lab's registry look-up, against what lab.setup() pushed."""
    return {"tag_exists": _tag_exists}


STATES = {
    "broken": (lambda: objects("broken"), None, "init container image exists in the registry"),
    "fixes the template, leaves the stuck Pod": (lambda: objects("template fixed"), None,
                                                 "every Pod on the template's revision"),
    "edits the stuck Pod's init container": (lambda: objects("pod edited"), None,
                                             "init container image exists in the registry"),
    "rolls back with kubectl rollout undo": (lambda: objects("undone"), None, "app runs the release"),
    "fixed, ledger-0 not replaced yet": (lambda: objects("rolling"), None, "every Pod on the template's revision"),
    "solved": (lambda: objects("solved"), None, None),
}
