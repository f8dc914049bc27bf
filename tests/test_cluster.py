"""The kind cluster config and the context guard (no cluster is needed for these)."""

from __future__ import annotations

import pytest
import yaml

from ckalab import cluster, validate
from ckalab.errors import CourseError


def test_kind_config_enables_containerd_registry_config_dir(course_settings):
    config = yaml.safe_load(cluster.kind_config(course_settings))
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert 'config_path = "/etc/containerd/certs.d"' in config["containerdConfigPatches"][0]


def test_hosts_toml_maps_localhost_to_the_registry_container(course_settings):
    files = cluster.hosts_toml(course_settings)
    assert files["localhost:5001"] == '[host."http://kind-registry:5000"]\n'


def test_private_registry_is_reached_directly_not_as_a_mirror(course_settings):
    toml = cluster.hosts_toml(course_settings)["private-registry:5000"]
    # server is the same host as the image reference: credentials chosen for that host apply.
    assert 'server = "http://private-registry:5000"' in toml
    assert '[host."http://private-registry:5000"]' in toml


def test_local_registry_configmap_is_valid(course_settings):
    manifest = cluster.local_registry_configmap(course_settings)
    assert validate.manifests(manifest) == []
    data = yaml.safe_load(yaml.safe_load(manifest)["data"]["localRegistryHosting.v1"])
    assert data["host"] == "localhost:5001"


def _kubeconfig(cfg, current):
    cfg.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    cfg.kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in ("kind-cka-images", "prod")],
    }))


def test_guard_accepts_the_course_context(isolated_state):
    _kubeconfig(isolated_state, "kind-cka-images")
    cluster.guard(isolated_state)


@pytest.mark.parametrize("current", ["prod", None])
def test_guard_refuses_any_other_context(isolated_state, current):
    _kubeconfig(isolated_state, current)
    with pytest.raises(CourseError, match="refuses"):
        cluster.guard(isolated_state)


def test_guard_refuses_without_a_kubeconfig(isolated_state):
    with pytest.raises(CourseError, match="make cluster"):
        cluster.guard(isolated_state)


def test_kubectl_is_refused_before_anything_runs(isolated_state, monkeypatch):
    _kubeconfig(isolated_state, "prod")
    ran = []
    monkeypatch.setattr(cluster.shell, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(CourseError):
        cluster.kubectl("delete", "deployment", "web", cfg=isolated_state)
    assert ran == []


def test_node_image_is_pinned_by_digest(course_settings):
    name, _, digest = course_settings.node_image.partition("@sha256:")
    assert name == "kindest/node:v1.37.0" and len(digest) == 64
