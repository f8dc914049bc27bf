"""Lab 06: Pin ledger-api to the digest the registry serves."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from pathlib import Path

import yaml

from ckalab import registry
from ckalab import settings as settings_module
from ckalab.checks import CheckResult
from ckalab.docker_checks import inspect_image, pushed_config, remove_images
from ckalab.labs import Lab, WrongAttempt, docker, register

# ================================================================ lab06

LAB06_REPO = "lab06/ledger-api"
LAB06_TAGS = ("1.3", "1.4")


def _lab06_image(tag: str) -> str:
    return f"{settings_module.load().open_registry}/{LAB06_REPO}:{tag}"


def _lab06_file(lab: Lab) -> Path:
    return lab.work_dir / "deployment.yaml"


def _lab06_setup(lab: Lab) -> None:
    lab.place("deployment.yaml")
    api = registry.api("open")
    for tag in LAB06_TAGS:
        image = _lab06_image(tag)
        if inspect_image(image) is not None and pushed_config(api, LAB06_REPO, tag) is not None:
            continue
        with tempfile.TemporaryDirectory(prefix="lab06-") as tmp:
            shutil.copy(lab.files / "Dockerfile", tmp)
            Path(tmp, "release.txt").write_text(f"ledger-api {tag} build {secrets.token_hex(6)}\n")
            result = docker("build", "-q", "-t", image, tmp, timeout=300)
        push = docker("push", image, timeout=300) if result.ok else result
        if not push.ok:
            raise registry.CourseError(f"Could not build and push {image}: {push.output.strip()[-300:]}",
                                       "run `make doctor`, then lab.reset().")
    print(f"{_lab06_image('1.3')} and {_lab06_image('1.4')} are in the open registry.")


def _lab06_check(lab: Lab, r: CheckResult) -> None:
    from ckalab import references, validate
    cfg = settings_module.load()
    path = _lab06_file(lab)
    rel = path.relative_to(cfg.root)
    findings = validate.manifests(path)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d] if path.exists() else []
    except yaml.YAMLError:
        docs = []
    deployment = next((d for d in docs if isinstance(d, dict) and d.get("kind") == "Deployment"), None)
    if findings or deployment is None:
        r.add("valid Deployment manifest", False,
              "; ".join(map(str, findings[:2])) if findings else f"{rel} holds no Deployment")
        return
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    image = (containers[0] if containers else {}).get("image", "")
    r.add("valid Deployment manifest", True, f"{rel}: Deployment {deployment['metadata'].get('name')}, image {image}")
    try:
        ref = references.parse(image)
    except registry.CourseError as exc:
        r.add("pinned by digest", False, exc.problem)
        return
    r.add("pinned by digest", bool(ref.digest),
          f"the image is pinned to {ref.digest}" if ref.digest else
          f"`{image}` names a tag only: a tag can be moved to other content; add @sha256:<digest>")
    repository = f"{cfg.open_registry}/{LAB06_REPO}"
    right_repo = ref.name == repository
    r.add("same repository", right_repo,
          repository if right_repo else f"the image is {ref.name}, not {repository}")
    if not ref.digest:
        return
    served = registry.api("open", cfg).manifest(LAB06_REPO, "1.4").digest
    r.add("digest the registry serves for 1.4", ref.digest == served,
          f"matches the Docker-Content-Digest of {repository}:1.4" if ref.digest == served else
          f"{ref.digest[:19]}... is not {served[:19]}..., the digest the registry reports for 1.4 "
          "(an image ID or another tag's digest does not match: ask the registry)")


def _lab06_pin(lab: Lab, digest: str, repository: str | None = None, keep_tag: bool = True) -> None:
    lab.place("deployment.yaml")
    repository = repository or f"{settings_module.load().open_registry}/{LAB06_REPO}"
    reference = f"{repository}:1.4@{digest}" if keep_tag else f"{repository}@{digest}"
    text = _lab06_file(lab).read_text()
    _lab06_file(lab).write_text(re.sub(r"image: .*", f"image: {reference}", text, count=1))


def _lab06_config_digest() -> str:
    """The digest of 1.4's image config: what `docker image ls` shows as IMAGE ID with the classic store."""
    api = registry.api("open")
    manifest = api.manifest(LAB06_REPO, "1.4")
    body = manifest.body
    if manifest.is_index:
        body = api.manifest(LAB06_REPO, body["manifests"][0]["digest"]).body
    return body["config"]["digest"]


def _lab06_solve(lab: Lab) -> None:
    _lab06_pin(lab, registry.api("open").manifest(LAB06_REPO, "1.4").digest, keep_tag=False)


def _lab06_teardown(lab: Lab) -> None:
    remove_images(*(_lab06_image(tag) for tag in LAB06_TAGS))


register(Lab(
    id="lab06-pin-digest",
    title="Pin ledger-api to the digest the registry serves",
    level="docker",
    checks=["valid Deployment manifest", "pinned by digest", "same repository",
            "digest the registry serves for 1.4"],
    first_failure="pinned by digest",
    hints=[
        "A digest is the sha256 of the manifest the registry serves. Ask the registry for "
        "localhost:5001/lab06/ledger-api:1.4, not the local image ID.",
        "`docker buildx imagetools inspect localhost:5001/lab06/ledger-api:1.4` prints it as Digest:, and "
        "the registry API sends it in the Docker-Content-Digest header of "
        "GET /v2/lab06/ledger-api/manifests/1.4 (`ck.registry.api('open').manifest(...)`).",
        "Set the image to localhost:5001/lab06/ledger-api@sha256:<that digest> in "
        ".ckalab/work/lab06/deployment.yaml (keeping :1.4 before the @ is allowed; the digest decides).",
    ],
    setup_fn=_lab06_setup, check_fn=_lab06_check, solve_fn=_lab06_solve, teardown_fn=_lab06_teardown,
    wrong_attempts=[
        WrongAttempt("config digest (the classic image ID) instead of the manifest digest", lambda lab: _lab06_pin(
            lab, _lab06_config_digest()), fails="digest the registry serves for 1.4"),
        WrongAttempt("digest of 1.3", lambda lab: _lab06_pin(
            lab, registry.api("open").manifest(LAB06_REPO, "1.3").digest),
            fails="digest the registry serves for 1.4"),
        WrongAttempt("tag only", lambda lab: lab.place("deployment.yaml", overwrite=True),
                     fails="pinned by digest"),
        WrongAttempt("digest on another repository", lambda lab: _lab06_pin(
            lab, registry.api("open").manifest(LAB06_REPO, "1.4").digest,
            repository=f"{settings_module.load().open_registry}/lab06/ledger"), fails="same repository"),
    ],
))
