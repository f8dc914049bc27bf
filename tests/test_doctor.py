"""The doctor: what it finds on this machine, levels, and its outputs."""

from __future__ import annotations

import json

from ckalab import doctor
from ckalab.__main__ import main


def test_levels():
    assert doctor.Environment().level == "none"
    assert doctor.Environment(docker=True).level == "docker"
    assert doctor.Environment(docker=True, cluster=True).level == "cluster"
    assert doctor.Environment(cluster=True).level == "none"  # a cluster without Docker is unusable here
    env = doctor.Environment(docker=True)
    assert env.has("none") and env.has("docker") and not env.has("cluster")


def test_diagnose_finds_the_docker_engine(docker_env):
    check = docker_env.check("docker engine")
    assert check.ok and "Docker Engine" in check.detail
    assert docker_env.has("docker")


def test_diagnose_reports_registries(registries):
    env = doctor.diagnose(registries)
    assert env.check(f"open registry {registries.open_registry}").ok
    assert env.check(f"private registry {registries.private_registry}").ok


def test_every_failed_check_names_a_fix(docker_env):
    for check in docker_env.checks:
        assert check.ok or check.fix, check


def test_text_and_html_outputs(docker_env):
    text = str(docker_env)
    assert "docker engine" in text and "Level:" in text
    assert "<table>" in docker_env._repr_html_()


def test_cli_json(capsys, docker_env):
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["level"] in ("docker", "cluster")
    assert any(c["name"] == "docker engine" and c["ok"] for c in data["checks"])


def test_no_docker_marks_the_rest_optional(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    env = doctor.diagnose()
    assert env.level == "none"
    assert not env.check("docker engine").ok
    assert env.missing() == [env.check("docker engine")]


def test_kubectl_version_skew_is_reported():
    # Kubernetes' version skew policy: kubectl within one minor version of the API server (v1.37).
    assert doctor.kubectl_skew_note("v1.37.0") == ""
    assert doctor.kubectl_skew_note("v1.36.4") == "" and doctor.kubectl_skew_note("v1.38.1") == ""
    assert "install kubectl v1.36 to v1.38" in doctor.kubectl_skew_note("v1.32.4-dispatcher")
