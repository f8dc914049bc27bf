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
from ckalab.docker_checks import docker, inspect_image, pushed_config, pushed_config_digest, remove_images
from ckalab.labs import Lab, WrongAttempt, register

# tag: the release to pin; old_tag: an older release in the same repository.
NAMES = {"repo": "lab06/ledger-api", "tag": "1.4", "old_tag": "1.3"}
SERVED = "digest the registry serves for the tag"


def _image(lab: Lab, tag: str) -> str:
    return f"{settings_module.load().open_registry}/{lab.names['repo']}:{tag}"


def _tags(lab: Lab) -> tuple[str, str]:
    return lab.names["old_tag"], lab.names["tag"]


def _file(lab: Lab) -> Path:
    return lab.work_dir / "deployment.yaml"


def _place_deployment(lab: Lab, *, overwrite: bool = False) -> None:
    """The starting manifest, naming this lab's repository and tag (a variant's, too)."""
    path = _file(lab)
    if overwrite or not path.exists():
        d = lab.defaults
        text = (lab.files / "deployment.yaml").read_text().replace(
            f"/{d['repo']}:{d['tag']}", f"/{lab.names['repo']}:{lab.names['tag']}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _setup(lab: Lab) -> None:
    _place_deployment(lab)
    api = registry.api("open")
    for tag in _tags(lab):
        image = _image(lab, tag)
        if inspect_image(image) is not None and pushed_config(api, lab.names["repo"], tag) is not None:
            continue
        with tempfile.TemporaryDirectory(prefix="lab06-") as tmp:
            shutil.copy(lab.files / "Dockerfile", tmp)
            Path(tmp, "release.txt").write_text(f"ledger-api {tag} build {secrets.token_hex(6)}\n")
            result = docker("build", "-q", "-t", image, tmp, timeout=300)
        push = docker("push", image, timeout=300) if result.ok else result
        if not push.ok:
            raise registry.CourseError(f"Could not build and push {image}: {push.output.strip()[-300:]}",
                                       "run `make doctor`, then lab.reset().")
    print(" and ".join(_image(lab, tag) for tag in _tags(lab)) + " are in the open registry.")


def _check(lab: Lab, r: CheckResult) -> None:
    from ckalab import references, validate
    cfg = settings_module.load()
    path = _file(lab)
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
    repository, tag = f"{cfg.open_registry}/{lab.names['repo']}", lab.names["tag"]
    right_repo = ref.name == repository
    r.add("same repository", right_repo,
          repository if right_repo else f"the image is {ref.name}, not {repository}")
    if not ref.digest:
        return
    served = registry.api("open", cfg).manifest(lab.names["repo"], tag).digest
    r.add(SERVED, ref.digest == served,
          f"matches the Docker-Content-Digest of {repository}:{tag}" if ref.digest == served else
          f"{ref.digest[:19]}... is not {served[:19]}..., the digest the registry reports for {tag} "
          "(an image ID or another tag's digest does not match: ask the registry)")


def _pin(lab: Lab, digest: str, repository: str | None = None, keep_tag: bool = True) -> None:
    _place_deployment(lab)
    repository = repository or f"{settings_module.load().open_registry}/{lab.names['repo']}"
    reference = f"{repository}:{lab.names['tag']}@{digest}" if keep_tag else f"{repository}@{digest}"
    text = _file(lab).read_text()
    _file(lab).write_text(re.sub(r"image: .*", f"image: {reference}", text, count=1))


def _served_digest(lab: Lab, tag_name: str = "tag") -> str:
    return registry.api("open").manifest(lab.names["repo"], lab.names[tag_name]).digest


def _config_digest(lab: Lab) -> str:
    """The digest of the tag's image config: what `docker image ls` shows as IMAGE ID with the classic store."""
    return pushed_config_digest(registry.api("open"), lab.names["repo"], lab.names["tag"])


def _solve(lab: Lab) -> None:
    _pin(lab, _served_digest(lab), keep_tag=False)


def _teardown(lab: Lab) -> None:
    remove_images(*(_image(lab, tag) for tag in _tags(lab)))


register(Lab(
    id="lab06-pin-digest",
    title="Pin ledger-api to the digest the registry serves",
    level="docker",
    checks=["valid Deployment manifest", "pinned by digest", "same repository",
            SERVED],
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
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("config digest (the classic image ID) instead of the manifest digest", lambda lab: _pin(
            lab, _config_digest(lab)), fails=SERVED),
        WrongAttempt("digest of the older tag", lambda lab: _pin(lab, _served_digest(lab, "old_tag")),
                     fails=SERVED),
        WrongAttempt("tag only", lambda lab: _place_deployment(lab, overwrite=True), fails="pinned by digest"),
        WrongAttempt("digest on another repository", lambda lab: _pin(
            lab, _served_digest(lab),
            repository=f"{settings_module.load().open_registry}/{lab.names['repo']}-other"), fails="same repository"),
    ],
    names=NAMES,
))
