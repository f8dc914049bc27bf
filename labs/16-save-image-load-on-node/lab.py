"""Lab 16: ship an image as a file. `docker save` it to a path, load the file into the kind node.

The node cannot pull `report-gen:2.1` from anywhere: it exists only in the learner's Docker
Engine. The Check reads the archive the learner wrote (is it an image archive, with that tag?)
and the cluster (the Deployment as it was, the image in the node's `status.images`, a running
Pod), through ckalab.cluster_checks."""

from __future__ import annotations

import json
import shlex
import tarfile
from pathlib import Path

from ckalab import shell
from ckalab.checks import CheckResult
from ckalab.cluster_actions import (apply_manifest, build_push, crictl, delete_namespaces, kubectl,
                                    node_container, rollout_status, wait_until_passes)
from ckalab.cluster_checks import (CHECK_NOTE, Kube, check_deployment, check_image_on_nodes, check_pods,
                                   container, course_settings, normalized, selector_of, short)
from ckalab.docker_checks import docker
from ckalab.errors import CourseError
from ckalab.labs import Lab, WrongAttempt, register

LAB_ID = "lab16-save-image-load-on-node"
NAMES = {"ns": "lab16-reports", "deploy": "report-gen", "container": "report", "repo": "report-gen",
           "tag": "2.1", "old_tag": "2.0", "archive": "report-gen-2.1.tar", "export": "lab16-export"}
HOLDS = "archive holds the image"


def image_of(lab: Lab, tag_name: str = "tag") -> str:
    return f"{lab.names['repo']}:{lab.names[tag_name]}"


def archive_path(lab: Lab) -> Path:
    return lab.work_dir / lab.names["archive"]


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


def _check(lab: Lab, r: CheckResult) -> None:
    n, want_image = lab.names, image_of(lab)
    kube = Kube()
    dep = check_deployment(kube, r, n["ns"], n["deploy"])
    if dep is None:
        return
    c = container(dep.spec.template.spec, n["container"])
    image, policy = (c.image, c.image_pull_policy) if c else ("?", "?")
    unchanged = image == want_image and policy == "IfNotPresent"
    r.add("deployment unchanged", unchanged,
          f"image {image}, imagePullPolicy {policy}" + ("" if unchanged else
          f"; keep image {want_image} with IfNotPresent and put the image on the node instead"))
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
    want = normalized(want_image)
    r.add(HOLDS, any(normalized(t) == want for t in tags),
          f"it holds {', '.join(tags) or 'no tagged image'}" +
          ("" if any(normalized(t) == want for t in tags) else f"; save {want_image}"))
    pods = kube.pods(n["ns"], selector_of(dep))
    check_image_on_nodes(kube, r, pods, want_image, "load the archive into the node; `ctr` must import into "
                         "containerd's k8s.io namespace, the one the kubelet uses")
    check_pods(r, n["deploy"], pods, dep.spec.replicas or 1, label="pods running")


def _setup(lab: Lab) -> None:
    build_push(lab, image_of(lab, "old_tag"), lab.names["old_tag"])   # built only: a name without a registry host
    build_push(lab, image_of(lab), lab.names["tag"])
    delete_namespaces(lab.names["ns"])                                # no Pod may keep the image in use
    for image in (image_of(lab), image_of(lab, "old_tag")):
        crictl("rmi", normalized(image))          # the starting state: NOT on the node (error ignored)
    archive_path(lab).parent.mkdir(parents=True, exist_ok=True)
    apply_manifest(lab, "deployment.yaml")
    print(f"Save the image to: {shown_path(lab)}")


def _kind_load(path: Path) -> None:
    result = shell.run(["kind", "load", "image-archive", str(path), "--name", course_settings().cluster_name],
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"kind load image-archive failed: {short(result.output, 300)}", "run `make doctor`.")


def _save(lab: Lab, image: str) -> None:
    result = docker("save", "-o", str(archive_path(lab)), image, timeout=600)
    if not result.ok:
        raise CourseError(f"docker save {image} failed: {short(result.output, 300)}", "run `make doctor`.")


def _solve(lab: Lab) -> None:
    _save(lab, image_of(lab))
    _kind_load(archive_path(lab))
    kubectl("rollout", "restart", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"])
    rollout_status(lab.names["ns"], lab.names["deploy"])
    wait_until_passes(lab, 150)


def _teardown(lab: Lab) -> None:
    delete_namespaces(lab.names["ns"])
    docker("rm", "-f", lab.names["export"])
    for image in (image_of(lab), image_of(lab, "old_tag")):
        crictl("rmi", normalized(image))
    docker("exec", node_container(), "ctr", "images", "rm", normalized(image_of(lab)))   # the ctr attempt's copy


def _wrong_export(lab: Lab) -> None:
    export = lab.names["export"]
    docker("rm", "-f", export)
    docker("create", "--name", export, image_of(lab))
    docker("export", "-o", str(archive_path(lab)), export)
    docker("rm", "-f", export)


def _wrong_old(lab: Lab) -> None:
    _save(lab, image_of(lab, "old_tag"))


def _wrong_not_loaded(lab: Lab) -> None:
    _save(lab, image_of(lab))


def _wrong_ctr_default_namespace(lab: Lab) -> None:
    """`ctr images import` without `-n k8s.io`: containerd keeps it in namespace `default`."""
    _save(lab, image_of(lab))
    result = shell.run(f"docker exec -i {node_container()} ctr images import - < {shlex.quote(str(archive_path(lab)))}",
                       env=shell.course_env(), timeout=600)
    if not result.ok:
        raise CourseError(f"ctr images import failed: {short(result.output, 300)}", "run `make doctor`.")


def _wrong_never(lab: Lab) -> None:
    kubectl("patch", f"deployment/{lab.names['deploy']}", "-n", lab.names["ns"], "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": lab.names["container"],
                                                          "imagePullPolicy": "Never"}]}}}}))


_DEFAULT = f"{NAMES['repo']}:{NAMES['tag']}"   # what the notebook and the hints show

register(Lab(
    id=LAB_ID, title="Save an image to a file and load it on the node", level="cluster",
    checks=["deployment exists", "deployment unchanged", "archive exists", "archive is an image archive",
            HOLDS, "image on the node", "pods running"],
    first_failure="archive exists",
    hints=[
        f"No registry has {_DEFAULT}: it exists only in your Docker Engine (`docker images report-gen`), so the "
        "node's pull fails. Ship it as a file instead: an image archive keeps the layers, the config and the "
        "tag, and the node's container runtime can import it.",
        "`docker save -o FILE IMAGE` writes an image archive (`docker export` writes only a container's files, "
        "with no config and no tag). kind imports an archive into every node: `kind load image-archive FILE "
        "--name {cluster}`. Without kind, containerd on the node reads it from standard input: "
        "`docker exec -i {node} ctr -n k8s.io images import - < FILE`.",
        f"docker save -o .ckalab/work/lab16/{NAMES['archive']} {_DEFAULT}, then kind load image-archive "
        f".ckalab/work/lab16/{NAMES['archive']} --name {{cluster}}, then kubectl rollout restart "
        f"deployment/{NAMES['deploy']} -n {NAMES['ns']} (the Pod would otherwise wait out its pull back-off).",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("exports a container instead of saving the image", _wrong_export,
                     fails="archive is an image archive", needs_reset=False),
        WrongAttempt("saves the older tag", _wrong_old, fails=HOLDS, needs_reset=False),
        WrongAttempt("saves the archive but loads nothing", _wrong_not_loaded, fails="image on the node",
                     needs_reset=False),
        WrongAttempt("imports with ctr into containerd's default namespace", _wrong_ctr_default_namespace,
                     fails="image on the node", needs_reset=False),
        WrongAttempt("sets imagePullPolicy: Never", _wrong_never, fails="deployment unchanged"),
    ],
    check_note=CHECK_NOTE, names=NAMES,
))
