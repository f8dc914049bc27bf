"""The kind cluster config and the context guard (no cluster is needed for these)."""

from __future__ import annotations

import pytest
import yaml

from ckalab import cluster, settings, shell, validate
from ckalab.errors import CourseError
from conftest import message_of


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
        cluster.kubectl_result("delete", "deployment", "web", cfg=isolated_state)
    assert ran == []


def test_node_image_is_pinned_by_digest():
    name, _, digest = settings.NODE_IMAGE.partition("@sha256:")
    assert name == "kindest/node:v1.37.0" and len(digest) == 64
    assert settings.Settings(root=settings.find_course_root()).node_image == settings.NODE_IMAGE


def test_node_image_comes_from_ckalab_node_image_when_set(monkeypatch):
    monkeypatch.setenv("CKALAB_NODE_IMAGE", "kindest/node:ci-local")
    assert settings.load().node_image == "kindest/node:ci-local"
    for empty in ("", "  "):
        monkeypatch.setenv("CKALAB_NODE_IMAGE", empty)
        assert settings.load().node_image == settings.NODE_IMAGE
    monkeypatch.delenv("CKALAB_NODE_IMAGE")
    assert settings.load().node_image == settings.NODE_IMAGE


# ---------------------------------------------------------------- CKALAB_KIND_CONFIG_EXTRA

EXTRA = """\
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
nodes:
- role: control-plane
"""


def _extra(monkeypatch, tmp_path, text, name="kind-extra.yaml"):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    monkeypatch.setenv("CKALAB_KIND_CONFIG_EXTRA", str(path))
    return settings.load()


def test_without_extra_config_the_kind_config_is_the_courses_own(monkeypatch):
    monkeypatch.delenv("CKALAB_KIND_CONFIG_EXTRA", raising=False)
    cfg = settings.load()
    assert cfg.kind_config_extra is None
    assert yaml.safe_load(cluster.kind_config(cfg)) == {
        "kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
        "containerdConfigPatches": [cluster.CONTAINERD_REGISTRY_PATCH]}


def test_extra_kind_config_lists_come_after_the_courses_entries(monkeypatch, tmp_path):
    cfg = _extra(monkeypatch, tmp_path, EXTRA)
    text = cluster.kind_config(cfg)
    config = yaml.safe_load(text)
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    patches = config["containerdConfigPatches"]
    assert len(patches) == 2 and 'config_path = "/etc/containerd/certs.d"' in patches[0]
    assert patches[1] == '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"'
    assert config["kubeadmConfigPatches"] == ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    assert config["nodes"] == [{"role": "control-plane"}]
    assert text.startswith("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    assert "- |-\n  [plugins" in text  # patches stay readable blocks, as kind's docs write them


def test_extra_kind_config_may_repeat_the_header(monkeypatch, tmp_path):
    cfg = _extra(monkeypatch, tmp_path, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
                                        "networking:\n  ipFamily: ipv4\n")
    config = yaml.safe_load(cluster.kind_config(cfg))
    assert config["networking"] == {"ipFamily": "ipv4"} and len(config["containerdConfigPatches"]) == 1


def test_a_relative_extra_path_is_taken_from_the_course_root(monkeypatch, isolated_state):
    monkeypatch.setenv("CKALAB_KIND_CONFIG_EXTRA", ".ci/kind-extra.yaml")
    assert settings.load().kind_config_extra == isolated_state.root / ".ci" / "kind-extra.yaml"


@pytest.mark.parametrize("text,words", [
    (None, ["CKALAB_KIND_CONFIG_EXTRA", "cannot be read"]),
    ("kubeadmConfigPatches: [\n  - oops", ["CKALAB_KIND_CONFIG_EXTRA", "not valid YAML"]),
    ("- just\n- a list\n", ["CKALAB_KIND_CONFIG_EXTRA", "not a mapping"]),
    ("containerdConfigPatches: one string\n", ["`containerdConfigPatches`", "a list"]),
    ("kind: Pod\n", ["`kind`", "'Cluster'"]),
])
def test_a_bad_extra_kind_config_is_one_paragraph_naming_the_variable(monkeypatch, tmp_path, text, words):
    cfg = _extra(monkeypatch, tmp_path, text)
    with pytest.raises(CourseError) as excinfo:
        cluster.kind_config(cfg)
    message = message_of(excinfo)
    assert "\n" not in message and "Fix:" in message
    assert "CKALAB_KIND_CONFIG_EXTRA" in message and str(cfg.kind_config_extra) in message
    for word in words:
        assert word in message, (word, message)


def test_create_checks_the_extra_config_before_starting_anything(monkeypatch, tmp_path):
    cfg = _extra(monkeypatch, tmp_path, None)
    started = []
    monkeypatch.setattr(cluster, "_require_tools", lambda: None)
    monkeypatch.setattr(cluster.registry, "up", lambda cfg: started.append("registries"))
    monkeypatch.setattr(cluster.shell, "run", lambda *a, **k: started.append(a))
    with pytest.raises(CourseError, match="CKALAB_KIND_CONFIG_EXTRA"):
        cluster.create(cfg, echo=lambda line: None)
    assert started == []


# ---------------------------------------------------------------- the kind network (fake shell)

class FakeDocker:
    """Answers the docker/kind/kubectl commands create and delete run, from a model of the machine."""

    def __init__(self, cfg, *, clusters=("cka-images",), network=None):
        self.cfg = cfg
        self.clusters = list(clusters)
        self.network = list(network) if network is not None else None  # None: no kind network
        self.commands = []

    def nodes(self, name):
        return [f"{name}-control-plane"]

    def __call__(self, args, **kwargs):
        args = list(args)
        self.commands.append(args)
        ok = shell.Result(" ".join(args), 0, "")
        if args[:3] == ["kind", "get", "clusters"]:
            return shell.Result("kind get clusters", 0, "".join(f"{c}\n" for c in self.clusters))
        if args[:3] == ["kind", "create", "cluster"]:
            name = args[args.index("--name") + 1]
            self.clusters.append(name)
            self.network = (self.network or []) + self.nodes(name)
            _kubeconfig(self.cfg, f"kind-{name}")
            return ok
        if args[:3] == ["kind", "delete", "cluster"]:
            name = args[args.index("--name") + 1]
            self.clusters.remove(name)
            self.network = [c for c in self.network or [] if c not in self.nodes(name)]
            return ok
        if args[:3] == ["kind", "export", "kubeconfig"]:
            _kubeconfig(self.cfg, f"kind-{args[args.index('--name') + 1]}")
            return ok
        if args[:3] == ["kind", "get", "nodes"]:
            return shell.Result("", 0, "\n".join(self.nodes(args[args.index("--name") + 1])))
        if args[:3] == ["docker", "network", "inspect"]:
            return ok if self.network is not None else shell.Result("", 1, "network kind not found")
        if args[:2] == ["docker", "ps"] and "network=kind" in args:
            return shell.Result("", 0, "".join(f"{c}\n" for c in self.network or []))
        if args[:2] == ["docker", "ps"]:
            label = next(a for a in args if a.startswith("label=")).split("=", 2)[2]
            return shell.Result("", 0, "abc123\n" if label in self.clusters else "")
        if args[:3] == ["docker", "network", "connect"]:
            self.network.append(args[4])
            return ok
        if args[:3] == ["docker", "network", "disconnect"]:
            self.network.remove(args[4])
            return ok
        if args[0] in ("docker", "kubectl"):  # docker exec into nodes, kubectl apply
            return ok
        raise AssertionError(f"unexpected command {args}")

    def ran(self, *prefix):
        return [c for c in self.commands if c[:len(prefix)] == list(prefix)]


@pytest.fixture
def fake_docker(isolated_state, monkeypatch):
    def make(**kwargs):
        fake = FakeDocker(isolated_state, **kwargs)
        monkeypatch.setattr(shell, "run", fake)
        monkeypatch.setattr(cluster, "_require_tools", lambda: None)
        monkeypatch.setattr(cluster.registry, "up", lambda cfg: None)
        return fake
    return make


def test_create_connects_the_registries_to_the_kind_network(fake_docker, isolated_state):
    fake = fake_docker(clusters=[], network=None)
    cluster.create(isolated_state, echo=lambda line: None)
    assert fake.ran("docker", "network", "connect") == [
        ["docker", "network", "connect", "kind", "kind-registry"],
        ["docker", "network", "connect", "kind", "private-registry"]]
    cluster.create(isolated_state, echo=lambda line: None)  # idempotent: already attached
    assert len(fake.ran("docker", "network", "connect")) == 2


def test_delete_detaches_the_registries_when_nothing_else_uses_the_network(fake_docker, isolated_state):
    fake = fake_docker(network=["cka-images-control-plane", "kind-registry", "private-registry"])
    _kubeconfig(isolated_state, "kind-cka-images")
    cluster.delete(isolated_state, echo=lambda line: None)
    assert fake.ran("kind", "delete", "cluster")
    assert fake.ran("docker", "network", "disconnect") == [
        ["docker", "network", "disconnect", "kind", "kind-registry"],
        ["docker", "network", "disconnect", "kind", "private-registry"]]
    assert fake.network == [] and not isolated_state.kubeconfig.exists()


def test_delete_leaves_the_registries_to_another_kind_cluster(fake_docker, isolated_state):
    fake = fake_docker(clusters=["cka-images", "team"],
                       network=["cka-images-control-plane", "team-control-plane", "kind-registry",
                                "private-registry"])
    said = []
    cluster.delete(isolated_state, echo=said.append)
    # The kind network is shared: cluster "team" may pull from the registries, so they stay.
    assert fake.ran("kind", "delete", "cluster") and not fake.ran("docker", "network", "disconnect")
    assert fake.network == ["team-control-plane", "kind-registry", "private-registry"]
    assert any("team-control-plane" in line for line in said), said


def test_delete_without_the_registries_on_the_network_disconnects_nothing(fake_docker, isolated_state):
    fake = fake_docker(clusters=[], network=[])
    cluster.delete(isolated_state, echo=lambda line: None)
    assert not fake.ran("kind", "delete", "cluster") and not fake.ran("docker", "network", "disconnect")
