"""The cluster labs' Checks, proven non-vacuous against API objects served over real HTTP.

Each cluster lab keeps its states beside it, in labs/NN-name/states.py: the objects a v1.37 API
server returns for each state (built with tests/api_objects.py), served by the fake API server
and registries of tests/fake_cluster.py. The labs come from the registry (`level == "cluster"`),
so a new cluster lab is tested here as soon as its folder has a states.py.

For every lab: the broken starting state fails on the lab's `first_failure`, every known-wrong
state fails on its sub-check, and the solved state passes. This proves the checker logic on
API-shaped objects; it does NOT prove that setup(), the wrong attempts and solve() do the same
on a cluster. That is test_lab_cycles.py: the whole cycle, every known-wrong attempt included,
on the kind cluster. It fails, rather than skips, when CKALAB_REQUIRE=cluster.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import fake_cluster
import pytest
import yaml
from api_objects import KIND_IMAGES, OPEN, backoff, never, no_credentials, node, not_found
from cycles import exam_task, ready
from fake_cluster import api_client_for, states_of
from kubernetes import client as k8s

from ckalab import cluster_actions, cluster_checks, labs, multiplatform
from ckalab.errors import CourseError
from ckalab.registry import RegistryAPI

CLUSTER_LABS = [lab.id for lab in fake_cluster.cluster_labs()]


def objects(lab_id: str, state: str) -> list[dict]:
    """The objects of one of the lab's states."""
    return states_of(lab_id).STATES[state][0]()


# ---------------------------------------------------------------- the fake API server and registries

@pytest.fixture(scope="module")
def apiserver():
    server = fake_cluster.start_apiserver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def fake_registry():
    server = fake_cluster.start_fake_registry()
    yield server
    server.close()


@pytest.fixture
def serve(apiserver, fake_registry, isolated_state, monkeypatch):
    """serve(objects) -> check(lab_id): the lab's CheckResult, reading those objects over HTTP."""
    monkeypatch.setattr(labs, "unavailable", lambda level: None)   # the level probe needs a real cluster
    api = api_client_for(apiserver.url)

    def load(objects: list[dict]):
        facts = fake_cluster.serve(apiserver, objects)

        def check(lab_id: str):
            stand_ins = getattr(states_of(lab_id), "stand_ins", None)
            for name, fake in (stand_ins(facts) if stand_ins else {}).items():
                monkeypatch.setattr(labs.module(lab_id), name, fake)
            with cluster_checks.using(api_client=api, registry=RegistryAPI(fake_registry.url.split("//")[1]),
                                      private_registry_url=fake_registry.url):
                return labs.get(lab_id).check(record=False)
        return check
    return load


# ---------------------------------------------------------------- every lab's states

def _cases():
    for lab_id in CLUSTER_LABS:
        try:
            states = states_of(lab_id).STATES
        except fake_cluster.MissingStates:
            yield pytest.param(lab_id, None, id=f"{lab_id.split('-')[0]}-no-states")    # fails, naming the file
            continue
        for state in states:
            yield pytest.param(lab_id, state, id=f"{lab_id.split('-')[0]}-{state}")


@pytest.mark.parametrize("lab_id,state", list(_cases()))
def test_check_against_api_objects(serve, lab_id, state):
    factory, before, fails = states_of(lab_id).STATES[state]
    check = serve(factory())
    if before:
        before()
    result = check(lab_id)
    names = [s.name for s in result.subchecks]
    assert names == labs.get(lab_id).checks, f"sub-checks out of order or missing:\n{result}"
    assert "checker" not in names, str(result)
    if fails is None:
        assert result.passed, str(result)
    else:
        assert not result.get(fails).passed, f"expected '{fails}' to fail:\n{result}"
        assert not result.passed


@pytest.mark.parametrize("lab_id", CLUSTER_LABS)
def test_every_declared_wrong_attempt_has_a_failing_state(lab_id):
    """Each WrongAttempt of the lab is modelled in its states.py, failing on the sub-check it declares."""
    lab = labs.get(lab_id)
    states = states_of(lab_id).STATES
    assert states["broken"][2] == lab.first_failure
    for attempt in lab.wrong_attempts:
        assert attempt.name in states, f"no API state for wrong attempt '{attempt.name}'"
        assert states[attempt.name][2] == attempt.fails
    assert any(fails is None for _, _, fails in states.values())


def test_a_cluster_lab_without_states_fails_naming_the_file_to_add(isolated_state, monkeypatch):
    lab = labs.Lab(id="lab21-foo", title="Foo", level="cluster", checks=["x"], first_failure="x",
                   hints=["1", "2", "3"], setup_fn=lambda lab: None, check_fn=lambda lab, r: None,
                   solve_fn=lambda lab: None, teardown_fn=lambda lab: None,
                   _folder=labs.labs_root() / "21-foo")
    monkeypatch.setitem(labs._REGISTRY, lab.id, lab)
    with pytest.raises(fake_cluster.MissingStates) as missing:
        states_of(lab.id)
    assert str(missing.value) == ("lab21-foo has no labs/21-foo/states.py: add one with STATES = {...} "
                                  "(see labs/09-wrong-tag/states.py)")
    assert "lab21-foo" in [lab.id for lab in fake_cluster.cluster_labs()]


def test_wrong_attempt_reasons_name_the_mistake(serve):
    check = serve(objects("lab10-missing-pull-secret", "Secret for localhost:5002 (where you push)"))
    reason = check("lab10-missing-pull-secret").get("server matches the image host").reason
    assert "localhost:5002" in reason and "host written in the image name" in reason
    check = serve(objects("lab11-secret-wrong-namespace", "broken"))
    reason = check("lab11-secret-wrong-namespace").get("secret in the pods' namespace").reason
    assert "lab11-platform" in reason and "own namespace" in reason
    check = serve(objects("lab12-serviceaccount-pull-secret", "patches the ServiceAccount but keeps the old Pods"))
    assert "rollout restart" in check("lab12-serviceaccount-pull-secret").get("new pods carry the secret").reason
    check = serve(objects("lab08-rollback-bad-update", "deletes and recreates the Deployment"))
    assert "rollout undo" in check("lab08-rollback-bad-update").get("rollback recorded").reason
    # A container waiting with an empty message gets no empty "()" after its reason.
    bad = states_of("lab09-wrong-tag").BAD
    new_pod_only = [o for o in objects("lab09-wrong-tag", "fixed, new Pod still creating")
                    if not (o.get("kind") == "Pod" and bad in str(o))]
    reason = serve(new_pod_only)("lab09-wrong-tag").get("no waiting reason").reason
    assert reason.endswith("waits with ContainerCreating"), reason


# A lab that disrupts the node or the control plane starts from the kubelet or the API server's
# own Pod, which every cluster has: it has no objects to miss.
@pytest.mark.parametrize("lab_id", [lab.id for lab in fake_cluster.cluster_labs() if not lab.disrupts])
def test_empty_cluster_is_one_failed_subcheck_not_an_error(serve, lab_id):
    check = serve([node(KIND_IMAGES)])
    for other in CLUSTER_LABS:          # labs whose first check is a learner's file
        answered = getattr(states_of(other), "ANSWER_FILES", None)
        if answered:
            answered()
    result = check(lab_id)
    assert not result.passed
    assert "checker" not in [s.name for s in result.subchecks], str(result)
    first_failed = result.failed()[0]
    assert "lab.reset()" in first_failed.reason




def test_unreachable_cluster_fails_fast_with_one_line(isolated_state, monkeypatch):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    dead = api_client_for("http://127.0.0.1:9")       # nothing listens on the discard port
    started = time.monotonic()
    with cluster_checks.using(api_client=dead):
        result = labs.get("lab09-wrong-tag").check(record=False)
    assert time.monotonic() - started < 15    # no retries, no long timeout: it answers at once
    assert result.subchecks[0].name == "checker" and "did not answer" in result.subchecks[0].reason
    assert "\n" not in result.subchecks[0].reason


def test_wrong_context_is_refused_before_any_read(isolated_state, monkeypatch):
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    isolated_state.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    isolated_state.kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: prod-eu\n"
                                         "contexts: [{name: prod-eu, context: {cluster: prod}}]\n")
    result = labs.get("lab07-update-image-record-cause").check(record=False)
    assert result.subchecks[0].name == "checker"
    assert "prod-eu" in result.subchecks[0].reason and "kind-cka-images" in result.subchecks[0].reason


def test_lists_are_shaped_like_the_api_server(apiserver, serve):
    serve(objects("lab09-wrong-tag", "broken"))
    api = api_client_for(apiserver.url)
    ns = states_of("lab09-wrong-tag").NS
    raw = k8s.AppsV1Api(api).list_namespaced_deployment(ns, _preload_content=False)
    body = json.loads(raw.data)
    assert body["kind"] == "DeploymentList" and body["apiVersion"] == "apps/v1"
    assert "kind" not in body["items"][0] and body["items"][0]["metadata"]["resourceVersion"]
    pods = k8s.CoreV1Api(api).list_namespaced_pod(ns, label_selector="app=nope")
    assert pods.items == []
    with pytest.raises(k8s.ApiException) as exc:
        k8s.AppsV1Api(api).read_namespaced_deployment("nope", ns)
    assert exc.value.status == 404 and json.loads(exc.value.body)["message"] == 'deployments.apps "nope" not found'


def test_classify_pull_errors():
    mod14 = labs.module("lab14-crictl-find-failing-image")
    agent, bad = states_of("lab14-crictl-find-failing-image").AGENT, states_of("lab09-wrong-tag").BAD
    assert mod14.classify(no_credentials(agent)) == "unauthorized"
    assert mod14.classify(backoff(bad, not_found(bad))) == "not-found"
    assert mod14.classify(never(states_of("lab13-errimageneverpull-side-load").IMAGE)) == "never-pull"
    assert mod14.classify('failed to do request: Head "http://nowhere:5000/v2/x/manifests/1": dial tcp: '
                      'lookup nowhere on 172.18.0.1:53: no such host') == "unreachable"
    assert mod14.classify('Back-off pulling image "x"') == "unknown"


@pytest.mark.parametrize("stem, reason", [("tag-not-found", "not-found"), ("unauthorized", "unauthorized"),
                                          ("registry-unreachable", "unreachable"), ("never-pull", "never-pull"),
                                          ("platform-missing", "not-found")])
def test_classify_the_recorded_messages(stem, reason):
    mod14 = labs.module("lab14-crictl-find-failing-image")
    fixtures = Path(__file__).parent / "fixtures" / "pods"
    pod = json.loads((fixtures / f"{stem}.pod.json").read_text())
    events = json.loads((fixtures / f"{stem}.events.json").read_text())["items"]
    assert mod14.classify(pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]) == reason
    failed = [e["message"] for e in events if e["reason"] in ("Failed", "ErrImageNeverPull")
              and not e["message"].startswith("Error: ")]
    assert failed and all(mod14.classify(text) == reason for text in failed)


def test_change_cause_must_name_the_tag_itself():
    mod07 = labs.module("lab07-update-image-record-cause")
    assert mod07.mentions_tag("web image updated to localhost:5001/checkout-web:1.1", "1.1")
    assert mod07.mentions_tag("update to 1.1.", "1.1")
    assert not mod07.mentions_tag("bump to 1.10", "1.1")
    assert not mod07.mentions_tag("rollback from 1.1.3", "1.1")


def test_registry_host_matching_is_the_kubelets():
    assert cluster_checks.registry_host_of("private-registry:5000") == "private-registry:5000"
    assert cluster_checks.registry_host_of("http://private-registry:5000/") == "private-registry:5000"
    assert cluster_checks.registry_host_of("https://index.docker.io/v1/") == "index.docker.io"


def test_lab_manifests_validate():
    from ckalab import validate
    for lab in fake_cluster.cluster_labs():
        if lab.disrupts == "node":      # a node lab edits the node, not manifests
            continue
        folder = lab.files
        files = sorted(folder.glob("*.yaml"))
        assert files, f"{folder} has no manifests"
        for path in files:
            assert validate.manifests(path) == [], path
        assert (folder / "Dockerfile").exists()
        assert validate.dockerfile(folder / "Dockerfile") == []


# ---------------------------------------------------------------- variants, and a real cluster

def test_a_variant_renames_the_manifest_and_the_default_keeps_it():
    task = exam_task("rollout")
    lab, n = task.lab, task.names
    original = cluster_actions.manifest_text(labs.get(lab.id), "deployment.yaml")
    assert "lab07-storefront" in original and original.startswith("# Starting state")
    docs = list(yaml.safe_load_all(cluster_actions.manifest_text(lab, "deployment.yaml")))
    assert [d["metadata"]["name"] for d in docs] == [n["ns"], n["deploy"]]
    dep = docs[1]
    assert dep["metadata"]["namespace"] == n["ns"]
    assert dep["spec"]["selector"]["matchLabels"] == {"app": n["deploy"]}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": n["deploy"]}
    containers = {c["name"]: c["image"] for c in dep["spec"]["template"]["spec"]["containers"]}
    assert containers == {n["container"]: f"{cluster_checks.open_host()}/{n['repo']}:{n['tag']}",
                          "log-forwarder": f"{cluster_checks.open_host()}/log-forwarder:2.3"}
    pull = exam_task("image-pull-error")
    image = yaml.safe_load_all(cluster_actions.manifest_text(pull.lab, "deployment.yaml"))
    assert [d["spec"]["template"]["spec"]["containers"][0]["image"] for d in image if d["kind"] == "Deployment"] == \
        [f"{cluster_checks.open_host()}/{pull.names['repo']}:{pull.names['bad_tag']}"]
    shipped = exam_task("image-archive")           # an image with no registry host in its name
    docs = list(yaml.safe_load_all(cluster_actions.manifest_text(shipped.lab, "deployment.yaml")))
    spec = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert (spec["name"], spec["image"], spec["imagePullPolicy"]) == \
        (shipped.names["container"], f"{shipped.names['repo']}:{shipped.names['tag']}", "IfNotPresent")


def test_waiting_for_a_namespace_survives_a_slow_api_server(monkeypatch):
    """A read timeout (the API server busy with four lab cycles) is retried; a 403 is not."""
    import urllib3
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    answers = [urllib3.exceptions.ReadTimeoutError(None, "/api/v1/namespaces/x", "Read timed out."),
               client.V1Namespace(metadata=client.V1ObjectMeta(name="x"))]

    def read_namespace(self, name, **kwargs):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    monkeypatch.setattr(client.CoreV1Api, "read_namespace", read_namespace)
    monkeypatch.setattr(cluster_actions, "api_client", lambda: None)
    monkeypatch.setattr(cluster_actions.time, "sleep", lambda s: None)
    cluster_actions.wait_until_namespace_is_not_terminating("x", timeout=30)
    assert answers == []
    answers[:] = [ApiException(status=403, reason="Forbidden")]
    with pytest.raises(CourseError, match="Forbidden"):
        cluster_actions.wait_until_namespace_is_not_terminating("x", timeout=30)


def test_lab19_reads_the_admission_flag_in_both_spellings():
    plugins = labs.module("lab19-always-pull-images").admission_plugins
    assert plugins(["kube-apiserver", "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"]) == \
        ["NodeRestriction", "AlwaysPullImages"]
    assert plugins(["kube-apiserver", "--enable-admission-plugins", "NodeRestriction"]) == ["NodeRestriction"]
    assert plugins(["kube-apiserver", "--disable-admission-plugins=AlwaysPullImages"]) is None


def test_lab19_api_server_down_is_its_first_subcheck_with_the_node_commands(isolated_state, monkeypatch):
    """While the API server restarts (or after a typo stops it), the Check says so and where to look."""
    monkeypatch.setattr(labs, "unavailable", lambda level: None)
    with cluster_checks.using(api_client=api_client_for("http://127.0.0.1:9")):
        result = labs.get("lab19-always-pull-images").check(record=False)
    assert [s.name for s in result.subchecks] == labs.get("lab19-always-pull-images").checks, str(result)
    first = result.subchecks[0]
    assert first.name == "API server answers" and not first.passed
    assert "crictl ps -a --name kube-apiserver" in first.reason and "did not answer" in first.reason


def test_lab20_starts_with_a_real_exec_format_error(real_cluster, tmp_path):
    """Lab 20's starting state on the kind node: the single image for the other platform is pulled,
    its container starts, the kernel refuses its program, and the Check quotes that from the log.
    Only a node that emulates the other platform runs it instead (Docker Desktop does); where the
    run may change binfmt_misc (CI), nothing may be left registered, so it must crash here."""
    lab = labs.get("lab20-wrong-platform").variant(
        {"ns": "lab20-proof", "repo": "lab20-proof/metrics-agent"}, work_dir=tmp_path / "lab20")
    try:
        ready(lab)
        mod20 = labs.module("lab20-wrong-platform")
        native = mod20.node_platform(cluster_checks.Kube(budget=10))
        emulated = multiplatform.emulation().runs(mod20.other_platform(native))
        if os.environ.get("CKALAB_ALLOW_EMULATION") == "1":
            assert not emulated, "the node runs the other platform: an emulator was left in binfmt_misc"
        deadline = time.monotonic() + 90       # between restarts the container is briefly not waiting
        while True:
            result = lab.check(record=False)
            pods = result.get("pods ready")
            if pods.passed or "CrashLoopBackOff" in pods.reason or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert result.get("image serves the node's platform").reason.startswith(
            f"{OPEN}/lab20-proof/metrics-agent:3.2 is a single image for {mod20.other_platform(native)}")
        if emulated:
            assert pods.passed, str(result)
        else:
            assert not pods.passed and "CrashLoopBackOff" in pods.reason and "exec format error" in pods.reason, \
                str(result)
    finally:
        lab.teardown()


def test_a_new_cluster_lab_is_proven_from_its_folder_alone(serve, isolated_state, monkeypatch):
    """CONTRIBUTING's "Add a lab": a cluster lab's folder (lab.py, states.py, files/) is all the
    tests need. Lab 09's folder, copied as lab 21 into another course, is found, its states are
    checked, and its cycle is scheduled, with no file in tests/ naming it."""
    import shutil
    import sys

    import cycles
    source = labs.get("lab09-wrong-tag").folder
    folder = isolated_state.root / "labs" / "21-wrong-tag-again"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    lab_py = folder / "lab.py"
    lab_py.write_text(lab_py.read_text().replace('"lab09-wrong-tag"', '"lab21-wrong-tag-again"'))
    monkeypatch.setattr(labs, "labs_root", lambda: isolated_state.root / "labs")
    monkeypatch.setattr(labs, "_REGISTRY", {})
    monkeypatch.setattr(labs, "_loaded", False)
    for name in (labs.module_name(folder), "ckalab_states_21"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert [lab.id for lab in fake_cluster.cluster_labs()] == ["lab21-wrong-tag-again"]
    states = states_of("lab21-wrong-tag-again").STATES
    assert len(states) >= 3
    for state, (factory, before, fails) in states.items():
        check = serve(factory())
        if before:
            before()
        result = check("lab21-wrong-tag-again")
        assert (result.passed, None if fails is None else result.get(fails).passed) == \
            ((True, None) if fails is None else (False, False)), f"{state}:\n{result}"
    assert cycles.cycle_order({"lab21-wrong-tag-again"}) == (["lab21-wrong-tag-again"], [])
    monkeypatch.delitem(sys.modules, "ckalab_states_21", raising=False)
