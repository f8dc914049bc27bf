"""Image pull Secrets: build them as kubectl does, decode them, and test them against a registry.

* `secret_manifest(name, server, username, password)` is the Secret that
  `kubectl create secret docker-registry NAME --docker-server=... --docker-username=...
  --docker-password=... --dry-run=client -o json` prints (byte-identical `.dockerconfigjson`).
* `decode(secret)` turns a Secret (a dict, e.g. from `kubectl get secret -o json`) back
  into its Docker config: `{"auths": {server: {"username", "password", "auth", ...}}}`.
* `authenticates(secret, "http://localhost:5002")` tries the Secret's credentials on the
  registry's `GET /v2/` endpoint: True for 200, False for 401.

No cluster and no Docker are needed, except by `authenticates`, which needs the registry.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import requests

from .errors import CourseError

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
DATA_KEY = ".dockerconfigjson"
DOCKER_HUB = "https://index.docker.io/v1/"  # kubectl's default --docker-server


def _go_json(value) -> str:
    """JSON as Go's encoding/json writes it: compact, UTF-8, with <, >, & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def dockerconfigjson(server: str, username: str, password: str, email: str | None = None) -> dict:
    """The Docker config kubectl stores for one registry (the same fields, in the same order)."""
    entry = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"auths": {server: entry}}


def encode(config: dict) -> str:
    """The base64 value of `.dockerconfigjson` for a Docker config dict, as kubectl encodes it."""
    return base64.b64encode(_go_json(config).encode()).decode()


def secret_manifest(name: str, server: str, username: str, password: str, *,
                    namespace: str | None = None, email: str | None = None) -> dict:
    """The Secret `kubectl create secret docker-registry ... --dry-run=client -o json` prints
    (without its `creationTimestamp: null`)."""
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": metadata,
        "data": {DATA_KEY: encode(dockerconfigjson(server, username, password, email))},
        "type": SECRET_TYPE,
    }


def write_config(path: str | Path, server: str, username: str, password: str) -> Path:
    """Write a Docker config.json holding one registry login (for `--from-file`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dockerconfigjson(server, username, password), indent=2) + "\n")
    path.chmod(0o600)
    return path


def decode(secret: dict) -> dict:
    """The Docker config inside a pull Secret (`data` base64 or `stringData` plain)."""
    name = (secret.get("metadata") or {}).get("name", "?")
    kind = secret.get("kind", "Secret")
    if kind != "Secret":
        raise CourseError(f"'{name}' is a {kind}, not a Secret.", "pass the Secret object itself.")
    if secret.get("type") != SECRET_TYPE:
        raise CourseError(
            f"Secret '{name}' has type '{secret.get('type') or 'Opaque'}', so the kubelet does not "
            f"use it to pull images.",
            f"create it with `kubectl create secret docker-registry`, or add "
            f"`--type={SECRET_TYPE}` to `kubectl create secret generic`.")
    raw = (secret.get("stringData") or {}).get(DATA_KEY)
    if raw is None:
        encoded = (secret.get("data") or {}).get(DATA_KEY)
        if encoded is None:
            raise CourseError(f"Secret '{name}' has no '{DATA_KEY}' key.",
                              f"the key must be named exactly {DATA_KEY} "
                              f"(`--from-file={DATA_KEY}=path/to/config.json`).")
        try:
            raw = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise CourseError(f"Secret '{name}': '{DATA_KEY}' is not valid base64.",
                              "recreate the Secret with kubectl instead of writing data by hand.") from None
    try:
        config = json.loads(raw)
    except ValueError:
        raise CourseError(f"Secret '{name}': '{DATA_KEY}' is not JSON.",
                          "it must hold a Docker config.json; recreate the Secret with kubectl.") from None
    if not isinstance(config, dict) or not isinstance(config.get("auths"), dict):
        raise CourseError(f"Secret '{name}': its Docker config has no 'auths' section.",
                          "a config.json that uses credsStore/credHelpers holds no passwords; create "
                          "the Secret with `kubectl create secret docker-registry` instead.")
    return config


def servers(secret: dict) -> list[str]:
    """The registry hosts a pull Secret has credentials for, as written in it."""
    return list(decode(secret)["auths"])


def credentials(secret: dict, server: str | None = None) -> tuple[str, str, str]:
    """(server, username, password) of one entry: `server`'s, or the only one."""
    name = (secret.get("metadata") or {}).get("name", "?")
    auths = decode(secret)["auths"]
    if server is None:
        if len(auths) != 1:
            raise CourseError(f"Secret '{name}' has credentials for {len(auths)} registries "
                              f"({', '.join(auths) or 'none'}).", "say which one with server=...")
        server = next(iter(auths))
    if server not in auths:
        raise CourseError(f"Secret '{name}' has no credentials for '{server}' "
                          f"(it has: {', '.join(auths) or 'none'}).",
                          "the Secret's --docker-server must be the registry host written in the image name.")
    entry = auths[server] or {}
    username, password = entry.get("username"), entry.get("password")
    if (username is None or password is None) and entry.get("auth"):
        username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    if not username:
        raise CourseError(f"Secret '{name}': the entry for '{server}' holds no username/password.",
                          "recreate it with --docker-username and --docker-password.")
    return server, username, password or ""


def authenticates(secret: dict, registry_url: str, *, server: str | None = None,
                  timeout: float = 10) -> bool:
    """Do the Secret's credentials log in to the registry at `registry_url`?

    Sends `GET {registry_url}/v2/` with HTTP Basic auth: 200 means yes, 401 means no.
    `server` picks the Secret entry when it has several.
    """
    _, username, password = credentials(secret, server)
    url = registry_url.rstrip("/") + "/v2/"
    try:
        response = requests.get(url, auth=(username, password), timeout=timeout)
    except requests.RequestException as exc:
        raise CourseError(f"The registry at {url} did not answer ({exc.__class__.__name__}).",
                          "start the course's registries with `make registries`, then try again.") from None
    if response.status_code == 200:
        return True
    if response.status_code == 401:
        return False
    raise CourseError(f"The registry at {url} answered {response.status_code}, not 200 or 401.",
                      "check the URL: it must be the registry's base address, e.g. http://localhost:5002.")
