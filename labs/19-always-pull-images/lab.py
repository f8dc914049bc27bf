"""Lab 19: enable AlwaysPullImages in the kube-apiserver's static Pod manifest in the kind node.

Lab 19 is the exam's "enable an admission plugin" task, with the reason it exists. Two teams
share the node. payroll's private image was put on the node beforehand (`crictl pull --creds`,
as node images are preloaded to start Pods faster), and under the kubelet's default
imagePullCredentialsVerificationPolicy, NeverVerifyPreloadedImages, an image the kubelet did not
pull itself is never re-checked: report-viewer, in another tenant's namespace and with no pull
Secret, runs it. The learner enables the AlwaysPullImages admission plugin in
`/etc/kubernetes/manifests/kube-apiserver.yaml` (keeping NodeRestriction), waits for the API
server to come back and has the Pods of both namespaces created again: admission runs when a
Pod is created, so Pods from before keep the policy they were given.

The Check reads the API server's mirror Pod (its command line, as the kubelet runs it) and the
Pods of both teams: the policy admission gave them, payroll's readiness and report-viewer's
pull failure.

The node keeps the manifest as it was before setup OUTSIDE the manifests folder (the kubelet
reads every file there whose name does not start with a dot as a static Pod); teardown puts it
back and waits until the API server answers again."""

from __future__ import annotations

import re
import time
import uuid

from ckalab import registry as registry_module
from ckalab import settings as settings_module
from ckalab.checks import CheckResult
from ckalab.cluster import kubectl_result
from ckalab.cluster_actions import (apply_manifest, build_push, create_pull_secret, crictl, delete_namespaces,
                                    in_node, kubectl, node_container, rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_pods, normalized, not_checked, pod_ready,
                                   private_host, short, waiting_problems)
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab19-always-pull-images"
NS_OWNER, DEP_OWNER = "lab19-payroll", "payroll"
NS_TENANT, DEP_TENANT = "lab19-tenant", "report-viewer"
APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
APISERVER_BEFORE = "/etc/kubernetes/kube-apiserver.yaml.before-lab19"
PLUGINS_FLAG = "--enable-admission-plugins"
PLUGIN = "AlwaysPullImages"
KEEP = "NodeRestriction"
PULL_FAILURES = {"ErrImagePull", "ImagePullBackOff"}
# The edit the solution makes (kubeadm writes the flag as one argument, `--flag=value`).
ENABLE_SED = f"s/- {PLUGINS_FLAG}=NodeRestriction$/- {PLUGINS_FLAG}=NodeRestriction,{PLUGIN}/"
CHECKS = ["API server answers", f"{PLUGIN} enabled", f"{KEEP} kept", "Pods admitted again",
            "payroll runs", "tenant cannot use the image"]


def image_of() -> str:
    return f"{private_host()}/payroll:3.1"


def admission_plugins(command: list[str]) -> list[str] | None:
    """The plugins of --enable-admission-plugins in a kube-apiserver command line (None: no flag)."""
    for i, arg in enumerate(command):
        if arg.startswith(PLUGINS_FLAG + "="):
            value = arg.split("=", 1)[1]
        elif arg == PLUGINS_FLAG and i + 1 < len(command):
            value = command[i + 1]
        else:
            continue
        return [p.strip() for p in value.split(",") if p.strip()]
    return None


def apiserver_command(kube: Kube) -> list[str] | None:
    """The kube-apiserver's command line from its mirror Pod in kube-system (None: no such Pod)."""
    pods = kube.pods("kube-system", "component=kube-apiserver")
    if not pods:
        return None
    c = pods[0].spec.containers[0]
    return list(c.command or []) + list(c.args or [])


def _team_pods(kube: Kube) -> dict[str, list]:
    return {DEP_OWNER: kube.pods(NS_OWNER, f"app={DEP_OWNER}"),
            DEP_TENANT: kube.pods(NS_TENANT, f"app={DEP_TENANT}")}


def _check_admitted(r: CheckResult, pods: dict[str, list]) -> None:
    if not all(pods.values()):
        missing = [name for name, found in pods.items() if not found]
        r.add("Pods admitted again", False,
              f"no Pods of {' and '.join(missing)} yet: their ReplicaSet controller (kube-controller-manager) "
              "creates them, and after an API server restart it restarts too, which can take a minute or two "
              "(`kubectl get pods -n kube-system`). Check again; lab.reset() starts over")
        return
    old = [f"{p.metadata.name} ({c.image_pull_policy})" for found in pods.values() for p in found
           for c in p.spec.containers if c.image_pull_policy != "Always"]
    r.add("Pods admitted again", not old,
          "every Pod of both teams was admitted with imagePullPolicy: Always" if not old else
          f"{', '.join(old)}: created before the plugin, so admission never changed it. Admission runs when a "
          "Pod is created: delete the Pods (their ReplicaSet creates new ones) or `kubectl rollout restart` "
          "(a new Pod that cannot pull never replaces the old one, though)")


def _check_tenant(r: CheckResult, pods: list) -> None:
    reasons = {p.metadata.name: [reason for _c, reason, _m in waiting_problems(p)] for p in pods}
    refused = [name for name, found in reasons.items() if PULL_FAILURES & set(found)]
    running = [p.metadata.name for p in pods if pod_ready(p)]
    r.add("tenant cannot use the image", bool(pods) and len(refused) == len(pods),
          f"report-viewer's Pod cannot pull without credentials ({', '.join(sorted(set(sum(reasons.values(), []))))})"
          if pods and len(refused) == len(pods) else
          f"{', '.join(running)} still runs payroll's image with no pull Secret" if running else
          "report-viewer's Pod has not tried to pull yet: Check again in a few seconds")


def _check(lab: Lab, r: CheckResult) -> None:
    node = node_container()
    try:
        kube = Kube()
        command = apiserver_command(kube)
    except CourseError as exc:
        r.add("API server answers", False,
              f"{short(exc.problem, 120)} While it restarts, that is expected for a minute; if it stays "
              f"down, `docker exec {node} crictl ps -a --name kube-apiserver` and `crictl logs ID` say why")
        not_checked(r, CHECKS, "not checked: the API server does not answer")
        return
    if not r.add("API server answers", command is not None,
                 "the API server answers, and its mirror Pod shows its command line" if command is not None else
                 "there is no kube-apiserver mirror Pod in kube-system yet: the kubelet creates it again a few "
                 "seconds after the API server restarts; Check again"):
        not_checked(r, CHECKS, "not checked: the API server's own Pod is not there yet")
        return
    plugins = admission_plugins(command)
    shown = ",".join(plugins) if plugins else "(no --enable-admission-plugins flag)"
    r.add(f"{PLUGIN} enabled", PLUGIN in (plugins or []),
          f"{PLUGINS_FLAG}={shown}" if PLUGIN in (plugins or []) else
          f"{PLUGINS_FLAG}={shown}: the API server does not run {PLUGIN}. The flag is in "
          f"{APISERVER_MANIFEST} on the node; a Pod's own imagePullPolicy is not what the task asks")
    r.add(f"{KEEP} kept", KEEP in (plugins or []),
          f"{KEEP} is still enabled" if KEEP in (plugins or []) else
          f"{KEEP} is gone: the flag's value is the whole list, so add {PLUGIN} after a comma "
          f"({KEEP},{PLUGIN}) instead of replacing it")
    pods = _team_pods(kube)
    _check_admitted(r, pods)
    if not pods[DEP_OWNER] or not pods[DEP_TENANT]:
        not_checked(r, ["payroll runs", "tenant cannot use the image"], "not checked: a team has no Pods")
        return
    check_pods(r, DEP_OWNER, pods[DEP_OWNER], 1, label="payroll runs")
    _check_tenant(r, pods[DEP_TENANT])


# ---------------------------------------------------------------- the API server's restart

def _apiserver_container() -> str:
    result = crictl("ps", "--name", "^kube-apiserver$", "--state", "running", "-q", timeout=30)
    return (result.output.split() or [""])[0] if result.ok else ""


def _manifest_plugins() -> list[str] | None:
    result = in_node(f"grep -e '{PLUGINS_FLAG}' {APISERVER_MANIFEST}", timeout=30)
    return admission_plugins([re.sub(r"^\s*-\s+", "", line).strip() for line in result.output.splitlines()])


def wait_for_apiserver(before: str, timeout: float = 240) -> None:
    """Wait until a new kube-apiserver container (not `before`) answers /readyz and its mirror Pod
    shows the flag the manifest now has."""
    deadline = time.monotonic() + timeout
    want, seen = _manifest_plugins(), None
    while time.monotonic() < deadline:
        now = _apiserver_container()
        if now and now != before and kubectl_result("get", "--raw", "/readyz", timeout=10).ok:
            try:
                seen = admission_plugins(apiserver_command(Kube(budget=5)) or [])
            except CourseError:
                seen = None
            if seen == want:
                return
        time.sleep(2)
    raise CourseError(f"The API server did not come back with {PLUGINS_FLAG}={','.join(want or [])} within "
                      f"{timeout:.0f} s (its mirror Pod shows {seen}).",
                      f"`docker exec {node_container()} crictl ps -a --name kube-apiserver` and `crictl logs ID` "
                      "say why; lab.teardown() puts the manifest back.")


def edit_apiserver_manifest(script: str, *, at_once: bool = True) -> None:
    """Run `script` (shell, in the node) on the manifest; if it changed the file, wait for the restart.

    at_once: stop the old kube-apiserver container right away instead of letting it serve out its
    30 s termination grace period, which the kubelet waits for before it starts the new one. The
    course's own edits (setup, teardown, the tests' wrong attempts) do; measured here, a restart then
    takes 17-22 s instead of 50-105 s. The reference solution does not: it restarts the API server
    the way a learner does, with sed alone."""
    before = _apiserver_container()
    result = in_node(f"set -e; cp {APISERVER_MANIFEST} /tmp/kube-apiserver.yaml.was; {script}; "
                     f"if cmp -s {APISERVER_MANIFEST} /tmp/kube-apiserver.yaml.was; then echo unchanged; fi")
    if not result.ok:
        raise CourseError(f"Editing {APISERVER_MANIFEST} failed: {short(result.output, 300)}",
                          "run lab.teardown(), then lab.setup().")
    if "unchanged" in result.output.split():
        return
    if at_once and before:
        time.sleep(2)       # by then the kubelet has seen the new manifest (inotify) and is stopping the old Pod
        crictl("stop", "--timeout", "0", before, timeout=30)
    wait_for_apiserver(before)


def _restore_manifest() -> None:
    edit_apiserver_manifest(f"if [ -f {APISERVER_BEFORE} ]; then cp -p {APISERVER_BEFORE} {APISERVER_MANIFEST}; fi")


# ---------------------------------------------------------------- lab19 setup, solution, attempts

def _preload() -> None:
    """Put a fresh build of payroll's image on the node with crictl, as a node image preload does.

    Fresh, with a label of its own: the kubelet remembers (by image ID) the images it pulled, and
    one it pulled in an earlier run would count as pulled by the kubelet, not as preloaded.
    """
    creds = registry_module.credentials()
    pulled = crictl("pull", "--creds", f"{creds.username}:{creds.password}", normalized(image_of()), timeout=300)
    if not pulled.ok:
        raise CourseError(f"crictl pull of {image_of()} on the node failed: {short(pulled.output, 300)}",
                          "run `make registries`, then lab.reset().")


def _setup(lab: Lab) -> None:
    _restore_manifest()
    in_node(f"[ -f {APISERVER_BEFORE} ] || cp -p {APISERVER_MANIFEST} {APISERVER_BEFORE}")
    build_push(lab, f"{settings_module.load().private_registry}/payroll:3.1", "3.1",
               labels={"io.ckalab.lab19.build": uuid.uuid4().hex})
    delete_namespaces(NS_OWNER, NS_TENANT)      # no container may keep the old image in use
    crictl("rmi", normalized(image_of()))
    _preload()
    apply_manifest(lab, "namespaces.yaml")
    create_pull_secret(NS_OWNER)
    apply_manifest(lab, "deployments.yaml")
    rollout_status(NS_OWNER, DEP_OWNER)
    rollout_status(NS_TENANT, DEP_TENANT)


def _enable(plugins: str) -> None:
    edit_apiserver_manifest(f"sed -i 's/- {PLUGINS_FLAG}=.*/- {PLUGINS_FLAG}={plugins}/' {APISERVER_MANIFEST}")


def _recreate_pods() -> None:
    kubectl("rollout", "restart", f"deployment/{DEP_OWNER}", "-n", NS_OWNER)
    kubectl("delete", "pods", "--all", "-n", NS_TENANT, "--wait=false")


def _solve(lab: Lab) -> None:
    edit_apiserver_manifest(f"sed -i '{ENABLE_SED}' {APISERVER_MANIFEST}", at_once=False)   # as a learner does
    _recreate_pods()
    rollout_status(NS_OWNER, DEP_OWNER)
    wait_until_passes(lab, 90)


def _teardown(lab: Lab) -> None:
    # The namespaces first, while kube-controller-manager (whose namespace controller deletes them)
    # still runs: an API server restart stops it until it wins its leader lease again.
    delete_namespaces(NS_OWNER, NS_TENANT)
    crictl("rmi", normalized(image_of()))
    _restore_manifest()
    in_node(f"rm -f {APISERVER_BEFORE}")


def _wrong_policy_in_deployments(lab: Lab) -> None:
    for ns, dep in ((NS_OWNER, DEP_OWNER), (NS_TENANT, DEP_TENANT)):
        kubectl("patch", f"deployment/{dep}", "-n", ns, "--type=json", "-p",
                '[{"op": "replace", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Always"}]')


def _wrong_old_pods_kept(lab: Lab) -> None:
    _enable(f"{KEEP},{PLUGIN}")


def _wrong_replaces_node_restriction(lab: Lab) -> None:
    _enable(PLUGIN)
    _recreate_pods()


register(Lab(
    id=LAB_ID, title="Enable AlwaysPullImages in the API server's manifest", level="cluster",
    checks=CHECKS, first_failure=f"{PLUGIN} enabled",
    hints=[
        "The API server is a static Pod: the kubelet runs it from a file in the node, "
        f"{APISERVER_MANIFEST}, and recreates it whenever that file changes. `docker exec "
        f"{{node}} grep admission {APISERVER_MANIFEST}` shows which plugins it enables now.",
        f"Add {PLUGIN} to the list after a comma (the flag holds the whole list). Keep a copy of the file "
        "outside /etc/kubernetes/manifests: the kubelet reads every file there as a static Pod. While the API server "
        "restarts, kubectl fails for a minute; `kubectl get --raw /readyz` answers ok when it is back.",
        f"docker exec {{node}} sed -i 's/{PLUGINS_FLAG}=NodeRestriction$/"
        f"{PLUGINS_FLAG}=NodeRestriction,{PLUGIN}/' {APISERVER_MANIFEST}, wait for /readyz, then "
        "kubectl rollout restart deployment/payroll -n lab19-payroll and kubectl delete pods --all -n lab19-tenant.",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("sets imagePullPolicy: Always in the Deployments", _wrong_policy_in_deployments,
                     fails=f"{PLUGIN} enabled"),
        WrongAttempt("enables the plugin but keeps the old Pods", _wrong_old_pods_kept, fails="Pods admitted again"),
        WrongAttempt(f"replaces {KEEP} with {PLUGIN}", _wrong_replaces_node_restriction, fails=f"{KEEP} kept",
                     needs_reset=False),
    ],
    check_note=CHECK_NOTE,
    disrupts="control-plane",
))
