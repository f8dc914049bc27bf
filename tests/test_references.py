"""ckalab.references against the distribution/reference grammar and Docker's defaults."""

from __future__ import annotations

import pytest

from ckalab.errors import CourseError
from ckalab.references import InvalidReference, parse, table

SHA = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("text, registry, repository, tag, digest", [
    # Docker Hub defaults: docker.io, library/ for one-component names, latest.
    ("python", "docker.io", "library/python", "latest", None),
    ("python:3.13-slim", "docker.io", "library/python", "3.13-slim", None),
    ("bitnami/redis", "docker.io", "bitnami/redis", "latest", None),
    ("docker.io/python", "docker.io", "library/python", "latest", None),
    ("docker.io/library/python:3.13", "docker.io", "library/python", "3.13", None),
    ("index.docker.io/python", "docker.io", "library/python", "latest", None),   # legacy name
    # The first component is a registry host only with '.', ':' or 'localhost'.
    ("localhost:5001/x", "localhost:5001", "x", "latest", None),
    ("localhost:5001/nb02/app:1.0", "localhost:5001", "nb02/app", "1.0", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("myhost:5000/app", "myhost:5000", "app", "latest", None),                   # no dot, but a port
    ("myhost/app", "docker.io", "myhost/app", "latest", None),                   # no dot, no port: a namespace
    ("registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", None),    # no library/ off Docker Hub
    ("ghcr.io/org/team/app:v2", "ghcr.io", "org/team/app", "v2", None),
    ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
    ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
    ("Foo/bar", "Foo", "bar", "latest", None),                                   # uppercase first part = a host
    # A bare "localhost:5000" has no '/': it is the Docker Hub image library/localhost, tag 5000.
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    # Digests: no default tag; with both, the tag is kept but the digest decides.
    (f"python@{SHA}", "docker.io", "library/python", None, SHA),
    (f"python:3.13@{SHA}", "docker.io", "library/python", "3.13", SHA),
    (f"localhost:5001/app:1.0@{SHA}", "localhost:5001", "app", "1.0", SHA),
    # Separators in path components: . _ __ and runs of -.
    ("team/a_b__c---d.e", "docker.io", "team/a_b__c---d.e", "latest", None),
    ("app:" + "v" * 128, "docker.io", "library/app", "v" * 128, None),
    ("app:_x.Y-1", "docker.io", "library/app", "_x.Y-1", None),
])
def test_valid_references(text, registry, repository, tag, digest):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("MyApp", "lowercase"),
    ("myorg/MyApp:1.0", "lowercase"),
    ("localhost:5001/App", "lowercase"),
    ("app:-1", "not a valid tag"),
    ("app:.1", "not a valid tag"),
    ("app:" + "v" * 129, "not a valid tag"),
    ("app:1.0:2", "not a valid"),
    ("app@sha256:abc", "not a digest"),
    ("app@sha256:" + "A" * 64, "64 lowercase"),
    ("app@sha256:" + "a" * 63 + "0a", "64 lowercase"),
    ("app@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("app@", "not a digest"),
    ("0123456789abcdef" * 4, "image ID"),
    ("-app", "not a valid repository"),
    ("app_/x", "not a valid repository"),
    ("team/a___b", "not a valid repository"),        # three underscores are not a separator
    ("a//b", "not a valid repository"),
    ("exa_mple.com/app", "not a valid registry"),      # has a '.', so it is a host: '_' not allowed
    ("a.b_c/app", "not a valid registry"),
    ("-bad.host:5000/app", "not a valid registry"),
    ("host:port/app", "not a valid registry"),
    (":1.0", "no repository"),
    ("app name", "not a valid"),
    ("x" * 256, "longer than 255"),
])
def test_invalid_references(text, why):
    with pytest.raises(InvalidReference) as excinfo:
        parse(text)
    assert why in excinfo.value.message
    assert isinstance(excinfo.value, CourseError)
    assert "Fix:" in excinfo.value.message


def test_string_forms():
    ref = parse("python:3.13-slim")
    assert str(ref) == "docker.io/library/python:3.13-slim"
    assert ref.familiar == "python:3.13-slim"
    assert ref.name == "docker.io/library/python"
    assert parse("docker.io/bitnami/redis").familiar == "bitnami/redis:latest"
    assert parse("localhost:5001/app:1").familiar == "localhost:5001/app:1"
    assert parse("docker.io/library/a/b").familiar == "library/a/b:latest"  # nested: keep library/


def test_what_is_pulled_and_api_path():
    assert parse("python").pulls == "latest"
    assert parse(f"python:3.13@{SHA}").pulls == SHA
    assert parse("localhost:5001/nb02/app:1.0").api_path == "/v2/nb02/app/manifests/1.0"
    assert parse(f"app@{SHA}").api_path == f"/v2/library/app/manifests/{SHA}"


def test_table_shows_valid_and_invalid_rows():
    text = table(["python", f"localhost:5001/app@{SHA}", "MyApp"])
    lines = text.splitlines()
    assert lines[0].split() == ["reference", "registry", "repository", "tag", "digest"]
    assert lines[1].split() == ["python", "docker.io", "library/python", "latest", "-"]
    assert "localhost:5001/app@sha256:0123456789ab..." in lines[2]
    assert lines[2].split()[-1] == "sha256:0123456789ab..."
    assert lines[3].startswith("MyApp") and "INVALID: repository name 'library/MyApp' must be lowercase" in lines[3]
