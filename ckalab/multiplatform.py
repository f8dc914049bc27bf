"""Multi-platform images: the course's own BuildKit builder, what an image offers each platform,
and QEMU emulation.

* `builder()` names the course's docker-container builder, `ensure_builder()` makes it once and
  `remove_builder()` removes it (keeping its build cache).
  Docker's default builder (the `docker` driver) cannot build for two platforms at once on the
  classic image store, nor keep an image index; a builder that runs BuildKit in a container can,
  and pushes straight to a registry. It lives in the course's DOCKER_CONFIG (never ~/.docker).
* `offers(reference)` reads a registry: the platforms an index lists (with its attestation
  manifests apart), or the platform in a single image's config.
* `emulation()`, `install_emulation()` and `remove_emulation()` read and change the kernel's
  binfmt_misc handlers with the installer Docker's documentation uses (tonistiigi/binfmt). The
  course removes only what it installed itself (it keeps a note in its state directory).
"""

from __future__ import annotations

import fcntl
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import registry as registry_module
from . import settings as settings_module
from . import shell
from .errors import CourseError

BINFMT_IMAGE = "tonistiigi/binfmt"
BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1"
# How `docker buildx imagetools inspect` marks an attestation manifest inside an index.
ATTESTATION = "attestation-manifest"


# ====================================================================== the course's builder

def builder(cfg: settings_module.Settings | None = None) -> str:
    """The course's builder: `ckalab` (Settings.builder_name says when it is another)."""
    return (cfg or settings_module.load()).builder_name


def create_command(cfg: settings_module.Settings | None = None) -> str:
    """The `docker buildx create` line for the course's builder. `--driver-opt network=host` lets
    BuildKit reach the registries on localhost; CKALAB_BUILDKITD_CONFIG (CI only) adds a config."""
    cfg = cfg or settings_module.load()
    extra = f" --buildkitd-config {cfg.buildkitd_config}" if cfg.buildkitd_config else ""
    return (f"docker buildx create --name {builder(cfg)} --driver docker-container "
            f"--driver-opt network=host{extra} --bootstrap")


def ensure_command(cfg: settings_module.Settings | None = None) -> str:
    """A shell line that makes the course's builder only when it does not exist yet."""
    return f"docker buildx inspect {builder(cfg)} >/dev/null 2>&1 || {create_command(cfg)}"


def builder_exists(cfg: settings_module.Settings | None = None) -> bool:
    cfg = cfg or settings_module.load()
    return shell.run(["docker", "buildx", "inspect", builder(cfg)], env=shell.course_env(cfg), timeout=30).ok


def ensure_builder(cfg: settings_module.Settings | None = None) -> str:
    """Make the course's builder unless it exists; return its name. A lock in the state directory
    keeps two processes (lab cycles side by side) from making it at once."""
    cfg = cfg or settings_module.load()
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.state_dir / "builder.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if builder_exists(cfg):
            return builder(cfg)
        result = shell.run(create_command(cfg), env=shell.course_env(cfg), timeout=300)
        # buildx's record of the builder can be unreadable for a moment while another process
        # builds on it, so `inspect` said no: a builder that exists is what this wanted.
        if not result.ok and "existing instance" not in result.output:
            raise CourseError(f"Docker could not make the course's builder {builder(cfg)}: "
                              f"{result.output.strip()[-300:]}",
                              f"it runs the {BUILDKIT_IMAGE} image from Docker Hub; check that Docker can "
                              "pull it, then run this again (`make doctor` checks the engine).")
    return builder(cfg)


def builder_container(cfg: settings_module.Settings | None = None) -> str:
    """The container buildx runs the builder's one node in (its node is the builder's name plus 0)."""
    return f"buildx_buildkit_{builder(cfg)}0"


def remove_builder(cfg: settings_module.Settings | None = None) -> bool:
    """Remove the builder's container and buildx's record of it; False if there was neither. Its build
    cache stays in the volume `<container>_state`, so a builder made again under that name starts warm.
    A docker-container builder restarts with Docker, so one a test run left would run for good."""
    cfg = cfg or settings_module.load()
    env = shell.course_env(cfg)
    recorded = shell.run(["docker", "buildx", "rm", "--keep-state", builder(cfg)], env=env, timeout=120).ok
    # A test run starts from a fresh state directory, which drops buildx's record but not the
    # container it made: remove that by its name (`rm --force` says nothing of a missing one).
    container = builder_container(cfg)
    if not shell.run(["docker", "container", "inspect", container], env=env, timeout=30).ok:
        return recorded
    return shell.run(["docker", "rm", "--force", container], env=env, timeout=60).ok


def build_command(context: str | Path, tag: str, platforms: list[str], *, provenance: bool = True,
                  build_args: dict | None = None, cfg: settings_module.Settings | None = None) -> list[str]:
    """`docker buildx build` on the course's builder, pushed to the registry in `tag`.
    `provenance=False` pushes a single platform as a plain image manifest, with no index."""
    args = ["docker", "buildx", "build", "--builder", builder(cfg), "--platform", ",".join(platforms)]
    if not provenance:
        args.append("--provenance=false")
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    return args + ["-t", tag, "--push", str(context)]


def build_push(context: str | Path, tag: str, platforms: list[str], *, provenance: bool = True,
               build_args: dict | None = None, cfg: settings_module.Settings | None = None) -> None:
    """Build `context` for `platforms` on the course's builder and push it as `tag`."""
    cfg = cfg or settings_module.load()
    ensure_builder(cfg)
    if tag.startswith(cfg.private_registry + "/"):
        registry_module.login(cfg)
    result = shell.run(build_command(context, tag, platforms, provenance=provenance, build_args=build_args,
                                     cfg=cfg),
                       env=shell.course_env(cfg), timeout=900)
    if not result.ok:
        raise CourseError(f"Building {tag} for {', '.join(platforms)} failed: {result.output.strip()[-400:]}",
                          "run `make doctor` and `make registries`, then try again.")


# ====================================================================== platforms

def engine_platform(cfg: settings_module.Settings | None = None) -> str:
    """The Docker Engine's own platform, `linux/amd64` or `linux/arm64` (what its kernel runs natively)."""
    result = shell.run(["docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
                       env=shell.course_env(cfg), timeout=30)
    if not result.ok:
        raise CourseError(f"The Docker Engine did not say its platform: {result.output.strip()[-200:]}",
                          "run `make doctor`.")
    return result.output.strip().splitlines()[-1]


def engine_keeps_indexes(cfg: settings_module.Settings | None = None) -> bool:
    """True when the engine keeps images in containerd (the containerd image store), whose
    default builder can build for several platforms; False for the classic image store."""
    from .doctor import uses_containerd_image_store
    result = shell.run(["docker", "info", "--format", "{{json .DriverStatus}}"], env=shell.course_env(cfg), timeout=30)
    try:
        return uses_containerd_image_store({"DriverStatus": json.loads(result.output)})
    except ValueError:
        return False


def other_platform(native: str) -> str:
    """The other one of linux/amd64 and linux/arm64: what a laptop or node of the other kind runs."""
    return "linux/amd64" if native == "linux/arm64" else "linux/arm64"


def explain_run(result: shell.Result | None, platform: str) -> None:
    """After `docker run --platform ...` (a cell with expect="either"): say what its outcome means."""
    if result is None:
        return
    if result.ok:
        print(f"-> it ran: this machine runs {platform} programs (natively, or through an emulator).")
    elif "exec format error" in result.output:
        print(f"-> exec format error (exit status {result.returncode}): the kernel cannot run {platform} "
              "programs, and no emulator is registered for them.")
    else:
        raise CourseError(f"The container failed for another reason than its platform (exit status "
                          f"{result.returncode}); its output is above.", "run `make doctor`.")


def pod_start(pod: str, namespace: str = "default", timeout: float = 90) -> str:
    """Wait until a Pod's first container runs, exits or cannot be pulled, and say which."""
    from . import cluster
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        result = cluster.kubectl_result("get", "pod", pod, "-n", namespace, "-o", "json", timeout=30)
        if result.ok:
            status = (json.loads(result.output).get("status") or {})
            for cs in status.get("containerStatuses") or []:
                state, last = cs.get("state") or {}, cs.get("lastState") or {}
                ended = state.get("terminated") or last.get("terminated")
                waiting = state.get("waiting") or {}
                if ended:
                    return (f"{pod}: container {cs['name']} exited with code {ended.get('exitCode')} "
                            f"({cs.get('restartCount', 0)} restarts so far); the kubelet restarts it with "
                            "a growing back-off (CrashLoopBackOff)")
                if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                    return f"{pod}: {waiting['reason']}: {waiting.get('message', '')}"
                if cs.get("ready") or state.get("running"):
                    return f"{pod}: container {cs['name']} is running"
        time.sleep(2)
    return f"{pod}: still {status.get('phase', 'unknown')} after {int(timeout)} s"


# ====================================================================== what an image offers

@dataclass
class Offer:
    """One entry of an index, or the single image a tag names."""
    platform: str            # "linux/arm64", "linux/arm/v7", or "unknown/unknown" for attestations
    digest: str
    attestation_for: str = ""  # the image digest an attestation manifest describes

    @property
    def is_attestation(self) -> bool:
        return bool(self.attestation_for)


@dataclass
class Offers:
    reference: str
    digest: str
    is_index: bool
    entries: list[Offer] = field(default_factory=list)

    @property
    def images(self) -> list[Offer]:
        return [e for e in self.entries if not e.is_attestation]

    @property
    def platforms(self) -> list[str]:
        return [e.platform for e in self.images]

    def serves(self, platform: str) -> bool:
        """Would a node of `platform` get an image for itself? ("linux/arm64" matches "linux/arm64/v8".)"""
        return any(_same_platform(p, platform) for p in self.platforms)

    def describe(self) -> str:
        kind = "an index of" if self.is_index else "a single image for"
        extra = len(self.entries) - len(self.images)
        notes = f" (+{extra} attestation manifest{'s' if extra != 1 else ''})" if extra else ""
        return f"{self.reference} is {kind} {', '.join(self.platforms) or 'no platform'}{notes}"


def _same_platform(a: str, b: str) -> bool:
    def norm(p: str) -> tuple[str, ...]:
        parts = p.split("/")
        if parts[1:2] == ["arm64"] and parts[2:] == ["v8"]:
            parts = parts[:2]
        return tuple(parts)
    return norm(a) == norm(b)


def platform_of_config(config: dict) -> str:
    parts = [config.get("os") or "?", config.get("architecture") or "?"]
    if config.get("variant"):
        parts.append(config["variant"])
    return "/".join(parts)


def api_for(host: str, cfg: settings_module.Settings | None = None) -> registry_module.RegistryAPI:
    """The RegistryAPI of one of the course's registries, logged in where it needs it."""
    cfg = cfg or settings_module.load()
    if host == cfg.private_registry:
        return registry_module.api("private", cfg)
    return registry_module.RegistryAPI(host, timeout=5)


def offers(reference: str, api: registry_module.RegistryAPI | None = None) -> Offers:
    """What `host/repo:tag` (or `@sha256:...`) offers, read from the registry's HTTP API."""
    from . import references
    ref = references.parse(reference)
    api = api or api_for(ref.registry)
    manifest = api.manifest(ref.repository, ref.digest or ref.tag or "latest")
    result = Offers(reference=reference, digest=manifest.digest, is_index=manifest.is_index)
    if manifest.is_index:
        for entry in manifest.body.get("manifests") or []:
            p = entry.get("platform") or {}
            annotations = entry.get("annotations") or {}
            attested = annotations.get("vnd.docker.reference.digest", "") \
                if annotations.get("vnd.docker.reference.type") == ATTESTATION else ""
            result.entries.append(Offer(platform_of_config(p) if p else "unknown/unknown",
                                        entry.get("digest", ""), attested))
    else:
        config = api.blob_json(ref.repository, manifest.body["config"]["digest"])
        result.entries.append(Offer(platform_of_config(config), manifest.digest))
    return result


# ====================================================================== emulation

@dataclass
class Emulation:
    supported: list[str]     # platforms this engine's kernel runs, natively or emulated
    emulators: list[str]     # binfmt_misc handlers that are enabled (qemu-aarch64, ...)

    def runs(self, platform: str) -> bool:
        return any(_same_platform(p, platform) for p in self.supported)


def _installed_note(cfg: settings_module.Settings) -> Path:
    return cfg.state_dir / "emulators-installed.json"


def emulation(cfg: settings_module.Settings | None = None) -> Emulation:
    """What the Docker Engine's kernel can run: `docker run --privileged --rm tonistiigi/binfmt`."""
    cfg = cfg or settings_module.load()
    result = shell.run(["docker", "run", "--privileged", "--rm", BINFMT_IMAGE], env=shell.course_env(cfg),
                       timeout=300)
    try:
        status = json.loads(result.output[result.output.index("{"):])
    except ValueError:
        raise CourseError(f"`docker run --privileged --rm {BINFMT_IMAGE}` did not print its status: "
                          f"{result.output.strip()[-300:]}",
                          "use a rootful Docker Engine that can pull the image and run privileged containers "
                          "(a rootless one cannot change binfmt_misc; `make doctor` shows which you have).") from None
    return Emulation(supported=status.get("supported") or [], emulators=status.get("emulators") or [])


def may_change(allowed: bool, what: str, cfg: settings_module.Settings | None = None) -> bool:
    """Guard for the cells that register or remove QEMU in the kernel (binfmt_misc): they run when
    the learner allowed it and the engine can run the privileged installer (a rootless engine
    cannot); otherwise one visible Skipped line says which, and how to get it."""
    from . import cells
    if not cells.requires("docker", what):
        return False
    if not allowed:
        return cells.permitted(False, "emulation", what,
                               "set EMULATION = True in the first code cell and run the notebook again "
                               "(it registers QEMU until you reboot; a later cell removes it)")
    try:
        emulation(cfg)
    except CourseError as exc:
        return cells.permitted(False, "emulation", what, exc.fix, why=exc.problem.rstrip("."))
    return cells.permitted(True, "emulation", what, "")


def install_emulation(arch: str, cfg: settings_module.Settings | None = None) -> str:
    """Register QEMU for `arch` (e.g. arm64) unless the kernel already runs it; say what happened."""
    cfg = cfg or settings_module.load()
    before = emulation(cfg)
    if before.runs(f"linux/{arch}"):
        return f"linux/{arch} already runs here ({', '.join(before.emulators) or 'natively'}); nothing installed"
    command = ["docker", "run", "--privileged", "--rm", BINFMT_IMAGE, "--install", arch]
    print("$ " + " ".join(command), flush=True)
    result = shell.run(command, env=shell.course_env(cfg), timeout=300)
    after = emulation(cfg)
    added = sorted(set(after.emulators) - set(before.emulators))
    if not after.runs(f"linux/{arch}"):
        raise CourseError(f"Installing the {arch} emulator did not work: {result.output.strip()[-300:]}",
                          "the engine must run privileged containers (a rootless one cannot).")
    note = _installed_note(cfg)
    note.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(note.read_text()) if note.exists() else []
    note.write_text(json.dumps(sorted(set(known) | set(added))) + "\n")
    return f"installed {', '.join(added)}: the kernel now runs linux/{arch} programs through QEMU"


def remove_emulation(cfg: settings_module.Settings | None = None) -> str:
    """Unregister the emulators the course installed, and no other."""
    cfg = cfg or settings_module.load()
    note = _installed_note(cfg)
    ours = json.loads(note.read_text()) if note.exists() else []
    if not ours:
        return "the course installed no emulator here; binfmt_misc is left as it is"
    command = ["docker", "run", "--privileged", "--rm", BINFMT_IMAGE, "--uninstall", ",".join(ours)]
    print("$ " + " ".join(command), flush=True)
    result = shell.run(command, env=shell.course_env(cfg), timeout=300)
    left = set(emulation(cfg).emulators) & set(ours)
    if left:
        raise CourseError(f"Removing {', '.join(sorted(left))} did not work: {result.output.strip()[-300:]}",
                          f"run `docker run --privileged --rm {BINFMT_IMAGE} --uninstall {','.join(sorted(left))}`.")
    note.unlink()
    return f"removed {', '.join(ours)}: binfmt_misc is as it was before the course installed it"
