"""ckalab.diagnose against Pods and events shaped like the API server's output.

Fixtures (tests/fixtures/pods/NAME.pod.json + NAME.events.json) follow core/v1 Pod and Event
as `kubectl get pod NAME -o json` and `kubectl get events --field-selector
involvedObject.name=NAME -o json` print them (a `List` of Events). Where each message
format comes from:

* kubelet, pkg/kubelet/images/image_manager.go: event reasons Pulling/Failed/BackOff/
  ErrImageNeverPull/InspectFailed (pkg/kubelet/events/event.go) and the texts
  'Pulling image %q', 'Failed to pull image %q: %v', 'Back-off pulling image %q',
  'Container image %q is not present with pull policy of Never',
  'Failed to apply default image tag %q: %v'; the waiting message of ErrImagePull is the
  runtime's error text itself (evalCRIPullErr falls back to err.Error()).
* kubelet, pkg/kubelet/kuberuntime/kuberuntime_container.go: the second Failed event
  'Error: <reason or message>' for every failure of startContainer.
* kubelet, pkg/util/parsers: "couldn't parse image name %q: %v"; the tail is the
  distribution/reference error for an uppercase repository.
* kubelet, pkg/kubelet/kuberuntime/security_context_others.go (verifyRunAsNonRoot):
  'container has runAsNonRoot and image will run as root (pod: %q, container: %s)' and
  '... image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)',
  with the Pod formatted as name_namespace(uid) (pkg/kubelet/util/format).
* containerd (core/remotes/docker/resolver.go, authorizer.go; the CRI pull path):
  'failed to pull and unpack image %q: failed to resolve reference %q: REF: not found',
  'pull access denied, repository does not exist or may require authorization:
  authorization failed: no basic auth credentials' (Basic-auth registry, no credentials),
  'failed to do request: Head "...": dial tcp: lookup HOST ...: no such host',
  'no match for platform in manifest: not found'; gRPC wraps them as
  'rpc error: code = NotFound|Unknown desc = ...'.
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
    ("backoff-no-events", "ImagePullBackOff", "pull-failed"),
])
def test_failing_pods_get_the_right_cause(stem, reason, cause):
    pod, events = load(stem)
    d = dg.diagnose(pod, events)
    assert (d.reason, d.cause) == (reason, cause)
    assert not d.ok and d.image_problem
    assert d.image == pod["spec"]["containers"][0]["image"]
    assert d.container == "app"


def test_running_pod_is_ok():
    pod, events = load("running")
    d = dg.diagnose(pod, events)
    assert d.ok and not d.image_problem
    assert (d.reason, d.cause) == ("Running", "running")
    assert "nothing to fix" in str(d)


def test_back_off_cause_is_read_from_the_failed_event_not_the_status():
    pod, events = load("tag-not-found")
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"].startswith("Back-off")
    d = dg.diagnose(pod, events)
    assert d.evidence.startswith('Failed to pull image "localhost:5001/nb08-app:nope"')
    # Without the events only the status is left, which names no cause.
    assert dg.diagnose(pod).cause == "pull-failed"


def test_unauthorized_is_read_from_the_status_message_even_without_events():
    pod, _ = load("unauthorized")
    d = dg.diagnose(pod, None)
    assert d.cause == "unauthorized"
    assert "no basic auth credentials" in d.evidence
    assert "imagePullSecrets" in d.fix and "nb08" in d.fix


def test_deployment_pods_point_the_fix_at_the_deployment():
    pod, events = load("tag-not-found")
    d = dg.diagnose(pod, events)
    assert d.controller == "deployment/web"
    assert "kubectl set image deployment/web app=IMAGE:TAG" in d.fix
    assert "owner:    deployment/web" in str(d)


def test_bare_pods_have_no_controller():
    pod, events = load("never-pull")
    d = dg.diagnose(pod, events)
    assert d.controller is None
    assert "pod/never-pull" in d.fix


def test_non_root_evidence_keeps_the_kubelet_words():
    root = dg.diagnose(*load("nonroot-root"))
    named = dg.diagnose(*load("nonroot-named"))
    assert "image will run as root" in root.evidence
    assert "non-numeric user (nobody)" in named.evidence
    assert "USER 10001" in root.fix


def test_events_of_other_pods_are_ignored():
    pod, _ = load("tag-not-found")
    _, other_events = load("registry-unreachable")   # another Pod's Failed event
    d = dg.diagnose(pod, other_events)
    assert d.cause == "pull-failed"
    assert d.events == []


def test_events_may_be_a_plain_list_or_json_text():
    pod, events = load("registry-unreachable")
    assert dg.diagnose(pod, events["items"]).cause == "registry-unreachable"
    assert dg.diagnose(json.dumps(pod), json.dumps(events)).cause == "registry-unreachable"


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
        assert dg.diagnose(changed).cause == cause, reason


def test_create_container_config_error_that_is_not_about_users_is_not_an_image_problem():
    pod, _ = load("nonroot-root")
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = \
        'secret "db-password" not found'
    d = dg.diagnose(pod)
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
        dg.diagnose({"kind": "Deployment", "metadata": {"name": "web"}})
    assert "kubectl get pod NAME -o json" in str(excinfo.value)


def test_a_pod_with_one_bad_container_of_two_reports_the_bad_one():
    good, _ = load("running")
    bad, bad_events = load("tag-not-found")
    pod = copy.deepcopy(good)
    side = copy.deepcopy(bad["spec"]["containers"][0]) | {"name": "side"}
    pod["spec"]["containers"].append(side)
    status = copy.deepcopy(bad["status"]["containerStatuses"][0]) | {"name": "side"}
    pod["status"]["containerStatuses"].append(status)
    d = dg.diagnose(pod, [])
    assert (d.container, d.reason) == ("side", "ImagePullBackOff")
    assert [x.container for x in dg.diagnose_all(pod)] == ["app", "side"]
