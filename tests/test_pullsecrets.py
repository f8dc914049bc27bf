"""Pull Secrets: built exactly as kubectl builds them, decoded, and tried against the real private registry."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

from ckalab import cells, pullsecrets, registry, shell
from ckalab.errors import CourseError

from conftest import message_of


@pytest.fixture(scope="module")
def kubectl():
    """kubectl's client-side dry-run needs no cluster, only the binary."""
    path = shutil.which("kubectl")
    if path is None:
        if cells.required_level() != "none":
            pytest.fail("CKALAB_REQUIRE is set but kubectl is not installed")
        pytest.skip("needs the kubectl binary (no cluster): install kubectl")
    return path


def kubectl_secret(kubectl, *args: str) -> dict:
    result = shell.run([kubectl, "create", "secret", *args, "--dry-run=client", "-o", "json"],
                       env={**shell.course_env(), "KUBECONFIG": "/nonexistent"}, timeout=30)
    assert result.ok, result.output
    secret = json.loads(result.output)
    secret["metadata"].pop("creationTimestamp", None)  # null in older kubectl, absent in newer
    return secret


@pytest.mark.parametrize("server, username, password, email", [
    ("private-registry:5000", "student", "s3cret", None),
    ("https://index.docker.io/v1/", "me", "p<&>é:colon\u2028x", None),
    ("registry.example.com", "u", "p", "me@example.com"),
])
def test_manifest_equals_kubectl_dry_run(kubectl, server, username, password, email):
    args = ["docker-registry", "lab-registry", f"--docker-server={server}",
            f"--docker-username={username}", f"--docker-password={password}", "-n", "nb07"]
    if email:
        args.append(f"--docker-email={email}")
    expected = kubectl_secret(kubectl, *args)
    built = pullsecrets.secret_manifest("lab-registry", server, username, password,
                                       namespace="nb07", email=email)
    assert built == expected


def test_from_file_secret_equals_docker_registry_secret(kubectl, tmp_path):
    path = pullsecrets.write_config(tmp_path / "config.json", "private-registry:5000", "student", "pw")
    from_file = kubectl_secret(kubectl, "generic", "lab-registry", f"--from-file=.dockerconfigjson={path}",
                               f"--type={pullsecrets.SECRET_TYPE}")
    assert pullsecrets.decode(from_file) == pullsecrets.dockerconfigjson("private-registry:5000", "student", "pw")


def test_a_manifest_that_differs_from_kubectl_is_caught(kubectl):
    expected = kubectl_secret(kubectl, "docker-registry", "lab-registry", "--docker-server=a:5000",
                              "--docker-username=u", "--docker-password=p")
    assert pullsecrets.secret_manifest("lab-registry", "b:5000", "u", "p") != expected
    assert pullsecrets.secret_manifest("lab-registry", "a:5000", "u", "P") != expected


def test_decode_round_trip_and_auth_field():
    secret = pullsecrets.secret_manifest("s", "private-registry:5000", "student", "pw")
    entry = pullsecrets.decode(secret)["auths"]["private-registry:5000"]
    assert entry["username"] == "student" and entry["password"] == "pw"
    assert base64.b64decode(entry["auth"]) == b"student:pw"
    assert pullsecrets.servers(secret) == ["private-registry:5000"]
    assert pullsecrets.credentials(secret) == ("private-registry:5000", "student", "pw")


def test_credentials_from_auth_field_only():
    config = {"auths": {"r:5000": {"auth": base64.b64encode(b"u:p:with:colons").decode()}}}
    secret = {"kind": "Secret", "type": pullsecrets.SECRET_TYPE, "metadata": {"name": "s"},
              "stringData": {".dockerconfigjson": json.dumps(config)}}
    assert pullsecrets.credentials(secret) == ("r:5000", "u", "p:with:colons")


@pytest.mark.parametrize("secret, words", [
    ({"kind": "Secret", "type": "Opaque", "metadata": {"name": "s"}, "data": {}}, "--type=kubernetes.io/dockerconfigjson"),
    ({"kind": "Secret", "type": pullsecrets.SECRET_TYPE, "metadata": {"name": "s"},
      "data": {"config.json": "e30="}}, "exactly .dockerconfigjson"),
    ({"kind": "Secret", "type": pullsecrets.SECRET_TYPE, "metadata": {"name": "s"},
      "stringData": {".dockerconfigjson": '{"credsStore": "desktop"}'}}, "credsStore"),
    ({"kind": "ConfigMap", "metadata": {"name": "s"}}, "not a Secret"),
])
def test_decode_names_the_fix_for_broken_secrets(secret, words):
    with pytest.raises(CourseError) as excinfo:
        pullsecrets.decode(secret)
    assert words in message_of(excinfo)


def test_credentials_for_the_wrong_host_are_refused_with_the_host_trap_explained():
    secret = pullsecrets.secret_manifest("s", "localhost:5002", "student", "pw")
    with pytest.raises(CourseError) as excinfo:
        pullsecrets.credentials(secret, "private-registry:5000")
    assert "registry host written in the image name" in message_of(excinfo)


def test_real_credentials_authenticate_against_the_private_registry(registries):
    creds = registry.credentials(registries)
    secret = pullsecrets.secret_manifest("lab-registry", registries.private_registry_in_cluster,
                                         creds.username, creds.password)
    assert pullsecrets.authenticates(secret, f"http://{registries.private_registry}") is True


def test_wrong_credentials_do_not_authenticate(registries):
    creds = registry.credentials(registries)
    url = f"http://{registries.private_registry}"
    wrong_password = pullsecrets.secret_manifest("s", "private-registry:5000", creds.username, creds.password + "x")
    wrong_user = pullsecrets.secret_manifest("s", "private-registry:5000", "nobody", creds.password)
    assert pullsecrets.authenticates(wrong_password, url) is False
    assert pullsecrets.authenticates(wrong_user, url) is False


def test_an_unreachable_registry_is_a_course_error():
    secret = pullsecrets.secret_manifest("s", "x:5000", "u", "p")
    with pytest.raises(CourseError) as excinfo:
        pullsecrets.authenticates(secret, "http://127.0.0.1:9", timeout=2)
    assert "make registries" in message_of(excinfo)
