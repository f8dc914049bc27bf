"""Offline validation: manifests against the Kubernetes schema, Dockerfiles with hadolint."""

from __future__ import annotations

from ckalab import validate

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "localhost:5001/web:1.0"}]
"""


def test_valid_manifest_has_no_findings():
    assert validate.manifests(DEPLOYMENT) == []


def test_typo_in_a_field_is_found():
    bad = DEPLOYMENT.replace("containers:", "imagePullSecret: [{name: s}]\n      containers:")
    findings = validate.manifests(bad)
    assert len(findings) == 1 and "imagePullSecret" in findings[0].message


def test_wrong_type_is_found():
    findings = validate.manifests(DEPLOYMENT.replace("{name: web}", "{name: web, labels: [a]}"))
    assert findings and "metadata.labels" in findings[0].message


def test_unknown_kind_and_bad_yaml():
    assert "unknown kind" in validate.manifests("apiVersion: v1\nkind: Gadget\nmetadata: {name: x}\n")[0].message
    assert "not valid YAML" in validate.manifests("a: [\n")[0].message


def test_missing_file():
    assert validate.manifests("workloads/does-not-exist.yaml")[0].message == "file not found"


def test_hadolint_flags_shell_form_cmd_and_add(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.13-slim\nADD app.py /app/\nCMD python /app/app.py\n")
    codes = {f.message.split()[0] for f in validate.dockerfile(dockerfile)}
    assert {"DL3020", "DL3025"} <= codes


def test_hadolint_passes_the_course_dockerfile():
    assert validate.dockerfile("workloads/hello/Dockerfile") == []
