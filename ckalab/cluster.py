"""The course's kind cluster, wired to both local registries (kind's local-registry recipe).

The cluster's kubeconfig lives in .ckalab/kubeconfig, never in ~/.kube/config,
and every command that changes cluster state first checks that it talks to the
course's own context.
"""

from __future__ import annotations

import shutil
import textwrap

import yaml

from . import registry
from . import settings as settings_module
from . import shell
from .errors import CourseError
from .settings import Settings


def kind_config(cfg: Settings) -> str:
    """kind cluster config: containerd reads per-registry hosts.toml files from certs.d.

    Node images from kind v0.27.0 on already set this; it is kept for older images.
    """
    return textwrap.dedent("""\
        kind: Cluster
        apiVersion: kind.x-k8s.io/v1alpha4
        containerdConfigPatches:
        - |-
          [plugins."io.containerd.grpc.v1.cri".registry]
            config_path = "/etc/containerd/certs.d"
        """)


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


def kubectl(*args: str, cfg: Settings | None = None, input: str | None = None,
            timeout: float = 120) -> shell.Result:
    """kubectl against the course's cluster only."""
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


def create(cfg: Settings | None = None, *, echo=print) -> None:
    """Create (or repair) the course cluster and wire it to the registries. Idempotent."""
    cfg = cfg or settings_module.load()
    _require_tools()
    registry.up(cfg)
    env = shell.course_env(cfg)
    if not exists(cfg):
        echo(f"Creating kind cluster {cfg.cluster_name} ({cfg.node_image.split('@')[0]}) ...")
        result = shell.run(["kind", "create", "cluster", "--name", cfg.cluster_name,
                            "--image", cfg.node_image, "--kubeconfig", str(cfg.kubeconfig),
                            "--config", "-", "--wait", "120s"],
                           env=env, input=kind_config(cfg), timeout=900, stream=echo)
        if not result.ok:
            raise CourseError(f"`kind create cluster` failed (exit {result.returncode}); its output is above.",
                              "run `make doctor`, fix what it reports, then `make cluster` again.")
    else:
        # Refresh the kubeconfig in case it was deleted; kind writes only this file.
        shell.run(["kind", "export", "kubeconfig", "--name", cfg.cluster_name,
                   "--kubeconfig", str(cfg.kubeconfig)], env=env, timeout=60)
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
    for name in (cfg.open_registry_name, cfg.private_registry_name):
        inspect = shell.run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks.kind}}", name], env=env)
        if inspect.output.strip() == "null":
            shell.run(["docker", "network", "connect", "kind", name], env=env)
    result = kubectl("apply", "-f", "-", cfg=cfg, input=local_registry_configmap(cfg))
    if not result.ok:
        raise CourseError(f"Could not apply the local-registry-hosting ConfigMap: {result.output}",
                          "run `make doctor`.")
    echo(f"Cluster {cfg.cluster_name} is ready; context {cfg.kube_context} in {cfg.kubeconfig}.")


def delete(cfg: Settings | None = None, *, echo=print) -> None:
    """Delete exactly what `create` made: the kind cluster and the registries' link to its network."""
    cfg = cfg or settings_module.load()
    _require_tools()
    env = shell.course_env(cfg)
    for name in (cfg.open_registry_name, cfg.private_registry_name):
        inspect = shell.run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks.kind}}", name], env=env)
        if inspect.ok and inspect.output.strip() not in ("null", ""):
            shell.run(["docker", "network", "disconnect", "kind", name], env=env)
    if exists(cfg):
        shell.run(["kind", "delete", "cluster", "--name", cfg.cluster_name,
                   "--kubeconfig", str(cfg.kubeconfig)], env=env, timeout=300, stream=echo)
    if cfg.kubeconfig.exists():
        cfg.kubeconfig.unlink()
    echo(f"Cluster {cfg.cluster_name} deleted.")
