"""Bad input gives one paragraph that names the fix, and no traceback."""

from __future__ import annotations

import socket

import pytest

from ckalab import cluster, doctor, registry, settings
from ckalab.errors import CourseError, install_notebook_handler
from conftest import message_of


def assert_one_paragraph(message: str, *fix_words: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert "Fix:" in message
    for word in fix_words:
        assert word in message, (word, message)


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_docker_not_installed(empty_path):
    with pytest.raises(CourseError) as excinfo:
        doctor.docker_client()
    assert_one_paragraph(message_of(excinfo), "not installed", "docs.docker.com/engine/install", "make doctor")
    check, client = doctor.check_docker()
    assert not check.ok and client is None and "install Docker" in check.fix


def test_docker_daemon_not_running(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(CourseError) as excinfo:
        doctor.docker_client(timeout=2)
    assert_one_paragraph(message_of(excinfo), "not running", "systemctl start docker")


def test_registry_port_already_taken(docker_env, monkeypatch, isolated_state):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        monkeypatch.setenv("CKALAB_OPEN_REGISTRY_PORT", str(port))
        monkeypatch.setenv("CKALAB_OPEN_REGISTRY_NAME", "ckalab-test-port-taken")
        with pytest.raises(CourseError) as excinfo:
            registry.up(settings.load())
    assert_one_paragraph(message_of(excinfo), f"Port {port}", "already taken", "CKALAB_OPEN_REGISTRY_PORT")
    client = doctor.docker_client()
    assert not client.containers.list(all=True, filters={"name": "ckalab-test-port-taken"})


def test_kind_missing(empty_path):
    with pytest.raises(CourseError) as excinfo:
        cluster.create()
    assert_one_paragraph(message_of(excinfo), "kind is not installed", "make cluster")
    check = doctor.check_tool("kind", ["version"], doctor.INSTALL_KIND)
    assert not check.ok and "kind.sigs.k8s.io" in check.fix


def test_wrong_kube_context(isolated_state):
    cfg = isolated_state
    cfg.kubeconfig.parent.mkdir(parents=True)
    cfg.kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod-admin\n"
        "contexts:\n- name: prod-admin\n  context: {cluster: prod, user: admin}\n")
    with pytest.raises(CourseError) as excinfo:
        cluster.kubectl_result("delete", "namespace", "payments", cfg=cfg)
    assert_one_paragraph(message_of(excinfo), "'prod-admin'", "kind-cka-images", "use-context")


def test_wrong_registry_password(registries):
    with pytest.raises(CourseError) as excinfo:
        registry.login(registries, password="not-the-lab-password")
    assert_one_paragraph(message_of(excinfo), "wrong username or password", "make registries-reset")


def test_notebook_shows_paragraph_not_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        assert install_notebook_handler()
        result = shell.run_cell("from ckalab.errors import CourseError\n"
                                "raise CourseError('The registry is down.', 'run `make registries`.')")
        out = capsys.readouterr()
        shown = out.out + out.err
        assert isinstance(result.error_in_exec, CourseError)  # the cell still counts as failed
        assert "The registry is down. Fix: run `make registries`." in shown
        assert "Traceback" not in shown
    finally:
        InteractiveShell.clear_instance()
