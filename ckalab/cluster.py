"""The course's kind cluster, wired to both local registries (kind's local-registry recipe).

The cluster's kubeconfig lives in .ckalab/kubeconfig, never in ~/.kube/config,
and every command that changes cluster state first checks that it talks to the
course's own context.
"""

from __future__ import annotations

import shutil

import yaml

from . import kind_network, registry
from . import settings as settings_module
from . import shell
from .errors import CourseError
from .settings import Settings


# containerd reads per-registry hosts.toml files from certs.d. Node images from kind
# v0.27.0 on already set this; it is kept for older images.
CONTAINERD_REGISTRY_PATCH = ('[plugins."io.containerd.grpc.v1.cri".registry]\n'
                             '  config_path = "/etc/containerd/certs.d"')


class _KindConfigDumper(yaml.SafeDumper):
    """Multi-line strings (containerd and kubeadm patches) as readable `|` blocks."""


def _represent_str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KindConfigDumper.add_representer(str, _represent_str)


def kind_config_extra(cfg: Settings) -> dict:
    """The mapping in CKALAB_KIND_CONFIG_EXTRA's file ({} when unset), checked before kind sees it."""
    path = cfg.kind_config_extra
    if path is None:
        return {}
    fix = ("point CKALAB_KIND_CONFIG_EXTRA at a YAML mapping of kind cluster config, e.g. "
           "`containerdConfigPatches:` or `kubeadmConfigPatches:` lists, or unset it.")
    try:
        text = path.read_text()
    except OSError as exc:
        raise CourseError(f"CKALAB_KIND_CONFIG_EXTRA names {path}, which cannot be read "
                          f"({exc.strerror or exc}).", fix) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CourseError(f"CKALAB_KIND_CONFIG_EXTRA names {path}, which is not valid YAML: "
                          f"{' '.join(str(exc).split())}.", fix) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CourseError(f"CKALAB_KIND_CONFIG_EXTRA names {path}, which holds a {type(data).__name__}, "
                          "not a mapping of kind cluster config.", fix)
    return data


def kind_config(cfg: Settings) -> str:
    """The kind cluster config: the course's own, plus CKALAB_KIND_CONFIG_EXTRA's file if set.

    The extra file's lists (containerdConfigPatches, kubeadmConfigPatches, nodes, ...) come after
    the course's own entries; its other keys are added where the course sets none.
    """
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "containerdConfigPatches": [CONTAINERD_REGISTRY_PATCH],
    }
    extra = kind_config_extra(cfg)
    for key, value in extra.items():
        mine = config.get(key)
        if key not in config:
            config[key] = value
        elif isinstance(mine, list) and isinstance(value, list):
            config[key] = mine + value
        elif mine != value:
            wanted = "a list" if isinstance(mine, list) else repr(mine)
            raise CourseError(
                f"CKALAB_KIND_CONFIG_EXTRA's file {cfg.kind_config_extra} sets `{key}` to "
                f"{repr(value)[:80]}, but the course's kind config needs {wanted} there.",
                f"make `{key}` in that file {wanted}, or leave it out.")
    return yaml.dump(config, Dumper=_KindConfigDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1000)


def hosts_toml(cfg: Settings) -> dict[str, str]:
    """hosts.toml per registry host, as the nodes see it.

    * localhost:5001 means the node itself inside a node, so containerd is told
      to pull it from the registry container on the kind network instead.
    * The private registry is referenced by its container name, which the nodes
      reach directly; its hosts.toml only switches that host to plain HTTP. It is
      not a mirror on purpose: the kubelet picks a pull secret by the host written
      in the image reference, and containerd may not pass those credentials on to
      a mirror endpoint (containerd issue #10996).
    """
    open_host = f'[host."http://{cfg.open_registry_name}:5000"]\n'
    private = cfg.private_registry_in_cluster
    private_host = (f'server = "http://{private}"\n\n'
                    f'[host."http://{private}"]\n  capabilities = ["pull", "resolve"]\n')
    return {cfg.open_registry: open_host, private: private_host}


def local_registry_configmap(cfg: Settings) -> str:
    """KEP-1755's ConfigMap that tells tools where the cluster's local registry is."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {"localRegistryHosting.v1": f'host: "{cfg.open_registry}"\n'
                 'help: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n'},
    }, sort_keys=False)


# ---------------------------------------------------------------- context guard

def context_problem(cfg: Settings | None = None) -> CourseError | None:
    """Why the course must not touch the cluster the kubeconfig points at, if it must not."""
    cfg = cfg or settings_module.load()
    if not cfg.kubeconfig.exists():
        return CourseError(f"The course's kubeconfig {cfg.kubeconfig} does not exist yet.",
                           "run `make cluster`.")
    try:
        data = yaml.safe_load(cfg.kubeconfig.read_text()) or {}
    except yaml.YAMLError:
        return CourseError(f"The course's kubeconfig {cfg.kubeconfig} is not valid YAML.",
                           "run `make cluster-delete cluster` to recreate it.")
    current = data.get("current-context")
    if current != cfg.kube_context:
        return CourseError(
            f"The kube context is '{current}', not the course's '{cfg.kube_context}'; the course "
            "only changes its own cluster, so it refuses to go on.",
            f"run `kubectl --kubeconfig {cfg.kubeconfig} config use-context {cfg.kube_context}` "
            "(or `make cluster` if that context does not exist).",
        )
    return None


def guard(cfg: Settings | None = None) -> None:
    """Raise unless the kubeconfig's current context is the course's own."""
    problem = context_problem(cfg)
    if problem:
        raise problem


def kubectl_result(*args: str, cfg: Settings | None = None, input: str | None = None,
                   timeout: float = 120) -> shell.Result:
    """kubectl against the course's cluster only: its Result, failed or not (it raises only when
    the kubeconfig's context is not the course's). cluster_actions.kubectl raises on a failure."""
    cfg = cfg or settings_module.load()
    guard(cfg)
    return shell.run(["kubectl", "--context", cfg.kube_context, *args],
                     env=shell.course_env(cfg), input=input, timeout=timeout)


# ---------------------------------------------------------------- lifecycle

def _require_tools() -> None:
    if not shutil.which("kind"):
        raise CourseError("kind is not installed, so the course cannot create its cluster.",
                          "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), "
                          "then run `make cluster`.")
    if not shutil.which("kubectl"):
        raise CourseError("kubectl is not installed.",
                          "install it (https://kubernetes.io/docs/tasks/tools/), then run `make cluster`.")


def exists(cfg: Settings) -> bool:
    return cfg.cluster_name in shell.run(["kind", "get", "clusters"], timeout=30).output.split()


def export_kubeconfig(cfg: Settings | None = None) -> bool:
    """Write the course cluster's kubeconfig to cfg.kubeconfig (kind writes only that file).
    False, and nothing written, when kind or the cluster is missing."""
    cfg = cfg or settings_module.load()
    if shutil.which("kind") is None or not exists(cfg):
        return False
    cfg.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    return shell.run(["kind", "export", "kubeconfig", "--name", cfg.cluster_name,
                      "--kubeconfig", str(cfg.kubeconfig)], env=shell.course_env(cfg), timeout=60).ok


def create(cfg: Settings | None = None, *, echo=print) -> None:
    """Create (or repair) the course cluster and wire it to the registries. Idempotent."""
    cfg = cfg or settings_module.load()
    _require_tools()
    config = kind_config(cfg)  # a bad CKALAB_KIND_CONFIG_EXTRA fails here, before anything starts
    registry.up(cfg)
    env = shell.course_env(cfg)
    if not exists(cfg):
        echo(f"Creating kind cluster {cfg.cluster_name} ({cfg.node_image.split('@')[0]}) ...")
        if cfg.kind_config_extra:
            echo(f"Adding the kind config in {cfg.kind_config_extra} (CKALAB_KIND_CONFIG_EXTRA).")
        result = shell.run(["kind", "create", "cluster", "--name", cfg.cluster_name,
                            "--image", cfg.node_image, "--kubeconfig", str(cfg.kubeconfig),
                            "--config", "-", "--wait", "120s"],
                           env=env, input=config, timeout=900, stream=echo)
        if not result.ok:
            raise CourseError(f"`kind create cluster` failed (exit {result.returncode}); its output is above.",
                              "run `make doctor`, fix what it reports, then `make cluster` again.")
    else:
        export_kubeconfig(cfg)    # in case it was deleted
    guard(cfg)
    nodes = shell.run(["kind", "get", "nodes", "--name", cfg.cluster_name], env=env).output.split()
    for node in nodes:
        for host, content in hosts_toml(cfg).items():
            folder = f"/etc/containerd/certs.d/{host}"
            shell.run(["docker", "exec", node, "mkdir", "-p", folder], env=env)
            result = shell.run(["docker", "exec", "-i", node, "cp", "/dev/stdin", f"{folder}/hosts.toml"],
                               env=env, input=content)
            if not result.ok:
                raise CourseError(f"Could not configure registry {host} on node {node}: {result.output}",
                                  "run `make cluster-delete cluster`.")
    kind_network.connect_to_kind_network(cfg, cluster_exists=True)
    result = kubectl_result("apply", "-f", "-", cfg=cfg, input=local_registry_configmap(cfg))
    if not result.ok:
        raise CourseError(f"Could not apply the local-registry-hosting ConfigMap: {result.output}",
                          "run `make doctor`.")
    echo(f"Cluster {cfg.cluster_name} is ready; context {cfg.kube_context} in {cfg.kubeconfig}.")


def delete(cfg: Settings | None = None, *, echo=print) -> None:
    """Delete exactly what `create` made: the kind cluster, and the registries' link to the kind
    network once no other container uses that network (every kind cluster shares it)."""
    cfg = cfg or settings_module.load()
    _require_tools()
    env = shell.course_env(cfg)
    if exists(cfg):
        shell.run(["kind", "delete", "cluster", "--name", cfg.cluster_name,
                   "--kubeconfig", str(cfg.kubeconfig)], env=env, timeout=300, stream=echo)
    detached, others = kind_network.disconnect_from_kind_network(cfg)
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        echo(f"The registries stay on the `{kind_network.KIND_NETWORK}` network: other containers use it ({shown}).")
    if cfg.kubeconfig.exists():
        cfg.kubeconfig.unlink()
    echo(f"Cluster {cfg.cluster_name} deleted.")
