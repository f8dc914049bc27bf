"""Lab 16's states as the API server serves them (tests/test_cluster_lab_checks.py checks each).

STATES: state name -> (objects factory, before-check action or None, the sub-check that must fail
or None when the state passes). The factories are tests/api_objects.py's."""

from __future__ import annotations

import io
import json
import tarfile

from api_objects import (KIND_IMAGES, backoff, ctr, deployment, digest_of, never, node, not_found, pod, replicaset,
                         running, waiting)

from ckalab import labs

LAB_ID = "lab16-save-image-load-on-node"
LAB = labs.module(LAB_ID)
NS, IMAGE = "lab16-reports", "report-gen:2.1"
LOADED = "docker.io/library/report-gen:2.1"


def objects(state: str):
    policy = "Never" if state == "sets imagePullPolicy: Never" else "IfNotPresent"
    c = [ctr("report", IMAGE, policy=policy)]
    loaded = state == "solved"
    images = list(KIND_IMAGES) + ([[LOADED, f"docker.io/library/report-gen@sha256:{digest_of('report')}"]] if loaded else [])
    changed = policy != "IfNotPresent"
    dep = deployment(NS, "report-gen", c, replicas=1, available=1 if loaded else 0,
                     revision=2 if changed or loaded else 1, generation=2 if changed or loaded else 1)
    rs = replicaset(dep, c, 1, replicas=1, ready=1 if loaded else 0)
    if loaded:
        status = [running("report", IMAGE)]
    elif changed:
        status = [waiting("report", IMAGE, "ErrImageNeverPull", never(IMAGE))]
    else:
        status = [waiting("report", IMAGE, "ImagePullBackOff", backoff(LOADED, not_found(LOADED)))]
    return [dep, rs, pod(rs, 0, status), node(images)]


def archive(content: str | None):
    """Write what a learner may have left at the lab's archive path (before the Check)."""
    def write():
        path = LAB.archive_path(labs.get(LAB_ID))
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.unlink(missing_ok=True)
            return
        if content == "not a tar":
            path.write_bytes(b"report-gen 2.1\n")
            return
        with tarfile.open(path, "w") as tar:
            def add(name: str, data: bytes):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            if content == "export":              # docker export: the container's files, nothing else
                add("etc/hostname", b"report\n")
                add("srv/index.html", b"report-gen 2.1\n")
            elif content == "oci":               # Docker's containerd store, podman --format oci-archive
                add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
                add("index.json", json.dumps({"manifests": [{"annotations": {
                    "io.containerd.image.name": LOADED, "org.opencontainers.image.ref.name": "2.1"}}]}).encode())
            else:                                # docker save of report-gen:<content>
                add("manifest.json", json.dumps([{"Config": f"blobs/sha256/{digest_of(content)}",
                                                  "RepoTags": [f"report-gen:{content}"], "Layers": []}]).encode())
    return write


STATES = {
    "broken": (lambda: objects("broken"), archive(None), "archive exists"),
    "exports a container instead of saving the image": (
        lambda: objects("broken"), archive("export"), "archive is an image archive"),
    "writes some other file": (lambda: objects("broken"), archive("not a tar"), "archive is an image archive"),
    "saves the older tag": (lambda: objects("broken"), archive("2.0"), "archive holds the image"),
    "saves the archive but loads nothing": (lambda: objects("broken"), archive("2.1"), "image on the node"),
    # ctr's default namespace is not the kubelet's: status.images stays as in "broken".
    "imports with ctr into containerd's default namespace": (lambda: objects("broken"), archive("2.1"),
                                                             "image on the node"),
    "sets imagePullPolicy: Never": (lambda: objects("sets imagePullPolicy: Never"), archive("2.1"),
                                    "deployment unchanged"),
    "solved": (lambda: objects("solved"), archive("2.1"), None),
    "solved from an OCI archive": (lambda: objects("solved"), archive("oci"), None),
}
