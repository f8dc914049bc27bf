"""Names, ports and paths the course uses, overridable by environment variables.

Everything the course creates is named here, so that cleanup removes exactly
what the course made and nothing else.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# kind v0.33.0 lists this image for Kubernetes v1.37.0 in its release notes; the
# digest pins the build made for that kind release (kind requires the digest).
# CKALAB_NODE_IMAGE replaces it (e.g. a node image built locally, for CI).
KIND_VERSION = "v0.33.0"
KUBERNETES_VERSION = "v1.37.0"
NODE_IMAGE = (
    "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
)

# The registry image used by kind's local-registry recipe.
REGISTRY_IMAGE = "registry:3"

LEVELS = ("none", "docker", "cluster")


def find_course_root() -> Path:
    """The course checkout: CKALAB_HOME, else the folder holding this package."""
    if os.environ.get("CKALAB_HOME"):
        return Path(os.environ["CKALAB_HOME"]).resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "notebooks").is_dir():
        return package_parent
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    root: Path
    cluster_name: str = "cka-images"
    open_registry_name: str = "kind-registry"
    open_registry_port: int = 5001
    private_registry_name: str = "private-registry"
    private_registry_port: int = 5002
    registry_image: str = REGISTRY_IMAGE
    node_image: str = NODE_IMAGE
    # CKALAB_KIND_CONFIG_EXTRA: a YAML file merged into the generated kind config
    # (cluster.kind_config). For host workarounds a CI script needs; the course adds none.
    kind_config_extra: Path | None = None
    # CKALAB_BUILDKITD_CONFIG: a buildkitd.toml for the course's docker-container builder
    # (ckalab.multiplatform). For a CI machine that reaches no Docker Hub; the course sets none.
    buildkitd_config: Path | None = None

    # CKALAB_STATE_DIR: where this checkout's state lives (progress, reports, lab work, kubeconfig,
    # Docker config). The test suite points it at a directory of its own.
    state_override: Path | None = None
    # CKALAB_SHARED_DIR: what belongs to the user rather than to one checkout: the registries'
    # lab credentials, which every clone on the machine must share with the registry containers.
    shared_override: Path | None = None

    @property
    def state_dir(self) -> Path:
        return self.state_override or self.root / ".ckalab"

    @property
    def shared_dir(self) -> Path:
        if self.shared_override:
            return self.shared_override
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "ckalab"

    @property
    def docker_config_dir(self) -> Path:
        """The course's own Docker config dir; the learner's ~/.docker is never used."""
        return self.state_dir / "docker"

    @property
    def setup_docker_config_dir(self) -> Path:
        """The Docker config that the course's own setups push with (registry.setup_push): its login
        is theirs, so a setup never logs the learner in (lab 04 starts logged out) and a learner's
        `docker logout` never breaks a setup."""
        return self.state_dir / "setup-docker"

    @property
    def containers_auth_file(self) -> Path:
        """Podman, Buildah and skopeo logins (REGISTRY_AUTH_FILE); never the learner's
        ~/.config/containers/auth.json or $XDG_RUNTIME_DIR/containers/auth.json."""
        return self.state_dir / "containers" / "auth.json"

    @property
    def builder_name(self) -> str:
        """The course's docker-container builder (ckalab.multiplatform): `ckalab` for the course's own
        state, another name for another state directory (the test suite's), so a test never uses,
        changes or removes the builder a learner made."""
        if self.state_override is None:
            return "ckalab"
        return "ckalab-" + hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]

    @property
    def kubeconfig(self) -> Path:
        """The course's own kubeconfig; the learner's ~/.kube/config is never used."""
        return self.state_dir / "kubeconfig"

    @property
    def kube_context(self) -> str:
        return f"kind-{self.cluster_name}"

    @property
    def auth_dir(self) -> Path:
        """credentials.json and the registry's htpasswd: one per user, shared by every clone."""
        return self.shared_dir / "auth"

    @property
    def legacy_auth_dir(self) -> Path:
        """Where a checkout kept the credentials before they moved to shared_dir."""
        return self.root / ".ckalab" / "auth"

    @property
    def reports_dir(self) -> Path:
        # CKALAB_REPORTS lets a test run keep its report apart from the course's.
        return Path(os.environ.get("CKALAB_REPORTS") or self.state_dir / "reports")

    @property
    def open_registry(self) -> str:
        """Host:port learners push to and Pods pull from (kind maps it inside the nodes)."""
        return f"localhost:{self.open_registry_port}"

    @property
    def private_registry(self) -> str:
        """Host:port learners push to on their machine."""
        return f"localhost:{self.private_registry_port}"

    @property
    def private_registry_in_cluster(self) -> str:
        """Host:port the kind nodes pull the private registry from (its name on the kind network)."""
        return f"{self.private_registry_name}:5000"


def load() -> Settings:
    """Settings from the environment (CKALAB_*), defaults otherwise."""
    env = os.environ
    root = find_course_root()
    extra = (env.get("CKALAB_KIND_CONFIG_EXTRA") or "").strip()
    return Settings(
        root=root,
        cluster_name=env.get("CKALAB_CLUSTER", "cka-images"),
        open_registry_port=int(env.get("CKALAB_OPEN_REGISTRY_PORT", "5001")),
        private_registry_port=int(env.get("CKALAB_PRIVATE_REGISTRY_PORT", "5002")),
        open_registry_name=env.get("CKALAB_OPEN_REGISTRY_NAME", "kind-registry"),
        private_registry_name=env.get("CKALAB_PRIVATE_REGISTRY_NAME", "private-registry"),
        node_image=(env.get("CKALAB_NODE_IMAGE") or "").strip() or NODE_IMAGE,
        # A relative path is taken from the course root, where make and the notebooks run.
        kind_config_extra=(root / Path(extra).expanduser()) if extra else None,
        buildkitd_config=_path_from(env.get("CKALAB_BUILDKITD_CONFIG"), root),
        state_override=_path_from(env.get("CKALAB_STATE_DIR"), root),
        shared_override=_path_from(env.get("CKALAB_SHARED_DIR"), root),
    )


def _path_from(value: str | None, root: Path) -> Path | None:
    """An absolute path from an environment value (relative ones from the course root)."""
    value = (value or "").strip()
    return (root / Path(value).expanduser()).resolve() if value else None
