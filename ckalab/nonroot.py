"""What the kubelet's `runAsNonRoot` check makes of an image's USER, without a cluster (lesson 04).

    ok, why = ck.nonroot.verdict(ck.nonroot.image_user("nb04-improved:1"))
"""

from __future__ import annotations

from . import shell
from .errors import CourseError


def verdict(user: str, run_as_user: int | None = None) -> tuple[bool, str]:
    """What the kubelet decides for a container with `runAsNonRoot: true`.

    USER is the image's Config.User. The runtime reads it as containerd does: the part
    before ':' is a UID if it is numeric, else a user name; empty means root. The kubelet
    then refuses UID 0 and names it cannot verify. A `runAsUser` in the Pod wins over USER.
    """
    if run_as_user is not None:
        if run_as_user == 0:
            return False, "container's runAsUser breaks non-root policy"
        return True, f"runs as UID {run_as_user} (runAsUser in the Pod)"
    name = (user or "").split(":")[0]
    if name == "":
        return False, "container has runAsNonRoot and image will run as root (no USER: root)"
    if not name.isdigit():
        return False, (f"container has runAsNonRoot and image has non-numeric user ({name}), "
                       "cannot verify user is non-root")
    if int(name) == 0:
        return False, "container has runAsNonRoot and image will run as root"
    return True, f"runs as UID {int(name)}"


def image_user(image: str) -> str:
    """The image's Config.User, as `docker image inspect` reports it ("" when it sets none)."""
    result = shell.run(["docker", "image", "inspect", "--format", "{{.Config.User}}", image],
                       env=shell.course_env(), timeout=60)
    if not result.ok:
        raise CourseError(f"There is no image {image} to inspect.", f"build it first (`docker build -t {image} ...`).")
    return result.output.strip()
