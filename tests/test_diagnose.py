"""ckalab.diagnose against Pods and Events recorded from the course cluster.

Fixtures (tests/fixtures/pods/STEM.pod.json + STEM.events.json) are not written by hand: they
are what `kubectl get pod POD -o json` and `kubectl get events --field-selector
involvedObject.name=POD -o json` printed (a `List` of Events) on the course's kind cluster,
kind v0.33.0 with Kubernetes v1.37.0 and containerd 2.3.4, in namespace fixtures-record.
`make record-fixtures` (scripts/record_pod_fixtures.py) re-records them all: it builds and pushes
the images it needs under fixtures/ in the course registries, creates one Pod per scenario,
waits for the waiting reason tested here, and deletes its namespace again. Re-record after
changing a scenario or the pinned versions, and update the versions above.

What the recordings show (and the code reads):

* ErrImagePull's waiting message is the runtime's error; ImagePullBackOff's is
  'Back-off pulling image "IMG": ErrImagePull: <that error>' (kubelet v1.32 on), so the cause
  survives when the Events have expired (backoff-no-events: a real, empty Event List). The
  BackOff event keeps the short 'Back-off pulling image "IMG"'.
* containerd 2.3 keeps the gRPC prefix 'rpc error: code = NotFound desc = ' only for NotFound
  (tag-not-found, platform-missing); unauthorized and registry-unreachable errors start with
  'failed to pull and unpack image'. An unresolvable registry host fails at the node's own
  resolver ('lookup registry.invalid on 172.18.0.1:53: no such host'), not the cluster DNS.
* missing-secret: a Pod that lists pull Secret `regcred`, which its namespace lacks, gets the
  Pod-level warning FailedToRetrieveImagePullSecret next to the pull error (the kubelet pulled
  without credentials, and the private registry refused).
* CreateContainerConfigError texts come from the kubelet's verifyRunAsNonRoot, with the Pod as
  name_namespace(uid); an image with `USER 0` (or no USER) "will run as root", `USER nobody`
  (or `USER root`: a name) "has non-numeric user".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ckalab import diagnose as dg
from ckalab.errors import CourseError

FIXTURES = Path(__file__).parent / "fixtures" / "pods"


def load(stem: str) -> tuple[dict, dict]:
    pod = json.loads((FIXTURES / f"{stem}.pod.json").read_text())
    events = json.loads((FIXTURES / f"{stem}.events.json").read_text())
    return pod, events


@pytest.mark.parametrize("stem, reason, cause", [
    ("tag-not-found", "ImagePullBackOff", "tag-not-found"),
    ("unauthorized", "ErrImagePull", "unauthorized"),
    ("registry-unreachable", "ImagePullBackOff", "registry-unreachable"),
    ("never-pull", "ErrImageNeverPull", "never-pull"),
    ("invalid-name", "InvalidImageName", "invalid-name"),
    ("nonroot-root", "CreateContainerConfigError", "non-root"),
    ("nonroot-named", "CreateContainerConfigError", "non-root"),
    ("platform-missing", "ErrImagePull", "platform-missing"),
    ("backoff-no-events", "ImagePullBackOff", "tag-not-found"),
    ("missing-secret", "ErrImagePull", "unauthorized"),
])
def test_failing_pods_get_the_right_cause(stem, reason, cause):
    pod, events = load(stem)
    d = dg.explain_pod(pod, events)
    assert (d.reason, d.cause) == (reason, cause)
    assert not d.ok and d.image_problem
    assert d.image == pod["spec"]["containers"][0]["image"]
    assert d.container == "app"


def test_a_missing_pull_secret_is_named_from_the_kubelets_warning():
    pod, events = load("missing-secret")
    d = dg.explain_pod(pod, events)
    assert d.missing_pull_secrets == ["regcred"]
    assert "FailedToRetrieveImagePullSecret" in str(d) and "-n fixtures-record" in d.fix
    # The same Pod without that warning (it came, or it expired): the general advice.
    others = {**events, "items": [e for e in events["items"] if e["reason"] != "FailedToRetrieveImagePullSecret"]}
    d = dg.explain_pod(pod, others)
    assert d.cause == "unauthorized" and d.missing_pull_secrets == []
    assert "list it under imagePullSecrets" in d.fix


def test_running_pod_is_ok():
    pod, events = load("running")
    d = dg.explain_pod(pod, events)
    assert d.ok and not d.image_problem
    assert (d.reason, d.cause) == ("Running", "running")
    assert "nothing to fix" in str(d)


def short_back_off(pod: dict) -> dict:
    """The Pod as a kubelet before v1.32 reports it: 'Back-off pulling image "IMG"', no error."""
    pod = copy.deepcopy(pod)
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    waiting["message"] = waiting["message"].split(": ErrImagePull: ")[0]
    return pod


def test_back_off_status_message_carries_the_pull_error():
    pod, events = load("tag-not-found")
    message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert message.startswith('Back-off pulling image "localhost:5001/fixtures/app:nope": ErrImagePull: ')
    d = dg.explain_pod(pod, events)
    assert (d.cause, d.evidence) == ("tag-not-found", message)
    assert dg.explain_pod(pod).cause == "tag-not-found"      # also once the events have expired
    assert str(d).splitlines()[3].endswith("localhost:5001/fixtures/app:nope: not found")


def test_a_short_back_off_message_leaves_the_failed_event():
    pod, events = load("tag-not-found")
    old = short_back_off(pod)
    d = dg.explain_pod(old, events)
    assert d.cause == "tag-not-found"
    assert d.evidence.startswith('Failed to pull image "localhost:5001/fixtures/app:nope": ')
    # Without the events only the status is left, which then names no cause.
    assert dg.explain_pod(old).cause == "pull-failed"
    pod, expired = load("backoff-no-events")
    assert expired["kind"] == "List" and expired["items"] == []
    assert dg.explain_pod(short_back_off(pod), expired).cause == "pull-failed"


def test_unauthorized_is_read_from_the_status_message_even_without_events():
    pod, _ = load("unauthorized")
    d = dg.explain_pod(pod, None)
    assert d.cause == "unauthorized"
    assert "no basic auth credentials" in d.evidence
    assert "imagePullSecrets" in d.fix and "fixtures-record" in d.fix


def test_deployment_pods_point_the_fix_at_the_deployment():
    pod, events = load("tag-not-found")
    d = dg.explain_pod(pod, events)
    assert d.controller == "deployment/web"
    assert "kubectl set image deployment/web app=IMAGE:TAG" in d.fix
    assert "owner:    deployment/web" in str(d)


def test_bare_pods_have_no_controller():
    pod, events = load("never-pull")
    d = dg.explain_pod(pod, events)
    assert d.controller is None
    assert "pod/never-pull" in d.fix


def test_non_root_evidence_keeps_the_kubelet_words():
    root = dg.explain_pod(*load("nonroot-root"))
    named = dg.explain_pod(*load("nonroot-named"))
    assert "image will run as root" in root.evidence
    assert "non-numeric user (nobody)" in named.evidence
    assert "USER 10001" in root.fix


def test_events_of_other_pods_are_ignored():
    pod, _ = load("tag-not-found")
    _, other_events = load("registry-unreachable")   # another Pod's Failed event
    d = dg.explain_pod(short_back_off(pod), other_events)
    assert d.cause == "pull-failed"
    assert d.events == []


def test_events_may_be_a_plain_list_or_json_text():
    pod, events = load("registry-unreachable")
    assert dg.explain_pod(pod, events["items"]).cause == "registry-unreachable"
    assert dg.explain_pod(json.dumps(pod), json.dumps(events)).cause == "registry-unreachable"


def test_runtime_reasons_from_the_cri_map_directly():
    # Texts follow evalCRIPullErr in image_manager.go for runtimes that return these errors.
    pod, _ = load("tag-not-found")
    for reason, text, cause in [
        ("RegistryUnavailable", "image pull failed for X because the registry is unavailable: down", "registry-unreachable"),
        ("SignatureValidationFailed", "image pull failed for X because the signature validation failed: policy", "signature"),
        ("ImageInspectError", 'Failed to inspect image "": rpc error: code = Unknown desc = boom', "inspect-error"),
    ]:
        changed = copy.deepcopy(pod)
        changed["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": text}}
        assert dg.explain_pod(changed).cause == cause, reason


def test_create_container_config_error_that_is_not_about_users_is_not_an_image_problem():
    pod, _ = load("nonroot-root")
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = \
        'secret "db-password" not found'
    d = dg.explain_pod(pod)
    assert d.cause == "other" and not d.image_problem


@pytest.mark.parametrize("text, cause", [
    ("dial tcp 10.0.0.5:443: connect: connection refused", "registry-unreachable"),
    ('http: server gave HTTP response to HTTPS client', "registry-unreachable"),
    ("unexpected status from HEAD request to http://r/v2/a/manifests/1: 401 Unauthorized", "unauthorized"),
    ("manifest unknown: manifest unknown", "tag-not-found"),
    ("something nobody has seen before", None),
])
def test_classify_text(text, cause):
    assert dg.classify_text(text) == cause


def test_a_deployment_is_refused_with_a_course_error():
    with pytest.raises(CourseError) as excinfo:
        dg.explain_pod({"kind": "Deployment", "metadata": {"name": "web"}})
    assert "kubectl get pod NAME -o json" in str(excinfo.value)


def test_a_pod_with_one_bad_container_of_two_reports_the_bad_one():
    good, _ = load("running")
    bad, bad_events = load("tag-not-found")
    pod = copy.deepcopy(good)
    side = copy.deepcopy(bad["spec"]["containers"][0]) | {"name": "side"}
    pod["spec"]["containers"].append(side)
    status = copy.deepcopy(bad["status"]["containerStatuses"][0]) | {"name": "side"}
    pod["status"]["containerStatuses"].append(status)
    d = dg.explain_pod(pod, [])
    assert (d.container, d.reason) == ("side", "ImagePullBackOff")
    assert [x.container for x in dg.explain_containers(pod)] == ["app", "side"]


def test_first_pod_waits_for_the_controllers_to_make_one(monkeypatch):
    from ckalab import cluster, shell
    answers = [shell.Result("kubectl", 0, ""), shell.Result("kubectl", 0, ""), shell.Result("kubectl", 0, "web-1 web-2")]
    monkeypatch.setattr(cluster, "kubectl_result", lambda *args, **kwargs: answers.pop(0))
    monkeypatch.setattr(dg.time, "sleep", lambda s: None)
    assert dg.first_pod("app=web", "nb08") == "web-2" and answers == []


def test_first_pod_that_never_comes_is_one_paragraph(monkeypatch):
    from ckalab import cluster, shell
    monkeypatch.setattr(cluster, "kubectl_result", lambda *args, **kwargs: shell.Result("kubectl", 0, ""))
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(dg.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(dg.time, "sleep", lambda s: None)
    with pytest.raises(CourseError) as excinfo:
        dg.first_pod("app=web", "nb08")
    assert "after 30 s" in excinfo.value.message and "--show-labels" in str(excinfo.value)
