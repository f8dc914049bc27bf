"""Lab 05: Write the pull Secret for the private registry."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import yaml

from ckalab import registry
from ckalab import settings as settings_module
from ckalab.checks import CheckResult
from ckalab.labs import Lab, WrongAttempt, register

NAMES = {"secret": "ledger-pull", "ns": "payments"}


def _file(lab: Lab) -> Path:
    return lab.work_dir / "secret.yaml"


def _setup(lab: Lab) -> None:
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"Write the Secret manifest to {_file(lab).relative_to(settings_module.load().root)}.")


def _server_host(key: str) -> str:
    return re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]


def _check(lab: Lab, r: CheckResult) -> None:
    from ckalab import pullsecrets, validate
    cfg = settings_module.load()
    path = _file(lab)
    rel = path.relative_to(cfg.root)
    if not path.exists():
        r.add("valid Secret manifest", False, f"{rel} does not exist yet")
        return
    findings = validate.manifests(path)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError:
        docs = []
    secret = docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else None
    if findings or secret is None or secret.get("kind") != "Secret":
        r.add("valid Secret manifest", False,
              "; ".join(map(str, findings[:2])) if findings else f"{rel} must hold exactly one Secret")
        return
    r.add("valid Secret manifest", True, f"{rel} is a valid v1 Secret (Kubernetes {validate.KUBERNETES_VERSION})")
    meta = secret.get("metadata") or {}
    want = f"{lab.names['ns']}/{lab.names['secret']}"
    right = meta.get("name") == lab.names["secret"] and meta.get("namespace") == lab.names["ns"]
    r.add("name and namespace", right,
          want if right else
          f"it is {meta.get('namespace', '(no namespace)')}/{meta.get('name')}, not {want}: "
          "a Pod can only use a pull Secret from its own namespace")
    kind = secret.get("type") or "Opaque"
    r.add(f"type {pullsecrets.SECRET_TYPE}", kind == pullsecrets.SECRET_TYPE,
          f"type {kind}" if kind == pullsecrets.SECRET_TYPE else
          f"type is {kind}: the kubelet only reads pull credentials from type {pullsecrets.SECRET_TYPE}")
    try:
        config = pullsecrets.decode({**secret, "type": pullsecrets.SECRET_TYPE})
    except registry.CourseError as exc:
        r.add(f"key {pullsecrets.DATA_KEY}", False, exc.problem)
        return
    r.add(f"key {pullsecrets.DATA_KEY}", True, f"{pullsecrets.DATA_KEY} holds a Docker config with 'auths'")
    wanted = cfg.private_registry_in_cluster
    keys = [k for k in config["auths"] if _server_host(k) == wanted]
    r.add(f"server {wanted}", bool(keys),
          f"credentials for {keys[0]}" if keys else
          f"credentials are for {', '.join(config['auths']) or 'no registry'}; the nodes pull this image as "
          f"{wanted}/... and the kubelet picks credentials by that host, so the server must be {wanted}")
    server = keys[0] if keys else (next(iter(config["auths"]), None))
    if server is None:
        r.add("credentials log in to the registry", False, "there are no credentials in it")
        return
    try:
        ok = pullsecrets.authenticates({**secret, "type": pullsecrets.SECRET_TYPE},
                                       f"http://{cfg.private_registry}", server=server)
    except registry.CourseError as exc:
        r.add("credentials log in to the registry", False, exc.problem)
        return
    r.add("credentials log in to the registry", ok,
          f"GET http://{cfg.private_registry}/v2/ with them answers 200" if ok else
          f"the registry answers 401 Unauthorized to these credentials: use the lab's username and password")


def _write_with_kubectl(lab: Lab, name: str, namespace: str, server: str, password: str | None = None) -> None:
    from ckalab import pullsecrets, shell
    creds = registry.credentials()
    password = creds.password if password is None else password
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    if shell.which("kubectl"):
        result = shell.run(["kubectl", "create", "secret", "docker-registry", name, "-n", namespace,
                            f"--docker-server={server}", f"--docker-username={creds.username}",
                            f"--docker-password={password}", "--dry-run=client", "-o", "yaml"], timeout=30)
        if result.ok:
            _file(lab).write_text(result.output)
            return
    _file(lab).write_text(yaml.safe_dump(pullsecrets.secret_manifest(
        name, server, creds.username, password, namespace=namespace), sort_keys=False))


def _solve(lab: Lab) -> None:
    _write_with_kubectl(lab, lab.names["secret"], lab.names["ns"], settings_module.load().private_registry_in_cluster)


def _teardown(lab: Lab) -> None:
    pass


def _opaque(lab: Lab) -> None:
    from ckalab import pullsecrets
    creds = registry.credentials()
    config = pullsecrets.dockerconfigjson(settings_module.load().private_registry_in_cluster,
                                          creds.username, creds.password)
    manifest = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": lab.names["secret"], "namespace": lab.names["ns"]},
                "data": {"config.json": base64.b64encode(json.dumps(config).encode()).decode()}}
    lab.work_dir.mkdir(parents=True, exist_ok=True)
    _file(lab).write_text(yaml.safe_dump(manifest, sort_keys=False))


def _wrong_key(lab: Lab) -> None:
    _solve(lab)
    text = _file(lab).read_text().replace("  .dockerconfigjson:", "  config.json:")
    _file(lab).write_text(text)


register(Lab(
    id="lab05-pull-secret-manifest",
    title="Write the pull Secret for the private registry",
    level="docker",
    checks=["valid Secret manifest", "name and namespace", "type kubernetes.io/dockerconfigjson",
            "key .dockerconfigjson", "server private-registry:5000", "credentials log in to the registry"],
    first_failure="valid Secret manifest",
    hints=[
        "kubectl can write the manifest without a cluster: `kubectl create ... --dry-run=client -o yaml`. "
        "Which `kubectl create secret` subcommand makes a Secret of type kubernetes.io/dockerconfigjson?",
        "`kubectl create secret docker-registry NAME -n NAMESPACE --docker-server=... --docker-username=... "
        "--docker-password=...`. The server is the registry host as the NODES pull it (the host written "
        "in the Pod's image), not the localhost:5002 your machine uses.",
        "kubectl create secret docker-registry ledger-pull -n payments --docker-server=private-registry:5000 "
        "--docker-username=student --docker-password=<the lab password> --dry-run=client -o yaml "
        "> .ckalab/work/lab05/secret.yaml",
    ],
    setup_fn=_setup, check_fn=_check, solve_fn=_solve, teardown_fn=_teardown,
    wrong_attempts=[
        WrongAttempt("server localhost:5002", lambda lab: _write_with_kubectl(
            lab, lab.names["secret"], lab.names["ns"], settings_module.load().private_registry),
            fails="server private-registry:5000"),
        WrongAttempt("wrong password", lambda lab: _write_with_kubectl(
            lab, lab.names["secret"], lab.names["ns"], settings_module.load().private_registry_in_cluster,
            password="not-the-password"), fails="credentials log in to the registry"),
        WrongAttempt("Opaque Secret holding a config.json", _opaque,
                     fails="type kubernetes.io/dockerconfigjson"),
        WrongAttempt("key named config.json", _wrong_key, fails="key .dockerconfigjson"),
        WrongAttempt("default namespace", lambda lab: _write_with_kubectl(
            lab, lab.names["secret"], "default", settings_module.load().private_registry_in_cluster),
            fails="name and namespace"),
    ],
    names=NAMES,
))
