"""The course's two local registries, lab credentials, docker login, and the registry HTTP API.

* open registry:    localhost:5001, container `kind-registry` (kind's local-registry recipe)
* private registry: localhost:5002, container `private-registry`, htpasswd (bcrypt) auth

Both are published on 127.0.0.1 only. The credentials are generated on this
machine for the labs and are not secrets worth protecting.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
from dataclasses import dataclass

import bcrypt
import requests

from . import kind_network
from . import settings as settings_module
from . import shell
from .errors import CourseError
from .settings import Settings

LAB_USER = "student"
COURSE_LABEL = "io.ckalab.course"
# kind puts every cluster's nodes on this one Docker network and labels them with their cluster.

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


# ---------------------------------------------------------------- credentials

@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def credentials(cfg: Settings | None = None) -> Credentials:
    """The lab login for the private registry, created on first use (lab-only)."""
    cfg = cfg or settings_module.load()
    path = cfg.auth_dir / "credentials.json"
    legacy = cfg.legacy_auth_dir / "credentials.json"
    if not path.exists() and legacy.exists():
        # A checkout from before the credentials moved to the user's state: keep its password,
        # so that its logins and pull Secrets keep working.
        cfg.auth_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(legacy.read_text())
        path.chmod(0o600)
    if path.exists():
        data = json.loads(path.read_text())
        return Credentials(data["username"], data["password"])
    cfg.auth_dir.mkdir(parents=True, exist_ok=True)
    creds = Credentials(LAB_USER, secrets.token_urlsafe(12))
    path.write_text(json.dumps({"username": creds.username, "password": creds.password,
                                "note": "lab-only credentials for the course's private registry"}))
    path.chmod(0o600)
    return creds


def htpasswd_line(username: str, password: str) -> str:
    """An htpasswd entry in bcrypt form, the only form the registry accepts."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"{username}:{hashed}\n"


def write_htpasswd(cfg: Settings) -> None:
    creds = credentials(cfg)
    path = cfg.auth_dir / "htpasswd"
    if path.exists():
        user, _, hashed = path.read_text().strip().partition(":")
        if user == creds.username and bcrypt.checkpw(creds.password.encode(), hashed.encode()):
            return
    path.write_text(htpasswd_line(creds.username, creds.password))


# ---------------------------------------------------------------- containers

def _docker_client():
    import docker
    return shell.docker_client(), docker.errors


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _ensure_image(client, errors, image: str) -> None:
    try:
        client.images.get(image)
        return
    except errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
    except errors.APIError as exc:
        raise CourseError(
            f"The registry image {image} is not on this machine and could not be pulled "
            f"({exc.explanation}).",
            "connect to the internet and run `make registries`; on a machine without "
            "Docker Hub access run `make base-images` first.",
        ) from None


def _start(client, errors, *, name: str, port: int, image: str, environment=None, volumes=None):
    try:
        container = client.containers.get(name)
    except errors.NotFound:
        container = None
    if container is not None and volumes and container.labels.get(COURSE_LABEL) == "registry":
        # A course registry made with other mounts (an older course version, another htpasswd):
        # replace it. Its images live in the named storage volume, so they stay.
        mounted = {m.get("Name") or m.get("Source") for m in container.attrs.get("Mounts", [])}
        if not set(volumes) <= mounted:
            container.remove(force=True)
            container = None
    if container is not None:
        if container.status != "running":
            container.start()
        return container
    if port_in_use(port):
        raise CourseError(
            f"Port {port} on 127.0.0.1 is already taken by another program, so the registry "
            f"`{name}` cannot listen there.",
            f"stop that program (`ss -ltnp 'sport = :{port}'` shows it), or pick another port, "
            f"e.g. `CKALAB_OPEN_REGISTRY_PORT=5011 CKALAB_PRIVATE_REGISTRY_PORT=5012 make registries`.",
        )
    return client.containers.run(
        image, name=name, detach=True, restart_policy={"Name": "always"},
        ports={"5000/tcp": ("127.0.0.1", port)}, environment=environment or {},
        volumes=volumes or {}, labels={COURSE_LABEL: "registry"},
    )


def up(cfg: Settings | None = None) -> None:
    """Start both registries (idempotent)."""
    cfg = cfg or settings_module.load()
    client, errors = _docker_client()
    _ensure_image(client, errors, cfg.registry_image)
    open_container = _start(client, errors, name=cfg.open_registry_name, port=cfg.open_registry_port,
                            image=cfg.registry_image, volumes=storage_volume(cfg.open_registry_name))
    write_htpasswd(cfg)
    private = dict(
        name=cfg.private_registry_name, port=cfg.private_registry_port, image=cfg.registry_image,
        environment={
            "REGISTRY_AUTH": "htpasswd",
            "REGISTRY_AUTH_HTPASSWD_REALM": "ckalab private registry",
            "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd",
        },
        volumes={str(cfg.auth_dir): {"bind": "/auth", "mode": "ro"},
                 **storage_volume(cfg.private_registry_name)},
    )
    container = _start(client, errors, **private)
    serving_or_restarted(open_container, f"http://{cfg.open_registry}/v2/")
    serving_or_restarted(container, f"http://{cfg.private_registry}/v2/")
    if not accepts_lab_credentials(cfg):
        # Its /auth mount no longer shows this checkout's htpasswd (the folder was deleted and
        # made again at the same path, e.g. a fresh clone): a new container mounts it anew.
        container.remove(force=True)
        _start(client, errors, **private)
        wait_until_serving(f"http://{cfg.private_registry}/v2/")
    # A registry container made again (registries-reset, another checkout's) has lost its
    # place on the kind network, where the course cluster's nodes pull from it by name.
    kind_network.connect_to_kind_network(cfg)


def storage_volume(registry_name: str) -> dict:
    """The registry's storage as a named volume: it belongs to the machine, so a registry
    container made again (another clone, a new course version) still has every pushed image."""
    return {f"ckalab-{registry_name}-data": {"bind": "/var/lib/registry", "mode": "rw"}}


def accepts_lab_credentials(cfg: Settings) -> bool:
    """True when the private registry answers the lab credentials with 200."""
    creds = credentials(cfg)
    try:
        response = requests.get(f"http://{cfg.private_registry}/v2/", timeout=5,
                                auth=(creds.username, creds.password))
    except requests.RequestException:
        return False
    return response.status_code == 200


def serving_or_restarted(container, url: str) -> None:
    """Wait until the registry answers. A container that runs but does not answer (its published
    port lost when Docker itself restarted, say) is restarted once, as `docker restart` would."""
    try:
        wait_until_serving(url, seconds=15)
    except CourseError:
        try:
            container.restart(timeout=5)
        except Exception as exc:  # docker.errors.APIError: e.g. the port is taken by now
            raise CourseError(f"The registry at {url} did not answer, and restarting its container failed "
                              f"({exc}).", "look at `docker ps -a` and `docker logs kind-registry`, then run "
                              "`make registries-reset`.") from None
        wait_until_serving(url, seconds=30)


def wait_until_serving(url: str, seconds: float = 20) -> None:
    import time
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException as exc:
            if time.monotonic() > deadline:
                raise CourseError(f"The registry at {url} did not answer within {seconds:.0f} s "
                                  f"({type(exc).__name__}).",
                                  "look at `docker ps` and `docker logs kind-registry` / "
                                  "`docker logs private-registry`, then run `make registries` again.") from None
            time.sleep(0.3)


def down(cfg: Settings | None = None) -> list[str]:
    """Remove the course's registry containers (only those carrying the course label)."""
    cfg = cfg or settings_module.load()
    client, errors = _docker_client()
    removed = []
    for name in (cfg.open_registry_name, cfg.private_registry_name):
        try:
            container = client.containers.get(name)
        except errors.NotFound:
            continue
        if container.labels.get(COURSE_LABEL) != "registry":
            continue  # not ours: never remove a container the course did not create
        container.remove(force=True, v=True)
        removed.append(name)
    return removed


# ---------------------------------------------------------------- docker login

def login(cfg: Settings | None = None, *, username: str | None = None,
          password: str | None = None) -> shell.Result:
    """`docker login` to the private registry, stored in the course's Docker config only."""
    cfg = cfg or settings_module.load()
    creds = credentials(cfg)
    username = username or creds.username
    password = creds.password if password is None else password
    result = shell.run(
        ["docker", "login", cfg.private_registry, "--username", username, "--password-stdin"],
        input=password, env=shell.course_env(cfg), timeout=60,
    )
    if not result.ok:
        if "unauthorized" in result.output.lower() or "401" in result.output:
            raise CourseError(
                f"`docker login {cfg.private_registry}` was refused: wrong username or password.",
                f"use the lab credentials from `ckalab.registry.credentials()` (stored in "
                f"{cfg.auth_dir / 'credentials.json'}); if that file was deleted, run "
                f"`make registries-reset` to make new ones.",
            )
        raise CourseError(f"`docker login {cfg.private_registry}` failed: {result.output.strip()}",
                          "run `make doctor` and start what it reports missing.")
    return result


def logout(cfg: Settings | None = None) -> shell.Result:
    cfg = cfg or settings_module.load()
    return shell.run(["docker", "logout", cfg.private_registry], env=shell.course_env(cfg))


def setup_push(image: str, cfg: Settings | None = None, *, timeout: float = 600) -> shell.Result:
    """`docker push` for a course setup, logged in (to the private registry) with the setups' own
    Docker config, not the learner's: the learner's login stays what the learner made it."""
    cfg = cfg or settings_module.load()
    env = shell.course_env(cfg)
    env["DOCKER_CONFIG"] = str(shell.prepare_docker_config(cfg, cfg.setup_docker_config_dir))
    if image.startswith(cfg.private_registry + "/"):
        creds = credentials(cfg)
        result = shell.run(["docker", "login", cfg.private_registry, "--username", creds.username,
                            "--password-stdin"], input=creds.password, env=env, timeout=60)
        if not result.ok:
            return result
    return shell.run(["docker", "push", "-q", image], env=env, timeout=timeout)


# ---------------------------------------------------------------- registry HTTP API

@dataclass
class Manifest:
    reference: str
    digest: str
    media_type: str
    body: dict

    @property
    def is_index(self) -> bool:
        return "index" in self.media_type or "manifest.list" in self.media_type


class RegistryAPI:
    """A small client for the OCI distribution API: no Docker daemon needed.

    Handles no auth, HTTP Basic (the private registry), and the Bearer token
    flow public registries use (Docker Hub, registry.k8s.io, ghcr.io).
    """

    def __init__(self, host: str, *, username: str | None = None, password: str | None = None,
                 insecure: bool | None = None, timeout: float = 10):
        self.host = host
        local = host.startswith(("localhost", "127.0.0.1"))
        scheme = "http" if (insecure if insecure is not None else local) else "https"
        self.base = f"{scheme}://{host}"
        self.auth = (username, password) if username else None
        self.timeout = timeout
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    def _request(self, method: str, path: str, *, headers=None, scope: str | None = None):
        headers = dict(headers or {})
        if scope and scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        resp = self.session.request(method, self.base + path, headers=headers,
                                    auth=self.auth if "Authorization" not in headers else None,
                                    timeout=self.timeout)
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("bearer") and scope:
            self._tokens[scope] = self._fetch_token(challenge, scope)
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
            resp = self.session.request(method, self.base + path, headers=headers,
                                        timeout=self.timeout)
        return resp

    def _fetch_token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm")
        params["scope"] = scope
        resp = self.session.get(realm, params=params, auth=self.auth, timeout=self.timeout)
        resp.raise_for_status()
        data = resp.json()
        return data.get("token") or data["access_token"]

    def ping(self) -> int:
        """Status of GET /v2/: 200 open, 401 needs credentials."""
        return self.session.get(self.base + "/v2/", auth=self.auth, timeout=self.timeout).status_code

    def catalog(self) -> list[str]:
        resp = self._request("GET", "/v2/_catalog")
        self._raise(resp, "list repositories")
        return resp.json().get("repositories") or []

    def tags(self, repository: str) -> list[str]:
        resp = self._request("GET", f"/v2/{repository}/tags/list",
                             scope=f"repository:{repository}:pull")
        self._raise(resp, f"list tags of {repository}")
        return sorted(resp.json().get("tags") or [])

    def manifest(self, repository: str, reference: str) -> Manifest:
        resp = self._request("GET", f"/v2/{repository}/manifests/{reference}",
                             headers={"Accept": MANIFEST_TYPES},
                             scope=f"repository:{repository}:pull")
        self._raise(resp, f"read the manifest of {repository}:{reference}")
        return Manifest(reference=reference, digest=resp.headers.get("Docker-Content-Digest", ""),
                        media_type=resp.headers.get("Content-Type", "").split(";")[0],
                        body=resp.json())

    def blob_json(self, repository: str, digest: str) -> dict:
        """A JSON blob, such as the image config the manifest points to."""
        resp = self._request("GET", f"/v2/{repository}/blobs/{digest}",
                             scope=f"repository:{repository}:pull")
        self._raise(resp, f"read blob {digest[:19]} of {repository}")
        return resp.json()

    def _raise(self, resp, what: str) -> None:
        if resp.status_code == 401:
            raise CourseError(f"The registry {self.host} refused to {what}: 401 Unauthorized.",
                              "pass the lab credentials (`ckalab.registry.credentials()`).")
        if resp.status_code == 404:
            raise CourseError(f"The registry {self.host} has nothing to {what} (404 Not Found).",
                              "check the repository and tag, and that the image was pushed.")
        resp.raise_for_status()


def api(which: str = "open", cfg: Settings | None = None) -> RegistryAPI:
    """A RegistryAPI for the course's `open` or `private` registry."""
    cfg = cfg or settings_module.load()
    if which == "open":
        return RegistryAPI(cfg.open_registry)
    creds = credentials(cfg)
    return RegistryAPI(cfg.private_registry, username=creds.username, password=creds.password)
