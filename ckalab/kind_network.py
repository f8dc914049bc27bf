"""The `kind` Docker network, shared by every kind cluster on the machine: the course's
registries join it only while the course's own cluster exists, and leave it only when no other
container still uses it. `registry.up` and `cluster.create`/`delete` call these.
"""

from __future__ import annotations

from . import shell
from .errors import CourseError
from .settings import Settings

KIND_NETWORK = "kind"
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


def registry_names(cfg: Settings) -> tuple[str, str]:
    return cfg.open_registry_name, cfg.private_registry_name


def _docker(cfg: Settings, *args: str) -> shell.Result:
    return shell.run(["docker", *args], env=shell.course_env(cfg), timeout=60)


def kind_network_exists(cfg: Settings) -> bool:
    return _docker(cfg, "network", "inspect", KIND_NETWORK, "--format", "{{.Name}}").ok


def kind_network_containers(cfg: Settings) -> list[str]:
    """Every container attached to the kind network, running or stopped ([] if there is none)."""
    result = _docker(cfg, "ps", "--all", "--filter", f"network={KIND_NETWORK}", "--format", "{{.Names}}")
    return result.output.split() if result.ok else []


def course_cluster_exists(cfg: Settings) -> bool:
    """The course's kind cluster has node containers (kind itself lists clusters by this label)."""
    result = _docker(cfg, "ps", "--all", "--quiet", "--filter", f"label={KIND_CLUSTER_LABEL}={cfg.cluster_name}")
    return result.ok and bool(result.output.strip())


def connect_to_kind_network(cfg: Settings, *, cluster_exists: bool | None = None) -> list[str]:
    """Attach both registries to the kind network, if that network and the course cluster exist.

    The one place that does it: `cluster.create` calls it after creating the cluster, `up` after
    (re)creating a registry container. Returns the registries it attached."""
    if not kind_network_exists(cfg):
        return []
    if cluster_exists is None:
        cluster_exists = course_cluster_exists(cfg)
    if not cluster_exists:
        return []
    attached = set(kind_network_containers(cfg))
    connected = []
    for name in registry_names(cfg):
        if name in attached:
            continue
        result = _docker(cfg, "network", "connect", KIND_NETWORK, name)
        if not result.ok and "already exists" not in result.output:
            raise CourseError(
                f"Could not attach the registry {name} to the `{KIND_NETWORK}` Docker network, so the "
                f"cluster's nodes cannot pull from it: {' '.join(result.output.split())[:200]}",
                "run `make registries`, then `make cluster` again.")
        connected.append(name)
    return connected


def disconnect_from_kind_network(cfg: Settings) -> tuple[list[str], list[str]]:
    """Detach both registries from the kind network, unless another container still uses it.

    Every kind cluster on this machine shares that network, and another cluster may pull from the
    registries. Returns (detached registries, the other containers that kept them attached)."""
    attached = kind_network_containers(cfg)
    ours = [name for name in registry_names(cfg) if name in attached]
    others = [name for name in attached if name not in registry_names(cfg)]
    if others or not ours:
        return [], others
    for name in ours:
        _docker(cfg, "network", "disconnect", KIND_NETWORK, name)
    return ours, []
