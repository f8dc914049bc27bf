"""The two local registries, lab credentials, the isolated Docker config, and the HTTP API client."""

from __future__ import annotations

import json
from pathlib import Path

import bcrypt
import pytest
import requests

from ckalab import kind_network, registry, shell


def test_htpasswd_line_is_bcrypt_and_verifies():
    line = registry.htpasswd_line("student", "s3cret")
    user, hashed = line.strip().split(":", 1)
    assert user == "student" and hashed.startswith("$2")
    assert bcrypt.checkpw(b"s3cret", hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())


def test_credentials_are_generated_once_and_kept(isolated_state):
    first = registry.credentials(isolated_state)
    assert first == registry.credentials(isolated_state)
    assert len(first.password) >= 12
    stored = isolated_state.auth_dir / "credentials.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"


def test_registries_listen_on_loopback_only(registries):
    client = registry._docker_client()[0]
    for name in (registries.open_registry_name, registries.private_registry_name):
        bindings = client.containers.get(name).attrs["HostConfig"]["PortBindings"]["5000/tcp"]
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings


def test_open_registry_answers_and_private_asks_for_basic_auth(registries):
    assert requests.get(f"http://{registries.open_registry}/v2/", timeout=5).status_code == 200
    resp = requests.get(f"http://{registries.private_registry}/v2/", timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].lower().startswith("basic")


def _push(image: str, docker_config: Path | None = None) -> shell.Result:
    env = shell.course_env()
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    return shell.run(f"docker tag python:3.13-slim {image} && docker push {image}", env=env, timeout=300)


def test_private_push_without_login_fails_with_401(registries, tmp_path):
    empty_config = tmp_path / "docker-config"
    empty_config.mkdir()
    (empty_config / "config.json").write_text("{}")
    result = _push(f"{registries.private_registry}/tests/no-login:1", empty_config)
    assert not result.ok
    assert "no basic auth credentials" in result.output or "unauthorized" in result.output.lower()
    # The same refusal at the API level: starting an upload without credentials is a 401.
    resp = requests.post(f"http://{registries.private_registry}/v2/tests/no-login/blobs/uploads/", timeout=5)
    assert resp.status_code == 401


def test_private_push_with_login_succeeds_and_is_listed(registries):
    registry.login(registries)
    result = _push(f"{registries.private_registry}/tests/with-login:1")
    assert result.ok, result.output
    api = registry.api("private", registries)
    assert "tests/with-login" in api.catalog()
    assert "1" in api.tags("tests/with-login")
    manifest = api.manifest("tests/with-login", "1")
    assert manifest.digest.startswith("sha256:") and not manifest.is_index
    config = api.blob_json("tests/with-login", manifest.body["config"]["digest"])
    assert config["architecture"] and "rootfs" in config


def test_private_registry_api_refuses_without_credentials(registries):
    anonymous = registry.RegistryAPI(registries.private_registry)
    assert anonymous.ping() == 401
    with pytest.raises(registry.CourseError, match="401"):
        anonymous.catalog()


def test_login_writes_only_the_course_docker_config(registries):
    learner_config = Path.home() / ".docker" / "config.json"
    before = learner_config.read_bytes() if learner_config.exists() else None
    registry.login(registries)
    course_config = json.loads((registries.docker_config_dir / "config.json").read_text())
    assert registries.private_registry in course_config["auths"]
    after = learner_config.read_bytes() if learner_config.exists() else None
    assert before == after


def test_a_setup_pushes_with_a_login_of_its_own_and_leaves_the_learners_logged_out(registries):
    registry.logout(registries)
    image = f"{registries.private_registry}/tests/setup-push:1"
    assert shell.run(f"docker tag python:3.13-slim {image}", timeout=60).ok
    result = registry.setup_push(image, registries, timeout=300)
    assert result.ok, result.output
    assert "1" in registry.api("private", registries).tags("tests/setup-push")
    course_config = json.loads((registries.docker_config_dir / "config.json").read_text())
    assert registries.private_registry not in course_config.get("auths", {})
    assert not _push(image).ok      # the learner's config is still logged out, as lab 04 needs


def test_course_env_points_docker_and_kubectl_at_course_files(course_settings):
    env = shell.course_env(course_settings)
    assert env["DOCKER_CONFIG"] == str(course_settings.docker_config_dir)
    assert env["KUBECONFIG"] == str(course_settings.kubeconfig)
    assert not str(course_settings.docker_config_dir).startswith(str(Path.home() / ".docker"))


def test_down_leaves_foreign_containers_alone(docker_env, monkeypatch, isolated_state):
    client = registry._docker_client()[0]
    foreign = client.containers.run("python:3.13-slim", ["sleep", "30"], name="ckalab-test-foreign",
                                    detach=True, remove=True)
    try:
        monkeypatch.setenv("CKALAB_OPEN_REGISTRY_NAME", "ckalab-test-foreign")
        monkeypatch.setenv("CKALAB_PRIVATE_REGISTRY_NAME", "ckalab-test-absent")
        from ckalab import settings
        assert registry.down(settings.load()) == []
        assert client.containers.get("ckalab-test-foreign").status == "running"
    finally:
        foreign.remove(force=True)


# ---------------------------------------------------------------- the kind network (fake shell)

class FakeNetwork:
    """`docker network inspect/connect` and `docker ps` answered from a model of the kind network."""

    def __init__(self, *, network=None, cluster_nodes=("cka-images-control-plane",)):
        self.network = list(network) if network is not None else None   # None: no kind network
        self.cluster_nodes = list(cluster_nodes)
        self.commands = []

    def __call__(self, args, **kwargs):
        args = list(args)
        self.commands.append(args)
        if args[:3] == ["docker", "network", "inspect"]:
            return shell.Result("", 0 if self.network is not None else 1, "")
        if args[:2] == ["docker", "ps"] and "network=kind" in args:
            return shell.Result("", 0, "\n".join(self.network or []))
        if args[:2] == ["docker", "ps"]:  # the course cluster's nodes, by kind's label
            return shell.Result("", 0, "\n".join(self.cluster_nodes))
        if args[:3] == ["docker", "network", "connect"]:
            self.network.append(args[4])
            return shell.Result("", 0, "")
        raise AssertionError(f"unexpected command {args}")

    def connected(self):
        return [c[4] for c in self.commands if c[:3] == ["docker", "network", "connect"]]


@pytest.fixture
def fake_network(monkeypatch, isolated_state):
    def make(**kwargs):
        fake = FakeNetwork(**kwargs)
        monkeypatch.setattr(shell, "run", fake)
        return fake
    return make


def test_registries_join_the_kind_network_only_with_the_course_cluster(fake_network, isolated_state):
    fake = fake_network(network=None)
    assert kind_network.connect_to_kind_network(isolated_state) == [] and fake.connected() == []
    fake = fake_network(network=["team-control-plane"], cluster_nodes=[])  # another cluster only
    assert kind_network.connect_to_kind_network(isolated_state) == [] and fake.connected() == []
    fake = fake_network(network=["cka-images-control-plane", "kind-registry"])
    assert kind_network.connect_to_kind_network(isolated_state) == ["private-registry"]
    assert fake.connected() == ["private-registry"]


def test_a_failed_connect_is_one_paragraph(fake_network, isolated_state, monkeypatch):
    fake = fake_network(network=["cka-images-control-plane"])
    def refuse(args, **kwargs):
        if args[:3] == ["docker", "network", "connect"]:
            return shell.Result("", 1, "Error response from daemon:\nNo such container: kind-registry\n")
        return fake(args, **kwargs)
    monkeypatch.setattr(shell, "run", refuse)
    with pytest.raises(registry.CourseError) as excinfo:
        kind_network.connect_to_kind_network(isolated_state)
    message = excinfo.value.message
    assert "\n" not in message and "kind-registry" in message and "make registries" in message


@pytest.fixture
def fake_containers(monkeypatch):
    """registry.up without Docker: the containers are 'started' and answer at once."""
    started = []
    monkeypatch.setattr(registry, "_docker_client", lambda: (object(), None))
    monkeypatch.setattr(registry, "_ensure_image", lambda *a: None)
    monkeypatch.setattr(registry, "_start", lambda client, errors, **kw: started.append(kw["name"]) or FakeContainer(kw["name"], started))
    monkeypatch.setattr(registry, "wait_until_serving", lambda url, seconds=20: None)
    monkeypatch.setattr(registry, "accepts_lab_credentials", lambda cfg: True)
    monkeypatch.setattr(registry, "down", lambda cfg=None: [])
    return started


class FakeContainer:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def remove(self, force=False):
        self.log.append(f"removed {self.name}")


def test_up_replaces_a_private_registry_that_refuses_the_lab_credentials(fake_containers, fake_network,
                                                                          isolated_state, monkeypatch):
    """A checkout deleted and cloned again at the same path leaves the container's /auth mount on the
    deleted folder: the registry then refuses the new credentials, and up() makes it anew."""
    answers = iter([False, True])
    monkeypatch.setattr(registry, "accepts_lab_credentials", lambda cfg: next(answers))
    fake_network(network=[])
    registry.up(isolated_state)
    assert fake_containers == ["kind-registry", "private-registry", "removed private-registry",
                               "private-registry"]


def test_up_keeps_a_private_registry_that_accepts_the_lab_credentials(fake_containers, fake_network,
                                                                       isolated_state):
    fake_network(network=[])
    registry.up(isolated_state)
    assert fake_containers == ["kind-registry", "private-registry"]


def test_up_reconnects_recreated_registries_to_the_kind_network(fake_containers, fake_network, isolated_state):
    fake = fake_network(network=["cka-images-control-plane"])
    registry.up(isolated_state)
    assert fake_containers == ["kind-registry", "private-registry"]
    assert fake.connected() == ["kind-registry", "private-registry"]


def test_registries_reset_reconnects_them(fake_containers, fake_network, capsys):
    from ckalab.__main__ import main
    fake = fake_network(network=["cka-images-control-plane"])
    assert main(["registries-reset"]) == 0
    assert fake.connected() == ["kind-registry", "private-registry"]


def _package_imports(module: str) -> set[str]:
    """ckalab modules `module` imports, at the top or inside functions."""
    import ast
    tree = ast.parse((Path(registry.__file__).parent / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_no_import_cycle_between_cluster_registry_and_doctor():
    # cluster -> registry -> shell; doctor -> cluster. The registry needs only the Docker client,
    # which lives with the Docker endpoint in shell.
    assert "registry" in _package_imports("cluster")
    assert not {"doctor", "cluster"} & _package_imports("registry")
    assert not {"doctor", "cluster", "registry"} & _package_imports("shell")


class RestartableContainer:
    def __init__(self):
        self.restarts = 0

    def restart(self, timeout=10):
        self.restarts += 1


def test_a_running_registry_that_does_not_answer_is_restarted_once(monkeypatch):
    container, waits = RestartableContainer(), []
    def wait(url, seconds=20):
        waits.append(seconds)
        if container.restarts == 0:
            raise registry.CourseError("did not answer", "restart it")
    monkeypatch.setattr(registry, "wait_until_serving", wait)
    registry.serving_or_restarted(container, "http://localhost:5001/v2/")
    assert container.restarts == 1 and len(waits) == 2


def test_a_registry_that_stays_silent_is_one_paragraph_naming_the_fix(monkeypatch):
    import requests
    def refuse(url, timeout):
        raise requests.ConnectionError("refused")
    monkeypatch.setattr(registry.requests, "get", refuse)
    clock = iter(range(0, 10_000, 5))  # each look at the clock is 5 s later
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    monkeypatch.setattr("time.sleep", lambda s: None)
    container = RestartableContainer()
    with pytest.raises(registry.CourseError) as excinfo:
        registry.serving_or_restarted(container, "http://localhost:5001/v2/")
    assert container.restarts == 1
    message = str(excinfo.value)
    assert "ConnectionError" in message and "make registries" in message and "\n" not in message


def test_a_failed_restart_is_one_paragraph_naming_the_fix(monkeypatch):
    class Refusing:
        def restart(self, timeout=10):
            raise RuntimeError("driver failed programming external connectivity: port is already allocated")
    def silent(url, seconds=20):
        raise registry.CourseError("did not answer", "restart it")
    monkeypatch.setattr(registry, "wait_until_serving", silent)
    with pytest.raises(registry.CourseError) as excinfo:
        registry.serving_or_restarted(Refusing(), "http://localhost:5001/v2/")
    assert "already allocated" in str(excinfo.value) and "registries-reset" in str(excinfo.value)
