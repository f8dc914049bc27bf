"""Lab 16: ship an image as a file. `docker save` it to a path, load the file into the kind node.

The node cannot pull `report-gen:2.1` from anywhere: it exists only in the learner's Docker
Engine. The Check reads the archive the learner wrote (is it an image archive, with that tag?)
and the cluster (the Deployment as it was, the image in the node's `status.images`, a running
Pod), through the helpers of `cluster_labs`.
"""

from __future__ import annotations

import json
import shlex
import tarfile
from pathlib import Path

from . import shell
from .checks import CheckResult
from .cluster_labs import (CHECK_NOTE, Kube, _cfg, apply_manifest, build_push, check_deployment,
                           check_image_on_nodes, check_pods, container, crictl, delete_namespaces, kubectl,
                           node_container, normalized, rollout_status, selector_of, short, wait_until_passes)
from .errors import CourseError
from .labs import Lab, WrongAttempt, docker, register

L16 = "lab16-save-image-load-on-node"
NS16, DEP16 = "lab16-reports", "report-gen"
IMAGE16, OLD16 = "report-gen:2.1", "report-gen:2.0"
ARCHIVE16 = "report-gen-2.1.tar"
EXPORT_CONTAINER = "lab16-export"


def archive_path(lab: Lab) -> Path:
    return lab.work_dir / ARCHIVE16


def shown_path(lab: Lab) -> str:
    return lab.shown(archive_path(lab))


def archive_tags(path: Path) -> list[str] | None:
    """The image names an image archive carries, or None when the file is not an image archive.

    `docker save` writes manifest.json (RepoTags); an OCI archive (Docker's containerd store,
    `podman save --format oci-archive`) names its images in index.json annotations. A container
    export (`docker export`) has neither: it is only the container's files."""
    try:
        with tarfile.open(path) as tar:
            names = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            if "manifest.json" in names:
                entries = json.load(tar.extractfile(names["manifest.json"]))
                return [tag for entry in entries for tag in (entry.get("RepoTags") or [])]
            if "index.json" in names:
                index = json.load(tar.extractfile(names["index.json"]))
                annotations = [m.get("annotations") or {} for m in index.get("manifests", [])]
                return [a.get("io.containerd.image.name") or a.get("org.opencontainers.image.ref.name")
                        for a in annotations if a]
    except (tarfile.TarError, json.JSONDecodeError, OSError, UnicodeDecodeError):
        return None
    return None


def _check16(lab: Lab, r: CheckResult) -> None:
    kube = Kube()
    dep = check_deployment(kube, r, NS16, DEP16)
    if dep is None:
        return
    c = container(dep.spec.template.spec, "report")
    image, policy = (c.image, c.image_pull_policy) if c else ("?", "?")
    unchanged = image == IMAGE16 and policy == "IfNotPresent"
    r.add("deployment unchanged", unchanged,
          f"image {image}, imagePullPolicy {policy}" + ("" if unchanged else
          f"; keep image {IMAGE16} with IfNotPresent and put the image on the node instead"))
    path = archive_path(lab)
    r.add("archive exists", path.is_file(),
          f"{shown_path(lab)} ({path.stat().st_size // 1_000_000} MB)" if path.is_file() else
          f"no file at {shown_path(lab)}; write the image there with docker save")
    if not path.is_file():
        return
    tags = archive_tags(path)
    r.add("archive is an image archive", tags is not None,
          "its manifest.json (or OCI index.json) names the images in it" if tags is not None else
          "the file has no manifest.json or index.json: it is not an image archive (docker export writes a "
          "container's files without the image's config and tag; docker save writes the image)")
    if tags is None:
        return
    want = normalized(IMAGE16)
    r.add(f"archive holds {IMAGE16}", any(normalized(t) == want for t in tags),
          f"it holds {', '.join(tags) or 'no tagged image'}" +
          ("" if any(normalized(t) == want for t in tags) else f"; save {IMAGE16}"))
    pods = kube.pods(NS16, selector_of(dep))
    check_image_on_nodes(kube, r, pods, IMAGE16, "load the archive into the node; `ctr` must import into "
                         "containerd's k8s.io namespace, the one the kubelet uses")
    check_pods(r, DEP16, pods, dep.spec.replicas or 1, label="pods running")


def _setup16(lab: Lab) -> None:
    build_push(lab, OLD16, "2.0")                 # built only: a name without a registry host
    build_push(lab, IMAGE16, "2.1")
    delete_namespaces(NS16)                       # no Pod may keep the image in use
    for image in (IMAGE16, OLD16):
        crictl("rmi", normalized(image))          # the starting state: NOT on the node (error ignored)
    archive_path(lab).parent.mkdir(parents=True, exist_ok=True)
    apply_manifest(lab, "deployment.yaml")
    print(f"Save the image to: {shown_path(lab)}")


def _kind_load(path: Path) -> None:
    result = shell.run(["kind", "load", "image-archive", str(path), "--name", _cfg().cluster_name],
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"kind load image-archive failed: {short(result.output, 300)}", "run `make doctor`.")


def _save(lab: Lab, image: str) -> None:
    result = docker("save", "-o", str(archive_path(lab)), image, timeout=600)
    if not result.ok:
        raise CourseError(f"docker save {image} failed: {short(result.output, 300)}", "run `make doctor`.")


def _solve16(lab: Lab) -> None:
    _save(lab, IMAGE16)
    _kind_load(archive_path(lab))
    kubectl("rollout", "restart", f"deployment/{DEP16}", "-n", NS16)
    rollout_status(NS16, DEP16)
    wait_until_passes(lab, 150)


def _teardown16(lab: Lab) -> None:
    delete_namespaces(NS16)
    docker("rm", "-f", EXPORT_CONTAINER)
    for image in (IMAGE16, OLD16):
        crictl("rmi", normalized(image))
    docker("exec", node_container(), "ctr", "images", "rm", normalized(IMAGE16))   # the ctr attempt's copy


def _w16_export(lab: Lab) -> None:
    docker("rm", "-f", EXPORT_CONTAINER)
    docker("create", "--name", EXPORT_CONTAINER, IMAGE16)
    docker("export", "-o", str(archive_path(lab)), EXPORT_CONTAINER)
    docker("rm", "-f", EXPORT_CONTAINER)


def _w16_old(lab: Lab) -> None:
    _save(lab, OLD16)


def _w16_not_loaded(lab: Lab) -> None:
    _save(lab, IMAGE16)


def _w16_ctr_default_namespace(lab: Lab) -> None:
    """`ctr images import` without `-n k8s.io`: containerd keeps it in namespace `default`."""
    _save(lab, IMAGE16)
    result = shell.run(f"docker exec -i {node_container()} ctr images import - < {shlex.quote(str(archive_path(lab)))}",
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"ctr images import failed: {short(result.output, 300)}", "run `make doctor`.")


def _w16_never(lab: Lab) -> None:
    kubectl("patch", f"deployment/{DEP16}", "-n", NS16, "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": "report", "imagePullPolicy": "Never"}]}}}}))


register(Lab(
    id=L16, title="Save an image to a file and load it on the node", level="cluster",
    checks=["deployment exists", "deployment unchanged", "archive exists", "archive is an image archive",
            f"archive holds {IMAGE16}", "image on the node", "pods running"],
    first_failure="archive exists",
    hints=[
        f"No registry has {IMAGE16}: it exists only in your Docker Engine (`docker images report-gen`), so the "
        "node's pull fails. Ship it as a file instead: an image archive keeps the layers, the config and the "
        "tag, and the node's container runtime can import it.",
        "`docker save -o FILE IMAGE` writes an image archive (`docker export` writes only a container's files, "
        "with no config and no tag). kind imports an archive into every node: `kind load image-archive FILE "
        "--name cka-images`. Without kind, containerd on the node reads it from standard input: "
        "`docker exec -i cka-images-control-plane ctr -n k8s.io images import - < FILE`.",
        f"docker save -o .ckalab/work/lab16/{ARCHIVE16} {IMAGE16}, then kind load image-archive "
        f".ckalab/work/lab16/{ARCHIVE16} --name cka-images, then kubectl rollout restart "
        f"deployment/{DEP16} -n {NS16} (the Pod would otherwise wait out its pull back-off).",
    ],
    setup_fn=_setup16, check_fn=_check16, solve_fn=_solve16, teardown_fn=_teardown16,
    wrong_attempts=[
        WrongAttempt("exports a container instead of saving the image", _w16_export,
                     fails="archive is an image archive", needs_reset=False),
        WrongAttempt(f"saves {OLD16}", _w16_old, fails=f"archive holds {IMAGE16}", needs_reset=False),
        WrongAttempt("saves the archive but loads nothing", _w16_not_loaded, fails="image on the node",
                     needs_reset=False),
        WrongAttempt("imports with ctr into containerd's default namespace", _w16_ctr_default_namespace,
                     fails="image on the node", needs_reset=False),
        WrongAttempt("sets imagePullPolicy: Never", _w16_never, fails="deployment unchanged"),
    ],
    check_note=CHECK_NOTE,
))
